//! The MCP tools, their parameters (JSON schemas generated from these
//! types) and their answers. Every tool runs on the blocking pool: search
//! and store reads are synchronous, and the transport keeps reading
//! meanwhile.

use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::embed::Tier;
use crate::export::{ConversationJson, MessageJson};
use crate::filters::FilterSpec;
use crate::robot::{RobotError, Shape};
use crate::search::{Mode, Searcher};
use crate::{Cass, SessionFilter};

/// Texts are cut to this many characters unless a call says otherwise:
/// enough to judge a hit, small enough for a context window.
const DEFAULT_CUT: usize = 400;
/// Messages per `get_conversation` page by default, and at most.
const PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// Filters shared by `search` and `list_sessions`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct FilterParams {
    /// Only these agents: claude_code, codex, gemini, cursor, …
    #[serde(default)]
    pub agents: Vec<String>,
    /// Only sessions in this workspace directory or below it (an absolute path), or in a directory of this name anywhere in the path (`webapp`, `src/webapp`).
    pub workspace: Option<String>,
    /// Only messages at or after this time: 2026-01-15, RFC 3339, 7d, 12h, today, yesterday.
    pub since: Option<String>,
    /// Only messages before this time (a bare date includes that whole day).
    pub until: Option<String>,
    /// Only conversations from this machine: `local` (this one), `remote` (any other), or a machine's name as `cass sources add` named it.
    pub source: Option<String>,
}

impl FilterParams {
    /// The validated filters, with `roles` (only searches have them).
    fn build(self, roles: Vec<String>) -> Result<crate::filters::Filters, RobotError> {
        FilterSpec {
            agents: self.agents,
            workspace: self.workspace,
            since: self.since,
            until: self.until,
            roles,
            source: self.source,
        }
        .build()
        .map_err(RobotError::usage)
    }
}

/// `search` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchParams {
    /// Words (all must match; accents and word forms fold: `cafe` finds `café`, `crate` finds `crates`), `a OR b`, `AND`, `NOT x` / `-x`, `( … )`, `"a phrase"`, `prefix*`, `*suffix`, `*infix*`. Empty (or `*`) with a filter: the newest messages it matches.
    pub query: String,
    /// lexical, semantic or hybrid (default: hybrid with the best published tier, else lexical).
    pub mode: Option<String>,
    /// Semantic tier: fast or quality (default: the best published).
    pub tier: Option<String>,
    /// Narrowing, applied inside retrieval.
    #[serde(default, flatten)]
    pub filters: FilterParams,
    /// Only messages of these roles: user, assistant, system, tool.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Most hits to return (1-1000, default 10).
    pub limit: Option<usize>,
    /// Hits to skip: the previous answer's next_offset.
    pub offset: Option<usize>,
    /// message (every matching message, default) or session (the best hit of each session).
    pub group_by: Option<String>,
    /// relevance (default; recent sessions gently preferred among comparable scores), recent or oldest.
    pub sort: Option<String>,
    /// Keep only these fields of each hit; dotted paths reach nested keys (snippet.text).
    pub fields: Option<Vec<String>>,
    /// Cut snippet texts to this many characters (default 400).
    pub max_content_length: Option<usize>,
}

/// `get_conversation` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ConversationParams {
    /// A conversation id (a hit's conversation_id, or a session's id).
    pub id: i64,
    /// Messages to skip: the previous page's next_offset.
    pub offset: Option<usize>,
    /// Messages per page (default 50, at most 500).
    pub limit: Option<usize>,
    /// Cut message texts to this many characters (default 400).
    pub max_content_length: Option<usize>,
}

/// `expand` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExpandParams {
    /// A message id (a hit's message_id).
    pub message_id: i64,
    /// Messages of context on each side (default 3, at most 50).
    pub context: Option<i64>,
    /// Cut message texts to this many characters (default 400).
    pub max_content_length: Option<usize>,
}

/// `list_sessions` parameters.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct SessionsParams {
    /// Narrowing by agent, workspace and time of last activity.
    #[serde(default, flatten)]
    pub filters: FilterParams,
    /// Most sessions to return (default 20, at most 200).
    pub limit: Option<usize>,
    /// Sessions to skip: the previous answer's next_offset.
    pub offset: Option<usize>,
}

/// The MCP server: a handle on the data dir and a searcher kept open
/// across calls (reloaded on each, so new commits are seen).
#[derive(Clone)]
pub struct CassServer {
    cass: Cass,
    /// The searcher and the state it was opened on.
    searcher: Arc<Mutex<Option<(crate::StateMark, Searcher)>>>,
    tool_router: ToolRouter<CassServer>,
}

