//! The ingest pipeline: connectors parse files in parallel and push what they
//! read through a bounded channel to one writer thread, which owns the SQLite
//! connection and commits in batches. The bound keeps memory flat however
//! large the files are.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, sync_channel};

use rayon::prelude::*;

use super::discover::{Candidate, HEAD_BYTES, Plan, head_hash, tail_hash};
use crate::connectors::{Connector, ParseEnd, ParseError, ParseRequest, ParseSink};
use crate::model::{ConversationHeader, Message, Usage};
use crate::privacy::Privacy;
use crate::redact::Redactor;
use crate::store::privacy::{ForgetSet, Redaction};
use crate::store::{self, Store, ingest as db};

/// Messages (or bytes of content) buffered per file before a send.
const BATCH_MESSAGES: usize = 512;
const BATCH_BYTES: usize = 1 << 20;
/// Longest message text stored, in bytes. Past it the text is cut (at a
/// character boundary) and the cut marked: a 50 MB pasted log would
/// otherwise take about 20 times its size in the lexical build.
pub const MAX_MESSAGE_BYTES: usize = 2 << 20;
/// Rows written per SQLite transaction.
const COMMIT_EVERY: usize = 20_000;

/// A unit of work: one file and how to read it.
pub struct Job {
    /// The file, as discovery found it.
    pub candidate: Candidate,
    /// How to read it.
    pub plan: Plan,
}

enum Event {
    Header(usize, ConversationHeader),
    /// A file's messages, the redaction records of those that had a
    /// secret replaced (by position in the batch), and the usage of model
    /// calls, each after the messages before it (a count of the batch's).
    Messages(usize, Vec<Message>, Vec<(usize, Redaction)>, Vec<(usize, Usage)>),
    Malformed(usize, u64, String),
    End(usize, Result<ParseEnd, ParseError>),
}

/// Per-file outcome, for the run report.
#[derive(Debug, Default, Clone)]
pub struct FileOutcome {
    /// Distinct conversations it sent this run (new or continued).
    pub conversations: usize,
    /// Messages written to the store.
    pub messages: usize,
    /// Bad lines or records skipped, plus messages sent before any conversation.
    pub malformed: usize,
    /// A final line without its newline was left for the next run.
    pub partial_tail: bool,
    /// Why the file could not be read at all, if so.
    pub unreadable: Option<String>,
    /// Messages written with secrets replaced.
    pub messages_redacted: usize,
    /// Secrets replaced in them.
    pub secrets_redacted: usize,
    /// Conversations kept out (excluded or forgotten).
    pub conversations_held_back: usize,
    /// Model calls whose token usage was written (new or changed).
    pub usage_records: usize,
}

/// Where a parser thread sends what it reads. Redaction happens here, on
/// the parser threads, before anything reaches the writer: no secret is
/// ever written, and the cost is spread over every core.
struct ChannelSink<'r> {
    job: usize,
    tx: SyncSender<Event>,
    buf: Vec<Message>,
    notes: Vec<(usize, Redaction)>,
    usage: Vec<(usize, Usage)>,
    bytes: usize,
    redactor: Option<&'r Redactor>,
}

impl ChannelSink<'_> {
    fn flush(&mut self) {
        if !self.buf.is_empty() || !self.usage.is_empty() {
            let batch = std::mem::take(&mut self.buf);
            let notes = std::mem::take(&mut self.notes);
            let usage = std::mem::take(&mut self.usage);
            self.bytes = 0;
            let _ = self.tx.send(Event::Messages(self.job, batch, notes, usage));
        }
    }

    /// `text` with its secrets replaced, and the record, if any were.
    fn redact(&self, text: &mut String) -> Option<Redaction> {
        let out = self.redactor?.redact(text);
        let note = Redaction::of(&out.report)?;
        *text = out.text.into_owned();
        Some(note)
    }
}

