//! Privacy acceptance (issue #25), through the real binary.
//!
//! A corpus of sessions of three agents — Claude Code JSONL, Codex CLI
//! rollouts, Gemini CLI JSON, each in its real layout under a fake home —
//! holds more than forty secrets of the kinds agents leak (cloud and API
//! keys, tokens, private keys, passwords, URLs with credentials) in user
//! text, assistant text, tool output and conversation titles, and as many
//! look-alikes developers search for (hashes, ids, base64 images,
//! identifiers, paths, versions). After `cass index` no secret may be in
//! any file of the data dir or in any output, and every look-alike must
//! still be found. A store built with `--no-redact` must come out of
//! `cass redact` the same, with only the rewritten messages embedded again.
//!
//! Every secret is a random string from a seeded generator, so a search
//! for it (or for 12 characters of it) can only find the secret itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aho_corasick::AhoCorasick;
use cass::config::DataDir;
use cass::connectors::AgentEnv;
use cass::redact::Redactor;
use cass::tui::{Session as Tui, Theme, view};
use common::Sandbox;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

// The corpus.

/// The agents whose sessions the corpus is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Agent {
    ClaudeCode,
    Codex,
    Gemini,
}

/// Where in a session a secret sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    User,
    Assistant,
    /// The output of a tool call, which cass stores as a `tool` message.
    Tool,
    /// A conversation title: an explicit one (Claude's `summary` record,
    /// Gemini's `summary` field), or the first line of the first user
    /// message, which cass takes as the title (that message holds it too).
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    agent: Agent,
    part: Part,
}

/// A secret planted in the corpus, and the marker the redactor writes for it.
#[derive(Debug, Clone)]
struct Secret {
    kind: &'static str,
    text: String,
    place: Place,
}

impl Secret {
    /// What must never be stored: the secret, or for a key block each
    /// line of key material (the BEGIN and END lines are no secret; a block
    /// is written with real newlines or, in JSON files, escaped ones).
    fn needles(&self) -> Vec<&str> {
        if !self.text.starts_with("-----BEGIN") {
            return vec![&self.text];
        }
        let base64 = |l: &&str| l.len() >= 16 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        self.text.split('\n').flat_map(|l| l.split("\\n")).filter(base64).collect()
    }
}

/// One turn of a session, in the agent-neutral shape the writers render.
enum Turn {
    User(String),
    Assistant(String),
    /// A shell command the assistant ran, and its output.
    Tool {
        command: String,
        output: String,
    },
}

struct Session {
    agent: Agent,
    /// The working directory (Claude, Codex) or project name (Gemini).
    workspace: String,
    /// Day of March 2026 the session ran.
    day: u32,
    /// An explicit title; without one the first user line is the title.
    title: Option<String>,
    turns: Vec<Turn>,
}

/// The sessions, the secrets planted in them and the look-alikes that must survive.
struct Corpus {
    secrets: Vec<Secret>,
    look_alikes: Vec<String>,
    sessions: Vec<Session>,
}

impl Corpus {
    /// Every text cass stores, with where it comes from: message bodies
    /// (user, assistant, the assistant's tool calls, tool output) and
    /// explicit titles.
    fn texts(&self) -> Vec<(Place, &str)> {
        let mut out = Vec::new();
        for s in &self.sessions {
            let at = |part| Place { agent: s.agent, part };
            if let Some(t) = &s.title {
                out.push((at(Part::Title), t.as_str()));
            }
            for turn in &s.turns {
                match turn {
                    Turn::User(t) => out.push((at(Part::User), t.as_str())),
                    Turn::Assistant(t) => out.push((at(Part::Assistant), t.as_str())),
                    Turn::Tool { command, output } => {
                        out.push((at(Part::Assistant), command.as_str()));
                        out.push((at(Part::Tool), output.as_str()));
                    }
                }
            }
        }
        out
    }

    /// Message bodies, titles left out.
    fn messages(&self) -> impl Iterator<Item = &str> {
        self.texts().into_iter().filter(|(p, _)| p.part != Part::Title).map(|(_, t)| t)
    }

    /// Whether `secret` is written into a tool call (which cass stores cut
    /// to a summary line).
    fn in_tool_call(&self, secret: &Secret) -> bool {
        self.sessions.iter().flat_map(|s| &s.turns).any(|t| match t {
            Turn::Tool { command, .. } => secret.needles().iter().any(|n| command.contains(n)),
            _ => false,
        })
    }

    fn holds_secret(&self, text: &str) -> bool {
        self.secrets.iter().flat_map(Secret::needles).any(|n| text.contains(n))
    }

