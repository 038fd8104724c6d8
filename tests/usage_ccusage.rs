//! `cass usage daily` against ccusage, the reference tool for agent token
//! usage and cost: a generated fake home (Claude Code sessions in three
//! projects, Codex rollouts, over ten days, with the duplicates real
//! agents write) is read by both, and every day must agree: the same dates,
//! the same token counts, costs within 0.1 %. The generator also sums what
//! it wrote, once per call and once per logged line, so the test knows the
//! duplicates were dropped, not merely dropped the same way by both tools.
//!
//! ccusage comes from npm (`npm install --no-save ccusage@20.0.24` in the
//! repository root, which `.ci/run` does; else the test installs it under
//! `target/ccusage` itself); `CASS_CCUSAGE` may name another
//! copy. Without it the test fails: it never passes by skipping.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{Value, json};

const CCUSAGE_VERSION: &str = "20.0.24";

const SONNET_45: &str = "claude-sonnet-4-5-20250929";
const OPUS_41: &str = "claude-opus-4-1-20250805";
const HAIKU_45: &str = "claude-haiku-4-5-20251001";
const SONNET_4: &str = "claude-sonnet-4-20250514";
const CLAUDE_MODELS: [&str; 4] = [SONNET_45, OPUS_41, HAIKU_45, SONNET_4];
const GPT_5_CODEX: &str = "gpt-5-codex";
const GPT_5: &str = "gpt-5";
const GPT_5_MINI: &str = "gpt-5-mini";
const CODEX_MODELS: [&str; 3] = [GPT_5_CODEX, GPT_5, GPT_5_MINI];

const PROJECTS: [&str; 3] = ["/home/u/proj-a", "/home/u/proj-b", "/home/u/proj-c"];