impl ParseSink for ChannelSink<'_> {
    fn conversation(&mut self, mut header: ConversationHeader) {
        self.flush();
        if let Some(title) = &mut header.title {
            self.redact(title);
        }
        let _ = self.tx.send(Event::Header(self.job, header));
    }
    fn message(&mut self, mut message: Message) {
        // Redacted before the cut: a cut inside a token would leave a
        // first half no rule recognises.
        if let Some(note) = self.redact(&mut message.content) {
            self.notes.push((self.buf.len(), note));
        }
        cut_content(&mut message.content);
        self.bytes += message.content.len();
        self.buf.push(message);
        if self.buf.len() >= BATCH_MESSAGES || self.bytes >= BATCH_BYTES {
            self.flush();
        }
    }
    fn malformed(&mut self, line: u64, mut error: String) {
        // Parser messages may quote the line they could not read.
        self.redact(&mut error);
        let _ = self.tx.send(Event::Malformed(self.job, line, error));
    }
    fn usage(&mut self, usage: Usage) {
        self.usage.push((self.buf.len(), usage));
        if self.usage.len() >= BATCH_MESSAGES {
            self.flush();
        }
    }
}

/// Cuts a text longer than [`MAX_MESSAGE_BYTES`], saying so at the end.
pub(crate) fn cut_content(text: &mut String) {
    if text.len() <= MAX_MESSAGE_BYTES {
        return;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("\n[… cut by cass: {dropped} more bytes of this message are in the session file]"));
    text.shrink_to_fit();
}

/// Parses every job and writes the results, redacted and without what
/// `privacy` and `forgets` keep out. Returns one outcome per job.
pub fn run(
    store: &mut Store,
    connectors: &[Box<dyn Connector>],
    jobs: &[Job],
    keep_out: &KeepOut<'_>,
    remotes: &[crate::remote::Origin],
    on_file_done: &(dyn Fn(&Candidate) + Sync),
) -> store::Result<Vec<FileOutcome>> {
    let redactor = keep_out.privacy.redactor();
    let (tx, rx) = sync_channel::<Event>(64);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            jobs.par_iter().enumerate().for_each_with(tx, |tx, (i, job)| {
                let conn = &connectors[job.candidate.connector];
                let (start_offset, start_line, resume) = match &job.plan {
                    Plan::Tail { offset, line, resume } => {
                        (*offset, *line, resume.as_deref().and_then(|r| serde_json::from_str(r).ok()))
                    }
                    Plan::Refresh { resume } => (0, 1, resume.as_deref().and_then(|r| serde_json::from_str(r).ok())),
                    _ => (0, 1, None),
                };
                let req = ParseRequest { path: &job.candidate.path, start_offset, start_line, resume: resume.as_ref() };
                let mut sink = ChannelSink {
                    job: i,
                    tx: tx.clone(),
                    buf: Vec::new(),
                    notes: Vec::new(),
                    usage: Vec::new(),
                    bytes: 0,
                    redactor,
                };
                crate::faults::vanish(&job.candidate.path);
                let result = crate::guard::catch(|| conn.parse(&req, &mut sink)).unwrap_or_else(|panic| {
                    Err(ParseError::Format {
                        path: job.candidate.path.clone(),
                        message: format!("parser panicked: {panic}"),
                    })
                });
                sink.flush();
                let _ = tx.send(Event::End(i, result));
                on_file_done(&job.candidate);
            });
        });
        let mut writer = Writer::new(store, connectors, jobs, keep_out, remotes)?;
        for event in rx {
            writer.apply(event)?;
        }
        writer.finish()
    })
}

/// What an ingest keeps out of the store: the compiled privacy settings
/// (redaction, exclusions) and the forgets recorded in the store.
pub struct KeepOut<'a> {
    /// Redaction and exclusions.
    pub privacy: &'a Privacy,
    /// What `cass forget` recorded.
    pub forgets: &'a ForgetSet,
}

/// Where the writer is within one conversation of a file.
#[derive(Clone, Copy)]
struct ConvCursor {
    /// Its row id.
    id: i64,
    /// The ordinal the next message takes.
    next: i64,
    /// Where its stored messages ended when this run first met it: a
    /// re-read compares messages before it with the stored ones.
    stored_end: i64,
    /// The position the next model call takes.
    next_call: i64,
}

