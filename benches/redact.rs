//! Secret redaction throughput, single-threaded, message by message as the
//! indexer calls it.
//!
//! `cargo bench --bench redact` (about 50 MB by default;
//! `CASS_BENCH_REDACT_MB=10` for a quick run). Generates agent-session text:
//! prose from the corpus vocabulary mixed with the words that gate the
//! redactor's regexes at realistic rates (key, token, password, secret,
//! URLs, `Authorization`), code, stack traces, git SHAs, sha256 sums, UUIDs,
//! paths and JSON tool output. Reports MB/s and messages/s for text with no
//! secrets and for the same text with one secret per 10 KB, in CPU time of
//! the benchmark thread (steady when other processes share the cores) and
//! wall time, and what share of messages holds an anchor and so runs
//! regexes at all.

#[path = "corpus.rs"]
mod corpus;

use std::time::Instant;

use aho_corasick::AhoCorasick;
use cass::redact::{RULES, Redactor};
use corpus::{Rng, Vocab};

/// CPU seconds this thread has used: the figure that holds when other
/// processes share the cores (wall time is reported too).
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rng.below(16)])).collect()
}

fn alnum(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| char::from(A[rng.below(A.len())])).collect()
}

fn uuid(rng: &mut Rng) -> String {
    format!("{}-{}-{}-{}-{}", hex(rng, 8), hex(rng, 4), hex(rng, 4), hex(rng, 4), hex(rng, 12))
}

/// Sentences developers write about keys, tokens and passwords: they pass
/// the prefilter but hold no secret.
const DEV_PROSE: &[&str] = &[
    "The token limit is 8k tokens, so we truncate the context.",
    "Use the primary key of the table as the cache key.",
    "If the login fails, reset your password and try again.",
    "Store the API key in an environment variable, never in code.",
    "The secret is read from the vault at startup.",
    "See https://docs.rs/tokio/latest/tokio/sync/struct.Mutex.html for details.",
    "The request sends an Authorization header with a bearer token.",
    "Press the key combination ctrl+shift+p to open the palette.",
    "Fetched https://github.com/rust-lang/rust/issues/12345 and read the thread.",
    "max_tokens: 4096",
    "password = os.environ[\"DB_PASSWORD\"]",
    "let key = format!(\"{}:{}\", user_id, session_id);",
];

fn prose(v: &Vocab, rng: &mut Rng) -> String {
    let sentences = rng.range(1, 5);
    let mut s = v.prose(rng, sentences);
    if rng.chance(0.25) {
        s.push(' ');
        s.push_str(DEV_PROSE[rng.below(DEV_PROSE.len())]);
    }
    s
}

fn code(v: &Vocab, rng: &mut Rng) -> String {
    let mut s = String::from("```rust\n");
    for _ in 0..rng.range(4, 20) {
        match rng.below(5) {
            0 => {
                s.push_str(&format!("    let {}_{} = {}(&{})?;\n", v.word(rng), v.word(rng), v.word(rng), v.word(rng)))
            }
            1 => s.push_str(&format!("fn {}(x: &{}) -> Result<(), Error> {{\n", v.word(rng), v.word(rng))),
            2 => s.push_str(&format!("    // {}\n", v.sentence(rng, 7))),
            3 => s.push_str(&format!("    map.insert(key.clone(), {}::new());\n", v.word(rng))),
            _ => s.push_str(&format!("    {}.{}_{}();\n", v.word(rng), v.word(rng), v.word(rng))),
        }
    }
    s.push_str("```");
    s
}

fn tool_output(v: &Vocab, rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(5) {
        0 => {
            for _ in 0..rng.range(5, 40) {
                s.push_str(&format!("{} {}\n", hex(rng, 40), v.sentence(rng, 6)));
            }
        }
        1 => {
            for _ in 0..rng.range(3, 20) {
                s.push_str(&format!("{}  target/release/{}-{}.tar.gz\n", hex(rng, 64), v.word(rng), hex(rng, 8)));
            }
        }
        2 => {
            s.push_str("thread 'main' panicked at src/lib.rs:42:9:\nstack backtrace:\n");
            for i in 0..rng.range(5, 30) {
                s.push_str(&format!(
                    "  {i}: {}::{}::{}\n             at /home/dev/proj/src/{}/{}.rs:{}\n",
                    v.word(rng),
                    v.word(rng),
                    v.word(rng),
                    v.word(rng),
                    v.word(rng),
                    rng.range(1, 900)
                ));
            }
        }
        3 => {
            s.push('[');
            for i in 0..rng.range(3, 25) {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&format!(
                    "{{\"id\": \"{}\", \"name\": \"{}\", \"path\": \"src/{}/{}.rs\", \"version\": \"1.{}.{}\", \"created_at\": \"2026-01-{:02}T10:00:00Z\"}}",
                    uuid(rng),
                    v.word(rng),
                    v.word(rng),
                    v.word(rng),
                    rng.below(40),
                    rng.below(10),
                    rng.range(1, 28)
                ));
            }
            s.push(']');
        }
        _ => {
            for _ in 0..rng.range(10, 80) {
                s.push_str(&format!("test {}::{} ... ok\n", v.word(rng), v.word(rng)));
            }
        }
    }
    s
}