// ---------------------------------------------------------------------------
// A small deterministic generator (splitmix64): the same home on every run.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    fn alnum(&mut self, n: usize) -> String {
        self.chars(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", n)
    }

    fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }

    /// A UUID of this version (4 for Claude Code, 7 for Codex).
    fn uuid(&mut self, version: u8) -> String {
        let h = self.hex(32);
        let variant = self.chars(b"89ab", 1);
        format!("{}-{}-{version}{}-{variant}{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the only form both agents write (and the
/// only one ccusage reads for Claude).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The calendar day of an instant in a zone `offset_hours` east of UTC
/// (the zones used here have no daylight saving).
fn day(ms: i64, offset_hours: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + offset_hours * 3_600_000).unwrap().format("%Y-%m-%d").to_string()
}

const MINUTE: u64 = 60_000;

// ---------------------------------------------------------------------------
// What the generator wrote.

/// One model call, with cass's meaning of each count: `input` holds no
/// cache tokens, `output` includes `reasoning`.
#[derive(Clone, Debug)]
struct Call {
    at: i64,
    model: &'static str,
    input: u64,
    output: u64,
    cache_write: u64,
    cache_read: u64,
    reasoning: u64,
}

impl Call {
    fn total(&self) -> u64 {
        self.input + self.output + self.cache_write + self.cache_read
    }
}

/// The calls of one agent: `counted` holds each call once (what a report
/// must sum), `logged` each line or event that carries one (what a report
/// that kept duplicates would sum).
#[derive(Default)]
struct Log {
    counted: Vec<Call>,
    logged: Vec<Call>,
}

impl Log {
    fn call(&mut self, call: Call) {
        self.logged.push(call.clone());
        self.counted.push(call);
    }

    fn duplicate(&mut self, call: Call) {
        self.logged.push(call);
    }
}

struct Fake {
    claude: Log,
    codex: Log,
}

fn write_jsonl(path: &Path, lines: &[Value]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = String::new();
    for line in lines {
        // Compact, as the agents write: ccusage reads only lines holding
        // `"usage":{` (Claude) or `"type":"event_msg"` (Codex) verbatim.
        text.push_str(&serde_json::to_string(line).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Writes the whole fake home and returns what it holds.
fn generate(home: &Path) -> Fake {
    let mut rng = Rng(0x00C0_FFEE_2025_1001);
    let claude = claude_sessions(&mut rng, home);
    let codex = codex_sessions(&mut rng, home);
    Fake { claude, codex }
}

// ---------------------------------------------------------------------------
// Claude Code: ~/.claude/projects/<cwd with / as ->/<session>.jsonl

const PROMPTS: [&str; 8] = [
    "Why does the retry test fail on CI but not locally?",
    "Add a --since flag to the export command",
    "Refactor the parser so it streams instead of loading the whole file",
    "The connection pool leaks under load, find out why",
    "Write tests for the date parsing edge cases",
    "Explain what this migration does and whether it is safe",
    "Rename the config option and keep the old name working",
    "Make the progress bar stop flickering",
];

const REPLIES: [&str; 8] = [
    "Let me look at the test and the code it exercises.",
    "I'll read the module first.",
    "Found it: the timeout is measured from the wrong instant.",
    "Running the test suite to confirm.",
    "The change is in place and the tests pass.",
    "Here is what the migration does, step by step.",
    "I checked the callers; none depend on the old behaviour.",
    "Done. The flag is documented in the README too.",
];

const COMMANDS: [&str; 5] = ["cargo test", "git status", "rg -n retry src", "cargo build", "ls -la"];

/// One Claude Code session to write.
struct ClaudePlan {
    project: usize,
    start: &'static str,
    /// Delay of the first reply, to put a two-line response astride a day
    /// boundary.
    first_reply_ms: Option<u64>,
    /// Whether the first turn's first response is a tool call (two lines).
    split_first: bool,
    turns: usize,
    models: &'static [&'static str],
    /// Whether the session's first calls are the long-context ones.
    long_context: bool,
}

const CLAUDE_PLANS: [ClaudePlan; 11] = [
    // Across midnight UTC.
    ClaudePlan {
        project: 0,
        start: "2025-10-01T23:31:07.412Z",
        first_reply_ms: None,
        split_first: false,
        turns: 5,
        models: &[SONNET_45, SONNET_45, HAIKU_45],
        long_context: false,
    },
    // Across 15:00 UTC, midnight in Tokyo.
    ClaudePlan {
        project: 1,
        start: "2025-10-02T14:36:40.118Z",
        first_reply_ms: None,
        split_first: false,
        turns: 4,
        models: &[OPUS_41],
        long_context: false,
    },
    // A response logged as two lines, one before midnight UTC and one after.
    ClaudePlan {
        project: 0,
        start: "2025-10-03T23:59:55.000Z",
        first_reply_ms: Some(4_800),
        split_first: true,
        turns: 3,
        models: &[SONNET_4],
        long_context: false,
    },
    // The same astride 15:00 UTC.
    ClaudePlan {
        project: 2,
        start: "2025-10-04T14:59:50.000Z",
        first_reply_ms: Some(9_700),
        split_first: true,
        turns: 3,
        models: &[HAIKU_45, SONNET_45],
        long_context: false,
    },
    // Long prompts (resumed below, so they are logged twice).
    ClaudePlan {
        project: 1,
        start: "2025-10-05T23:40:12.003Z",
        first_reply_ms: None,
        split_first: false,
        turns: 5,
        models: &[SONNET_45],
        long_context: true,
    },
    ClaudePlan {
        project: 2,
        start: "2025-10-03T03:10:27.640Z",
        first_reply_ms: None,
        split_first: false,
        turns: 3,
        models: &[OPUS_41, HAIKU_45],
        long_context: false,
    },
    ClaudePlan {
        project: 0,
        start: "2025-10-08T05:55:00.321Z",
        first_reply_ms: None,
        split_first: false,
        turns: 3,
        models: &[SONNET_4, SONNET_45],
        long_context: false,
    },
    ClaudePlan {
        project: 2,
        start: "2025-10-07T09:12:33.250Z",
        first_reply_ms: None,
        split_first: false,
        turns: 3,
        models: &[SONNET_4, HAIKU_45],
        long_context: false,
    },
    ClaudePlan {
        project: 0,
        start: "2025-10-08T23:44:02.777Z",
        first_reply_ms: None,
        split_first: false,
        turns: 4,
        models: &[OPUS_41, SONNET_45],
        long_context: false,
    },
    ClaudePlan {
        project: 2,
        start: "2025-10-09T14:51:19.500Z",
        first_reply_ms: None,
        split_first: false,
        turns: 4,
        models: &[SONNET_4],
        long_context: false,
    },
    ClaudePlan {
        project: 1,
        start: "2025-10-10T23:36:45.901Z",
        first_reply_ms: None,
        split_first: false,
        turns: 3,
        models: &[HAIKU_45, SONNET_45, OPUS_41, SONNET_4],
        long_context: false,
    },
];

/// Index in `CLAUDE_PLANS` of the session that is resumed, and when the
/// resumed session continues.
const RESUMED_PLAN: usize = 4;
const RESUMED_AT: &str = "2025-10-06T23:50:00.000Z";

/// Token counts of one Claude call: (input, output, 5-minute cache writes,
/// 1-hour cache writes, cache reads, whether the usage has the
/// `cache_creation` split).
type ClaudeTokens = (u64, u64, u64, u64, u64, bool);

/// Calls past the 200k long-context line of Sonnet 4.5, one bucket at a
/// time, and one whose prompt passes 200k only when its buckets are added.
const LONG_CONTEXT: [ClaudeTokens; 5] = [
    (212_345, 640, 0, 0, 1_024, false),
    (12, 900, 3_210, 0, 245_678, true),
    (150_000, 700, 0, 0, 150_000, false),
    (8, 1_100, 206_000, 0, 40_000, true),
    (6, 1_200, 1_500, 215_000, 30_000, true),
];

fn claude_tokens(rng: &mut Rng, context: u64) -> ClaudeTokens {
    let input = if rng.chance(20) { rng.range(200, 4_000) } else { rng.range(3, 40) };
    let output = rng.range(20, 1_800);
    let cache_read = context + rng.range(0, 2_000);
    let write = if rng.chance(30) { 0 } else { rng.range(100, 8_000) };
    let split = rng.chance(60);
    let one_hour = if split && rng.chance(35) { rng.range(0, write) } else { 0 };
    (input, output, write - one_hour, one_hour, cache_read, split)
}

fn claude_usage((input, output, w5m, w1h, read, split): ClaudeTokens) -> Value {
    let mut usage = json!({
        "input_tokens": input,
        "cache_creation_input_tokens": w5m + w1h,
        "cache_read_input_tokens": read,
    });
    if split {
        usage["cache_creation"] = json!({"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h});
    }
    usage["output_tokens"] = json!(output);
    usage["service_tier"] = json!("standard");
    usage
}

/// One session file being written.
struct ClaudeFile {
    session: String,
    cwd: &'static str,
    parent: Option<String>,
    lines: Vec<Value>,
}

impl ClaudeFile {
    fn push(
        &mut self,
        rng: &mut Rng,
        kind: &str,
        at: i64,
        message: Value,
        request: Option<&str>,
        extra: Option<Value>,
    ) {
        let uuid = rng.uuid(4);
        let mut rec = json!({
            "parentUuid": self.parent,
            "isSidechain": false,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": "2.0.14",
            "gitBranch": "main",
            "type": kind,
            "message": message,
        });
        if let Some(req) = request {
            rec["requestId"] = json!(req);
        }
        if let Some(Value::Object(extra)) = extra {
            for (k, v) in extra {
                rec[k] = v;
            }
        }
        rec["uuid"] = json!(uuid);
        rec["timestamp"] = json!(iso(at));
        self.parent = Some(uuid);
        self.lines.push(rec);
    }
}

/// Appends `turns` turns to `file` from `start`. While `long_context` has
/// entries, each call takes the next one as its tokens, on Sonnet 4.5.
fn claude_turns(
    rng: &mut Rng,
    log: &mut Log,
    file: &mut ClaudeFile,
    start: i64,
    plan: &ClaudePlan,
    turns: usize,
    long_context: &mut Vec<ClaudeTokens>,
) {
    let mut t = start;
    let mut context = rng.range(12_000, 20_000);
    for turn in 0..turns {
        let prompt = *rng.pick(&PROMPTS);
        file.push(rng, "user", t, json!({"role": "user", "content": prompt}), None, None);
        let calls = if turn == 0 && plan.split_first { rng.range(2, 3) } else { rng.range(1, 3) };
        for c in 0..calls {
            let first = turn == 0 && c == 0;
            t += match plan.first_reply_ms {
                Some(ms) if first => ms,
                _ => rng.range(1_500, 25_000),
            } as i64;
            let (model, tokens) = match long_context.pop() {
                Some(tokens) => (SONNET_45, tokens),
                None => (*rng.pick(plan.models), claude_tokens(rng, context)),
            };
            context += rng.range(300, 6_000);
            let (input, output, w5m, w1h, read, _) = tokens;
            let call = Call { at: t, model, input, output, cache_write: w5m + w1h, cache_read: read, reasoning: 0 };
            let msg_id = format!("msg_01{}", rng.alnum(22));
            let request = format!("req_011C{}", rng.alnum(18));
            let message = |block: Value| {
                json!({
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [block],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": claude_usage(tokens),
                })
            };
            let text = json!({"type": "text", "text": *rng.pick(&REPLIES)});
            file.push(rng, "assistant", t, message(text), Some(&request), None);
            log.call(call.clone());
            if c + 1 < calls {
                // A tool call: Claude Code logs each content block of the
                // response as its own line, each with the call's usage.
                let tool_id = format!("toolu_01{}", rng.alnum(22));
                let command = *rng.pick(&COMMANDS);
                let tool = json!({"type": "tool_use", "id": tool_id, "name": "Bash",
                    "input": {"command": command, "description": "Run it"}});
                t += rng.range(300, 1_500) as i64;
                file.push(rng, "assistant", t, message(tool), Some(&request), None);
                log.duplicate(Call { at: t, ..call });
                t += rng.range(500, 8_000) as i64;
                let output = format!("$ {command}\nok");
                let result = json!({"role": "user", "content": [
                    {"tool_use_id": tool_id, "type": "tool_result", "content": output, "is_error": false}]});
                let extra =
                    json!({"toolUseResult": {"stdout": output, "stderr": "", "interrupted": false, "isImage": false}});
                file.push(rng, "user", t, result, None, Some(extra));
            }
        }
        t += rng.range(3 * MINUTE, 9 * MINUTE) as i64;
    }
}

fn claude_sessions(rng: &mut Rng, home: &Path) -> Log {
    let mut log = Log::default();
    for (i, plan) in CLAUDE_PLANS.iter().enumerate() {
        let cwd = PROJECTS[plan.project];
        let dir = home.join(".claude/projects").join(cwd.replace('/', "-"));
        let mut file = ClaudeFile { session: rng.uuid(4), cwd, parent: None, lines: Vec::new() };
        let mut long: Vec<ClaudeTokens> =
            if plan.long_context { LONG_CONTEXT.iter().rev().copied().collect() } else { Vec::new() };
        let logged_before = log.logged.len();
        claude_turns(rng, &mut log, &mut file, ms(plan.start), plan, plan.turns, &mut long);
        assert!(long.is_empty(), "plan {i} has too few calls for the long-context ones");
        write_jsonl(&dir.join(format!("{}.jsonl", file.session)), &file.lines);

        if i == RESUMED_PLAN {
            // `claude --resume`: a new session file that starts with the
            // old one's records (same uuids, message and request ids,
            // times; the new session id) and goes on from there.
            let session = rng.uuid(4);
            let mut lines = vec![json!({"type": "summary", "summary": "Long prompts on the parser",
                "leafUuid": file.parent})];
            for rec in &file.lines {
                let mut copy = rec.clone();
                copy["sessionId"] = json!(session);
                lines.push(copy);
            }
            // Every line with usage is logged again, tool-call halves too.
            log.logged.extend_from_within(logged_before..);
            let mut resumed = ClaudeFile { session, cwd, parent: file.parent.clone(), lines };
            let plan = ClaudePlan {
                long_context: false,
                split_first: false,
                first_reply_ms: None,
                models: &[SONNET_45, OPUS_41],
                ..*plan
            };
            claude_turns(rng, &mut log, &mut resumed, ms(RESUMED_AT), &plan, 3, &mut Vec::new());
            write_jsonl(&dir.join(format!("{}.jsonl", resumed.session)), &resumed.lines);
        }
    }
    log
}

// ---------------------------------------------------------------------------
// Codex: ~/.codex/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<id>.jsonl

struct CodexPlan {
    project: usize,
    /// Bursts of turns: (start, turns). A session left open continues later.
    bursts: &'static [(&'static str, usize)],
    /// (first turn, model): the model from that turn on.
    models: &'static [(usize, &'static str)],
}

const CODEX_PLANS: [CodexPlan; 3] = [
    CodexPlan {
        project: 0,
        bursts: &[("2025-10-02T23:20:41.117Z", 4), ("2025-10-03T14:48:10.000Z", 3)],
        models: &[(0, GPT_5_CODEX), (3, GPT_5)],
    },
    CodexPlan {
        project: 1,
        bursts: &[("2025-10-05T14:31:05.250Z", 5), ("2025-10-06T23:51:30.000Z", 2)],
        models: &[(0, GPT_5_MINI), (2, GPT_5_CODEX)],
    },
    CodexPlan {
        project: 2,
        bursts: &[("2025-10-08T23:38:59.999Z", 5), ("2025-10-10T09:05:00.000Z", 2)],
        models: &[(0, GPT_5), (4, GPT_5_MINI)],
    },
];

#[derive(Clone, Copy, Default)]
struct CodexTokens {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
}

impl CodexTokens {
    fn json(self) -> Value {
        json!({
            "input_tokens": self.input,
            "cached_input_tokens": self.cached,
            "output_tokens": self.output,
            "reasoning_output_tokens": self.reasoning,
            "total_tokens": self.input + self.output,
        })
    }

    fn add(&mut self, o: CodexTokens) {
        self.input += o.input;
        self.cached += o.cached;
        self.output += o.output;
        self.reasoning += o.reasoning;
    }
}

fn rate_limits(rng: &mut Rng) -> Value {
    json!({
        "primary": {"used_percent": rng.range(0, 90) as f64, "window_minutes": 299, "resets_in_seconds": rng.range(60, 17_000)},
        "secondary": {"used_percent": rng.range(0, 40) as f64, "window_minutes": 10_079, "resets_in_seconds": rng.range(60, 600_000)},
    })
}

fn codex_sessions(rng: &mut Rng, home: &Path) -> Log {
    let mut log = Log::default();
    for plan in &CODEX_PLANS {
        let cwd = PROJECTS[plan.project];
        let id = rng.uuid(7);
        let start = ms(plan.bursts[0].0);
        let mut lines = Vec::new();
        let mut line = |at: i64, kind: &str, payload: Value| {
            lines.push(json!({"timestamp": iso(at), "type": kind, "payload": payload}));
        };
        line(
            start,
            "session_meta",
            json!({"id": id, "timestamp": iso(start), "cwd": cwd, "originator": "codex_cli_rs",
                "cli_version": "0.46.0", "source": "cli",
                "git": {"commit_hash": rng.hex(40), "branch": "main"}}),
        );
        let mut totals = CodexTokens::default();
        let mut context = rng.range(8_000, 12_000);
        let mut turn = 0;
        let mut repeated = false;
        for &(burst, turns) in plan.bursts {
            let mut t = ms(burst) + 1_500;
            for _ in 0..turns {
                let model = plan.models.iter().rev().find(|(from, _)| *from <= turn).unwrap().1;
                line(
                    t,
                    "turn_context",
                    json!({"cwd": cwd, "approval_policy": "on-request",
                        "sandbox_policy": {"mode": "workspace-write", "network_access": false,
                            "exclude_tmpdir_env_var": false, "exclude_slash_tmp": false},
                        "model": model, "effort": "medium", "summary": "auto"}),
                );
                if turn == 0 {
                    let env = format!(
                        "<environment_context>\n  <cwd>{cwd}</cwd>\n  <approval_policy>on-request</approval_policy>\n</environment_context>"
                    );
                    line(
                        t,
                        "response_item",
                        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": env}]}),
                    );
                }
                let prompt = *rng.pick(&PROMPTS);
                line(
                    t,
                    "response_item",
                    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}),
                );
                line(t, "event_msg", json!({"type": "user_message", "message": prompt, "images": []}));
                if turn == 0 {
                    // Only rate limits: no tokens yet.
                    t += rng.range(200, 900) as i64;
                    line(t, "event_msg", json!({"type": "token_count", "info": null, "rate_limits": rate_limits(rng)}));
                }
                let calls = rng.range(1, 3);
                for c in 0..calls {
                    t += rng.range(3_000, 40_000) as i64;
                    let last = c + 1 == calls;
                    line(
                        t,
                        "response_item",
                        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "**Planning the change**"}],
                            "encrypted_content": format!("gAAAAAB{}", rng.alnum(48))}),
                    );
                    let call_id = format!("call_{}", rng.alnum(24));
                    if last {
                        let reply = *rng.pick(&REPLIES);
                        line(t, "event_msg", json!({"type": "agent_message", "message": reply}));
                        line(
                            t,
                            "response_item",
                            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": reply}]}),
                        );
                    } else {
                        let command = *rng.pick(&COMMANDS);
                        let args = json!({"command": ["bash", "-lc", command], "workdir": cwd}).to_string();
                        line(
                            t,
                            "response_item",
                            json!({"type": "function_call", "name": "shell", "arguments": args, "call_id": call_id}),
                        );
                    }
                    context += rng.range(500, 6_000);
                    let input = context + rng.range(0, 3_000);
                    let cached =
                        if turn == 0 && c == 0 { rng.range(0, input / 4) } else { input - rng.range(300, 5_000) };
                    let output = rng.range(40, 2_600);
                    let reasoning = rng.range(0, output * 6 / 10);
                    let call = CodexTokens { input, cached, output, reasoning };
                    totals.add(call);
                    t += rng.range(100, 600) as i64;
                    let info = json!({"total_token_usage": totals.json(), "last_token_usage": call.json(),
                        "model_context_window": 272_000});
                    line(t, "event_msg", json!({"type": "token_count", "info": info, "rate_limits": rate_limits(rng)}));
                    let counted = Call {
                        at: t,
                        model,
                        input: input - cached,
                        output,
                        cache_write: 0,
                        cache_read: cached,
                        reasoning,
                    };
                    log.call(counted.clone());
                    if !repeated || rng.chance(15) {
                        // Codex reports the same cumulative totals again.
                        repeated = true;
                        t += rng.range(50, 900) as i64;
                        line(
                            t,
                            "event_msg",
                            json!({"type": "token_count", "info": info, "rate_limits": rate_limits(rng)}),
                        );
                        log.duplicate(Call { at: t, ..counted });
                    }
                    if !last {
                        t += rng.range(500, 20_000) as i64;
                        let output = json!({"output": format!("ok ({})", rng.range(1, 99)),
                            "metadata": {"exit_code": 0, "duration_seconds": 1.5}})
                        .to_string();
                        line(
                            t,
                            "response_item",
                            json!({"type": "function_call_output", "call_id": call_id, "output": output}),
                        );
                    }
                }
                t += rng.range(4 * MINUTE, 11 * MINUTE) as i64;
                turn += 1;
            }
        }
        let stamp = chrono::DateTime::from_timestamp_millis(start).unwrap();
        let path = home
            .join(".codex/sessions")
            .join(stamp.format("%Y/%m/%d").to_string())
            .join(format!("rollout-{}-{id}.jsonl", stamp.format("%Y-%m-%dT%H-%M-%S")));
        write_jsonl(&path, &lines);
    }
    log
}