/// An MCP error carrying the CLI's `kind` and hint.
fn mcp_error(e: RobotError) -> ErrorData {
    let data = Some(json!({ "kind": e.kind, "hint": e.hint }));
    if e.kind == "usage" {
        ErrorData::invalid_params(e.message, data)
    } else {
        ErrorData::internal_error(e.message, data)
    }
}

/// One compact JSON text block.
fn answer(value: Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(value.to_string())])
}

fn parse_enum<T: clap::ValueEnum>(what: &str, value: Option<&str>) -> Result<Option<T>, RobotError> {
    value
        .map(|v| {
            T::from_str(v.trim(), true).map_err(|_| RobotError::usage(format!("{what}: '{v}' is not a valid value")))
        })
        .transpose()
}

impl CassServer {
    /// A server over `cass` (which it only reads).
    pub fn new(cass: Cass) -> CassServer {
        CassServer { cass, searcher: Arc::new(Mutex::new(None)), tool_router: Self::tool_router() }
    }

    /// Runs `f` on the blocking pool and turns its result into a tool answer.
    async fn blocking(
        &self,
        f: impl FnOnce(&CassServer) -> Result<Value, RobotError> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || f(&this)).await {
            Ok(Ok(value)) => Ok(answer(value)),
            Ok(Err(e)) => Err(mcp_error(e)),
            Err(e) => {
                Err(ErrorData::internal_error(format!("the tool failed: {e}"), Some(json!({"kind": "internal"}))))
            }
        }
    }

    fn run_search(&self, p: SearchParams) -> Result<Value, RobotError> {
        let filters = p.filters.build(p.roles)?;
        let mut req = self.cass.request(&p.query, filters, p.limit.unwrap_or(10), p.offset.unwrap_or(0))?;
        let mode: Option<Mode> = parse_enum("mode", p.mode.as_deref())?;
        let tier: Option<Tier> = parse_enum("tier", p.tier.as_deref())?;
        if mode.is_some() || tier.is_some() {
            (req.mode, req.tier, req.preferred) = (mode, tier, false);
        }
        req.one_per_conversation = match p.group_by.as_deref().map(str::trim) {
            None | Some("message") => false,
            Some("session" | "conversation") => true,
            Some(other) => return Err(RobotError::usage(format!("group_by: '{other}' is not message or session"))),
        };
        req.sort = match p.sort.as_deref().map(str::trim) {
            None | Some("relevance") => crate::search::Sort::Relevance,
            Some("recent") => crate::search::Sort::Recent,
            Some("oldest") => crate::search::Sort::Oldest,
            Some(other) => {
                return Err(RobotError::usage(format!("sort: '{other}' is not relevance, recent or oldest")));
            }
        };
        let fields = match &p.fields {
            Some(f) => Some(Shape::parse_fields(&f.join(",")).map_err(RobotError::usage)?),
            None => None,
        };
        let shape =
            Shape { fields, max_content_length: Some(p.max_content_length.unwrap_or(DEFAULT_CUT)), drop_empty: true };
        let results = {
            let mut cached = self.searcher.lock().unwrap_or_else(|e| e.into_inner());
            // A writer published a tier, committed the lexical index or
            // replaced the store since: open afresh, so every answer comes
            // from one current state.
            let mark = self.cass.state_mark();
            if cached.as_ref().is_some_and(|(m, _)| *m != mark) {
                *cached = None;
            }
            let searcher = match cached.as_mut() {
                Some((_, s)) => s,
                None => &mut cached.insert((mark, self.cass.searcher()?)).1,
            };
            searcher.search(&req)?
        };
        let mut doc = crate::robot::shape_document(serde_json::to_value(&results).unwrap_or_default(), &shape);
        if let Value::Object(map) = &mut doc {
            map.shift_remove("schema");
            map.shift_remove("elapsed_ms");
        }
        crate::robot::drop_empty(&mut doc);
        Ok(doc)
    }

    fn run_conversation(&self, p: ConversationParams) -> Result<Value, RobotError> {
        let reader = self.cass.reader()?;
        let conv = reader
            .conversation(p.id)?
            .ok_or_else(|| RobotError::not_found(format!("no conversation {} in the index", p.id)))?;
        let offset = p.offset.unwrap_or(0);
        let limit = p.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
        let msgs = reader.messages_page(conv.id, offset as i64, limit as i64)?;
        let next = offset + msgs.len();
        let doc = json!({
            "conversation": ConversationJson::new(&conv),
            "messages": msgs.iter().map(MessageJson::new).collect::<Vec<_>>(),
            "next_offset": ((next as i64) < conv.message_count && msgs.len() == limit).then_some(next),
        });
        Ok(trimmed(doc, p.max_content_length))
    }

    fn run_expand(&self, p: ExpandParams) -> Result<Value, RobotError> {
        let context = p.context.unwrap_or(3);
        if !(0..=50).contains(&context) {
            return Err(RobotError::usage("context must be between 0 and 50"));
        }
        let reader = self.cass.reader()?;
        let target = reader
            .message(p.message_id)?
            .ok_or_else(|| RobotError::not_found(format!("no message {} in the index", p.message_id)))?;
        let conv = reader
            .conversation(target.conversation_id)?
            .ok_or_else(|| RobotError::not_found(format!("message {} has no conversation", p.message_id)))?;
        let msgs = reader.messages_around(conv.id, target.ordinal, context, context)?;
        let doc = json!({
            "conversation": ConversationJson::new(&conv),
            "target_message_id": target.id,
            "messages": msgs.iter().map(MessageJson::new).collect::<Vec<_>>(),
        });
        Ok(trimmed(doc, p.max_content_length))
    }

    fn run_sessions(&self, p: SessionsParams) -> Result<Value, RobotError> {
        let f = p.filters.build(Vec::new())?;
        let filter = SessionFilter {
            agents: f.agents,
            workspace: f.workspace,
            since: f.since,
            until: f.until,
            source: f.source,
        };
        let limit = p.limit.unwrap_or(20).clamp(1, 200);
        let offset = p.offset.unwrap_or(0);
        let sessions = self.cass.reader()?.sessions(&filter, limit as i64 + 1, offset as i64)?;
        let more = sessions.len() > limit;
        let shown: Vec<Value> = sessions
            .iter()
            .take(limit)
            .map(|c| serde_json::to_value(ConversationJson::new(c)).unwrap_or_default())
            .collect();
        let next = offset + shown.len();
        let mut doc = json!({ "sessions": shown, "next_offset": more.then_some(next) });
        crate::robot::drop_empty(&mut doc);
        Ok(doc)
    }

    fn run_status(&self) -> Result<Value, RobotError> {
        let mut doc = serde_json::to_value(self.cass.status()?).unwrap_or_default();
        crate::robot::drop_empty(&mut doc);
        Ok(doc)
    }
}

