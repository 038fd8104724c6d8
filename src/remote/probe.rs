//! The read-only side of a sync: an `ssh` command line built the one way
//! every remote call uses, the probe of the remote's environment, and the
//! listing of the files below its agents' roots.
//!
//! Both scripts are POSIX `sh`, sent on the standard input of `sh -s` (so
//! the remote login shell, bash, zsh or fish, only runs `sh -s`, and no
//! path is quoted twice). They read: `uname`, `printenv`, `command -v`,
//! `find`, `stat`. They write nothing.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Machine, RemoteEnv};

/// How cass runs `ssh` for every machine.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// The `ssh` program (`ssh` on the `PATH` unless set).
    pub program: PathBuf,
    /// An ssh config file given to every call (`ssh -F`), else ssh's own.
    pub config: Option<PathBuf>,
    /// How long ssh waits for a connection (`ConnectTimeout`).
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions { program: "ssh".into(), config: None, connect_timeout: Duration::from_secs(10) }
    }
}

/// Why a remote call failed, in one line a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// The host key is not in `known_hosts`, or does not match it.
    #[error("{host}: host key not verified ({detail}); check it and add it with `ssh{port} {dest}` once")]
    HostKey {
        /// The destination.
        host: String,
        /// `-p N ` when a port is set.
        port: String,
        /// `user@host`.
        dest: String,
        /// What ssh said.
        detail: String,
    },
    /// The machine could not be reached (refused, timed out, unknown name).
    #[error("{host}: unreachable: {detail}")]
    Unreachable {
        /// The destination.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// Logging in failed (no usable key: cass never asks for a password).
    #[error("{host}: login refused: {detail}")]
    Auth {
        /// The destination.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// A program could not be started here (`ssh`, `rsync`, `tar`).
    #[error("cannot run {program}: {detail}")]
    Spawn {
        /// The program.
        program: String,
        /// What the OS said.
        detail: String,
    },
    /// The remote command ran and failed.
    #[error("{host}: {what} failed (exit {status}): {detail}")]
    Failed {
        /// The destination.
        host: String,
        /// What was run (`probe`, `listing`, `rsync`, `tar`).
        what: &'static str,
        /// Its exit status.
        status: i32,
        /// Its last line of error output.
        detail: String,
    },
}

impl SshError {
    /// The exit status of the call (255: ssh itself failed; -1: nothing ran).
    pub fn status(&self) -> i32 {
        match self {
            SshError::HostKey { .. } | SshError::Unreachable { .. } | SshError::Auth { .. } => 255,
            SshError::Spawn { .. } => -1,
            SshError::Failed { status, .. } => *status,
        }
    }

    /// A stable name for robot output.
    pub fn kind(&self) -> &'static str {
        match self {
            SshError::HostKey { .. } => "host_key",
            SshError::Unreachable { .. } => "unreachable",
            SshError::Auth { .. } => "auth",
            SshError::Spawn { .. } => "spawn",
            SshError::Failed { .. } => "remote_failed",
        }
    }
}

/// The last non-empty line of `stderr`, trimmed (ssh's own diagnosis).
pub(crate) fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no message").to_string()
}

