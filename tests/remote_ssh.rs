//! Remote machines over SSH, against a real `sshd` and a real `rsync` on
//! this machine: `sshd` listens on 127.0.0.1 on a free port with a host
//! key and a user key generated here, its own config file (public keys
//! only, no passwords), and `SetEnv HOME=…` so the remote side's home is a
//! fake one of the test's (no second user needed: the test logs in as
//! itself). It is stopped when the test ends. cass reaches it through an
//! ssh config file of the test's (`CASS_SSH_CONFIG`) that names the test's
//! `known_hosts`, so nothing of the user's own ssh setup is read or written.
//!
//! `openssh-server` and `rsync` are installed with apt-get when missing
//! (`.ci/run` does the same before the tests).

mod common;
use common::*;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding `sshd`, after installing it if needed.
fn sshd_program() -> PathBuf {
    // The tests of this file run in parallel: two `apt-get install`s at
    // once fail on dpkg's lock, so one installs while the other waits.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let find =
        || ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"].iter().map(PathBuf::from).find(|p| p.exists());
    let have = |tool: &str| {
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
    };
    if find().is_none() || !have("rsync") || !have("ssh-keygen") {
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client rsync",
            ])
            .stdout(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "could not install openssh-server and rsync with apt-get");
    }
    find().expect("sshd is installed")
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A private `sshd` on 127.0.0.1, stopped on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    /// The remote side's `$HOME`.
    home: PathBuf,
    /// The user to log in as (the one running the test).
    user: String,
}