// ---------------------------------------------------------------------------
// Reports, as each source states them, in cass's terms.

/// cass's token fields (the names of `cass usage --json`).
const TOKEN_FIELDS: [&str; 6] =
    ["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "reasoning_tokens", "total_tokens"];

#[derive(Debug, Default, Clone)]
struct Nums {
    tokens: BTreeMap<&'static str, u64>,
    cost: Option<f64>,
    calls: Option<u64>,
}

#[derive(Debug, Default)]
struct Day {
    nums: Nums,
    /// None where the source has no per-model figures.
    models: Option<BTreeMap<String, Nums>>,
}

#[derive(Debug, Default)]
struct Report {
    days: BTreeMap<String, Day>,
    totals: Nums,
}

impl Nums {
    fn of_calls<'a>(calls: impl Iterator<Item = &'a Call>) -> Nums {
        let mut n = Nums { calls: Some(0), ..Nums::default() };
        for f in TOKEN_FIELDS {
            n.tokens.insert(f, 0);
        }
        for c in calls {
            *n.calls.as_mut().unwrap() += 1;
            for (f, v) in [
                ("input_tokens", c.input),
                ("output_tokens", c.output),
                ("cache_write_tokens", c.cache_write),
                ("cache_read_tokens", c.cache_read),
                ("reasoning_tokens", c.reasoning),
                ("total_tokens", c.total()),
            ] {
                *n.tokens.get_mut(f).unwrap() += v;
            }
        }
        n
    }
}

