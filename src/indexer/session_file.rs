//! One session file read straight into memory, the way an index run reads
//! it but without the store: `cass view FILE` of a file that is not
//! indexed. Text is redacted and cut exactly as ingest does it, so this
//! never shows a secret the index would have hidden.
//!
//! Which connector reads it: the one whose roots hold the file (as
//! discovery would choose, the most specific root winning), else, by
//! content, the one among those whose `is_source` accepts the path that
//! reads the most messages from it; on a tie, the one that finds more of
//! the session's facts (its workspace), then fewer malformed lines. Several
//! agents write JSONL of `{"type": "message", "message": {…}}` records
//! (Claude Code, Pi-Agent, Factory): each parser reads the others' messages,
//! but only the right one finds the session record naming the workspace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::connectors::{self, AgentEnv, Connector, ParseError, ParseRequest, ParseSink};
use crate::model::{Conversation, ConversationHeader, Message, StoredMessage};
use crate::redact::Redactor;

/// One conversation of the file, with every message.
#[derive(Debug, Clone)]
pub struct FileConversation {
    /// The conversation; `id` is 0 (it has none: it is not in the store).
    pub conversation: Conversation,
    /// Its messages in order; each `id` is 0.
    pub messages: Vec<StoredMessage>,
}

/// What a session file holds, read now.
#[derive(Debug, Clone)]
pub struct SessionFile {
    /// The agent whose connector read it.
    pub agent: &'static str,
    /// Its conversations that have messages, in the order the file has them.
    pub conversations: Vec<FileConversation>,
    /// Bad lines or records skipped (valid ones are read).
    pub malformed: usize,
}

/// Why a session file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadFileError {
    /// No connector reads this path as a session.
    #[error("{}: no agent's session format reads this file", .0.display())]
    Unknown(PathBuf),
    /// The connector could not read it at all.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The redaction settings do not compile.
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
}

