//! The normalized types every connector produces and the store keeps.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A coding agent whose histories cass can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Agent {
    /// Anthropic's Claude Code CLI.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
    /// Cline and its fork Roo Code (same task-directory format).
    Cline,
    /// The OpenCode terminal agent.
    OpenCode,
    /// Sourcegraph's Amp.
    Amp,
    /// Aider, read from its Markdown chat history file.
    Aider,
    /// The Cursor editor's chat and composer conversations.
    Cursor,
    /// The ChatGPT desktop app for macOS.
    ChatGpt,
    /// Pi-Agent, the pi-mono coding agent (also "Oh My Pi").
    PiAgent,
    /// Factory's Droid.
    Factory,
    /// GitHub Copilot's command-line agent.
    CopilotCli,
    /// GitHub Copilot Chat inside VS Code.
    Copilot,
    /// Block's Goose agent.
    Goose,
    /// Charm's Crush terminal agent.
    Crush,
    /// Moonshot's Kimi Code (and the older Kimi CLI).
    Kimi,
    /// Alibaba's Qwen Code CLI.
    Qwen,
    /// The OpenHands CLI and Agent SDK.
    OpenHands,
    /// xAI's Grok Build CLI (`grok`).
    Grok,
    /// Google Antigravity's CLI (`agy`).
    Antigravity,
    /// OpenClaw, the pi-mono based personal agent.
    OpenClaw,
    /// Clawdbot, OpenClaw's earlier name (its own state folder).
    Clawdbot,
    /// Mistral Vibe.
    Vibe,
    /// Nous Research's Hermes Agent.
    Hermes,
    /// Claude Desktop's records of its local Claude Code sessions (no bodies).
    ClaudeDesktop,
    /// Amazon's Kiro CLI (`kiro-cli`).
    Kiro,
    /// Cursor's agent transcripts (`~/.cursor/projects/*/agent-transcripts`):
    /// the Cursor Agent CLI and newer editor builds.
    CursorAgent,
}