impl Sshd {
    fn start() -> Sshd {
        let program = sshd_program();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", "cass-test", "-f"])
                    .arg(d.join(key)),
            );
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let home = d.join("remote-home");
        std::fs::create_dir_all(&home).unwrap();
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nAllowUsers {user}\n\
             PidFile {pid}\nSetEnv HOME={home}\n",
            hk = d.join("host_key").display(),
            ak = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
            home = home.display(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd wants its privilege separation directory (as root).
        let _ = std::fs::create_dir_all("/run/sshd");
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(program)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not listen: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { dir, port, child, home, user }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An ssh config for cass whose known_hosts holds this server's key
    /// (`trusted`) or nothing.
    fn client_config(&self, trusted: bool) -> PathBuf {
        let known = self.path(if trusted { "known_hosts" } else { "known_hosts_empty" });
        let line = if trusted {
            format!("[127.0.0.1]:{} {}", self.port, std::fs::read_to_string(self.path("host_key.pub")).unwrap())
        } else {
            String::new()
        };
        std::fs::write(&known, line).unwrap();
        let config = self.path(if trusted { "ssh_config" } else { "ssh_config_untrusted" });
        std::fs::write(
            &config,
            format!(
                "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n  LogLevel ERROR\n",
                known.display()
            ),
        )
        .unwrap();
        config
    }

    fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cass` with the sandbox's environment and the test's ssh config.
fn cass(sb: &Sandbox, ssh_config: &Path, args: &[&str]) -> std::process::Output {
    sb.cass().env("CASS_SSH_CONFIG", ssh_config).env("CASS_SSH_CONNECT_TIMEOUT_SECS", "5").args(args).output().unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ok_json(sb: &Sandbox, cfg: &Path, args: &[&str]) -> serde_json::Value {
    let out = cass(sb, cfg, args);
    assert!(out.status.success(), "cass {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    json_of(&out)
}

/// A Claude Code session on the remote side: its `projects/` layout, a
/// workspace under the remote's `/home/me`, `padding` lines of bulk first
/// (so an appended message is a small part of the file).
fn remote_session(home: &Path, padding: usize) -> PathBuf {
    let dir = home.join(".claude/projects/-home-me-api");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("remote-1.jsonl");
    let mut text = String::new();
    text.push_str(&claude_line(
        "remote-1",
        "user",
        "why does the zanzibar deploy fail",
        "2026-01-10T10:00:00Z",
        "/home/me/api",
    ));
    text.push_str(&call_line("remote-1", "msg_r1", "2026-01-10T10:00:02Z", "/home/me/api", 1000));
    for i in 0..padding {
        let filler = format!("step {i}: {}", "the build log said nothing of note here. ".repeat(8));
        text.push_str(&claude_line("remote-1", "assistant", &filler, "2026-01-10T10:00:01Z", "/home/me/api"));
    }
    std::fs::write(&path, text).unwrap();
    // Not a session: in the agent's tree, but no connector names it.
    std::fs::write(home.join(".claude/secrets.txt"), "hunter2").unwrap();
    path
}

fn local_session(sb: &Sandbox) {
    let dir = sb.home().join(".claude/projects/-here-web");
    std::fs::create_dir_all(&dir).unwrap();
    let line = claude_line("local-1", "user", "the quokka cache is cold", "2026-01-11T09:00:00Z", "/here/web");
    let call = call_line("local-1", "msg_l1", "2026-01-11T09:00:04Z", "/here/web", 7);
    std::fs::write(dir.join("local-1.jsonl"), line + &call).unwrap();
}

/// A Claude Code assistant record of one model call with `input` tokens in.
fn call_line(session: &str, id: &str, ts: &str, cwd: &str, input: u64) -> String {
    let rec = serde_json::json!({"type": "assistant", "sessionId": session, "cwd": cwd, "timestamp": ts,
        "requestId": format!("req_{id}"), "message": {"role": "assistant", "id": id,
        "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text", "text": "noted"}],
        "usage": {"input_tokens": input, "output_tokens": 1}}});
    format!("{rec}\n")
}

fn sources_of(hits: &serde_json::Value) -> Vec<String> {
    hits["hits"].as_array().unwrap().iter().map(|h| h["source"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_remote_machine_is_synced_incrementally_indexed_with_its_source_and_filtered() {
    let sshd = Sshd::start();
    let cfg = sshd.client_config(true);
    let sb = Sandbox::new();
    local_session(&sb);
    let remote_file = remote_session(&sshd.home, 600);
    let key = sshd.path("user_key");
    let port = sshd.port.to_string();

    let added = ok_json(
        &sb,
        &cfg,
        &[
            "sources",
            "add",
            "box",
            &sshd.destination(),
            "--port",
            &port,
            "--identity",
            key.to_str().unwrap(),
            "--map",
            "/home/me=~",
            "--json",
        ],
    );
    assert_eq!(added["added"]["name"], "box");

    // First sync: the session (and nothing else of the agent's tree) arrives.
    let synced = ok_json(&sb, &cfg, &["sources", "sync", "--json"]);
    let m = &synced["synced"][0];
    assert_eq!(m["ok"], true, "{m}");
    assert_eq!(m["transfer"]["method"], "rsync");
    assert_eq!(m["transfer"]["files_selected"], 1, "{m}");
    assert_eq!(m["transfer"]["files_copied"], 1, "{m}");
    let mirror = sb.data().join("remotes/box/files").join(remote_file.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(&mirror).unwrap(), std::fs::read(&remote_file).unwrap());
    assert!(
        !sb.data()
            .join("remotes/box/files")
            .join(sshd.home.join(".claude/secrets.txt").strip_prefix("/").unwrap())
            .exists()
    );

    let index = ok_json(&sb, &cfg, &["index", "--json"]);
    assert_eq!(index["conversations"], 2, "one local, one remote");

    // The remote hit carries its machine, its path there, and the mapped workspace.
    let hits = ok_json(&sb, &cfg, &["search", "zanzibar", "--json", "--mode", "lexical"]);
    assert_eq!(sources_of(&hits), ["box"]);
    let hit = &hits["hits"][0];
    assert_eq!(hit["origin_path"], remote_file.to_str().unwrap());
    assert_eq!(hit["workspace"], sb.home().join("api").to_str().unwrap(), "mapped /home/me/api");
    let human = cass(&sb, &cfg, &["search", "zanzibar", "--mode", "lexical"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("@box"), "the machine is shown");

    // --source filters search (lexical and semantic) and sessions.
    for (source, want) in [("box", vec!["box"]), ("remote", vec!["box"]), ("local", vec![])] {
        for mode in ["lexical", "semantic", "hybrid"] {
            let out = cass(&sb, &cfg, &["search", "zanzibar deploy", "--source", source, "--mode", mode, "--json"]);
            let found = json_of(&out);
            let got = sources_of(&found);
            assert!(got.iter().all(|s| want.contains(&s.as_str())), "{source} {mode}: {got:?}");
            if mode == "lexical" {
                assert_eq!(got.len(), want.len(), "{source} {mode}");
            }
        }
    }
    let local = ok_json(&sb, &cfg, &["search", "quokka", "--source", "local", "--json", "--mode", "lexical"]);
    assert_eq!(sources_of(&local), ["local"]);
    let sessions = ok_json(&sb, &cfg, &["sessions", "--source", "box", "--json"]);
    assert_eq!(sessions["total"], 1);
    assert_eq!(sessions["sessions"][0]["source"], "box");
    let ws = sb.home().join("api");
    let by_ws = ok_json(&sb, &cfg, &["sessions", "--workspace", ws.to_str().unwrap(), "--json"]);
    assert_eq!(by_ws["total"], 1, "the mapped workspace filters across machines");
    let unknown = cass(&sb, &cfg, &["search", "zanzibar", "--source", "nope", "--json"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", String::from_utf8_lossy(&unknown.stderr));

    // Usage reports count each machine's calls apart, in every grouping.
    for (source, input) in
        [(None, 1007), (Some("all"), 1007), (Some("box"), 1000), (Some("remote"), 1000), (Some("local"), 7)]
    {
        for report in ["daily", "models", "projects", "sessions"] {
            let mut args = vec!["usage", report, "--timezone", "UTC", "--json"];
            args.extend(source.iter().flat_map(|s| ["--source", *s]));
            let r = ok_json(&sb, &cfg, &args);
            assert_eq!(r["totals"]["input_tokens"], input, "{source:?} {report}: {r}");
            let rows: u64 = r["rows"].as_array().unwrap().iter().map(|row| row["input_tokens"].as_u64().unwrap()).sum();
            assert_eq!(rows, input, "{source:?} {report}: the rows add up");
        }
    }
    let by_day = ok_json(&sb, &cfg, &["usage", "daily", "--timezone", "UTC", "--source", "local", "--json"]);
    assert_eq!(by_day["rows"].as_array().unwrap().len(), 1, "only the local day: {by_day}");
    assert_eq!(by_day["rows"][0]["period"], "2026-01-11");
    let unknown = cass(&sb, &cfg, &["usage", "--source", "nope", "--json"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", String::from_utf8_lossy(&unknown.stderr));

    // An append on the remote arrives with the next sync, as new bytes only.
    let size_before = std::fs::metadata(&remote_file).unwrap().len();
    let appended = claude_line(
        "remote-1",
        "assistant",
        "the fix was a stale mandolin token",
        "2026-01-10T10:05:00Z",
        "/home/me/api",
    );
    std::fs::OpenOptions::new().append(true).open(&remote_file).unwrap().write_all(appended.as_bytes()).unwrap();
    let synced = ok_json(&sb, &cfg, &["sources", "sync", "box", "--json"]);
    let t = &synced["synced"][0]["transfer"];
    assert_eq!(t["files_copied"], 1, "{t}");
    let literal = t["bytes_copied"].as_u64().unwrap();
    assert!(size_before > 200_000, "a big file: {size_before}");
    // rsync sends the appended line and at most the last partial block
    // (blocks are ~√size, here about 700 bytes to 1 KiB) literally.
    assert!(
        literal >= appended.len() as u64 && literal < appended.len() as u64 + 4096,
        "literal bytes {literal} for an append of {}",
        appended.len()
    );
    assert!(t["bytes_received"].as_u64().unwrap() < size_before / 10, "{t}");
    assert_eq!(std::fs::read(&mirror).unwrap(), std::fs::read(&remote_file).unwrap());
    let index = ok_json(&sb, &cfg, &["index", "--json"]);
    assert_eq!(index["files_appended"], 1, "the mirror kept its inode: only the tail is read ({index})");
    assert_eq!(index["messages_added"], 1);
    let hits = ok_json(&sb, &cfg, &["search", "mandolin", "--json", "--mode", "lexical"]);
    assert_eq!(sources_of(&hits), ["box"]);

    // Nothing changed: nothing is copied.
    let synced = ok_json(&sb, &cfg, &["sources", "sync", "--json"]);
    assert_eq!(synced["synced"][0]["transfer"]["files_copied"], 0);

    // `cass sources --json`: the local roots and the machine with its last sync.
    let sources = ok_json(&sb, &cfg, &["sources", "--json"]);
    assert!(sources["agents"].as_array().unwrap().iter().any(|a| a["agent"] == "claude_code"));
    let remote = &sources["remotes"][0];
    assert_eq!(remote["name"], "box");
    assert_eq!(remote["destination"], sshd.destination());
    assert!(remote["last_sync"].is_string(), "{remote}");
    assert_eq!(remote["conversations"], 1);
    assert!(remote.get("last_error").is_none(), "{remote}");
    let listed = ok_json(&sb, &cfg, &["sources", "list", "--json"]);
    assert_eq!(listed["remotes"][0]["name"], "box");

    // The tar fallback copies changed files whole and keeps the mirror right.
    let more = claude_line("remote-1", "user", "and the ocelot config", "2026-01-10T10:06:00Z", "/home/me/api");
    std::fs::OpenOptions::new().append(true).open(&remote_file).unwrap().write_all(more.as_bytes()).unwrap();
    let out = sb
        .cass()
        .env("CASS_SSH_CONFIG", &cfg)
        .env("CASS_REMOTE_COPY", "tar")
        .args(["sources", "sync", "--json"])
        .output()
        .unwrap();
    let synced = json_of(&out);
    let t = &synced["synced"][0]["transfer"];
    assert_eq!((t["method"].as_str(), t["files_copied"].as_u64()), (Some("tar"), Some(1)), "{t}");
    assert_eq!(std::fs::read(&mirror).unwrap(), std::fs::read(&remote_file).unwrap());
    ok_json(&sb, &cfg, &["index", "--json"]);
    assert_eq!(sources_of(&ok_json(&sb, &cfg, &["search", "ocelot", "--json", "--mode", "lexical"])), ["box"]);

    // Removing the machine takes its conversations and mirror with it.
    ok_json(&sb, &cfg, &["sources", "remove", "box", "--json"]);
    assert!(!sb.data().join("remotes/box").exists());
    let gone = cass(&sb, &cfg, &["search", "zanzibar", "--json", "--mode", "lexical"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(sources_of(&ok_json(&sb, &cfg, &["search", "quokka", "--json", "--mode", "lexical"])), ["local"]);
}

#[test]
fn an_unknown_host_key_is_refused_and_an_unreachable_machine_never_blocks_local_indexing() {
    let sshd = Sshd::start();
    let untrusted = sshd.client_config(false);
    let sb = Sandbox::new();
    local_session(&sb);
    remote_session(&sshd.home, 0);
    let key = sshd.path("user_key");
    let port = sshd.port.to_string();
    let add = |name: &str, port: &str| {
        ok_json(
            &sb,
            &untrusted,
            &["sources", "add", name, &sshd.destination(), "-p", port, "-i", key.to_str().unwrap(), "--json"],
        )
    };

    // A host key not in known_hosts: refused, nothing copied.
    add("stranger", &port);
    let out = cass(&sb, &untrusted, &["sources", "sync", "stranger", "--json"]);
    assert_ne!(out.status.code(), Some(0));
    let m = &json_of(&out)["synced"][0];
    assert_eq!(
        (m["ok"].as_bool(), m["error_kind"].as_str(), m["status"].as_i64()),
        (Some(false), Some("host_key"), Some(255)),
        "{m}"
    );
    assert!(m["error"].as_str().unwrap().contains("host key"), "{m}");
    let mirror = sb.data().join("remotes/stranger/files");
    assert!(!mirror.exists() || std::fs::read_dir(&mirror).unwrap().next().is_none(), "nothing copied");

    // A closed port: one clear line, a failed entry in JSON, and the local
    // sessions indexed all the same.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    ok_json(&sb, &untrusted, &["sources", "remove", "stranger", "--json"]);
    add("gone", &closed);
    let out = cass(&sb, &untrusted, &["index", "--sync", "--json", "--no-semantic"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let m = &report["remotes"][0];
    assert_eq!(
        (m["name"].as_str(), m["ok"].as_bool(), m["status"].as_i64()),
        (Some("gone"), Some(false), Some(255)),
        "{m}"
    );
    assert_eq!(m["error_kind"], "unreachable", "{m}");
    assert_eq!(report["conversations"], 1, "the local session is indexed");
    let human = cass(&sb, &untrusted, &["index", "--sync", "--no-semantic"]);
    assert!(human.status.success());
    let stderr = String::from_utf8_lossy(&human.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("gone")).collect();
    assert_eq!(lines.len(), 1, "one line for the machine: {stderr}");
    assert!(lines[0].contains("unreachable"), "{stderr}");
    let sources = ok_json(&sb, &untrusted, &["sources", "--json"]);
    assert!(sources["remotes"][0]["last_error"].as_str().is_some_and(|e| e.contains("unreachable")));
    assert!(sources["remotes"][0]["last_sync"].is_null());
    assert_eq!(sources_of(&ok_json(&sb, &untrusted, &["search", "quokka", "--json", "--mode", "lexical"])), ["local"]);
}
