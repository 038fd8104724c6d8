//! The semantic progress sink: one JSON line per backfill transition, in the
//! `cass.semantic.progress.v1` format (`shared/specs/progress-jsonl.md`).
//!
//! Push, not pull: the backfill emits every event unconditionally and a
//! disabled sink costs one branch. Telemetry never fails a backfill: an
//! unopenable file is one warning, a failed write is swallowed (the first
//! failure after a success is one warning).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The `schema` value of every line; bumped on any breaking change.
pub const SCHEMA: &str = "cass.semantic.progress.v1";
/// The setting that names the progress file (read by the CLI, not here).
pub const ENV_VAR: &str = "CASS_SEMANTIC_PROGRESS_JSONL";

/// The 16 events of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Before the next batch's messages are selected.
    SelectionStart,
    /// Selection finished; carries the batch's row count.
    SelectionDone,
    /// Before the batch's conversation envelopes are loaded and inputs built.
    PacketReplayStart,
    /// A periodic tick while replay runs, so a slow one is not taken for a stalled model.
    PacketReplayProgress,
    /// The embedding inputs are ready.
    PacketReplayDone,
    /// Just before the embedder runs on the batch.
    EmbedBatchStart,
    /// The embedder returned.
    EmbedBatchDone,
    /// Before the batch's vectors are appended to the staging file.
    StagingWriteStart,
    /// The staging write and its fsync returned.
    StagingWriteDone,
    /// Before the manifest with the batch's cursor is written.
    CheckpointSaveStart,
    /// The checkpoint is durable.
    CheckpointSaveDone,
    /// Before the staged rows are published as a segment.
    PublishStart,
    /// The segment is published: the tier is searchable with it.
    PublishDone,
    /// The backfill stopped with an error (terminal).
    Error,
    /// The backfill stopped cooperatively: signal or time budget (terminal).
    Cancelled,
    /// All work finished (terminal).
    Complete,
}

impl Event {
    /// All 16 events, in pipeline order.
    pub const ALL: [Event; 16] = [
        Event::SelectionStart,
        Event::SelectionDone,
        Event::PacketReplayStart,
        Event::PacketReplayProgress,
        Event::PacketReplayDone,
        Event::EmbedBatchStart,
        Event::EmbedBatchDone,
        Event::StagingWriteStart,
        Event::StagingWriteDone,
        Event::CheckpointSaveStart,
        Event::CheckpointSaveDone,
        Event::PublishStart,
        Event::PublishDone,
        Event::Error,
        Event::Cancelled,
        Event::Complete,
    ];

    /// (event name, phase, sub_phase) exactly as the contract spells them.
    pub fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Event::SelectionStart => ("selection_start", "selection", "start"),
            Event::SelectionDone => ("selection_done", "selection", "done"),
            Event::PacketReplayStart => ("packet_replay_start", "packet_replay", "start"),
            Event::PacketReplayProgress => ("packet_replay_progress", "packet_replay", "progress"),
            Event::PacketReplayDone => ("packet_replay_done", "packet_replay", "done"),
            Event::EmbedBatchStart => ("embed_batch_start", "embed", "start"),
            Event::EmbedBatchDone => ("embed_batch_done", "embed", "done"),
            Event::StagingWriteStart => ("staging_write_start", "staging", "start"),
            Event::StagingWriteDone => ("staging_write_done", "staging", "done"),
            Event::CheckpointSaveStart => ("checkpoint_save_start", "checkpoint", "start"),
            Event::CheckpointSaveDone => ("checkpoint_save_done", "checkpoint", "done"),
            Event::PublishStart => ("publish_start", "publish", "start"),
            Event::PublishDone => ("publish_done", "publish", "done"),
            Event::Error => ("error", "error", "error"),
            Event::Cancelled => ("cancelled", "cancelled", "cancelled"),
            Event::Complete => ("complete", "complete", "complete"),
        }
    }

    /// True for the three events that end a run; each run emits exactly one.
    pub fn is_terminal(self) -> bool {
        matches!(self, Event::Error | Event::Cancelled | Event::Complete)
    }
}

/// The optional fields; `None` is omitted from the line, never `null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// Batch number within this run, from 0.
    pub batch_index: Option<u64>,
    /// Rows in the current batch.
    pub batch_rows: Option<u64>,
    /// Rows processed so far in this run.
    pub rows_processed: Option<u64>,
    /// Rows expected in this run (best effort).
    pub rows_total: Option<u64>,
    /// The tier's conversation cursor at this event.
    pub last_conversation_id: Option<i64>,
    /// The tier's message-id cursor at this event.
    pub last_message_id: Option<i64>,
    /// Distinct conversations in the current batch.
    pub conversations_in_batch: Option<u64>,
    /// Short free-form context (why a run was cancelled, replay counts).
    pub note: Option<String>,
    /// Bytes touched: content selected, text embedded, or bytes staged or published.
    pub bytes: Option<u64>,
    /// The error text, on `error` events.
    pub error: Option<String>,
}

/// Where events go. Shared across threads; lines never interleave.
pub struct ProgressSink {
    file: Option<Mutex<File>>,
    path: Option<PathBuf>,
    opened: Instant,
    tier: String,
    embedder_id: String,
    writes_ok: AtomicU64,
    warned: AtomicBool,
}