/// The report the generated calls make in a zone.
fn expected(calls: &[Call], offset_hours: i64) -> Report {
    let mut by_day: BTreeMap<String, Vec<&Call>> = BTreeMap::new();
    for c in calls {
        by_day.entry(day(c.at, offset_hours)).or_default().push(c);
    }
    let days = by_day
        .into_iter()
        .map(|(date, calls)| {
            let mut models: BTreeMap<String, Vec<&Call>> = BTreeMap::new();
            for c in &calls {
                models.entry(c.model.to_string()).or_default().push(c);
            }
            let models = models.into_iter().map(|(m, cs)| (m, Nums::of_calls(cs.into_iter()))).collect();
            (date, Day { nums: Nums::of_calls(calls.into_iter()), models: Some(models) })
        })
        .collect();
    Report { days, totals: Nums::of_calls(calls.iter()) }
}

fn field_u64(v: &Value, key: &str, what: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("{what} has no integer `{key}`: {v}"))
}

fn field_f64(v: &Value, key: &str, what: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("{what} has no number `{key}`: {v}"))
}

/// ccusage's name for each cass field, per agent (checked against its real
/// output: FINDINGS §5 and the generator's own sums below).
const CCUSAGE_CLAUDE_FIELDS: [(&str, &str); 5] = [
    ("input_tokens", "inputTokens"),
    ("output_tokens", "outputTokens"),
    ("cache_write_tokens", "cacheCreationTokens"),
    ("cache_read_tokens", "cacheReadTokens"),
    ("total_tokens", "totalTokens"),
];
const CCUSAGE_CODEX_FIELDS: [(&str, &str); 6] = [
    ("input_tokens", "inputTokens"),
    ("output_tokens", "outputTokens"),
    ("cache_write_tokens", "cacheCreationTokens"),
    ("cache_read_tokens", "cacheReadTokens"),
    ("reasoning_tokens", "reasoningOutputTokens"),
    ("total_tokens", "totalTokens"),
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Agent {
    Claude,
    Codex,
}

impl Agent {
    fn slug(self) -> &'static str {
        match self {
            Agent::Claude => "claude_code",
            Agent::Codex => "codex",
        }
    }
}

