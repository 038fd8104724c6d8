//! A synthetic but realistic corpus of agent sessions, at any size.
//!
//! Writes Claude Code and Codex CLI session files in their real layouts under
//! a fake home: prose questions and answers, fenced code, tool calls with long
//! tool output, stack traces and compiler errors, drawn from a Zipf-like
//! vocabulary (a few words very common, a long tail rare) so term statistics
//! look like real text. Deterministic for a given seed.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const CODE_WORDS: &[&str] = &[
    "unwrap",
    "result",
    "option",
    "async",
    "await",
    "tokio",
    "serde",
    "struct",
    "impl",
    "trait",
    "vec",
    "string",
    "borrow",
    "lifetime",
    "mutex",
    "arc",
    "channel",
    "thread",
    "panic",
    "error",
    "config",
    "request",
    "response",
    "handler",
    "router",
    "middleware",
    "database",
    "query",
    "index",
    "cache",
    "timeout",
    "retry",
    "socket",
    "buffer",
    "parser",
    "token",
    "schema",
    "migration",
    "deploy",
    "docker",
    "kubernetes",
    "webpack",
    "react",
    "component",
    "hook",
    "state",
    "props",
    "render",
    "typescript",
    "interface",
    "promise",
    "callback",
    "import",
    "export",
    "module",
    "package",
    "cargo",
    "clippy",
    "rustfmt",
    "test",
    "assert",
    "fixture",
    "mock",
    "benchmark",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "tor", "vel", "sha", "din", "pra", "gul", "zen", "fo", "qua", "bri", "mon", "tes", "lan",
    "cor", "vi", "xan", "pel", "dru", "sti", "nom", "ral", "ek", "ith", "os", "un", "ar",
];
const STOP: &[&str] = &[
    "the", "a", "to", "of", "and", "in", "is", "it", "that", "for", "on", "with", "this", "we", "can", "be", "not",
    "you", "when", "if", "but", "so", "from", "at", "as", "or", "then", "now",
];