impl ProgressSink {
    /// A sink that writes nothing.
    pub fn disabled() -> ProgressSink {
        ProgressSink {
            file: None,
            path: None,
            opened: Instant::now(),
            tier: "unknown".into(),
            embedder_id: String::new(),
            writes_ok: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// A sink for the configured progress file (the CLI resolves
    /// `CASS_SEMANTIC_PROGRESS_JSONL` into it: unset, empty or blank is
    /// `None`), or a disabled one.
    pub fn for_setting(path: Option<&Path>, tier: &str, embedder_id: &str) -> ProgressSink {
        match path {
            Some(p) => Self::to_path(p, tier, embedder_id),
            None => Self::disabled().labelled(tier, embedder_id),
        }
    }

    /// Appends to `path`, creating it and its parent directories. If that
    /// fails, warns once and returns a disabled sink.
    pub fn to_path(path: &Path, tier: &str, embedder_id: &str) -> ProgressSink {
        let open = || -> std::io::Result<File> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            OpenOptions::new().create(true).append(true).open(path)
        };
        match open() {
            Ok(f) => ProgressSink { file: Some(Mutex::new(f)), path: Some(path.to_path_buf()), ..Self::disabled() }
                .labelled(tier, embedder_id),
            Err(e) => {
                eprintln!(
                    "cass: warning: semantic progress file {}: {e}; continuing without telemetry",
                    path.display()
                );
                Self::disabled().labelled(tier, embedder_id)
            }
        }
    }

    fn labelled(mut self, tier: &str, embedder_id: &str) -> ProgressSink {
        self.tier = tier.to_string();
        self.embedder_id = embedder_id.to_string();
        self
    }

    /// Whether events are written (callers may skip computing costly fields).
    pub fn is_active(&self) -> bool {
        self.file.is_some()
    }

    /// The file events are appended to, when active.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Writes one event line; a failed write never fails the caller.
    pub fn emit(&self, event: Event, fields: &Fields) {
        let Some(file) = &self.file else { return };
        let line = self.render(event, fields);
        let result = match file.lock() {
            Ok(mut f) => f
                .write(line.as_bytes())
                .and_then(|n| if n == line.len() { Ok(()) } else { Err(std::io::Error::other("short write")) }),
            Err(_) => Err(std::io::Error::other("sink lock poisoned")),
        };
        match result {
            Ok(()) => {
                self.writes_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if self.writes_ok.load(Ordering::Relaxed) > 0 && !self.warned.swap(true, Ordering::Relaxed) {
                    eprintln!("cass: warning: cannot write semantic progress: {e}; further failures are silent");
                }
            }
        }
    }

    /// One line: a JSON object with the contract's keys in its order.
    pub fn render(&self, event: Event, f: &Fields) -> String {
        let (name, phase, sub) = event.names();
        let now_ms = crate::time::now_ms();
        let mut s = String::with_capacity(256);
        s.push('{');
        let _ = write!(s, "\"schema\":{}", json_str(SCHEMA));
        let _ =
            write!(s, ",\"event\":{},\"phase\":{},\"sub_phase\":{}", json_str(name), json_str(phase), json_str(sub));
        let _ = write!(s, ",\"ts_ms\":{now_ms},\"elapsed_ms\":{}", self.opened.elapsed().as_millis());
        let _ = write!(s, ",\"tier\":{},\"embedder_id\":{}", json_str(&self.tier), json_str(&self.embedder_id));
        if let Some(rss) = rss_mib() {
            let _ = write!(s, ",\"rss_mib\":{rss}");
        }
        let mut num = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = write!(s, ",\"{k}\":{v}");
            }
        };
        num("batch_index", f.batch_index.map(|v| v.to_string()));
        num("batch_rows", f.batch_rows.map(|v| v.to_string()));
        num("rows_processed", f.rows_processed.map(|v| v.to_string()));
        num("rows_total", f.rows_total.map(|v| v.to_string()));
        num("last_conversation_id", f.last_conversation_id.map(|v| v.to_string()));
        num("last_message_id", f.last_message_id.map(|v| v.to_string()));
        num("conversations_in_batch", f.conversations_in_batch.map(|v| v.to_string()));
        num("note", f.note.as_deref().map(json_str));
        num("bytes", f.bytes.map(|v| v.to_string()));
        num("error", f.error.as_deref().map(json_str));
        s.push_str("}\n");
        s
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Resident set size in MiB from `/proc/self/status` (`None` elsewhere).
pub fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_contract_key_order_and_omit_absent_fields() {
        let sink = ProgressSink::disabled().labelled("fast", "hash");
        let line = sink.render(
            Event::EmbedBatchDone,
            &Fields { batch_index: Some(3), batch_rows: Some(128), rows_processed: Some(512), ..Default::default() },
        );
        assert!(line.ends_with("}\n"));
        let keys: Vec<String> = {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert!(!line.contains("null"));
            assert_eq!(v["schema"], SCHEMA);
            // serde_json without preserve_order sorts keys; check order on the text.
            let mut ks = Vec::new();
            let mut rest = line.as_str();
            while let Some(i) = rest.find("\":") {
                let start = rest[..i].rfind('"').unwrap();
                ks.push(rest[start + 1..i].to_string());
                rest = &rest[i + 2..];
            }
            ks
        };
        let mut want = vec!["schema", "event", "phase", "sub_phase", "ts_ms", "elapsed_ms", "tier", "embedder_id"];
        if keys.contains(&"rss_mib".to_string()) {
            want.push("rss_mib");
        }
        want.extend(["batch_index", "batch_rows", "rows_processed"]);
        assert_eq!(keys, want);
    }
}