fn ccusage_nums(v: &Value, agent: Agent, cost_key: Option<&str>, what: &str) -> Nums {
    let fields: &[(&str, &str)] = match agent {
        Agent::Claude => &CCUSAGE_CLAUDE_FIELDS,
        Agent::Codex => &CCUSAGE_CODEX_FIELDS,
    };
    // Claude's per-model breakdowns have no `totalTokens`.
    let tokens = fields
        .iter()
        .filter(|(_, theirs)| !(agent == Agent::Claude && *theirs == "totalTokens" && v.get("modelName").is_some()))
        .map(|(ours, theirs)| (*ours, field_u64(v, theirs, what)))
        .collect();
    Nums { tokens, cost: cost_key.map(|k| field_f64(v, k, what)), calls: None }
}

/// ccusage's `daily --json` output.
fn ccusage_report(v: &Value, agent: Agent) -> Report {
    let cost_key = match agent {
        Agent::Claude => "totalCost",
        Agent::Codex => "costUSD",
    };
    let mut days = BTreeMap::new();
    for d in v["daily"].as_array().unwrap_or_else(|| panic!("ccusage output has no `daily` array: {v}")) {
        let date = d["date"].as_str().unwrap_or_else(|| panic!("ccusage day without date: {d}")).to_string();
        let what = format!("ccusage {} day {date}", agent.slug());
        let mut models = BTreeMap::new();
        match agent {
            Agent::Claude => {
                for m in d["modelBreakdowns"].as_array().unwrap_or_else(|| panic!("{what} has no modelBreakdowns")) {
                    let name = m["modelName"].as_str().unwrap().to_string();
                    models.insert(name.clone(), ccusage_nums(m, agent, Some("cost"), &format!("{what} model {name}")));
                }
            }
            Agent::Codex => {
                for (name, m) in d["models"].as_object().unwrap_or_else(|| panic!("{what} has no models")) {
                    assert_eq!(m["isFallback"], false, "{what}: ccusage guessed the model of {name}");
                    models.insert(name.clone(), ccusage_nums(m, agent, None, &format!("{what} model {name}")));
                }
            }
        }
        let nums = ccusage_nums(d, agent, Some(cost_key), &what);
        days.insert(date, Day { nums, models: Some(models) });
    }
    let totals = ccusage_nums(&v["totals"], agent, Some(cost_key), &format!("ccusage {} totals", agent.slug()));
    Report { days, totals }
}