impl SshOptions {
    /// The ssh arguments for `machine`, up to and including the
    /// destination: batch mode (no password or host-key prompt: an unknown
    /// key is refused, as ssh refuses it without a terminal), no agent or
    /// X11 forwarding, no terminal, the connect timeout, the machine's port
    /// and key. `StrictHostKeyChecking` is left to ssh and its config.
    pub fn args(&self, machine: &Machine) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if let Some(config) = &self.config {
            a.extend(["-F".into(), config.display().to_string()]);
        }
        a.extend(["-o".into(), "BatchMode=yes".into()]);
        a.extend(["-o".into(), format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1))]);
        a.extend(["-T".into(), "-a".into(), "-x".into()]);
        if let Some(port) = machine.port {
            a.extend(["-p".into(), port.to_string()]);
        }
        if let Some(id) = &machine.identity {
            a.extend(["-i".into(), id.display().to_string(), "-o".into(), "IdentitiesOnly=yes".into()]);
        }
        a.push(machine.destination());
        a
    }

    /// The same as one string for `rsync -e`: each argument quoted as
    /// rsync splits it (spaces separate, single quotes keep).
    pub fn rsync_shell(&self, machine: &Machine) -> String {
        let mut args = self.args(machine);
        args.pop(); // rsync names the destination itself
        std::iter::once(self.program.display().to_string())
            .chain(args)
            .map(|a| if a.contains([' ', '"', '\'']) { format!("'{}'", a.replace('\'', "")) } else { a })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs `script` with `sh -s` on the machine; its standard output.
    pub fn run_script(&self, machine: &Machine, what: &'static str, script: &str) -> Result<Vec<u8>, SshError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args(machine)).arg("sh -s").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| SshError::Spawn { program: self.program.display().to_string(), detail: e.to_string() })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows as ssh's own error below.
            let _ = stdin.write_all(script.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| SshError::Spawn { program: self.program.display().to_string(), detail: e.to_string() })?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(self.classify(machine, what, out.status.code().unwrap_or(-1), &out.stderr))
    }

    /// Turns a failed call into the error a person can act on: ssh's own
    /// failures (exit 255) by what ssh said, others as the command's.
    pub fn classify(&self, machine: &Machine, what: &'static str, status: i32, stderr: &[u8]) -> SshError {
        let text = String::from_utf8_lossy(stderr);
        // ssh's own line says more than rsync's summary after it.
        let detail = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("ssh:"))
            .map_or_else(|| last_line(stderr), str::to_string);
        let host = machine.name.clone();
        if text.contains("Host key verification failed")
            || text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || text.contains("No ED25519 host key is known")
            || text.contains("host key is known")
        {
            let port = machine.port.map(|p| format!(" -p {p}")).unwrap_or_default();
            return SshError::HostKey { host, port, dest: machine.destination(), detail };
        }
        if status == 255 {
            if text.contains("Permission denied") || text.contains("Too many authentication failures") {
                return SshError::Auth { host, detail };
            }
            return SshError::Unreachable { host, detail };
        }
        SshError::Failed { host, what, status, detail }
    }
}

/// Quotes `s` for `sh`: single quotes, each `'` written `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What the probe found besides the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The environment the connectors' rules read.
    pub env: RemoteEnv,
    /// `rsync` is on the remote's `PATH`.
    pub rsync: bool,
    /// `tar` is on the remote's `PATH`.
    pub tar: bool,
    /// Its `find` is GNU find (`-printf`): sizes and times come with the names.
    pub gnu_find: bool,
}

/// The probe script: prints `os=…`, `env=NAME=value` for each of `vars`
/// that is set and not empty, and which tools exist, each record ended by a NUL.
pub fn probe_script(vars: &[String]) -> String {
    let names: Vec<&str> = vars.iter().map(String::as_str).filter(|v| is_var_name(v)).collect();
    format!(
        "printf 'os=%s\\0' \"$(uname -s 2>/dev/null)\"\n\
         for v in {}; do x=$(printenv \"$v\") && [ -n \"$x\" ] && printf 'env=%s=%s\\0' \"$v\" \"$x\"; done\n\
         command -v rsync >/dev/null 2>&1 && printf 'rsync=1\\0'\n\
         command -v tar >/dev/null 2>&1 && printf 'tar=1\\0'\n\
         find / -maxdepth 0 -printf '' >/dev/null 2>&1 && printf 'gnufind=1\\0'\n\
         exit 0\n",
        names.join(" ")
    )
}

fn is_var_name(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads the probe's output.
pub fn parse_probe(out: &[u8]) -> Probe {
    let mut p = Probe::default();
    for rec in out.split(|b| *b == 0) {
        let rec = String::from_utf8_lossy(rec);
        if let Some(os) = rec.strip_prefix("os=") {
            p.env.os = os.trim().to_string();
        } else if let Some(kv) = rec.strip_prefix("env=") {
            if let Some((k, v)) = kv.split_once('=') {
                p.env.vars.insert(k.to_string(), v.to_string());
            }
        } else if rec == "rsync=1" {
            p.rsync = true;
        } else if rec == "tar=1" {
            p.tar = true;
        } else if rec == "gnufind=1" {
            p.gnu_find = true;
        }
    }
    p
}

/// A directory to list on the remote, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRoot {
    /// An absolute remote directory (a connector's root).
    pub path: PathBuf,
    /// `find -maxdepth`: one more than the connector's walk depth.
    pub max_depth: usize,
    /// Directory names never entered (the connector refuses them at its
    /// root); `.*` for every hidden one. Only a shortcut: the listing is
    /// filtered by the connector's own rule afterwards.
    pub prune: Vec<String>,
}