impl Agent {
    /// Every agent cass can read, in the order `cass info` lists them.
    pub const ALL: &'static [Agent] = &[
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cline,
        Agent::OpenCode,
        Agent::Amp,
        Agent::Aider,
        Agent::Cursor,
        Agent::ChatGpt,
        Agent::PiAgent,
        Agent::Factory,
        Agent::CopilotCli,
        Agent::Copilot,
        Agent::Goose,
        Agent::Crush,
        Agent::Kimi,
        Agent::Qwen,
        Agent::OpenHands,
        Agent::Grok,
        Agent::Antigravity,
        Agent::OpenClaw,
        Agent::Clawdbot,
        Agent::Vibe,
        Agent::Hermes,
        Agent::ClaudeDesktop,
        Agent::Kiro,
        Agent::CursorAgent,
    ];

    /// The stable identifier stored in the database and used on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude_code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cline => "cline",
            Agent::OpenCode => "opencode",
            Agent::Amp => "amp",
            Agent::Aider => "aider",
            Agent::Cursor => "cursor",
            Agent::ChatGpt => "chatgpt",
            Agent::PiAgent => "pi_agent",
            Agent::Factory => "factory",
            Agent::CopilotCli => "copilot_cli",
            Agent::Copilot => "copilot",
            Agent::Goose => "goose",
            Agent::Crush => "crush",
            Agent::Kimi => "kimi",
            Agent::Qwen => "qwen",
            Agent::OpenHands => "openhands",
            Agent::Grok => "grok",
            Agent::Antigravity => "antigravity",
            Agent::OpenClaw => "openclaw",
            Agent::Clawdbot => "clawdbot",
            Agent::Vibe => "vibe",
            Agent::Hermes => "hermes",
            Agent::ClaudeDesktop => "claude_desktop",
            Agent::Kiro => "kiro",
            Agent::CursorAgent => "cursor_agent",
        }
    }

    /// A human name for reports.
    pub fn display_name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex CLI",
            Agent::Gemini => "Gemini CLI",
            Agent::Cline => "Cline / Roo Code",
            Agent::OpenCode => "OpenCode",
            Agent::Amp => "Amp",
            Agent::Aider => "Aider",
            Agent::Cursor => "Cursor",
            Agent::ChatGpt => "ChatGPT desktop",
            Agent::PiAgent => "Pi-Agent",
            Agent::Factory => "Factory Droid",
            Agent::CopilotCli => "Copilot CLI",
            Agent::Copilot => "Copilot Chat (VS Code)",
            Agent::Goose => "Goose",
            Agent::Crush => "Crush",
            Agent::Kimi => "Kimi Code / Kimi CLI",
            Agent::Qwen => "Qwen Code",
            Agent::OpenHands => "OpenHands",
            Agent::Grok => "Grok Build",
            Agent::Antigravity => "Antigravity",
            Agent::OpenClaw => "OpenClaw",
            Agent::Clawdbot => "Clawdbot",
            Agent::Vibe => "Mistral Vibe",
            Agent::Hermes => "Hermes Agent",
            Agent::ClaudeDesktop => "Claude Desktop",
            Agent::Kiro => "Kiro CLI",
            Agent::CursorAgent => "Cursor Agent transcripts",
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for Agent {
    type Err = String;

    /// Accepts the slug and a few common spellings (`claude`, `claude-code`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let agent = match norm.as_str() {
            "claude_code" | "claude" => Agent::ClaudeCode,
            "codex" | "codex_cli" => Agent::Codex,
            "gemini" | "gemini_cli" => Agent::Gemini,
            "cline" | "roo" | "roo_code" | "roo_cline" => Agent::Cline,
            "opencode" | "open_code" => Agent::OpenCode,
            "amp" => Agent::Amp,
            "aider" => Agent::Aider,
            "cursor" => Agent::Cursor,
            "chatgpt" | "chatgpt_desktop" => Agent::ChatGpt,
            "pi_agent" | "pi" | "omp" => Agent::PiAgent,
            "factory" | "droid" | "factory_droid" => Agent::Factory,
            "copilot_cli" => Agent::CopilotCli,
            "copilot" | "copilot_chat" | "copilot_vscode" => Agent::Copilot,
            "goose" => Agent::Goose,
            "crush" => Agent::Crush,
            "kimi" | "kimi_code" | "kimi_cli" => Agent::Kimi,
            "qwen" | "qwen_code" => Agent::Qwen,
            "openhands" | "open_hands" => Agent::OpenHands,
            "grok" | "grok_build" => Agent::Grok,
            "antigravity" | "agy" => Agent::Antigravity,
            "openclaw" => Agent::OpenClaw,
            "clawdbot" => Agent::Clawdbot,
            "vibe" | "mistral_vibe" => Agent::Vibe,
            "hermes" | "hermes_agent" => Agent::Hermes,
            "claude_desktop" => Agent::ClaudeDesktop,
            "kiro" | "kiro_cli" => Agent::Kiro,
            "cursor_agent" | "cursor_cli" | "cursor-agent" => Agent::CursorAgent,
            _ => {
                let known: Vec<&str> = Agent::ALL.iter().map(|a| a.slug()).collect();
                return Err(format!("unknown agent '{s}' (known: {})", known.join(", ")));
            }
        };
        Ok(agent)
    }
}

/// Who spoke a message, normalized across agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The person at the keyboard.
    User,
    /// The model answering.
    Assistant,
    /// Instructions or notices from the agent itself (system prompt, errors).
    System,
    /// Output of a tool the assistant called (command output, file contents).
    Tool,
}

impl Role {
    /// All four roles.
    pub const ALL: &'static [Role] = &[Role::User, Role::Assistant, Role::System, Role::Tool];

    /// The lowercase name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }

    /// Maps the many spellings agents use onto the four roles.
    pub fn from_agent_label(label: &str) -> Option<Role> {
        // Called for every message read: lowercased on the stack, not in a
        // new string (no label it knows is longer than the buffer).
        let mut buf = [0u8; 16];
        let lower = buf.get_mut(..label.len()).map(|b| {
            b.copy_from_slice(label.as_bytes());
            b.make_ascii_lowercase();
            &*b
        })?;
        match lower {
            b"user" | b"human" => Some(Role::User),
            b"assistant" | b"model" | b"gemini" | b"ai" | b"bot" | b"qwen" => Some(Role::Assistant),
            b"system" | b"developer" | b"info" | b"error" => Some(Role::System),
            b"tool" | b"toolresult" | b"tool_result" | b"function" => Some(Role::Tool),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::from_agent_label(s).ok_or_else(|| format!("unknown role '{s}' (known: user, assistant, system, tool)"))
    }
}

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// One message as a connector produced it, before the store gives it an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who spoke it.
    pub role: Role,
    /// The model or person that wrote it, when the agent records one.
    pub author: Option<String>,
    /// When it was written, if the agent records a time.
    pub created_at: Option<TimestampMs>,
    /// Flattened text: what search sees.
    pub content: String,
    /// Byte offset of the source line in an append-only file. The store uses it
    /// to make a re-append after a crash idempotent.
    pub line_offset: Option<u64>,
}

/// What a connector knows about a conversation as it reads its file.
///
/// Connectors may emit a header more than once for the same conversation (a
/// title can arrive at the end of a file); the store merges them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationHeader {
    /// The agent's own session id (or the file stem when it has none).
    pub external_id: String,
    /// The agent's own title, or one derived from the first user message.
    pub title: Option<String>,
    /// True when the agent named the conversation itself (a summary record, a
    /// title field). An explicit title replaces a derived one; never the reverse.
    pub title_explicit: bool,
    /// The directory the agent worked in, when recorded (e.g. Claude Code's `cwd`).
    pub workspace: Option<String>,
}

/// A conversation as read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Row id in the store; ids only grow, never reused.
    pub id: i64,
    /// The agent's slug (see [`Agent::slug`]).
    pub agent: String,
    /// The agent's own session id (or the file stem when it has none).
    pub external_id: String,
    /// The source file it was read from.
    pub source_path: PathBuf,
    /// Its title: the agent's own, or derived from the first user message.
    pub title: Option<String>,
    /// The directory the agent worked in, when known.
    pub workspace: Option<String>,
    /// Time of its earliest timestamped message.
    pub started_at: Option<TimestampMs>,
    /// Time of its latest timestamped message.
    pub ended_at: Option<TimestampMs>,
    /// How many messages the store holds for it.
    pub message_count: i64,
    /// The machine it was read on: `local`, or a remote machine's name.
    pub source: String,
    /// For a remote machine's conversation, the session file's path there
    /// (`source_path` is its mirror here).
    pub origin_path: Option<String>,
}

/// A message as read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Row id in the store; ids only grow, never reused.
    pub id: i64,
    /// Id of the conversation it belongs to.
    pub conversation_id: i64,
    /// Its position within the conversation, from 0.
    pub ordinal: i64,
    /// Who spoke it.
    pub role: Role,
    /// The model or person that wrote it, when recorded.
    pub author: Option<String>,
    /// When it was written, if the agent records a time.
    pub created_at: Option<TimestampMs>,
    /// Flattened text: what search sees.
    pub content: String,
}

/// The tokens one model call used, as the agent recorded them, normalized
/// so every agent means the same thing by each count: `input` never
/// includes cache reads or writes (Codex and Gemini count cached tokens
/// inside their input; the connector subtracts them), and `output`
/// includes reasoning (`reasoning` says how much of it was).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// When the call was made (the record's time).
    pub created_at: TimestampMs,
    /// The model that answered, as the agent names it.
    pub model: Option<String>,
    /// Prompt tokens read neither from nor into a cache.
    pub input: u64,
    /// Tokens generated, reasoning included.
    pub output: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: u64,
    /// The part of `cache_write` kept for an hour (Anthropic prices these
    /// at twice the input rate, the 5-minute ones at 1.25 times).
    pub cache_write_1h: u64,
    /// Prompt tokens read from the provider's cache.
    pub cache_read: u64,
    /// The part of `output` spent on reasoning, where the agent says.
    pub reasoning: u64,
    /// The provider's id of the call (Claude Code: message id and request
    /// id): a call logged in several files (a resumed or forked session)
    /// is counted once.
    pub request_key: Option<String>,
    /// Byte offset of the source line in an append-only file (see
    /// [`Message::line_offset`]).
    pub line_offset: Option<u64>,
}