/// Reads `path` (absolute) with the connector that owns it; `redactor` is
/// the one an index run would use (`None`: redaction off).
pub fn read(path: &Path, env: &AgentEnv, redactor: Option<&Redactor>) -> Result<SessionFile, ReadFileError> {
    let connectors = connectors::configured(env);
    if let Some(owner) = by_location(&connectors, env, path) {
        let c = &connectors[owner];
        return Ok(parse(c.as_ref(), path, redactor)?);
    }
    // Not under any agent's roots: each connector that takes the path for
    // one of its sessions (below any directory above it) has a go.
    let mut best: Option<SessionFile> = None;
    let mut failure = None;
    for c in connectors.iter().filter(|c| path.ancestors().skip(1).any(|root| c.is_source(root, path))) {
        match parse(c.as_ref(), path, redactor) {
            Ok(read) => {
                if messages(&read) > 0 && best.as_ref().is_none_or(|b| score(&read) > score(b)) {
                    best = Some(read);
                }
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    match (best, failure) {
        (Some(read), _) => Ok(read),
        (None, Some(e)) => Err(e.into()),
        (None, None) => Err(ReadFileError::Unknown(path.to_path_buf())),
    }
}

fn messages(f: &SessionFile) -> usize {
    f.conversations.iter().map(|c| c.messages.len()).sum()
}

/// How well a connector read a file: messages, then conversations whose
/// workspace it found, then fewer malformed lines.
fn score(f: &SessionFile) -> (usize, usize, std::cmp::Reverse<usize>) {
    let placed = f.conversations.iter().filter(|c| c.conversation.workspace.is_some()).count();
    (messages(f), placed, std::cmp::Reverse(f.malformed))
}

/// The connector whose roots hold `path` and that takes it for a session;
/// the most specific root wins (Aider's root is the home, which holds the
/// others').
fn by_location(connectors: &[Box<dyn Connector>], env: &AgentEnv, path: &Path) -> Option<usize> {
    connectors
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.roots(env).into_iter().map(move |r| (i, r)))
        .filter(|(i, r)| path.starts_with(&r.path) && connectors[*i].is_source(&r.path, path))
        .max_by_key(|(_, r)| r.path.components().count())
        .map(|(i, _)| i)
}

fn parse(c: &dyn Connector, path: &Path, redactor: Option<&Redactor>) -> Result<SessionFile, ParseError> {
    let mut sink = MemorySink { redactor, ..MemorySink::default() };
    let req = ParseRequest { path, start_offset: 0, start_line: 1, resume: None };
    crate::guard::catch(|| c.parse(&req, &mut sink)).unwrap_or_else(|panic| {
        Err(ParseError::Format { path: path.to_path_buf(), message: format!("parser panicked: {panic}") })
    })?;
    let agent = c.agent().slug();
    let conversations = sink
        .conversations
        .into_iter()
        .filter(|(_, msgs)| !msgs.is_empty())
        .map(|(header, msgs)| file_conversation(agent, path, header, msgs))
        .collect();
    Ok(SessionFile { agent, conversations, malformed: sink.malformed })
}

/// The conversation and its messages as the store would hold them, ids 0.
fn file_conversation(agent: &str, path: &Path, h: ConversationHeader, msgs: Vec<Message>) -> FileConversation {
    let times = || msgs.iter().filter_map(|m| m.created_at);
    let conversation = Conversation {
        id: 0,
        agent: agent.to_string(),
        external_id: h.external_id,
        source_path: path.to_path_buf(),
        title: h.title,
        workspace: h.workspace,
        started_at: times().min(),
        ended_at: times().max(),
        message_count: msgs.len() as i64,
        source: crate::filters::LOCAL_SOURCE.to_string(),
        origin_path: None,
    };
    let messages = msgs
        .into_iter()
        .enumerate()
        .map(|(i, m)| StoredMessage {
            id: 0,
            conversation_id: 0,
            ordinal: i as i64,
            role: m.role,
            author: m.author,
            created_at: m.created_at,
            content: m.content,
        })
        .collect();
    FileConversation { conversation, messages }
}

/// Collects a parse in memory, merging repeated headers as the store does.
#[derive(Default)]
struct MemorySink<'r> {
    conversations: Vec<(ConversationHeader, Vec<Message>)>,
    by_id: HashMap<String, usize>,
    current: Option<usize>,
    malformed: usize,
    redactor: Option<&'r Redactor>,
}

impl MemorySink<'_> {
    fn redact(&self, text: &mut String) {
        if let Some(r) = self.redactor {
            let out = r.redact(text);
            if !out.report.is_empty() {
                *text = out.text.into_owned();
            }
        }
    }
}

impl ParseSink for MemorySink<'_> {
    fn conversation(&mut self, mut header: ConversationHeader) {
        if let Some(title) = &mut header.title {
            self.redact(title);
        }
        let i = match self.by_id.get(&header.external_id) {
            Some(&i) => {
                // As the store merges them: an explicit title replaces a
                // derived one, never the reverse; the first workspace stays.
                let (old, _) = &mut self.conversations[i];
                if header.title.is_some() && (header.title_explicit || old.title.is_none()) {
                    old.title = header.title;
                    old.title_explicit |= header.title_explicit;
                }
                if old.workspace.is_none() {
                    old.workspace = header.workspace;
                }
                i
            }
            None => {
                self.by_id.insert(header.external_id.clone(), self.conversations.len());
                self.conversations.push((header, Vec::new()));
                self.conversations.len() - 1
            }
        };
        self.current = Some(i);
    }

    fn message(&mut self, mut message: Message) {
        let Some(i) = self.current else {
            // A message before any conversation: the writer counts it so too.
            self.malformed += 1;
            return;
        };
        self.redact(&mut message.content);
        super::ingest::cut_content(&mut message.content);
        self.conversations[i].1.push(message);
    }

    fn malformed(&mut self, _line: u64, _error: String) {
        self.malformed += 1;
    }
}