    /// Message bodies as the connectors hand them on: a tool call's
    /// command is summarised in 200 characters, and a cut never keeps part
    /// of a word, so a token the cut falls in never reaches the store.
    fn stored_messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.sessions {
            for turn in &s.turns {
                match turn {
                    Turn::User(t) | Turn::Assistant(t) => out.push(t.clone()),
                    Turn::Tool { command, output } => {
                        let line = command.split_whitespace().collect::<Vec<_>>().join(" ");
                        out.push(cass::connectors::content::truncate_chars(&line, 200));
                        out.push(output.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether any of `secret` reaches the store (a tool-call summary may cut it away whole).
    fn stored(&self, secret: &Secret) -> bool {
        let texts = self.stored_messages();
        let titles: Vec<String> = self.sessions.iter().filter_map(stored_title).collect();
        secret.needles().iter().any(|n| texts.iter().chain(&titles).any(|t| t.contains(n)))
    }

    /// Messages holding at least one secret: what `messages_redacted` counts.
    fn secret_messages(&self) -> u64 {
        self.stored_messages().iter().filter(|t| self.holds_secret(t)).count() as u64
    }

    /// Conversation titles holding at least one secret.
    fn secret_titles(&self) -> u64 {
        self.sessions.iter().filter_map(stored_title).filter(|t| self.holds_secret(t)).count() as u64
    }

    /// Markers per kind the redactor writes into the messages, as `cass
    /// status` should total them.
    fn expected_kinds(&self, redactor: &Redactor) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for text in self.stored_messages() {
            for (kind, n) in redactor.redact(&text).report.kinds() {
                *kinds.entry(kind.to_string()).or_default() += n as u64;
            }
        }
        kinds
    }
}

/// The first line of the first user message: the title cass derives when
/// the session has no explicit one.
fn derived_title(s: &Session) -> Option<&str> {
    s.turns.iter().find_map(|t| match t {
        Turn::User(text) => text.lines().map(str::trim).find(|l| !l.is_empty()),
        _ => None,
    })
}

/// The title as cass stores it: a derived one is cut at 100 characters,
/// never inside a word.
fn stored_title(s: &Session) -> Option<String> {
    match &s.title {
        Some(t) => Some(t.clone()),
        None => derived_title(s).map(|t| cass::connectors::content::truncate_chars(t, 100)),
    }
}

/// SplitMix64: a seeded generator, so the corpus is the same on every run
/// and needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn string(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_DIGITS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Passwords: no quotes, `&<>` (escaped in HTML), `$`, `#`, brackets or
/// the separators that end a bare value, so the whole value is the secret.
const PASSWORD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!%^~-_";
const BEARER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";

/// Builds the corpus turn by turn: secrets and look-alikes are drawn as
/// the text is written, and each secret takes the place of the turn it
/// is written into.
struct Builder {
    rng: Rng,
    corpus: Corpus,
    pending: Vec<(&'static str, String)>,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        Builder {
            rng: Rng(seed),
            corpus: Corpus { secrets: Vec::new(), look_alikes: Vec::new(), sessions: Vec::new() },
            pending: Vec::new(),
        }
    }

    fn session(&mut self, agent: Agent, workspace: &str, day: u32, title: Option<String>) {
        self.corpus.sessions.push(Session { agent, workspace: workspace.into(), day, title: None, turns: Vec::new() });
        if let Some(t) = &title {
            self.plant(&[(Part::Title, t)]);
        }
        self.corpus.sessions.last_mut().expect("a session").title = title;
    }

    /// A user message; when it makes the title, the secrets of its first
    /// line are the title's.
    fn user(&mut self, text: String) {
        let s = self.corpus.sessions.last().expect("a session");
        let first = s.title.is_none() && !s.turns.iter().any(|t| matches!(t, Turn::User(_)));
        let title = first.then(|| text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string());
        self.plant(&[(Part::Title, title.as_deref().unwrap_or("")), (Part::User, &text)]);
        self.push(Turn::User(text));
    }

    fn assistant(&mut self, text: String) {
        self.plant(&[(Part::Assistant, &text)]);
        self.push(Turn::Assistant(text));
    }

    /// A tool call (assistant text, as cass stores it) and its output.
    fn tool(&mut self, command: &str, output: String) {
        self.plant(&[(Part::Assistant, command), (Part::Tool, &output)]);
        self.push(Turn::Tool { command: command.into(), output });
    }

    fn push(&mut self, turn: Turn) {
        self.corpus.sessions.last_mut().expect("a session").turns.push(turn);
    }

    /// Gives the secrets drawn since the last turn their place: the first
    /// of `texts` that holds them.
    fn plant(&mut self, texts: &[(Part, &str)]) {
        let agent = self.corpus.sessions.last().expect("a session").agent;
        for (kind, secret) in self.pending.drain(..) {
            let part = texts.iter().find(|(_, t)| t.contains(&secret)).map(|(p, _)| *p);
            let part = part.unwrap_or_else(|| panic!("{kind} drawn but not written"));
            self.corpus.secrets.push(Secret { kind, text: secret, place: Place { agent, part } });
        }
    }

    fn finish(self) -> Corpus {
        assert!(self.pending.is_empty(), "secrets drawn but not written");
        self.corpus
    }

    fn draw(&mut self, alphabet: &[u8], n: usize) -> String {
        self.rng.string(alphabet, n)
    }

    fn secret(&mut self, kind: &'static str, text: String) -> String {
        self.pending.push((kind, text.clone()));
        text
    }

    /// A value assigned to a name (`password=`, `"token": `); it starts
    /// with a letter or digit, as a value starting with `-` or `!` reads
    /// as a flag or an expression.
    fn value(&mut self, kind: &'static str, alphabet: &[u8], n: usize) -> String {
        let v = format!("{}{}", self.draw(ALNUM, 1), self.draw(alphabet, n - 1));
        self.secret(kind, v)
    }

    /// A token as the provider issues it: a fixed prefix and `n` characters of `alphabet`.
    fn token(&mut self, kind: &'static str, prefix: &str, alphabet: &[u8], n: usize) -> String {
        let v = format!("{prefix}{}", self.draw(alphabet, n));
        self.secret(kind, v)
    }

    fn github_fine_grained(&mut self) -> String {
        let v = format!("github_pat_11{}_{}", self.draw(UPPER_DIGITS, 20), self.draw(ALNUM, 59));
        self.secret("github_fine_grained_pat", v)
    }

    /// A bot token: team and bot user ids (11 and 13 digits, as Slack
    /// issues them now), then 24 letters and digits.
    fn slack_bot(&mut self) -> String {
        let v = format!("xoxb-{}-{}-{}", self.draw(DIGITS, 11), self.draw(DIGITS, 13), self.draw(ALNUM, 24));
        self.secret("slack_token", v)
    }

    fn slack_user(&mut self) -> String {
        let (a, b, c) = (self.draw(DIGITS, 10), self.draw(DIGITS, 10), self.draw(DIGITS, 12));
        let v = format!("xoxp-{a}-{b}-{c}-{}", self.draw(HEX, 32));
        self.secret("slack_token", v)
    }

    /// The path after `hooks.slack.com/services/`: the secret part of a webhook URL.
    fn slack_webhook(&mut self) -> String {
        let v = format!("T{}/B{}/{}", self.draw(UPPER_DIGITS, 8), self.draw(UPPER_DIGITS, 10), self.draw(ALNUM, 24));
        self.secret("slack_webhook", v)
    }

    fn anthropic(&mut self) -> String {
        let v = format!("sk-ant-api03-{}{}AA", self.draw(ALNUM, 1), self.draw(BASE64URL, 92));
        self.secret("anthropic_api_key", v)
    }

    fn azure_account_key(&mut self) -> String {
        let v = format!("{}==", self.draw(BASE64, 86));
        self.secret("azure_storage_key", v)
    }

    fn jwt(&mut self) -> String {
        let v =
            format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}", self.draw(BASE64URL, 60), self.draw(ALNUM, 43));
        self.secret("jwt", v)
    }

    /// Base64 lines of 64 characters, the first starting as real keys of
    /// the type do, the last shorter and padded.
    fn key_lines(&mut self, head: &str, lines: usize) -> Vec<String> {
        let mut body = vec![format!("{head}{}", self.draw(BASE64, 64 - head.len()))];
        for _ in 1..lines {
            body.push(self.draw(BASE64, 64));
        }
        body.push(format!("{}==", self.draw(BASE64, 30)));
        body
    }

    fn pem(&mut self, label: &str, kind: &'static str, head: &str, lines: usize) -> String {
        let body = self.key_lines(head, lines).join("\n");
        self.secret(kind, format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----"))
    }

    fn pgp(&mut self) -> String {
        let body = self.key_lines("lQOYBGT", 4).join("\n");
        let sum = self.draw(BASE64, 4);
        let block = format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{body}\n={sum}\n-----END PGP PRIVATE KEY BLOCK-----"
        );
        self.secret("private_key_pgp", block)
    }

    /// The `private_key` value of a Google service-account file: a PKCS#8
    /// block with JSON-escaped newlines.
    fn service_account_key(&mut self) -> String {
        let body = self.key_lines("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 4).join("\\n");
        self.secret("private_key", format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"))
    }

    fn look(&mut self, text: String) -> String {
        assert!(!self.corpus.look_alikes.contains(&text), "look-alike {text} drawn twice");
        self.corpus.look_alikes.push(text.clone());
        text
    }

    fn named(&mut self, text: &str) -> String {
        self.look(text.into())
    }

    fn git_sha(&mut self) -> String {
        let v = self.draw(HEX, 40);
        self.look(v)
    }

    /// Seven hex digits with a letter and a digit, as `git log --oneline` prints.
    fn short_sha(&mut self) -> String {
        loop {
            let v = self.draw(HEX, 7);
            if v.bytes().any(|b| b.is_ascii_digit()) && v.bytes().any(|b| b.is_ascii_alphabetic()) {
                return self.look(v);
            }
        }
    }

    fn uuid(&mut self) -> String {
        let (a, b, c, d) = (self.draw(HEX, 8), self.draw(HEX, 4), self.draw(HEX, 3), self.draw(HEX, 3));
        let v = format!("{a}-{b}-4{c}-a{d}-{}", self.draw(HEX, 12));
        self.look(v)
    }

    fn hex(&mut self, n: usize) -> String {
        let v = self.draw(HEX, n);
        self.look(v)
    }

    /// The data of a small PNG, as in `data:image/png;base64,…`.
    fn png(&mut self) -> String {
        let v = format!("iVBORw0KGgoAAAANSUhEUgAAA{}", self.draw(ALNUM, 35));
        self.look(v)
    }

    fn id(&mut self, prefix: &str, n: usize) -> String {
        let v = format!("{prefix}{}", self.draw(ALNUM, n));
        self.look(v)
    }

    fn pod(&mut self) -> String {
        let v = format!("vaultline-api-{}-{}", self.draw(LOWER_DIGITS, 10), self.draw(LOWER_DIGITS, 5));
        self.look(v)
    }

    fn version(&mut self) -> String {
        let (major, minor, patch) = (1 + self.rng.below(4), self.rng.below(40), self.rng.below(20));
        let v = match self.rng.below(3) {
            0 => format!("v{major}.{minor}.{patch}-rc.{}", 1 + self.rng.below(5)),
            _ => format!("v{major}.{minor}.{patch}"),
        };
        self.look(v)
    }
}

/// The corpus: eight sessions of three agents, written as an engineer's
/// week of incidents around a made-up service, vaultline. Each secret is
/// drawn where it is written and shaped as the provider issues it; the
/// look-alikes sit in the same messages and next to the secrets, so
/// redaction must keep its neighbours intact.
fn corpus() -> Corpus {
    use Agent::*;
    let mut b = Builder::new(0x5EED_C0FF_EE25_2026);

    // Claude Code: an AWS incident; the explicit title (a summary record) holds a GitLab token.
    let glpat = b.token("gitlab_pat", "glpat-", ALNUM, 20);
    let title = format!("Rotate the leaked GitLab token {glpat} before the vaultline release");
    b.session(ClaudeCode, "/home/dev/vaultline-api", 9, Some(title));
    let (akia, aws_secret, sha) =
        (b.token("aws_access_key", "AKIA", UPPER_DIGITS, 16), b.token("aws_secret_key", "", BASE64, 40), b.git_sha());
    b.user(format!(
        "The vaultline deploy fails with 403 since this morning. Our .env has\n\
         AWS_ACCESS_KEY_ID={akia}\nAWS_SECRET_ACCESS_KEY={aws_secret}\n\
         The last good deploy was commit {sha}."
    ));
    let path = b.named("src/deploy/credential_chain.rs");
    b.assistant(format!(
        "The vaultline CLI may read ~/.aws/credentials before the environment: {path} takes the first \
         profile it finds. Let me look."
    ));
    let (asia, aws_secret, session) = (
        b.token("aws_access_key", "ASIA", UPPER_DIGITS, 16),
        b.token("aws_secret_key", "", BASE64, 40),
        b.value("token", ALNUM, 64),
    );
    b.tool(
        "cat ~/.aws/credentials",
        format!(
            "# vaultline deploy profile\n[default]\naws_access_key_id = {asia}\naws_secret_access_key = {aws_secret}\n\
             aws_session_token = {session}\nregion = eu-west-1\n"
        ),
    );
    let (ghp, camel) = (b.token("github_pat", "ghp_", ALNUM, 36), b.named("CredentialProviderChainFactory"));
    b.assistant(format!(
        "The profile file wins over the environment, so the vaultline CLI signs with the session credentials \
         above: rotate that pair. Your git remote also embeds a classic token:\n\
         https://{ghp}@github.com/acme/vaultline.git\n\
         Use the credential helper instead; {camel} already supports it."
    ));
    let (fine, glpat, short) = (b.github_fine_grained(), b.token("gitlab_pat", "glpat-", ALNUM, 20), b.short_sha());
    b.user(format!(
        "ok. CI uses a fine-grained token, GH_TOKEN={fine}, and the vaultline mirror job sends\n\
         PRIVATE-TOKEN: {glpat}\nboth were added in {short}."
    ));
    let (s1, s2, v, p) = (b.short_sha(), b.short_sha(), b.version(), b.named("crates/ledger/src/reconcile.rs"));
    b.tool("git log --oneline -2", format!("{s1} Pin tokio to {v}\n{s2} Move the ledger code to {p}\n"));
    let (h1, h2) = (b.git_sha(), b.git_sha());
    b.tool("git log --format='%H %s' -2 origin/main", format!("{h1} Release vaultline\n{h2} Bump the lockfile\n"));
    let snake = b.named("mirror_job_credential_source");
    b.assistant(format!(
        "Revoke both tokens in the settings pages, then set {snake} to ci_variables so nothing is written to the \
         repository again."
    ));

    // Claude Code: billing; no summary, so the first user line (a database URL) is the title.
    b.session(ClaudeCode, "/home/dev/billing", 10, None);
    let (pw, snake, v) = (b.value("url_password", ALNUM, 20), b.named("nightly_invoice_rollup_job"), b.version());
    b.user(format!(
        "psql postgres://billing:{pw}@db.internal:5432/ledger hangs (vaultline)\n\
         The {snake} started failing after the upgrade to {v}."
    ));
    let (request, db_pw, smtp_pw) = (b.uuid(), b.value("password", PASSWORD, 20), b.value("password", PASSWORD, 18));
    let (stripe_secret, sk, rk) = (
        b.value("secret", ALNUM, 24),
        b.token("stripe_secret_key", "sk_live_", ALNUM, 24),
        b.token("stripe_restricted_key", "rk_live_", ALNUM, 24),
    );
    let (hook, cache) = (b.slack_webhook(), b.hex(64));
    b.tool(
        "cat config/settings.yaml",
        format!(
            "# vaultline billing settings\nrequest_id: {request}\ndatabase:\n  host: db.internal\n  user: billing\n  \
             password: {db_pw}\nsmtp:\n  passwd: {smtp_pw}\nstripe:\n  secret: {stripe_secret}\n  api_key: {sk}\n  \
             restricted_key: {rk}\nalerts:\n  webhook: https://hooks.slack.com/services/{hook}\ncache_key: {cache}\n"
        ),
    );
    let xoxb = b.slack_bot();
    b.assistant(format!(
        "Nothing in settings.yaml explains the hang; the vaultline alerts bot does, it retries forever. Keep its \
         token out of the file too:\n\n    SLACK_BOT_TOKEN={xoxb}\n\nbelongs in the secret store."
    ));
    let (job, token, nonce) = (b.uuid(), b.value("token", ALNUM, 24), b.value("generic_secret", ALNUM, 32));
    b.user(format!(
        "the vaultline export job logs this line:\n\
         {{\"event\":\"export\",\"job\":\"{job}\",\"token\":\"{token}\",\"tokenNonce\":\"{nonce}\"}}"
    ));
    let bearer = b.value("bearer_token", BEARER, 40);
    b.assistant(format!(
        "The export endpoint wants the job token as a header:\n\
         curl -H \"Authorization: Bearer {bearer}\" https://billing.internal/v1/export\n\
         (vaultline rejects tokens in the query string)."
    ));
    let (camel, path, png) = (b.named("InvoiceLedgerLockGuard"), b.named("src/billing/rollup/lock.rs"), b.png());
    b.assistant(format!(
        "The hang itself comes from {camel} in {path}: it holds the ledger lock across the export. The chart \
         you sent shows it:\n![lock wait](data:image/png;base64,{png})"
    ));

    // Claude Code: private keys; the explicit title holds a Slack user token.
    let xoxp = b.slack_user();
    b.session(ClaudeCode, "/home/dev/infra", 11, Some(format!("Check the scopes of {xoxp} for the vaultline bot")));
    let rsa = b.pem("RSA PRIVATE KEY", "private_key_rsa", "MIIEpAIBAAKCAQEA", 5);
    b.user(format!("ssh rejects the deploy key of the vaultline runner. This is it:\n{rsa}\nwhat is wrong with it?"));
    let ssh = b.pem("OPENSSH PRIVATE KEY", "private_key_openssh", "b3BlbnNzaC1rZXktdjEAAAAA", 4);
    b.tool("cat ~/.ssh/vaultline_ed25519", format!("{ssh}\n"));
    let ec = b.pem("EC PRIVATE KEY", "private_key_ec", "MHcCAQEEI", 3);
    b.assistant(format!(
        "That RSA key is PKCS#1 and the runner expects the OpenSSH format. For comparison, the vaultline signer \
         key next to it is an EC key:\n{ec}\nConvert the RSA one with ssh-keygen -p -m RFC4716."
    ));
    let pgp = b.pgp();
    b.user(format!("and the vaultline release signing key, same question:\n{pgp}"));
    let (docker, md5) = (b.hex(12), b.hex(32));
    b.assistant(format!(
        "The PGP key is fine. The runner image {docker} ships an old gnupg; its package checksum is md5 {md5}. \
         Rebuild the image."
    ));
    let (sum1, sum2) = (b.hex(64), b.hex(64));
    b.tool(
        "sha256sum dist/*",
        format!("{sum1}  dist/vaultline-x86_64.tar.gz\n{sum2}  dist/vaultline-aarch64.tar.gz\n"),
    );

    // Claude Code: the first user line is longer than a title (100 characters), and the cut falls
    // inside the password: the title keeps 15 of its 24 characters, and they must not be stored.
    b.session(ClaudeCode, "/home/dev/vaultline-jobs", 12, None);
    let pw = b.value("password", PASSWORD, 24);
    b.user(format!(
        "vaultline import dies: FATAL password authentication failed, its env has DB_PASSWORD={pw}\n\
         what else could it be?"
    ));
    let (camel, v) = (b.named("ImportJobConnectionPool"), b.version());
    b.assistant(format!("The pool in {camel} caches the old password until restart; {v} fixes that."));

    // Codex CLI: package registries; the first user line (an npm token) is the title.
    b.session(Codex, "/home/dev/vaultline-web", 14, None);
    let npm = b.token("npm_token", "npm_", ALNUM, 36);
    b.user(format!("npm publish fails with E401, NPM_TOKEN={npm} (vaultline)"));
    let npm = b.token("npm_token", "npm_", ALNUM, 36);
    b.tool("cat ~/.npmrc", format!("//registry.npmjs.org/:_authToken={npm}\nalways-auth=true\n"));
    let (pypi, cio) =
        (b.token("pypi_token", "pypi-AgEIcHlwaS5vcmc", ALNUM, 100), b.token("crates_io_token", "cio", ALNUM, 32));
    b.assistant(format!(
        "~/.npmrc wins over NPM_TOKEN, and its token is the revoked one. The vaultline release also publishes to \
         PyPI and crates.io with long-lived tokens; ~/.pypirc has\npassword = {pypi}\n\
         and cargo was logged in with cargo login {cio}\nRotate all three."
    ));
    // A tool call longer than cass keeps of it (200 characters): the cut falls inside the token.
    let ghp = b.token("github_pat", "ghp_", ALNUM, 36);
    b.tool(
        &format!(
            "cd /home/dev/vaultline-web && npm ci --prefer-offline --no-audit --no-fund && npm run build \
             --workspace=packages/widget && npm test -- --run --reporter=dot && GH_TOKEN={ghp} gh release create next"
        ),
        "https://github.com/acme/vaultline-web/releases/tag/next\n".into(),
    );
    let (project, legacy) =
        (b.token("openai_api_key", "sk-proj-", ALNUM, 48), b.token("openai_api_key", "sk-", ALNUM, 48));
    b.user(format!(
        "The vaultline assistant widget uses OpenAI too:\nOPENAI_API_KEY={project}\nOPENAI_API_KEY_OLD={legacy}"
    ));
    let (anthropic, google, signing, tenant) =
        (b.anthropic(), b.token("google_api_key", "AIzaSy", ALNUM, 33), b.value("generic_secret", HEX, 40), b.uuid());
    b.tool(
        "env | grep -i -e key -e secret",
        format!(
            "ANTHROPIC_API_KEY={anthropic}\nGOOGLE_API_KEY={google}\nSIGNING_SECRET_HEX={signing}\n\
             VAULTLINE_TENANT={tenant}\n"
        ),
    );
    let azure = b.azure_account_key();
    b.assistant(format!(
        "Those are live keys: rotate them. The vaultline log storage connection string in appsettings.json is \
         the same risk:\nDefaultEndpointsProtocol=https;AccountName=vaultlinelogs;AccountKey={azure};\
         EndpointSuffix=core.windows.net\nMove it to Key Vault."
    ));
    let (sha, png, short) = (b.git_sha(), b.png(), b.short_sha());
    b.user(format!(
        "Thanks. The fix is {sha} (cherry-picked as {short}); the working widget:\n\
         ![widget](data:image/png;base64,{png})"
    ));
    let (msg, snake) = (b.id("msg_01", 22), b.named("registry_token_rotation_window"));
    b.assistant(format!("Noted in {msg}. Track {snake} in the release checklist."));

    // Codex CLI: auth service; the first user line (a GitHub App token) is the title.
    b.session(Codex, "/home/dev/vaultline-auth", 15, None);
    let (ghs, jwt) = (b.token("github_app_token", "ghs_", ALNUM, 36), b.jwt());
    b.user(format!(
        "Installation token {ghs} expires in ten minutes (vaultline)\n\
         The login response also carries this session JWT, which the API rejects:\n{jwt}"
    ));
    let (jwt, ghu, request) = (b.jwt(), b.token("github_user_token", "ghu_", ALNUM, 36), b.id("req_", 24));
    b.tool(
        "curl -si https://auth.internal/debug/session",
        format!(
            "HTTP/1.1 200 OK\nset-cookie: session={jwt}; Path=/; HttpOnly\n\n\
             {{\"user_token\": \"{ghu}\", \"request_id\": \"{request}\"}}\n"
        ),
    );
    let client_secret = b.value("secret", ALNUM, 32);
    b.assistant(format!(
        "Installation tokens always live ten minutes: refresh them instead of caching them. The JWT is rejected \
         because the vaultline API expects another client. Your config has\n\n    client_secret: {client_secret}\n\n\
         which belongs to the staging app."
    ));
    let (pw, secret, idempotency) = (b.value("password", PASSWORD, 20), b.value("secret", ALNUM, 28), b.uuid());
    b.user(format!(
        "the vaultline admin config is JSON: {{\"user\": \"admin\", \"password\": \"{pw}\", \"secret\": \"{secret}\", \
         \"idempotency_key\": \"{idempotency}\"}}"
    ));
    let (mysql, redis) = (b.value("url_password", ALNUM, 20), b.value("url_password", ALNUM, 22));
    let (admin, token) = (b.value("password", PASSWORD, 22), b.value("token", ALNUM, 24));
    b.tool(
        "cat .env.production",
        format!(
            "DATABASE_URL=mysql://vaultline:{mysql}@mysql.internal:3306/auth\n\
             REDIS_URL=redis://:{redis}@cache.internal:6379/0\nADMIN_PASSWORD={admin}\nVAULTLINE_TOKEN={token}\n"
        ),
    );
    let (camel, v) = (b.named("SessionCookieSigningMiddleware"), b.version());
    b.assistant(format!("Bump {camel} to {v} and read the cookie key from the vault rather than .env.production."));
    let (container, image) = (b.hex(12), b.version());
    b.tool(
        "docker ps --format '{{.ID}} {{.Names}} {{.Status}}'",
        format!("{container} vaultline-auth Up 3 hours (image tag {image})\n"),
    );

    // Gemini CLI: maps; the explicit title (a session summary) holds a Google API key.
    let google = b.token("google_api_key", "AIzaSy", ALNUM, 33);
    b.session(Gemini, "vaultline-maps", 16, Some(format!("Maps widget 403 with key {google}")));
    let (v, png) = (b.version(), b.png());
    b.user(format!(
        "The vaultline maps widget returns 403 since the {v} release. Screenshot:\n\
         ![403](data:image/png;base64,{png})\nWhich credentials does the backend use?"
    ));
    let (key_id, sa) = (b.hex(40), b.service_account_key());
    b.tool(
        "cat config/service-account.json",
        format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"vaultline-maps\",\n  \
             \"private_key_id\": \"{key_id}\",\n  \"private_key\": \"{sa}\",\n  \
             \"client_email\": \"maps@vaultline-maps.iam.gserviceaccount.com\"\n}}\n"
        ),
    );
    let auth = b.value("token", ALNUM, 32);
    b.assistant(format!(
        "The backend uses that service account; the browser key from the title is restricted to another \
         referrer. Your sentry.properties for vaultline also holds a token:\nauth.token={auth}\n\
         Rotate it while you are there."
    ));
    let jwt = b.jwt();
    b.user(format!("What about the vaultline kubeconfig?\nusers:\n- name: vaultline\n  user:\n    token: {jwt}"));
    let (pod, digest) = (b.pod(), b.hex(64));
    b.assistant(format!(
        "That token is a service-account JWT and kubectl sends it as is. The pod {pod} runs the image with \
         digest sha256 {digest}, which predates the key rotation."
    ));

    // Gemini CLI: Slack; no summary, so the first user line (a bot token) is the title.
    b.session(Gemini, "vaultline-slack", 17, None);
    let (xoxb, hook) = (b.slack_bot(), b.slack_webhook());
    b.user(format!(
        "Slack bot {xoxb} cannot post (vaultline)\n\
         The old webhook https://hooks.slack.com/services/{hook} still works."
    ));
    let (ghp, api_key, refresh, session_secret) = (
        b.token("github_pat", "ghp_", ALNUM, 36),
        b.value("api_key", ALNUM, 32),
        b.value("token", ALNUM, 40),
        b.value("secret", ALNUM, 32),
    );
    let workspace = b.uuid();
    b.tool(
        "cat ~/.config/vaultline/credentials.json",
        format!(
            "{{\n  \"github_token\": \"{ghp}\",\n  \"api_key\": \"{api_key}\",\n  \"refresh_token\": \"{refresh}\",\n  \
             \"session_secret\": \"{session_secret}\",\n  \"workspace_id\": \"{workspace}\"\n}}\n"
        ),
    );
    let bearer = b.value("bearer_token", BEARER, 40);
    b.assistant(format!(
        "The bot token lacks the chat:write scope. Test the vaultline API with the key as a header:\n\
         Authorization: Bearer {bearer}\nthen re-install the app."
    ));
    let (rk, material) =
        (b.token("stripe_restricted_key", "rk_live_", ALNUM, 24), b.value("generic_secret", ALNUM, 32));
    b.user(format!(
        "and our vaultline .env has\nSTRIPE_KEY={rk}\nSESSION_KEY_MATERIAL={material}\nare those fine to keep?"
    ));
    let (snake, path, pod, request) =
        (b.named("deploy_notifier_retry_budget"), b.named("ops/notifier/slack_client.py"), b.pod(), b.id("req_", 24));
    b.assistant(format!(
        "No: move both to the secret store. Then lower {snake} in {path}; the notifier in pod {pod} retried \
         request {request} forty times."
    ));
    let camel = b.named("SlackNotifierBackoffPolicy");
    b.user(format!("Renamed the policy to {camel}, thanks."));

    b.finish()
}

// Writing the sessions.

/// Writes the corpus where each agent keeps its sessions under `home`:
/// Claude Code JSONL in `.claude/projects/<encoded cwd>/`, Codex rollouts in
/// `.codex/sessions/YYYY/MM/DD/`, Gemini CLI JSON in
/// `.gemini/tmp/<project hash>/chats/` — so discovery, parsing and title
/// derivation run as on a real machine.
fn write_sessions(home: &Path, corpus: &Corpus) {
    for (i, s) in corpus.sessions.iter().enumerate() {
        let (path, body) = match s.agent {
            Agent::ClaudeCode => claude_session(home, i, s),
            Agent::Codex => codex_session(home, i, s),
            Agent::Gemini => gemini_session(home, i, s),
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
    }
}

fn session_id(i: usize) -> String {
    format!("7e1c0a55-0000-4000-8000-{i:012x}")
}

/// The time of the `step`-th record of a session, seven seconds apart.
fn at(day: u32, step: usize) -> String {
    let s = step * 7;
    format!("2026-03-{day:02}T10:{:02}:{:02}.000Z", s / 60, s % 60)
}

/// One record per line: user and assistant messages, tool calls as
/// `tool_use` blocks answered by `tool_result` blocks in user records, and
/// the explicit title as a closing `summary` record.
fn claude_session(home: &Path, i: usize, s: &Session) -> (PathBuf, String) {
    let id = session_id(i);
    let path = home.join(".claude/projects").join(s.workspace.replace('/', "-")).join(format!("{id}.jsonl"));
    let assistant = |content: Value| json!({"model": "claude-sonnet-4-5", "role": "assistant", "content": content});
    let mut records: Vec<(&str, Value)> = Vec::new();
    for (n, turn) in s.turns.iter().enumerate() {
        match turn {
            Turn::User(t) => records.push(("user", json!({"role": "user", "content": t}))),
            Turn::Assistant(t) => records.push(("assistant", assistant(json!([{"type": "text", "text": t}])))),
            Turn::Tool { command, output } => {
                let call = format!("toolu_01{i:02}{n:02}");
                let input = json!({"command": command, "description": "Run a shell command"});
                records.push((
                    "assistant",
                    assistant(json!([{"type": "tool_use", "id": call, "name": "Bash", "input": input}])),
                ));
                let result = json!([{"type": "tool_result", "tool_use_id": call, "content": output}]);
                records.push(("user", json!({"role": "user", "content": result})));
            }
        }
    }
    let mut out = String::new();
    let mut parent = Value::Null;
    for (n, (kind, message)) in records.into_iter().enumerate() {
        let uuid = format!("5d0e8c41-{i:04x}-4b19-9e07-{n:012x}");
        let record = json!({
            "parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": s.workspace,
            "sessionId": id, "version": "2.1.4", "gitBranch": "main", "type": kind, "message": message,
            "uuid": uuid, "timestamp": at(s.day, n),
        });
        out.push_str(&format!("{record}\n"));
        parent = json!(uuid);
    }
    if let Some(title) = &s.title {
        out.push_str(&format!("{}\n", json!({"type": "summary", "summary": title, "leafUuid": parent})));
    }
    (path, out)
}

/// `session_meta`, `turn_context` and the injected environment context,
/// then each message twice as Codex logs it (`response_item` and the
/// `event_msg` echo), and tool calls as `function_call` with a
/// `function_call_output` whose output is JSON in a string.
fn codex_session(home: &Path, i: usize, s: &Session) -> (PathBuf, String) {
    let id = session_id(i);
    let day = s.day;
    let path = home.join(format!(".codex/sessions/2026/03/{day:02}/rollout-2026-03-{day:02}T10-00-00-{id}.jsonl"));
    let context =
        format!("<environment_context>\n  <cwd>{}</cwd>\n  <shell>bash</shell>\n</environment_context>", s.workspace);
    let mut items: Vec<(&str, Value)> = vec![
        (
            "session_meta",
            json!({"id": id, "timestamp": at(day, 0), "cwd": s.workspace, "originator": "codex_cli_rs",
                   "cli_version": "0.98.0", "instructions": null}),
        ),
        ("turn_context", json!({"cwd": s.workspace, "approval_policy": "on-request", "model": "gpt-5-codex"})),
        (
            "response_item",
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": context}]}),
        ),
    ];
    for (n, turn) in s.turns.iter().enumerate() {
        match turn {
            Turn::User(t) => {
                items.push((
                    "response_item",
                    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}),
                ));
                items.push(("event_msg", json!({"type": "user_message", "message": t, "images": []})));
            }
            Turn::Assistant(t) => {
                items.push((
                    "response_item",
                    json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": t}]}),
                ));
                items.push(("event_msg", json!({"type": "agent_message", "message": t})));
            }
            Turn::Tool { command, output } => {
                let call = format!("call_{i:02}{n:02}");
                let arguments = json!({"command": ["bash", "-lc", command]}).to_string();
                items.push((
                    "response_item",
                    json!({"type": "function_call", "name": "shell", "arguments": arguments, "call_id": call}),
                ));
                let output =
                    json!({"output": output, "metadata": {"exit_code": 0, "duration_seconds": 0.2}}).to_string();
                items.push((
                    "response_item",
                    json!({"type": "function_call_output", "call_id": call, "output": output}),
                ));
            }
        }
    }
    let lines: String = items
        .into_iter()
        .enumerate()
        .map(|(n, (kind, payload))| format!("{}\n", json!({"timestamp": at(day, n), "type": kind, "payload": payload})))
        .collect();
    (path, lines)
}

/// One JSON document: user and `gemini` messages, tool calls under
/// `toolCalls` with their `result`, and the explicit title as `summary`.
fn gemini_session(home: &Path, i: usize, s: &Session) -> (PathBuf, String) {
    let id = session_id(i);
    let hash = format!("{:016x}", cass::checksum::fnv1a64(s.workspace.as_bytes())).repeat(4);
    let path = home.join(".gemini/tmp").join(&hash).join("chats").join(format!(
        "session-2026-03-{:02}T10-00-{}.json",
        s.day,
        &id[..8]
    ));
    let messages: Vec<Value> = s
        .turns
        .iter()
        .enumerate()
        .map(|(n, turn)| {
            let (mid, ts) = (format!("{id}-{n:03}"), at(s.day, n));
            match turn {
                Turn::User(t) => json!({"id": mid, "timestamp": ts, "type": "user", "content": t}),
                Turn::Assistant(t) => {
                    json!({"id": mid, "timestamp": ts, "type": "gemini", "content": t, "model": "gemini-2.5-pro"})
                }
                Turn::Tool { command, output } => json!({
                    "id": mid, "timestamp": ts, "type": "gemini", "content": "", "model": "gemini-2.5-pro",
                    "toolCalls": [{"id": format!("run_shell_command-{n}"), "name": "run_shell_command",
                                   "args": {"command": command}, "result": output, "status": "success",
                                   "timestamp": ts}],
                }),
            }
        })
        .collect();
    let mut doc = json!({
        "sessionId": id, "projectHash": hash, "startTime": at(s.day, 0),
        "lastUpdated": at(s.day, s.turns.len()), "messages": messages,
    });
    if let Some(title) = &s.title {
        doc["summary"] = json!(title);
    }
    (path, serde_json::to_string_pretty(&doc).unwrap())
}

// Finding secrets.

/// A part of a secret this long is as good as the secret: a title cut at
/// its limit or a secret wrapped across terminal rows is still found.
const PART: usize = 12;

/// Finds secrets, whole or any [`PART`] characters of one, in text or bytes.
struct Leaks {
    finder: AhoCorasick,
    /// The secret (index into `Corpus::secrets`) of each pattern.
    owner: Vec<usize>,
}

impl Leaks {
    fn new(corpus: &Corpus) -> Leaks {
        let (mut patterns, mut owner) = (Vec::new(), Vec::new());
        for (i, s) in corpus.secrets.iter().enumerate() {
            for needle in s.needles() {
                for part in needle.as_bytes().windows(PART.min(needle.len())) {
                    patterns.push(part.to_vec());
                    owner.push(i);
                }
            }
        }
        Leaks { finder: AhoCorasick::new(&patterns).unwrap(), owner }
    }

    /// The secrets some part of which is in `haystack`.
    fn find(&self, haystack: &[u8]) -> BTreeSet<usize> {
        self.finder.find_iter(haystack).map(|m| self.owner[m.pattern().as_usize()]).collect()
    }

    /// One line per output that shows some secret.
    fn in_outputs(&self, corpus: &Corpus, outputs: &[(String, String)]) -> Vec<String> {
        let mut found = Vec::new();
        for (label, text) in outputs {
            for i in self.find(text.as_bytes()) {
                let s = &corpus.secrets[i];
                found.push(format!("{label}: {} {:?} from the {:?}", s.kind, s.needles()[0], s.place));
            }
        }
        found
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Secrets in the bytes of any file under the data dir (the store, its
/// WAL and journal, the lexical index, the tier segments and manifests):
/// (the secret, whether found whole, and where), each found whole first,
/// then each found by a part.
fn secrets_on_disk(data: &Path, corpus: &Corpus, leaks: &Leaks) -> Vec<(usize, bool, String)> {
    let mut found = Vec::new();
    for file in files_under(data) {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.strip_prefix(data).unwrap().display().to_string();
        for (i, s) in corpus.secrets.iter().enumerate() {
            for needle in s.needles() {
                if memchr::memmem::find(&bytes, needle.as_bytes()).is_some() {
                    found.push((i, true, format!("{name}: {} {needle:?} from the {:?}", s.kind, s.place)));
                }
            }
        }
        for i in leaks.find(&bytes) {
            let s = &corpus.secrets[i];
            found.push((i, false, format!("{name}: part of {} {:?} from the {:?}", s.kind, s.needles()[0], s.place)));
        }
    }
    found
}

/// Terms of the lexical index that hold a secret or are a part of one.
/// The index stores its terms lowercased in a compressed dictionary, where
/// no byte search can see them, so this reads every term of every segment
/// it lists — deleted documents' terms stay in a segment until it is merged.
fn secrets_in_lexical_terms(data: &Path, corpus: &Corpus) -> Vec<String> {
    let index = tantivy::Index::open_in_dir(data.join("lexical")).expect("open the lexical index");
    let schema = index.schema();
    let mut terms = BTreeSet::new();
    for segment in index.searchable_segments().unwrap() {
        let reader = tantivy::SegmentReader::open(&segment).unwrap();
        for name in ["content", "title"] {
            let inverted = reader.inverted_index(schema.get_field(name).unwrap()).unwrap();
            let mut stream = inverted.terms().stream().unwrap();
            while stream.advance() {
                terms.insert(String::from_utf8_lossy(stream.key()).into_owned());
            }
        }
    }
    let mut found = Vec::new();
    for s in &corpus.secrets {
        for needle in s.needles().into_iter().map(str::to_lowercase) {
            let hits: Vec<&String> = terms
                .iter()
                .filter(|t| t.contains(&needle) || (t.len() >= PART && needle.contains(t.as_str())))
                .collect();
            if !hits.is_empty() {
                found.push(format!("{} {needle:?} from the {:?}: terms {hits:?}", s.kind, s.place));
            }
        }
    }
    found
}

/// Segment files in `lexical/` that no segment of its `meta.json` owns:
/// they could still hold the terms of deleted documents.
fn orphan_segment_files(data: &Path) -> Vec<String> {
    let dir = data.join("lexical");
    let index = tantivy::Index::open_in_dir(&dir).unwrap();
    let live: BTreeSet<String> = index.searchable_segments().unwrap().iter().map(|s| s.id().uuid_string()).collect();
    let mut orphans = Vec::new();
    for file in files_under(&dir) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.split('.').next().unwrap_or("");
        if stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && !live.contains(stem) {
            orphans.push(name);
        }
    }
    orphans
}

// Reading what cass shows.

/// Runs `cass ARGS` and returns its exit code and stdout, with stderr appended.
fn run(sb: &Sandbox, args: &[&str]) -> (i32, String) {
    let out = sb.run(args);
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `cass search QUERY --json` with `extra` flags; its hits (exit 1 is "no hits").
fn search(sb: &Sandbox, query: &str, extra: &[&str], shown: &mut Vec<(String, String)>) -> Vec<Value> {
    let mut args = vec!["search", query, "--json", "--limit", "100"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"));
    shown.push((args.join(" "), format!("{stdout}{}", String::from_utf8_lossy(&out.stderr))));
    v["hits"].as_array().cloned().unwrap_or_default()
}

/// Words next to the secrets, which redaction keeps so the messages are
/// still found: the names of assignments, headers, hosts, file names.
const NEAR_SECRETS: &[&str] = &[
    "vaultline",
    "AWS_SECRET_ACCESS_KEY",
    "aws_session_token",
    "PRIVATE-TOKEN",
    "postgres",
    "hooks.slack.com",
    "Authorization",
    "passwd",
    "client_secret",
    "service_account",
    "AccountKey",
    "_authToken",
    "kubeconfig",
    "SESSION_KEY_MATERIAL",
];

fn conversation_ids(sb: &Sandbox) -> Vec<i64> {
    let db = sb.db();
    let mut stmt = db.prepare("SELECT id FROM conversations ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Everything cass shows of the indexed corpus, as (command, output):
/// searches for every look-alike and for the words near the secrets (each
/// redacted message is found by its marker), `expand` of the lexical hits,
/// `view` and every `export` format of every conversation, `status`, and
/// the TUI's screens of a search whose hits hold redacted messages.
fn everything_shown(sb: &Sandbox, corpus: &Corpus) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    for look in &corpus.look_alikes {
        search(sb, look, &[], &mut shown);
    }
    let mut hit_ids = BTreeSet::new();
    for word in NEAR_SECRETS.iter().chain(&["REDACTED"]) {
        search(sb, word, &["--mode", "hybrid"], &mut shown);
        let hits = search(sb, word, &["--mode", "lexical"], &mut shown);
        hit_ids.extend(hits.iter().map(|h| h["message_id"].as_i64().unwrap()));
    }
    for word in ["vaultline", "REDACTED"] {
        let (_, text) = run(sb, &["search", word, "--limit", "100"]);
        shown.push((format!("search {word}"), text));
    }
    for id in &hit_ids {
        let id = id.to_string();
        for args in [&["expand", &id, "-C", "1"][..], &["expand", &id, "-C", "0", "--json"]] {
            let (code, text) = run(sb, args);
            assert_eq!(code, 0, "{args:?}: {text}");
            shown.push((args.join(" "), text));
        }
    }
    for id in conversation_ids(sb) {
        let id = id.to_string();
        for args in [
            &["view", &id][..],
            &["view", &id, "--json"],
            &["export", &id],
            &["export", &id, "--include-tools"],
            &["export", &id, "--format", "json"],
            &["export", &id, "--format", "html", "--include-tools"],
        ] {
            let (code, text) = run(sb, args);
            assert_eq!(code, 0, "{args:?}: {text}");
            if args.contains(&"html") {
                // Highlighted code is cut into spans: read the text too.
                shown.push((format!("{} (text)", args.join(" ")), html_text(&text)));
            }
            shown.push((args.join(" "), text));
        }
    }
    for args in [&["status"][..], &["status", "--json"], &["sources", "--json"]] {
        shown.push((args.join(" "), run(sb, args).1));
    }
    for (i, screen) in tui_screens(&sb.data(), "vaultline").into_iter().enumerate() {
        shown.push((format!("tui screen {i}"), screen));
    }
    shown
}

/// The text of an HTML document: tags dropped, entities decoded.
fn html_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The TUI over the data dir, drawn into a test backend: the results of
/// `query`, then each hit opened with every tool block expanded.
fn tui_screens(data: &Path, query: &str) -> Vec<String> {
    let handle = cass::Cass::open(cass::Settings::new(DataDir::at(data), AgentEnv::with_home(data)));
    let mut ui = Tui::open(handle, Theme::mono(), Duration::ZERO);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let press = |ui: &mut Tui, code: KeyCode| {
        ui.key(KeyEvent::new(code, KeyModifiers::NONE));
        assert!(ui.wait_for_search(Duration::from_secs(30)), "the TUI search did not answer");
    };
    for c in query.chars() {
        press(&mut ui, KeyCode::Char(c));
    }
    let mut screen = |ui: &mut Tui| {
        term.draw(|f| view::render(f, &mut ui.app)).unwrap();
        common::frame_text(term.backend().buffer())
    };
    let mut screens = vec![screen(&mut ui)];
    let hits = ui.app.results.hits.len();
    assert!(hits > 0, "the TUI found nothing for {query}: {}", screens[0]);
    for i in 0..hits {
        if i > 0 {
            press(&mut ui, KeyCode::Down);
        }
        press(&mut ui, KeyCode::Enter);
        press(&mut ui, KeyCode::Char('x'));
        screens.push(screen(&mut ui));
        press(&mut ui, KeyCode::Esc);
    }
    screens
}

/// Every place a secret shows: the files of the data dir, the lexical
/// index's terms, the outputs of [`everything_shown`] (returned too), and
/// searches for the secrets themselves (whose query is echoed, so their
/// output is not read above).
fn leaks_everywhere(sb: &Sandbox, corpus: &Corpus) -> (Vec<String>, Vec<(String, String)>) {
    let leaks = Leaks::new(corpus);
    let mut problems: Vec<String> =
        secrets_on_disk(&sb.data(), corpus, &leaks).into_iter().map(|(_, _, l)| format!("on disk: {l}")).collect();
    problems
        .extend(secrets_in_lexical_terms(&sb.data(), corpus).into_iter().map(|l| format!("in the lexical index: {l}")));
    let shown = everything_shown(sb, corpus);
    problems.extend(leaks.in_outputs(corpus, &shown).into_iter().map(|l| format!("shown by {l}")));
    for s in &corpus.secrets {
        for needle in s.needles() {
            let hits = search(sb, needle, &["--mode", "lexical"], &mut Vec::new());
            if !hits.is_empty() {
                problems.push(format!("a search for the {} {needle:?} finds {} messages", s.kind, hits.len()));
            }
        }
    }
    (problems, shown)
}

/// Records `what` when `ok` is false, so a test reports every problem at once.
fn expect(problems: &mut Vec<String>, ok: bool, what: String) {
    if !ok {
        problems.push(what);
    }
}

fn indexed(corpus: &Corpus, args: &[&str]) -> (Sandbox, Value) {
    let sb = Sandbox::new();
    write_sessions(&sb.home(), corpus);
    let mut all = vec!["index"];
    all.extend_from_slice(args);
    let report = sb.json(&all);
    let stored = report["messages"].as_u64().unwrap();
    assert!(stored as usize > corpus.messages().count(), "every turn is stored: {report}");
    (sb, report)
}

/// The kinds the issue names, each of which the corpus must hold.
const ISSUE_KINDS: &[&str] = &[
    "aws_access_key",
    "aws_secret_key",
    "github_pat",
    "github_fine_grained_pat",
    "github_app_token",
    "github_user_token",
    "gitlab_pat",
    "slack_token",
    "slack_webhook",
    "stripe_secret_key",
    "stripe_restricted_key",
    "openai_api_key",
    "anthropic_api_key",
    "google_api_key",
    "private_key",
    "azure_storage_key",
    "jwt",
    "private_key_rsa",
    "private_key_ec",
    "private_key_openssh",
    "private_key_pgp",
    "password",
    "secret",
    "token",
    "url_password",
    "bearer_token",
    "npm_token",
    "pypi_token",
    "crates_io_token",
    "generic_secret",
];

/// Formats the issue names by their prefix, beyond the kinds.
const ISSUE_PREFIXES: &[&str] = &[
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "ghs_",
    "ghu_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "sk_live_",
    "rk_live_",
    "sk-proj-",
];

#[test]
fn the_corpus_is_what_the_redactor_sees() {
    let c = corpus();
    assert!(c.secrets.len() >= 40, "{} secrets", c.secrets.len());
    assert!(c.look_alikes.len() >= 40, "{} look-alikes", c.look_alikes.len());
    for kind in ISSUE_KINDS {
        assert!(c.secrets.iter().any(|s| s.kind == *kind), "no secret of kind {kind}");
    }
    for prefix in ISSUE_PREFIXES {
        assert!(c.secrets.iter().any(|s| s.text.starts_with(prefix)), "no secret starting {prefix}");
    }
    let legacy_openai = |s: &Secret| s.kind == "openai_api_key" && !s.text.starts_with("sk-proj-");
    assert!(c.secrets.iter().any(legacy_openai), "no legacy sk- key");
    for agent in [Agent::ClaudeCode, Agent::Codex, Agent::Gemini] {
        for part in [Part::User, Part::Assistant, Part::Tool, Part::Title] {
            let n = c.secrets.iter().filter(|s| s.place == Place { agent, part }).count();
            assert!(n > 0, "no secret in the {part:?} of {agent:?}");
        }
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_place: BTreeMap<String, usize> = BTreeMap::new();
    for s in &c.secrets {
        *by_kind.entry(s.kind).or_default() += 1;
        *by_place.entry(format!("{:?} {:?}", s.place.agent, s.place.part)).or_default() += 1;
    }
    eprintln!("{} secrets in {} messages and {} titles", c.secrets.len(), c.secret_messages(), c.secret_titles());
    eprintln!("by kind: {by_kind:?}\nby place: {by_place:?}\n{} look-alikes", c.look_alikes.len());

    // Each secret is written exactly once, so finding it anywhere means it leaked from there.
    let texts = c.texts();
    for s in &c.secrets {
        for needle in s.needles() {
            let n: usize = texts.iter().map(|(_, t)| t.matches(needle).count()).sum();
            assert_eq!(n, 1, "the {} {needle:?} is written {n} times", s.kind);
        }
    }
    let redactor = Redactor::new().unwrap();
    let leaks = Leaks::new(&c);
    let mut failures = Vec::new();
    for (place, text) in &texts {
        let out = redactor.redact(text);
        for i in leaks.find(out.text.as_bytes()) {
            let s = &c.secrets[i];
            failures.push(format!("{place:?}: the {} {:?} is not redacted in {:?}", s.kind, s.text, out.text));
        }
        for s in c.secrets.iter().filter(|s| s.needles().iter().any(|n| text.contains(n))) {
            if !out.text.contains(&format!("[REDACTED:{}]", s.kind)) {
                failures.push(format!("{place:?}: no [REDACTED:{}] for {:?} in {:?}", s.kind, s.text, out.text));
            }
        }
        for look in c.look_alikes.iter().filter(|l| text.contains(l.as_str())) {
            let whole = look.to_lowercase();
            let found = cass::lexical::tokenizer::tokens(&out.text).iter().any(|t| t.whole && t.text == whole);
            if !found {
                failures.push(format!("{place:?}: the look-alike {look} is not a whole word of {:?}", out.text));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Look-alikes are one whole token each, so a search for one finds it, and in a message.
    let messages: Vec<&str> = c.messages().collect();
    for look in &c.look_alikes {
        let toks = cass::lexical::tokenizer::tokens(look);
        assert!(toks.iter().filter(|t| t.whole).count() == 1 && toks[0].text == look.to_lowercase(), "{look}");
        assert!(messages.iter().any(|m| m.contains(look.as_str())), "{look} is in no message");
    }
}

#[test]
fn after_index_no_secret_is_on_disk_or_in_any_output() {
    let c = corpus();
    let (sb, report) = indexed(&c, &[]);
    assert_eq!(report["privacy"]["redaction"], true, "{}", report["privacy"]);
    assert!(sb.data().join("semantic").is_dir(), "the fast tier is built");
    let (mut problems, shown) = leaks_everywhere(&sb, &c);

    // The markers are there, so none of the above passed on an empty store.
    let markers: usize = shown
        .iter()
        .filter(|(label, _)| label.starts_with("view") && label.ends_with("--json"))
        .map(|(_, t)| t.matches("[REDACTED:").count())
        .sum();
    expect(&mut problems, markers >= 40, format!("{markers} markers in the views"));

    let privacy = &sb.json(&["status"])["privacy"];
    let secrets = privacy["secrets_redacted"].as_u64().unwrap_or(0);
    let kinds: BTreeMap<String, u64> = serde_json::from_value(privacy["kinds"].clone()).unwrap_or_default();
    let want = c.expected_kinds(&Redactor::new().unwrap());
    expect(&mut problems, privacy["redaction"] == "on", format!("status: redaction is not on: {privacy}"));
    expect(&mut problems, secrets >= 40, format!("status: {secrets} secrets redacted: {privacy}"));
    expect(
        &mut problems,
        privacy["messages_redacted"] == c.secret_messages(),
        format!("status: {} messages redacted, want {}", privacy["messages_redacted"], c.secret_messages()),
    );
    expect(&mut problems, kinds == want, format!("status: kinds {kinds:?}, want {want:?}"));
    expect(
        &mut problems,
        secrets == kinds.values().sum::<u64>(),
        format!("status: the kinds do not add up: {privacy}"),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_look_alike_is_still_found() {
    let c = corpus();
    let (sb, _) = indexed(&c, &[]);
    let mut missing = Vec::new();
    for look in &c.look_alikes {
        let hits = search(&sb, look, &["--mode", "lexical"], &mut Vec::new());
        let holds = |h: &Value| {
            let id = h["message_id"].to_string();
            let v = sb.json(&["expand", &id, "-C", "0"]);
            v["messages"].as_array().unwrap().iter().any(|m| m["content"].as_str().unwrap().contains(look.as_str()))
        };
        if !hits.iter().any(holds) {
            missing.push(format!("{look} ({} hits)", hits.len()));
        }
    }
    assert!(missing.is_empty(), "look-alikes not found:\n{}", missing.join("\n"));
}

#[test]
fn a_store_indexed_without_redaction_is_redacted_by_cass_redact() {
    let c = corpus();
    let (sb, report) = indexed(&c, &["--no-redact"]);
    assert_eq!(report["privacy"]["redaction"], false, "{}", report["privacy"]);

    // The secrets are stored verbatim, and the checks below can see them:
    // each whole (except in a tool call, which cass cuts short) and in the
    // lexical index's terms, shown by `view` and found by a search.
    let leaks = Leaks::new(&c);
    let on_disk = secrets_on_disk(&sb.data(), &c, &leaks);
    let whole: BTreeSet<usize> = on_disk.iter().filter(|(_, whole, _)| *whole).map(|(i, ..)| *i).collect();
    let seen: BTreeSet<usize> = on_disk.iter().map(|(i, ..)| *i).collect();
    for (i, s) in c.secrets.iter().enumerate() {
        assert!(whole.contains(&i) || c.in_tool_call(s), "stored verbatim, yet not on disk: {}", s.text);
        assert!(seen.contains(&i) || !c.stored(s), "stored verbatim, yet no part of it is on disk: {}", s.text);
    }
    let needles = c.secrets.iter().flat_map(Secret::needles).count();
    let in_terms = secrets_in_lexical_terms(&sb.data(), &c).len();
    assert!(in_terms * 2 >= needles, "only {in_terms} of {needles} secrets seen in the lexical terms");
    let views: String = conversation_ids(&sb).iter().map(|id| run(&sb, &["view", &id.to_string()]).1).collect();
    let stored = c.secrets.iter().filter(|s| c.stored(s)).count();
    assert_eq!(leaks.find(views.as_bytes()).len(), stored, "view shows every stored secret");
    // A secret that is one word to the tokenizer: letters, digits and `_`.
    let word = c
        .secrets
        .iter()
        .find(|s| c.stored(s) && s.text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .expect("a one-word secret");
    let hits = search(&sb, &word.text, &["--mode", "lexical"], &mut Vec::new());
    assert!(!hits.is_empty(), "a search finds a stored secret");
    // A wildcard query writes the index's term list (lexical-terms/): it
    // holds the secret too, and must leave the disk with the index's terms.
    let tail = &word.text[word.text.len() - 6..];
    let wild = search(&sb, &format!("*{tail}"), &["--mode", "lexical"], &mut Vec::new());
    assert!(!wild.is_empty(), "a wildcard finds the stored secret");
    let list_holds = files_under(&sb.data().join("lexical-terms"))
        .iter()
        .any(|f| memchr::memmem::find(&std::fs::read(f).unwrap(), word.text.to_lowercase().as_bytes()).is_some());
    assert!(list_holds, "the term list holds the secret before redaction");
    let published = report["semantic"]["published_rows"].as_u64().unwrap();
    assert!(published > 0, "{}", report["semantic"]);

    let mut problems = Vec::new();
    let redacted = sb.json(&["redact"]);
    let (messages, titles) = (c.secret_messages(), c.secret_titles());
    expect(
        &mut problems,
        redacted["messages_redacted"] == messages,
        format!("redact: want {messages} messages: {redacted}"),
    );
    expect(&mut problems, redacted["titles_redacted"] == titles, format!("redact: want {titles} titles: {redacted}"));
    expect(
        &mut problems,
        redacted["secrets"].as_u64().unwrap_or(0) >= 40,
        format!("redact: too few secrets: {redacted}"),
    );

    let after = sb.json(&["index"]);
    let semantic = &after["semantic"];
    expect(
        &mut problems,
        semantic["rows_embedded"] == messages,
        format!("index: want only the {messages} rewritten messages embedded: {semantic}"),
    );
    expect(
        &mut problems,
        semantic["published_rows"] == published + messages,
        format!("index: want {published} + {messages} published rows: {semantic}"),
    );
    let orphans = orphan_segment_files(&sb.data());
    expect(&mut problems, orphans.is_empty(), format!("lexical segment files left behind: {orphans:?}"));
    problems.extend(leaks_everywhere(&sb, &c).0);
    let privacy = &sb.json(&["status"])["privacy"];
    expect(&mut problems, privacy["redaction"] == "on", format!("status: redaction is not on: {privacy}"));
    expect(
        &mut problems,
        privacy["messages_redacted"] == messages,
        format!("status: want {messages} messages redacted: {privacy}"),
    );
    let health = sb.run(&["health"]);
    expect(&mut problems, health.status.success(), format!("health: {}", String::from_utf8_lossy(&health.stdout)));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
