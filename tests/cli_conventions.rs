//! The conventions people expect of a CLI: config layering, quiet pipes,
//! logs on stderr, completions, man page, capabilities, robot docs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{Sandbox, claude_line};

/// A session with `n` messages that all contain `word`.
fn corpus(n: usize, word: &str) -> Sandbox {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = (0..n)
        .map(|i| {
            let ts = format!("2026-01-{:02}T10:{:02}:{:02}Z", 1 + i / 3600 % 28, i / 60 % 60, i % 60);
            claude_line("big", "user", &format!("{word} number {i} with some padding text"), &ts, "/home/dev/app")
        })
        .collect();
    std::fs::write(dir.join("big.jsonl"), text).unwrap();
    let out = sb.run(&["index", "--no-semantic", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sb
}

fn hits(out: &std::process::Output) -> usize {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["hits"].as_array().unwrap().len()
}

#[test]
fn a_closed_pipe_ends_search_quietly_with_exit_0() {
    // Far more output than a pipe buffer holds, so cass is still writing
    // when the reader goes away.
    let sb = corpus(1500, "pipeword");
    let mut child = sb
        .cass()
        .args(["search", "pipeword", "--limit", "1000", "--mode", "lexical"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // reader dropped here
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("claude_code"), "{first}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "nothing on stderr");
    // The same through a shell pipeline, as people type it.
    let sh = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' search pipeword --limit 1000 --mode lexical | head -1", env!("CARGO_BIN_EXE_cass")))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("CASS_DATA_DIR", sb.data())
        .output()
        .unwrap();
    assert!(sh.status.success());
    assert_eq!(String::from_utf8_lossy(&sh.stdout).lines().count(), 1);
    assert_eq!(String::from_utf8_lossy(&sh.stderr), "");
}

#[test]
fn config_file_then_env_then_flags() {
    let sb = corpus(30, "layered");
    let config = sb.dir.path().join("config.toml");
    std::fs::write(&config, "[search]\nlimit = 3\nmode = \"lexical\"\n").unwrap();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = sb.cass();
        cmd.env("CASS_CONFIG", &config).args(["search", "layered", "--json"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[], &[]);
    assert_eq!(hits(&out), 3, "from the config file");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "lexical", "mode from the config file");
    assert_eq!(hits(&run(&[("CASS_SEARCH_LIMIT", "5")], &[])), 5, "the environment beats the file");
    assert_eq!(hits(&run(&[("CASS_SEARCH_LIMIT", "5")], &["--limit", "7"])), 7, "a flag beats both");

    // A .env file in the working directory counts as environment.
    std::fs::write(sb.dir.path().join(".env"), "CASS_SEARCH_LIMIT=4\n").unwrap();
    assert_eq!(hits(&run(&[], &[])), 4, ".env beats the file");
    std::fs::remove_file(sb.dir.path().join(".env")).unwrap();

    // The default location is the platform config dir under HOME.
    let home_config = sb.home().join(".config/cass/config.toml");
    std::fs::create_dir_all(home_config.parent().unwrap()).unwrap();
    std::fs::write(&home_config, "[search]\nlimit = 2\n").unwrap();
    let out = sb.cass().args(["search", "layered", "--json", "--mode", "lexical"]).output().unwrap();
    assert_eq!(hits(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));

    // A bad file is refused with one clear line, as JSON in robot mode.
    std::fs::write(&config, "[search]\nlimmit = 3\n").unwrap();
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "config");
    assert!(err["error"]["message"].as_str().unwrap().contains("limmit"), "{err}");
}

#[test]
fn logs_go_to_stderr_and_follow_verbosity() {
    let sb = corpus(3, "logged");
    let quiet = sb.run(&["index", "--json"]);
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "warnings only by default");
    let verbose = sb.run(&["index", "--json", "-v"]);
    let err = String::from_utf8_lossy(&verbose.stderr);
    assert!(err.contains("INFO") && err.contains("ingest done"), "{err}");
    serde_json::from_slice::<serde_json::Value>(&verbose.stdout).expect("stdout stays pure JSON");
    let by_env = sb.cass().env("RUST_LOG", "info").args(["index", "--json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&by_env.stderr).contains("ingest done"), "RUST_LOG without -v");
    let silenced = sb.cass().env("RUST_LOG", "error").args(["index", "--json", "-v"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&silenced.stderr), "", "RUST_LOG overrides -v");
    assert_eq!(sb.run(&["-q", "-v", "status"]).status.code(), Some(2), "-q and -v conflict");
}

#[test]
fn completions_man_page_capabilities_and_robot_docs() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = sb.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("search") && text.contains("health"), "{shell} completions name the commands");
    }
    assert_eq!(sb.run(&["completions", "tcsh"]).status.code(), Some(2));

    let man = String::from_utf8_lossy(&sb.run(&["man"]).stdout).into_owned();
    assert!(man.contains(".TH cass 1") && man.contains("search"), "{man}");
    let page = String::from_utf8_lossy(&sb.run(&["man", "search"]).stdout).into_owned();
    assert!(page.contains(".TH cass-search") && page.contains("\\-\\-workspace"), "{page}");
    assert_eq!(sb.run(&["man", "nosuch"]).status.code(), Some(2));

    let caps = sb.json(&["capabilities"]);
    assert_eq!(caps["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(caps["schemas"]["search"], "cass.search.v1");
    assert_eq!(caps["schemas"]["semantic_progress"], "cass.semantic.progress.v1");
    let agents: Vec<&str> = caps["agents"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(agents.contains(&"claude_code") && agents.contains(&"codex") && agents.contains(&"gemini"), "{agents:?}");
    assert_eq!(caps["modes"], serde_json::json!(["lexical", "semantic", "hybrid"]));
    let tiers = caps["tiers"].as_array().unwrap();
    assert_eq!((tiers[0]["name"].as_str(), tiers[0]["available"].as_bool()), (Some("fast"), Some(true)));
    assert_eq!((tiers[1]["name"].as_str(), tiers[1]["available"].as_bool()), (Some("quality"), Some(false)));
    assert_eq!(tiers[0]["published"], false, "nothing indexed yet");

    let docs = String::from_utf8_lossy(&sb.run(&["robot-docs"]).stdout).into_owned();
    assert!(docs.contains("cass.search.v1") && docs.contains("Exit codes"), "robot docs carry the contract");
    assert!(docs.contains("cass health") && docs.contains("cass status"), "and the new commands");
}

#[test]
fn color_is_a_global_flag_and_no_color_wins_over_auto() {
    let sb = corpus(3, "tinted");
    let always = sb.run(&["--color", "always", "search", "tinted", "--mode", "lexical"]);
    assert!(String::from_utf8_lossy(&always.stdout).contains("\x1b["), "--color always before the command");
    let after = sb.run(&["search", "tinted", "--mode", "lexical", "--color", "always"]);
    assert!(String::from_utf8_lossy(&after.stdout).contains("\x1b["), "and after it");
    let env = sb.cass().env("CASS_COLOR", "always").args(["search", "tinted", "--mode", "lexical"]).output().unwrap();
    assert!(String::from_utf8_lossy(&env.stdout).contains("\x1b["), "CASS_COLOR");
    let never = sb.cass().env("NO_COLOR", "1").args(["search", "tinted", "--mode", "lexical"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&never.stdout).contains("\x1b["));
}