/// A vocabulary sampled with Zipf-like frequencies (rank^-1.07).
pub struct Vocab {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocab {
    pub fn new(rng: &mut Rng, size: usize) -> Vocab {
        let mut words: Vec<String> = STOP.iter().chain(CODE_WORDS).map(|s| s.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < size {
            let n = rng.range(2, 4);
            let w: String = (0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut cdf = Vec::with_capacity(words.len());
        let mut total = 0.0;
        for r in 0..words.len() {
            total += 1.0 / ((r + 1) as f64).powf(1.07);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Vocab { words, cdf }
    }

    pub fn word(&self, rng: &mut Rng) -> &str {
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let i = self.cdf.partition_point(|&c| c < x).min(self.words.len() - 1);
        &self.words[i]
    }

    /// A word of middling frequency (ranks 200..5000): realistic query terms.
    pub fn query_word(&self, rng: &mut Rng) -> &str {
        &self.words[rng.range(200, 5000.min(self.words.len() - 1))]
    }

    pub fn sentence(&self, rng: &mut Rng, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.word(rng));
        }
        s.push('.');
        s
    }

    pub fn prose(&self, rng: &mut Rng, sentences: usize) -> String {
        (0..sentences)
            .map(|_| {
                let n = rng.range(6, 18);
                self.sentence(rng, n)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn identifier(v: &Vocab, rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("{}_{}", v.word(rng), v.word(rng)),
        1 => {
            let b = v.word(rng).to_string();
            let mut c: Vec<char> = b.chars().collect();
            c[0] = c[0].to_ascii_uppercase();
            format!("{}{}", v.word(rng), c.into_iter().collect::<String>())
        }
        2 => format!("src/{}/{}.rs", v.word(rng), v.word(rng)),
        _ => format!("{}::{}::{}", v.word(rng), v.word(rng), v.word(rng)),
    }
}

fn code_block(v: &Vocab, rng: &mut Rng) -> String {
    let mut s = String::from("```rust\n");
    for _ in 0..rng.range(4, 24) {
        let indent = "    ".repeat(rng.below(3));
        match rng.below(4) {
            0 => s.push_str(&format!("{indent}let {} = {}(&{})?;\n", identifier(v, rng), v.word(rng), v.word(rng))),
            1 => s.push_str(&format!("{indent}fn {}(x: {}) -> Result<(), Error> {{\n", v.word(rng), v.word(rng))),
            2 => s.push_str(&format!("{indent}// {}\n", v.sentence(rng, 6))),
            _ => s.push_str(&format!("{indent}{}.{}();\n", v.word(rng), identifier(v, rng))),
        }
    }
    s.push_str("```");
    s
}

fn tool_output(v: &Vocab, rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(3) {
        0 => {
            s.push_str(&format!(
                "thread 'main' panicked at src/{}.rs:{}:{}:\n",
                v.word(rng),
                rng.range(1, 900),
                rng.range(1, 80)
            ));
            s.push_str(&format!(
                "called `Result::unwrap()` on an `Err` value: {}\nstack backtrace:\n",
                v.sentence(rng, 5)
            ));
            for i in 0..rng.range(5, 30) {
                s.push_str(&format!(
                    "  {i}: {}::{}\n             at ./src/{}.rs:{}\n",
                    v.word(rng),
                    identifier(v, rng),
                    v.word(rng),
                    rng.range(1, 500)
                ));
            }
        }
        1 => {
            for _ in 0..rng.range(3, 12) {
                s.push_str(&format!(
                    "error[E0{}]: {}\n  --> src/{}.rs:{}:{}\n   |\n{} | {}\n",
                    rng.range(100, 799),
                    v.sentence(rng, 7),
                    v.word(rng),
                    rng.range(1, 400),
                    rng.range(1, 60),
                    rng.range(1, 400),
                    identifier(v, rng)
                ));
            }
        }
        _ => {
            for _ in 0..rng.range(10, 120) {
                s.push_str(&format!(
                    "test {}::{} ... {}\n",
                    v.word(rng),
                    identifier(v, rng),
                    if rng.chance(0.9) { "ok" } else { "FAILED" }
                ));
            }
        }
    }
    s
}

/// One message body and role, with tool traffic and code at realistic rates.
fn message(v: &Vocab, rng: &mut Rng, i: usize) -> (&'static str, String) {
    if i.is_multiple_of(2) {
        let n = rng.range(1, 4);
        let mut s = v.prose(rng, n);
        if rng.chance(0.3) {
            s.push_str(&format!(" See {} for details.", identifier(v, rng)));
        }
        ("user", s)
    } else {
        let n = rng.range(1, 6);
        let mut s = v.prose(rng, n);
        if rng.chance(0.35) {
            s.push_str("\n\n");
            s.push_str(&code_block(v, rng));
        }
        ("assistant", s)
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct CorpusStats {
    pub files: usize,
    pub messages: usize,
    pub bytes: u64,
}

/// Writes sessions totalling about `messages` messages under `home`.
pub fn generate(home: &Path, messages: usize, seed: u64) -> std::io::Result<CorpusStats> {
    generate_shaped(home, messages, seed, (20, 400))
}

/// As [`generate`], with `per_session` (lowest, highest) messages a session:
/// small sessions give the thousands of files a reliability harness wants.
pub fn generate_shaped(
    home: &Path,
    messages: usize,
    seed: u64,
    per_session: (usize, usize),
) -> std::io::Result<CorpusStats> {
    let mut rng = Rng::new(seed);
    let vocab = Vocab::new(&mut rng, 60_000);
    let mut stats = CorpusStats::default();
    let mut session = 0usize;
    while stats.messages < messages {
        let n = rng.range(per_session.0, per_session.1).min(messages - stats.messages).max(1);
        let codex = rng.chance(0.3);
        let path = if codex {
            let day = 1 + session % 28;
            home.join(format!(".codex/sessions/2026/01/{day:02}/rollout-2026-01-{day:02}T10-00-00-{session:08x}.jsonl"))
        } else {
            home.join(format!(
                ".claude/projects/-home-dev-proj{}/{session:08x}-0000-4000-8000-000000000000.jsonl",
                session % 40
            ))
        };
        fs::create_dir_all(path.parent().expect("parent"))?;
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let cwd = format!("/home/dev/proj{}", session % 40);
        let base_ms: i64 = 1_767_225_600_000 + session as i64 * 3_600_000;
        let mut written = 0;
        let mut i = 0;
        if codex {
            let meta = serde_json::json!({"timestamp": ts(base_ms), "type": "session_meta", "payload": {"id": format!("cx-{session}"), "cwd": cwd}});
            stats.bytes += writeln_json(&mut out, &meta)?;
        }
        while written < n {
            let t = base_ms + i as i64 * 7_000;
            let (role, text) = message(&vocab, &mut rng, i);
            let tool = role == "assistant" && rng.chance(0.3) && written + 2 < n;
            stats.bytes += if codex {
                codex_line(&mut out, t, role, &text)?
            } else {
                claude_line(&mut out, session, &cwd, t, role, &text)?
            };
            written += 1;
            if tool {
                let cmd = format!("cargo test -p {} {}", vocab.word(&mut rng), identifier(&vocab, &mut rng));
                let output = tool_output(&vocab, &mut rng);
                stats.bytes += if codex {
                    codex_tool(&mut out, t + 1000, &cmd, &output)?
                } else {
                    claude_tool(&mut out, session, &cwd, t + 1000, &cmd, &output)?
                };
                written += 2;
            }
            i += 1;
        }
        out.flush()?;
        stats.messages += written;
        stats.files += 1;
        session += 1;
    }
    Ok(stats)
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).expect("time").to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn writeln_json(out: &mut impl Write, v: &serde_json::Value) -> std::io::Result<u64> {
    let s = v.to_string();
    out.write_all(s.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(s.len() as u64 + 1)
}

fn claude_line(
    out: &mut impl Write,
    session: usize,
    cwd: &str,
    t: i64,
    role: &str,
    text: &str,
) -> std::io::Result<u64> {
    let v = serde_json::json!({
        "type": role, "sessionId": format!("s-{session}"), "cwd": cwd, "timestamp": ts(t),
        "message": {"role": role, "content": if role == "assistant" { serde_json::json!([{"type": "text", "text": text}]) } else { serde_json::json!(text) }, "model": if role == "assistant" { "claude-sonnet-4-5" } else { "" }},
    });
    writeln_json(out, &v)
}

fn claude_tool(
    out: &mut impl Write,
    session: usize,
    cwd: &str,
    t: i64,
    cmd: &str,
    output: &str,
) -> std::io::Result<u64> {
    let call = serde_json::json!({
        "type": "assistant", "sessionId": format!("s-{session}"), "cwd": cwd, "timestamp": ts(t),
        "message": {"role": "assistant", "content": [{"type": "tool_use", "id": format!("toolu_{t}"), "name": "Bash", "input": {"command": cmd}}]},
    });
    let result = serde_json::json!({
        "type": "user", "sessionId": format!("s-{session}"), "cwd": cwd, "timestamp": ts(t + 500),
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": format!("toolu_{t}"), "content": output}]},
    });
    Ok(writeln_json(out, &call)? + writeln_json(out, &result)?)
}

fn codex_line(out: &mut impl Write, t: i64, role: &str, text: &str) -> std::io::Result<u64> {
    let kind = if role == "user" { "input_text" } else { "output_text" };
    let v = serde_json::json!({"timestamp": ts(t), "type": "response_item", "payload": {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}});
    writeln_json(out, &v)
}

fn codex_tool(out: &mut impl Write, t: i64, cmd: &str, output: &str) -> std::io::Result<u64> {
    let args = serde_json::json!({"command": ["bash", "-lc", cmd]}).to_string();
    let call = serde_json::json!({"timestamp": ts(t), "type": "response_item", "payload": {"type": "function_call", "name": "shell", "arguments": args, "call_id": format!("call_{t}")}});
    let res = serde_json::json!({"timestamp": ts(t + 500), "type": "response_item", "payload": {"type": "function_call_output", "call_id": format!("call_{t}"), "output": serde_json::json!({"output": output, "metadata": {"exit_code": 0}}).to_string()}});
    Ok(writeln_json(out, &call)? + writeln_json(out, &res)?)
}

/// `count` queries of 1–3 middling-frequency words, deterministic.
pub fn queries(count: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let vocab = Vocab::new(&mut rng, 60_000);
    let mut q = Rng::new(seed ^ 0xABCD);
    (0..count)
        .map(|_| {
            let n = q.range(1, 3);
            (0..n).map(|_| vocab.query_word(&mut q).to_string()).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The benchmarks' shared corpus of `messages` messages (seed 42):
/// `$CASS_BENCH_DIR`, else `target/bench/corpus-<messages>`, generated once
/// and reused (a marker file says it is complete). Returns (dir, home).
pub fn cached(messages: usize) -> (PathBuf, PathBuf) {
    let dir = std::env::var("CASS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench/corpus-{messages}")));
    let home = dir.join("home");
    let marker = dir.join(format!(".corpus-{messages}-42"));
    if !marker.exists() {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&home).expect("create corpus dir");
        let t = std::time::Instant::now();
        let stats = generate(&home, messages, 42).expect("generate corpus");
        eprintln!("generated {} files, {} messages in {:.1}s", stats.files, stats.messages, t.elapsed().as_secs_f64());
        fs::write(&marker, b"").expect("marker");
    }
    (dir, home)
}

/// Sum of file sizes below a directory.
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}