/// A file the listing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its absolute remote path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, whole seconds since the Unix epoch.
    pub mtime: i64,
}

/// The listing script: every regular file below each root, down to its
/// depth, as `size mtime path` records (NUL-ended with GNU find; one per
/// line with BSD `stat`). Symlinks are not followed, as locally. Roots
/// that do not exist are skipped.
pub fn listing_script(roots: &[ListRoot], gnu_find: bool) -> String {
    let print = if gnu_find { "-printf '%s %T@ %p\\0'" } else { "-exec stat -f '%z %m %N' {} +" };
    let mut s = String::new();
    for r in roots {
        let root = sh_quote(&r.path.to_string_lossy());
        // Never pruned: the root itself (a hidden root like ~/.claude).
        let prune = if r.prune.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = r.prune.iter().map(|n| format!("-name {}", sh_quote(n))).collect();
            format!("\\( -type d ! -path {root} \\( {} \\) \\) -prune -o ", names.join(" -o "))
        };
        s.push_str(&format!(
            "[ -d {root} ] && find {root} -maxdepth {} {prune}-type f {print} 2>/dev/null\n",
            r.max_depth
        ));
    }
    s.push_str("exit 0\n");
    s
}

/// Reads the listing's output.
pub fn parse_listing(out: &[u8], gnu_find: bool) -> Vec<Listed> {
    let sep = if gnu_find { b'\0' } else { b'\n' };
    out.split(|b| *b == sep)
        .filter_map(|rec| {
            let rec = String::from_utf8_lossy(rec);
            let mut parts = rec.splitn(3, ' ');
            let size = parts.next()?.parse().ok()?;
            let mtime = parts.next()?.split('.').next()?.parse().ok()?;
            let path = parts.next()?;
            path.starts_with('/').then(|| Listed { path: PathBuf::from(path), size, mtime })
        })
        .collect()
}

/// Runs the probe on `machine`.
pub fn probe(ssh: &SshOptions, machine: &Machine, vars: &[String]) -> Result<Probe, SshError> {
    let out = ssh.run_script(machine, "probe", &probe_script(vars))?;
    let p = parse_probe(&out);
    if !p.env.vars.contains_key("HOME") {
        return Err(SshError::Failed {
            host: machine.name.clone(),
            what: "probe",
            status: 0,
            detail: "the remote shell printed no $HOME (is it a POSIX system with sh?)".into(),
        });
    }
    Ok(p)
}

/// Lists the files below `roots` on `machine`.
pub fn list(ssh: &SshOptions, machine: &Machine, roots: &[ListRoot], gnu_find: bool) -> Result<Vec<Listed>, SshError> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let out = ssh.run_script(machine, "listing", &listing_script(roots, gnu_find))?;
    Ok(parse_listing(&out, gnu_find))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_reads_back() {
        let p = parse_probe(b"os=Linux\0env=HOME=/home/me\0env=CODEX_HOME=/x y\0rsync=1\0gnufind=1\0");
        assert_eq!(p.env.os, "Linux");
        assert_eq!(p.env.vars["HOME"], "/home/me");
        assert_eq!(p.env.vars["CODEX_HOME"], "/x y");
        assert!(p.rsync && p.gnu_find && !p.tar);
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
        let s = probe_script(&["HOME".into(), "X;rm -rf /".into()]);
        assert!(s.contains("for v in HOME;"), "{s}");
    }

    #[test]
    fn listings_read_back_both_ways() {
        let gnu = parse_listing(b"12 1700000000.123 /h/a b.jsonl\x0034 1700000001.0000000000 /h/c\0", true);
        assert_eq!(gnu[0], Listed { path: "/h/a b.jsonl".into(), size: 12, mtime: 1_700_000_000 });
        assert_eq!(gnu[1].size, 34);
        let bsd = parse_listing(b"5 1700000000 /h/x\n", false);
        assert_eq!(bsd, vec![Listed { path: "/h/x".into(), size: 5, mtime: 1_700_000_000 }]);
    }
}