fn cass_nums(v: &Value, what: &str, all_fields: bool) -> Nums {
    let mut tokens = BTreeMap::new();
    for f in TOKEN_FIELDS {
        let required = all_fields || !matches!(f, "reasoning_tokens" | "total_tokens");
        match v.get(f) {
            Some(_) => {
                tokens.insert(f, field_u64(v, f, what));
            }
            None if required => panic!("{what} has no `{f}`: {v}"),
            None => {}
        }
    }
    Nums { tokens, cost: Some(field_f64(v, "cost_usd", what)), calls: Some(field_u64(v, "calls", what)) }
}

/// `cass usage daily --json`.
fn cass_report(v: &Value, agent: Agent) -> Report {
    let mut days = BTreeMap::new();
    for row in v["rows"].as_array().unwrap_or_else(|| panic!("cass usage output has no `rows` array: {v}")) {
        let date = row["period"].as_str().unwrap_or_else(|| panic!("cass row without period: {row}")).to_string();
        let what = format!("cass {} day {date}", agent.slug());
        let mut models = BTreeMap::new();
        for m in row["models"].as_array().unwrap_or_else(|| panic!("{what} has no models")) {
            let name = m["model"].as_str().unwrap_or_else(|| panic!("{what}: model without name: {m}")).to_string();
            let mwhat = format!("{what} model {name}");
            assert_eq!(m["priced"], true, "{mwhat} is not priced: {m}");
            assert!(models.insert(name, cass_nums(m, &mwhat, false)).is_none(), "{mwhat} is listed twice");
        }
        let day = Day { nums: cass_nums(row, &what, true), models: Some(models) };
        assert!(days.insert(date, day).is_none(), "cass {} lists day {} twice", agent.slug(), row["period"]);
    }
    Report { days, totals: cass_nums(&v["totals"], &format!("cass {} totals", agent.slug()), true) }
}

// ---------------------------------------------------------------------------
// Comparing.

fn cost_close(a: f64, b: f64) -> bool {
    if a.abs() <= 1e-9 || b.abs() <= 1e-9 {
        return (a - b).abs() <= 1e-9;
    }
    (a - b).abs() <= 1e-3 * a.abs().max(b.abs())
}

/// The differences found, and how much was compared.
#[derive(Default)]
struct Check {
    diffs: Vec<String>,
    tokens: usize,
    calls: usize,
    costs: usize,
    /// The largest relative cost difference seen, and where.
    worst_cost: (f64, String),
}

/// Records every difference between two figures: tokens exactly, calls
/// exactly, cost within 0.1 %; a field one side lacks is not compared.
fn compare_nums(at: &str, a_name: &str, a: &Nums, b_name: &str, b: &Nums, out: &mut Check) {
    for (field, av) in &a.tokens {
        let Some(bv) = b.tokens.get(field) else { continue };
        out.tokens += 1;
        if av != bv {
            out.diffs.push(format!(
                "{at}: {field}: {a_name} {av} vs {b_name} {bv} (difference {})",
                *av as i128 - *bv as i128
            ));
        }
    }
    if let (Some(ac), Some(bc)) = (a.calls, b.calls) {
        out.calls += 1;
        if ac != bc {
            out.diffs.push(format!("{at}: calls: {a_name} {ac} vs {b_name} {bc}"));
        }
    }
    if let (Some(ac), Some(bc)) = (a.cost, b.cost) {
        out.costs += 1;
        let rel = if bc != 0.0 {
            (ac - bc) / bc
        } else if ac == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        if rel.abs() > out.worst_cost.0.abs() || out.worst_cost.1.is_empty() {
            out.worst_cost = (rel, format!("{at}: {a_name} {ac:.9} vs {b_name} {bc:.9}"));
        }
        if !cost_close(ac, bc) {
            out.diffs.push(format!("{at}: cost_usd: {a_name} {ac:.9} vs {b_name} {bc:.9} ({:+.4} %)", 100.0 * rel));
        }
    }
}