/// Where the writer is within one file.
#[derive(Default)]
struct FileCursor {
    began: bool,
    conversations: HashMap<String, ConvCursor>, // by external id
    current: Option<String>,
    /// Conversations of this file kept out: their messages are dropped.
    held_back: std::collections::HashSet<String>,
    outcome: FileOutcome,
}

struct Writer<'a> {
    tx: db::IngestTx<'a>,
    connectors: &'a [Box<dyn Connector>],
    jobs: &'a [Job],
    keep_out: &'a KeepOut<'a>,
    /// The remote machines candidates with an `origin` come from.
    remotes: &'a [crate::remote::Origin],
    cursors: Vec<FileCursor>,
    rows_since_commit: usize,
}

impl<'a> Writer<'a> {
    fn new(
        store: &'a mut Store,
        connectors: &'a [Box<dyn Connector>],
        jobs: &'a [Job],
        keep_out: &'a KeepOut<'a>,
        remotes: &'a [crate::remote::Origin],
    ) -> store::Result<Self> {
        let tx = store.ingest()?;
        Ok(Writer {
            tx,
            connectors,
            jobs,
            keep_out,
            remotes,
            cursors: jobs.iter().map(|_| FileCursor::default()).collect(),
            rows_since_commit: 0,
        })
    }

    /// Whether a conversation this header names is kept out. Checked on
    /// every header: a workspace may be named only by a later one (what
    /// was written before that is removed after the run, by the purge).
    fn keeps_out(&self, job: usize, header: &ConversationHeader) -> bool {
        let (agent, path) = (self.agent(job), self.path(job));
        let ws = header.workspace.as_deref();
        self.keep_out.privacy.excludes(agent, &path, ws)
            || self.keep_out.forgets.conversation(agent, &path, &header.external_id, ws)
    }