impl Usage {
    /// Every token of the call, each counted once.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_write + self.cache_read
    }
}

/// Token counts summed over calls of one model, as the store keeps them
/// (see `store::usage`): `band` says which prompt-size band the calls were
/// in (0: ≤200k, 1: ≤272k, 2: more), the `*_over` sums count each kind's
/// tokens past 200,000 in single calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenSums {
    /// Model calls summed.
    pub calls: u64,
    /// Prompt tokens read neither from nor into a cache.
    pub input: u64,
    /// Generated tokens, reasoning included.
    pub output: u64,
    /// Prompt tokens written to a cache, 1-hour writes included.
    pub cache_write: u64,
    /// The 1-hour part of `cache_write`.
    pub cache_write_1h: u64,
    /// Prompt tokens read from a cache.
    pub cache_read: u64,
    /// The reasoning part of `output`.
    pub reasoning: u64,
    /// Input tokens past 200,000 in single calls.
    pub input_over: u64,
    /// Output tokens past 200,000 in single calls.
    pub output_over: u64,
    /// 5-minute cache writes past 200,000 in single calls.
    pub cache_write_over: u64,
    /// 1-hour cache writes past 200,000 in single calls.
    pub cache_write_1h_over: u64,
    /// Cache reads past 200,000 in single calls.
    pub cache_read_over: u64,
}

impl TokenSums {
    /// Every token, each counted once.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_write + self.cache_read
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &TokenSums) {
        self.calls += other.calls;
        self.input += other.input;
        self.output += other.output;
        self.cache_write += other.cache_write;
        self.cache_write_1h += other.cache_write_1h;
        self.cache_read += other.cache_read;
        self.reasoning += other.reasoning;
        self.input_over += other.input_over;
        self.output_over += other.output_over;
        self.cache_write_over += other.cache_write_over;
        self.cache_write_1h_over += other.cache_write_1h_over;
        self.cache_read_over += other.cache_read_over;
    }

    /// Takes `other` (a part of these sums) away, never below zero.
    pub fn subtract(&mut self, other: &TokenSums) {
        self.calls = self.calls.saturating_sub(other.calls);
        self.input = self.input.saturating_sub(other.input);
        self.output = self.output.saturating_sub(other.output);
        self.cache_write = self.cache_write.saturating_sub(other.cache_write);
        self.cache_write_1h = self.cache_write_1h.saturating_sub(other.cache_write_1h);
        self.cache_read = self.cache_read.saturating_sub(other.cache_read);
        self.reasoning = self.reasoning.saturating_sub(other.reasoning);
        self.input_over = self.input_over.saturating_sub(other.input_over);
        self.output_over = self.output_over.saturating_sub(other.output_over);
        self.cache_write_over = self.cache_write_over.saturating_sub(other.cache_write_over);
        self.cache_write_1h_over = self.cache_write_1h_over.saturating_sub(other.cache_write_1h_over);
        self.cache_read_over = self.cache_read_over.saturating_sub(other.cache_read_over);
    }

    /// Only the tokens past 200,000 of each kind (for long-context rates).
    pub fn over(&self) -> TokenSums {
        TokenSums {
            input: self.input_over,
            output: self.output_over,
            cache_write: self.cache_write_over + self.cache_write_1h_over,
            cache_write_1h: self.cache_write_1h_over,
            cache_read: self.cache_read_over,
            ..TokenSums::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_labels_match_in_any_case_and_nothing_else_does() {
        for (label, role) in [
            ("user", Role::User),
            ("Human", Role::User),
            ("ASSISTANT", Role::Assistant),
            ("Model", Role::Assistant),
            ("developer", Role::System),
            ("Tool_Result", Role::Tool),
            ("toolResult", Role::Tool),
        ] {
            assert_eq!(Role::from_agent_label(label), Some(role), "{label}");
        }
        for label in ["", "users", "assistant ", "a-very-long-label-indeed", "usér", "tool\u{0}"] {
            assert_eq!(Role::from_agent_label(label), None, "{label:?}");
        }
    }
}