fn compare(what: &str, a_name: &str, a: &Report, b_name: &str, b: &Report, out: &mut Check) {
    let ad: BTreeSet<&String> = a.days.keys().collect();
    let bd: BTreeSet<&String> = b.days.keys().collect();
    if ad != bd {
        out.diffs.push(format!(
            "{what}: dates differ: only in {a_name}: {:?}; only in {b_name}: {:?}",
            ad.difference(&bd).collect::<Vec<_>>(),
            bd.difference(&ad).collect::<Vec<_>>()
        ));
    }
    for date in ad.intersection(&bd) {
        let (x, y) = (&a.days[*date], &b.days[*date]);
        let at = format!("{what} {date}");
        compare_nums(&at, a_name, &x.nums, b_name, &y.nums, out);
        if let (Some(xm), Some(ym)) = (&x.models, &y.models) {
            let xn: BTreeSet<&String> = xm.keys().collect();
            let yn: BTreeSet<&String> = ym.keys().collect();
            if xn != yn {
                out.diffs.push(format!("{at}: models: {a_name} {xn:?} vs {b_name} {yn:?}"));
            }
            for m in xn.intersection(&yn) {
                compare_nums(&format!("{at} model {m}"), a_name, &xm[*m], b_name, &ym[*m], out);
            }
        }
    }
    compare_nums(&format!("{what} totals"), a_name, &a.totals, b_name, &b.totals, out);
}

// ---------------------------------------------------------------------------
// Running ccusage.

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Installs the pinned ccusage with npm under `target/ccusage` when neither
/// `.ci/run` nor the person running `cargo test` did, so the README's test
/// command works on a fresh machine with Node. Once per test binary.
fn install(root: &Path) -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let prefix = root.join("target/ccusage");
            let bin = prefix.join("node_modules/.bin/ccusage");
            if bin.is_file() {
                return bin;
            }
            let npm = which("npm").unwrap_or_else(|| {
                panic!(
                    "ccusage, the reference this test compares `cass usage` with, is not installed and npm is \
                     missing: install Node.js and npm (apt-get install nodejs npm), or set CASS_CCUSAGE to a \
                     ccusage {CCUSAGE_VERSION} executable"
                )
            });
            std::fs::create_dir_all(&prefix).unwrap();
            let out = Command::new(npm)
                .args(["install", "--prefix"])
                .arg(&prefix)
                .args(["--no-save", "--no-audit", "--no-fund", &format!("ccusage@{CCUSAGE_VERSION}")])
                .output()
                .expect("run npm");
            assert!(
                out.status.success() && bin.is_file(),
                "npm install ccusage@{CCUSAGE_VERSION} into {} failed: {}",
                prefix.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            bin
        })
        .clone()
}

struct Ccusage {
    bin: PathBuf,
    /// PATH for ccusage: its npm launcher is a node script.
    path: String,
}

impl Ccusage {
    fn locate() -> Ccusage {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = match std::env::var_os("CASS_CCUSAGE") {
            Some(p) => {
                let p = PathBuf::from(p);
                assert!(p.is_file(), "CASS_CCUSAGE names {}, which is not a file", p.display());
                p
            }
            None => which("ccusage")
                .or_else(|| Some(root.join("node_modules/.bin/ccusage")).filter(|p| p.is_file()))
                .unwrap_or_else(|| install(root)),
        };
        let mut path = String::from("/usr/local/bin:/usr/bin:/bin");
        if let Some(node) = which("node") {
            path = format!("{}:{path}", node.parent().unwrap().display());
        }
        Ccusage { bin, path }
    }