/// Cuts message texts and drops empty fields.
fn trimmed(doc: Value, max: Option<usize>) -> Value {
    Shape { fields: None, max_content_length: Some(max.unwrap_or(DEFAULT_CUT)), drop_empty: true }.apply(doc)
}

#[tool_router]
impl CassServer {
    /// Full-text, semantic or hybrid search over every indexed agent session.
    #[tool(
        description = "Search every coding-agent session indexed by cass (Claude Code, Codex, Gemini, Cursor, …). Returns hits with message_id and conversation_id for expand and get_conversation; total and next_offset for paging."
    )]
    async fn search(&self, Parameters(p): Parameters<SearchParams>) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |s| s.run_search(p)).await
    }

    /// One conversation's messages, a page at a time.
    #[tool(
        description = "Read a whole conversation by id, a page of messages at a time (next_offset for the next page)."
    )]
    async fn get_conversation(
        &self,
        Parameters(p): Parameters<ConversationParams>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |s| s.run_conversation(p)).await
    }

    /// The messages around one message.
    #[tool(description = "Read the messages around one message (a search hit's message_id), with its conversation.")]
    async fn expand(&self, Parameters(p): Parameters<ExpandParams>) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |s| s.run_expand(p)).await
    }

    /// Sessions, most recent first.
    #[tool(
        description = "List indexed sessions, most recently active first, optionally by agent, workspace and time; no query needed."
    )]
    async fn list_sessions(&self, Parameters(p): Parameters<SessionsParams>) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |s| s.run_sessions(p)).await
    }

    /// Index status.
    #[tool(
        description = "Where the index stands: counts per agent, lexical index lag, semantic tiers, last index run, running writer."
    )]
    async fn status(&self) -> Result<CallToolResult, ErrorData> {
        self.blocking(|s| s.run_status()).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CassServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cass", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "cass searches the user's local coding-agent histories. Use search to recall earlier work, \
                 then expand (a hit's message_id) or get_conversation (its conversation_id) to read more; \
                 list_sessions browses recent sessions without a query.",
            )
    }
}