fn message(v: &Vocab, rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => prose(v, rng),
        4..=6 => format!("{}\n\n{}", prose(v, rng), code(v, rng)),
        _ => tool_output(v, rng),
    }
}

/// A line holding a secret of one of several kinds, with fresh random
/// characters, and the secret part of it.
fn secret(rng: &mut Rng) -> (String, String) {
    let kind = rng.below(8);
    let s = match kind {
        0 => format!("AKIA{}", alnum(rng, 16).to_uppercase()),
        1 => format!("ghp_{}", alnum(rng, 36)),
        5 => format!("sk-proj-{}", alnum(rng, 48)),
        6 => format!("{}\n{}", alnum(rng, 64), alnum(rng, 64)),
        7 => format!("eyJ{}.eyJ{}.{}", alnum(rng, 20), alnum(rng, 40), alnum(rng, 43)),
        _ => format!("{}7", alnum(rng, 11)),
    };
    let line = match kind {
        0 => format!("export AWS_ACCESS_KEY_ID={s}"),
        1 => format!("git push https://{s}@github.com/o/r"),
        2 => format!("DATABASE_URL=postgres://app:{s}@db:5432/app"),
        3 => format!("password: {s}"),
        4 => format!("Authorization: Bearer {s}"),
        5 => format!("OPENAI_API_KEY={s}"),
        6 => format!("-----BEGIN RSA PRIVATE KEY-----\n{s}\n-----END RSA PRIVATE KEY-----"),
        _ => format!("{{\"token\": \"{s}\"}}"),
    };
    (line, s)
}

struct Run {
    wall: f64,
    cpu: f64,
    bytes: usize,
    messages: usize,
    passed_prefilter: usize,
    markers: usize,
}

/// Times three passes over `messages` and keeps the fastest.
fn run(redactor: &Redactor, messages: &[String]) -> Run {
    let (mut wall, mut cpu, mut markers) = (f64::INFINITY, f64::INFINITY, 0);
    for _ in 0..3 {
        let (t, c) = (Instant::now(), thread_cpu_secs());
        markers = 0;
        for m in messages {
            markers += redactor.redact(std::hint::black_box(m)).report.count();
        }
        cpu = cpu.min(thread_cpu_secs() - c);
        wall = wall.min(t.elapsed().as_secs_f64());
    }
    // The same anchors as the redactor's prefilter (case-sensitive).
    let anchors = AhoCorasick::new(RULES.iter().flat_map(|r| r.anchors.iter().copied())).expect("anchors build");
    let passed_prefilter = messages.iter().filter(|m| anchors.is_match(m.as_str())).count();
    Run {
        wall,
        cpu,
        bytes: messages.iter().map(String::len).sum(),
        messages: messages.len(),
        passed_prefilter,
        markers,
    }
}

fn report(label: &str, r: &Run) {
    let mb = r.bytes as f64 / 1e6;
    println!(
        "{label}: {:.0} MB/s CPU ({:.0} MB/s wall), {:.0}k messages/s CPU; {mb:.1} MB in {} messages, {:.1} % past the prefilter, {} markers",
        mb / r.cpu,
        mb / r.wall,
        r.messages as f64 / 1e3 / r.cpu,
        r.messages,
        100.0 * r.passed_prefilter as f64 / r.messages as f64,
        r.markers
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let target = env_usize("CASS_BENCH_REDACT_MB", 50) * 1_000_000;
    let mut rng = Rng::new(7);
    let vocab = Vocab::new(&mut rng, 60_000);
    let mut clean = Vec::new();
    let mut size = 0;
    while size < target {
        let m = message(&vocab, &mut rng);
        size += m.len();
        clean.push(m);
    }
    let redactor = Redactor::new().expect("built-in rules compile");
    report("no secrets", &run(&redactor, &clean));

    // One secret per 10 KB, inserted in the message where the 10 KB mark falls.
    let mut with_secrets = clean.clone();
    let mut inserted = Vec::new();
    let mut since = 0;
    for (i, m) in with_secrets.iter_mut().enumerate() {
        since += m.len();
        if since >= 10_000 {
            since -= 10_000;
            let (line, s) = secret(&mut rng);
            m.push('\n');
            m.push_str(&line);
            m.push('\n');
            inserted.push((i, s));
        }
    }
    let r = run(&redactor, &with_secrets);
    report(&format!("1 secret / 10 KB ({} inserted)", inserted.len()), &r);
    // Every inserted secret must be gone (the hints around it may stay).
    let left = inserted.iter().filter(|(i, s)| redactor.redact(&with_secrets[*i]).text.contains(s.as_str())).count();
    println!("inserted secrets left in the text: {left}");
}