    /// `ccusage ARGS` with nothing of this environment but HOME and PATH,
    /// from an empty directory (ccusage reads `./.ccusage/ccusage.json`).
    fn run(&self, home: &Path, cwd: &Path, args: &[&str]) -> String {
        std::fs::create_dir_all(cwd).unwrap();
        let out = Command::new(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", home)
            .env("PATH", &self.path)
            .current_dir(cwd)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        assert!(
            out.status.success(),
            "ccusage {args:?} failed ({:?}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Fails unless this is the version the findings were measured on.
    fn version(&self, home: &Path, cwd: &Path) -> String {
        let text = self.run(home, cwd, &["--version"]);
        let version = text.split_whitespace().last().unwrap_or("").to_string();
        assert_eq!(
            version,
            CCUSAGE_VERSION,
            "{} is ccusage {text:?}; this test is pinned to {CCUSAGE_VERSION} \
             (`npm install --no-save ccusage@{CCUSAGE_VERSION}`)",
            self.bin.display()
        );
        version
    }

    fn daily(&self, home: &Path, cwd: &Path, agent: Agent, tz: &str) -> Value {
        let args = match agent {
            Agent::Claude => vec!["claude", "daily", "--json", "--offline", "--timezone", tz, "--mode", "calculate"],
            Agent::Codex => vec!["codex", "daily", "--json", "--offline", "-z", tz],
        };
        let text = self.run(home, cwd, &args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON from ccusage {args:?}: {e}\n{text}"))
    }
}

// ---------------------------------------------------------------------------
// The tests.

fn summary(r: &Report) -> String {
    let t = &r.totals.tokens;
    format!(
        "{} days, input {} output {} cache_write {} cache_read {} reasoning {} total {}{}{}",
        r.days.len(),
        t.get("input_tokens").copied().unwrap_or(0),
        t.get("output_tokens").copied().unwrap_or(0),
        t.get("cache_write_tokens").copied().unwrap_or(0),
        t.get("cache_read_tokens").copied().unwrap_or(0),
        t.get("reasoning_tokens").map_or("-".to_string(), u64::to_string),
        t.get("total_tokens").copied().unwrap_or(0),
        r.totals.calls.map_or(String::new(), |c| format!(", {c} calls")),
        r.totals.cost.map_or(String::new(), |c| format!(", ${c:.6}")),
    )
}

/// Generates the home, runs both tools in zone `tz` (`offset_hours` east
/// of UTC, no daylight saving) and fails listing every difference.
fn compare_with_ccusage(tz: &str, offset_hours: i64) {
    let ccusage = Ccusage::locate();
    let sb = Sandbox::new();
    let fake = generate(&sb.home());
    let empty = sb.dir.path().join("empty");
    let version = ccusage.version(&sb.home(), &empty);
    println!("compared with ccusage {version} ({})", ccusage.bin.display());

    index_no_semantic(&sb);

    let mut diffs = Vec::new();
    for (agent, log, models, min_days) in
        [(Agent::Claude, &fake.claude, &CLAUDE_MODELS[..], 8), (Agent::Codex, &fake.codex, &CODEX_MODELS[..], 6)]
    {
        let slug = agent.slug();
        let what = format!("{slug} {tz}");
        let counted = expected(&log.counted, offset_hours);
        let logged = expected(&log.logged, offset_hours);

        // The data is worth comparing: many days, every model, duplicates.
        assert!(counted.days.len() >= min_days, "{what}: only {} days generated", counted.days.len());
        let generated: BTreeSet<&str> = log.counted.iter().map(|c| c.model).collect();
        assert_eq!(generated, models.iter().copied().collect(), "{slug}: models generated");
        let naive = logged.totals.tokens["total_tokens"];
        assert!(
            naive > counted.totals.tokens["total_tokens"] && log.logged.len() > log.counted.len(),
            "{slug}: the generator wrote no duplicates"
        );

        let oracle_json = ccusage.daily(&sb.home(), &empty, agent, tz);
        let oracle = ccusage_report(&oracle_json, agent);
        let cass_json = sb.json(&["usage", "daily", "--timezone", tz, "--agent", slug]);
        let cass = cass_report(&cass_json, agent);
        println!(
            "{what}: generated {} ({} logged lines with usage, total_tokens {naive} if each counted)",
            summary(&counted),
            log.logged.len()
        );
        println!("{what}: ccusage   {}", summary(&oracle));
        println!("{what}: cass      {}", summary(&cass));

        if cass_json["report"] != "daily" || cass_json["timezone"] != tz {
            diffs.push(format!(
                "{what}: cass says report {} timezone {}, asked daily {tz}",
                cass_json["report"], cass_json["timezone"]
            ));
        }
        if cass_json["unpriced_models"].as_array().is_none_or(|a| !a.is_empty()) {
            diffs.push(format!("{what}: cass unpriced_models: {}", cass_json["unpriced_models"]));
        }
        // ccusage reads the data as the generator meant it (this checks the
        // field mapping and the generator as much as ccusage).
        let mut oracle_check = Check::default();
        compare(&what, "ccusage", &oracle, "generator", &counted, &mut oracle_check);
        // cass against the reference: tokens, and cost within 0.1 %.
        let mut check = Check::default();
        compare(&what, "cass", &cass, "ccusage", &oracle, &mut check);
        println!(
            "{what}: cass vs ccusage: {} days, {} token counts, {} costs compared; largest cost difference {:+.2e} ({})",
            oracle.days.len(),
            check.tokens,
            check.costs,
            check.worst_cost.0,
            check.worst_cost.1
        );
        // cass against the generator: calls too, and duplicates dropped.
        let mut own_check = Check::default();
        compare(&what, "cass", &cass, "generator", &counted, &mut own_check);
        println!(
            "{what}: cass vs generator: {} token counts, {} call counts compared",
            own_check.tokens, own_check.calls
        );
        diffs.extend(oracle_check.diffs.into_iter().chain(check.diffs).chain(own_check.diffs));
        if cass.totals.tokens.get("total_tokens") == Some(&naive) {
            diffs.push(format!("{what}: cass counted duplicates (total_tokens {naive})"));
        }
        let seen: BTreeSet<&str> =
            cass.days.values().flat_map(|d| d.models.as_ref().unwrap().keys().map(String::as_str)).collect();
        for m in models {
            if !seen.contains(m) {
                diffs.push(format!("{what}: model {m} appears on no day of cass's report"));
            }
        }
        if !cass.totals.cost.is_some_and(|c| c > 0.0) {
            diffs.push(format!("{what}: cass total cost {:?}", cass.totals.cost));
        }
    }
    if !diffs.is_empty() {
        // Keep the fake home to look at, and say how to rerun ccusage on it.
        let Sandbox { dir } = sb;
        let kept = dir.keep();
        let (kept, bin, path) = (kept.display(), ccusage.bin.display(), &ccusage.path);
        panic!(
            "{} differences:\n{}\n\nThe fake home is kept in {kept}/home, cass's data in {kept}/data. ccusage on it: \
             cd {kept}/empty && env -i HOME={kept}/home PATH={path} {bin} claude daily --json --offline --timezone {tz} \
             --mode calculate (or codex daily --json --offline -z {tz})",
            diffs.len(),
            diffs.join("\n"),
        );
    }
}

#[test]
fn daily_usage_matches_ccusage_in_utc() {
    compare_with_ccusage("UTC", 0);
}

/// Days in Tokyo (UTC+9, no daylight saving) end at 15:00 UTC.
#[test]
fn daily_usage_matches_ccusage_in_tokyo() {
    compare_with_ccusage("Asia/Tokyo", 9);
}