    fn agent(&self, job: usize) -> &'static str {
        self.connectors[self.jobs[job].candidate.connector].agent().slug()
    }

    fn path(&self, job: usize) -> String {
        self.jobs[job].candidate.path.to_string_lossy().into_owned()
    }

    /// First event of a file: clear what a crashed earlier append left past
    /// the stored offset. A full re-read deletes nothing up front: it
    /// reconciles what it reads with what is stored, and removes what is
    /// gone only at the file's end, so a crash at any instant leaves rows a
    /// re-run converges from.
    fn begin(&mut self, job: usize) -> store::Result<()> {
        if self.cursors[job].began {
            return Ok(());
        }
        self.cursors[job].began = true;
        let (agent, path) = (self.agent(job), self.path(job));
        match &self.jobs[job].plan {
            Plan::Tail { offset, line, .. } => {
                db::truncate_source_from(&self.tx, agent, &path, *offset)?;
                db::clear_errors_from(&self.tx, &path, (*line).max(1))?;
            }
            // Each conversation the refresh emits is reconciled when its
            // header arrives; the others are left alone. Recorded errors are all
            // reported again (the connector replays those of conversations
            // it does not re-read).
            Plan::Refresh { .. } => {
                db::clear_errors(&self.tx, &path)?;
            }
            _ => {
                db::clear_errors(&self.tx, &path)?;
                // Until this file's end is written, it counts as never read:
                // a run killed after a commit mid-file re-reads it in full,
                // even if the file itself does not change again.
                db::forget_file_state(&self.tx, &path)?;
            }
        }
        Ok(())
    }

    /// True when this file's messages are reconciled with the stored ones
    /// (a full re-read or a database refresh) rather than appended.
    fn reconciles(&self, job: usize) -> bool {
        matches!(self.jobs[job].plan, Plan::Full | Plan::Refresh { .. })
    }

    /// The end of a reconciled file: each conversation it emitted ends where
    /// the re-read ended, and (for a full re-read) the conversations it no
    /// longer has go.
    fn finish_reconcile(&mut self, job: usize) -> store::Result<()> {
        let mut seen = Vec::new();
        for c in self.cursors[job].conversations.values() {
            db::finish_conversation(&self.tx, c.id, c.next)?;
            db::finish_usage(&self.tx, c.id, c.next_call)?;
            seen.push(c.id);
        }
        if matches!(self.jobs[job].plan, Plan::Full) {
            let (agent, path) = (self.agent(job), self.path(job));
            db::remove_conversations_except(&self.tx, agent, &path, &seen)?;
        }
        Ok(())
    }

    /// The machine a job's file comes from (`None`: this one).
    fn remote(&self, job: usize) -> Option<&'a crate::remote::Origin> {
        let origin = self.jobs[job].candidate.origin;
        origin.checked_sub(1).and_then(|i| self.remotes.get(i))
    }

    fn apply(&mut self, event: Event) -> store::Result<()> {
        match event {
            Event::Header(job, mut header) => {
                self.begin(job)?;
                // A remote machine's workspace reads as its mapping says
                // (and a connector that takes it from the file's place
                // gave the mirror's path: back to the remote's first).
                let remote = self.remote(job);
                let mut origin_workspace = None;
                if let (Some(r), Some(ws)) = (remote, header.workspace.as_deref()) {
                    let (mapped, original) = r.workspace(ws);
                    header.workspace = Some(mapped);
                    origin_workspace = Some(original);
                }
                if self.cursors[job].held_back.contains(&header.external_id) || self.keeps_out(job, &header) {
                    let path = self.path(job);
                    crate::store::privacy::hold_back(&self.tx, &path)?;
                    let cur = &mut self.cursors[job];
                    if cur.held_back.insert(header.external_id.clone()) {
                        cur.outcome.conversations_held_back += 1;
                    }
                    cur.current = Some(header.external_id);
                    return Ok(());
                }
                let (agent, path) = (self.agent(job), self.path(job));
                let origin_path = remote.and_then(|r| r.remote_path(&self.jobs[job].candidate.path));
                let origin = match remote {
                    Some(r) => db::ConvOrigin {
                        source: &r.machine.name,
                        origin_path: origin_path.as_deref(),
                        origin_workspace: origin_workspace.as_deref(),
                    },
                    None => db::ConvOrigin::LOCAL,
                };
                let (id, mut next) = db::upsert_conversation(&self.tx, agent, &path, &header, &origin)?;
                let stored_end = next;
                if self.reconciles(job) {
                    // A re-read starts the conversation over: its messages
                    // are matched with the stored ones from the first on.
                    next = 0;
                }
                let first = !self.cursors[job].conversations.contains_key(&header.external_id);
                if first
                    && self.connectors[self.jobs[job].candidate.connector]
                        .supersedes_others(&self.jobs[job].candidate.path)
                {
                    db::remove_superseded(&self.tx, agent, &path, &header.external_id, origin.source)?;
                }
                // A re-read matches calls from the first on; an append
                // continues after the stored ones.
                let next_call = if !first || self.reconciles(job) { 0 } else { db::next_call(&self.tx, id)? };
                let cur = &mut self.cursors[job];
                if first {
                    cur.outcome.conversations += 1;
                }
                let entry = cur.conversations.entry(header.external_id.clone()).or_insert(ConvCursor {
                    id,
                    next,
                    stored_end,
                    next_call,
                });
                entry.id = id;
                cur.current = Some(header.external_id);
                self.rows_since_commit += 1;
            }
            Event::Messages(job, messages, notes, usage) => {
                self.begin(job)?;
                let cur = &mut self.cursors[job];
                let Some(key) = cur.current.clone() else {
                    cur.outcome.malformed += messages.len();
                    return Ok(());
                };
                if cur.held_back.contains(&key) {
                    return Ok(());
                }
                let ConvCursor { id, next, stored_end, next_call } = cur.conversations[&key];
                let reconciles = self.reconciles(job);
                let written = if reconciles {
                    db::reconcile_messages(&self.tx, id, next, stored_end, &messages, &notes)?.written
                } else {
                    db::insert_messages(&self.tx, id, next, &messages, &notes)?;
                    messages.len()
                };
                // Each call belongs to the message it wrote: the last one sent before it.
                let calls: Vec<(Option<i64>, &crate::model::Usage)> = usage
                    .iter()
                    .map(|(before, u)| {
                        let last = next + *before as i64 - 1;
                        ((last >= 0).then_some(last), u)
                    })
                    .collect();
                let calls_written = if reconciles {
                    db::reconcile_usage(&self.tx, id, next_call, &calls)?
                } else {
                    for (k, (ordinal, u)) in calls.iter().enumerate() {
                        db::insert_usage(&self.tx, id, next_call + k as i64, *ordinal, u)?;
                    }
                    calls.len()
                };
                let cur = &mut self.cursors[job];
                cur.conversations.insert(
                    key,
                    ConvCursor {
                        id,
                        next: next + messages.len() as i64,
                        stored_end,
                        next_call: next_call + usage.len() as i64,
                    },
                );
                cur.outcome.usage_records += calls_written;
                cur.outcome.messages += written;
                cur.outcome.messages_redacted += notes.len();
                cur.outcome.secrets_redacted += notes.iter().map(|(_, n)| n.count as usize).sum::<usize>();
                self.rows_since_commit += messages.len() + usage.len();
            }
            Event::Malformed(job, line, error) => {
                self.begin(job)?;
                let path = self.path(job);
                db::record_error(&self.tx, &path, line, &error)?;
                self.cursors[job].outcome.malformed += 1;
            }
            Event::End(job, result) => self.end(job, result)?,
        }
        if self.rows_since_commit >= COMMIT_EVERY {
            self.commit()?;
        }
        Ok(())
    }

    fn end(&mut self, job: usize, result: Result<ParseEnd, ParseError>) -> store::Result<()> {
        let (agent, path) = (self.agent(job), self.path(job));
        match result {
            Ok(end) => {
                self.begin(job)?;
                let c = &self.jobs[job].candidate;
                let head = head_hash(&c.path, end.offset.min(HEAD_BYTES)).unwrap_or(0);
                let tail = tail_hash(&c.path, end.offset).unwrap_or(0);
                if self.reconciles(job) {
                    self.finish_reconcile(job)?;
                }
                db::save_file_state(
                    &self.tx,
                    &db::FileState {
                        path: path.clone(),
                        agent: agent.to_string(),
                        size: c.size.max(end.offset),
                        mtime_ns: c.mtime_ns,
                        inode: c.inode,
                        head_hash: head,
                        offset: end.offset,
                        next_line: end.next_line,
                        resume: end.resume.map(|r| r.to_string()),
                        tail_hash: tail,
                    },
                )?;
                self.cursors[job].outcome.partial_tail = end.partial_tail;
            }
            Err(e) => {
                // Unreadable now: say so (once per path) and keep what an
                // earlier run read from it. A passing cause (a lock) forgets
                // the file's state so the next run reads it again in full; a
                // lasting one (encryption) remembers it, so it is skipped
                // until the file changes.
                db::clear_errors(&self.tx, &path)?;
                db::record_unreadable(&self.tx, &path, &e.reason())?;
                if e.retry() {
                    db::forget_file_state(&self.tx, &path)?;
                } else {
                    let c = &self.jobs[job].candidate;
                    db::save_file_state(
                        &self.tx,
                        &db::FileState {
                            path: path.clone(),
                            agent: agent.to_string(),
                            size: c.size,
                            mtime_ns: c.mtime_ns,
                            inode: c.inode,
                            head_hash: head_hash(&c.path, c.size.min(HEAD_BYTES)).unwrap_or(0),
                            offset: 0,
                            next_line: 1,
                            resume: None,
                            tail_hash: 0,
                        },
                    )?;
                }
                self.cursors[job].outcome.unreadable = Some(e.reason());
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> store::Result<()> {
        self.tx.checkpoint()?;
        self.rows_since_commit = 0;
        Ok(())
    }

    fn finish(self) -> store::Result<Vec<FileOutcome>> {
        self.tx.finish()?;
        Ok(self.cursors.into_iter().map(|c| c.outcome).collect())
    }
}
