//! What the status line says about the index: when it last changed, and
//! whether a writer (index or backfill) is running right now — the
//! library's [`crate::status::Freshness`], put into words.

use crate::lock::LockHolder;
use crate::model::TimestampMs;
use crate::status::Freshness;

/// The index facts the status line shows, re-read every few seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexStatus {
    /// Time of the last lexical commit; `None` when there is no index.
    pub updated_at: Option<TimestampMs>,
    /// The process holding the writer lock, if one does.
    pub writer: Option<LockHolder>,
}

impl From<Freshness> for IndexStatus {
    fn from(f: Freshness) -> IndexStatus {
        IndexStatus { updated_at: f.updated_at, writer: f.writer }
    }
}

impl IndexStatus {
    /// `index 3m old · cass index running (pid 42)`, for the status line.
    pub fn describe(&self, now: TimestampMs) -> String {
        let fresh = match self.updated_at {
            Some(t) => format!("index updated {}", relative_time(now, t)),
            None => "no index yet".to_string(),
        };
        match &self.writer {
            Some(w) => format!("{fresh} · `cass {}` running (pid {})", super::text::one_line(&w.command), w.pid),
            None => fresh,
        }
    }
}

/// A local wall-clock time, `2026-03-10 14:02`, for message headers.
pub fn clock_time(ms: TimestampMs) -> String {
    crate::time::local_clock(ms)
}

/// `now`, `5m ago`, `3h ago`, `2d ago`, `4mo ago`, `1y ago`.
pub fn relative_time(now: TimestampMs, then: TimestampMs) -> String {
    let secs = (now - then) / 1000;
    if secs < 0 {
        return "in the future".into();
    }
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..2_592_000 => format!("{}d ago", secs / 86_400),
        2_592_000..31_536_000 => format!("{}mo ago", secs / 2_592_000),
        _ => format!("{}y ago", secs / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = 1_000_000_000_000;
        assert_eq!(relative_time(now, now - 5_000), "just now");
        assert_eq!(relative_time(now, now - 5 * 60_000), "5m ago");
        assert_eq!(relative_time(now, now - 3 * 3_600_000), "3h ago");
        assert_eq!(relative_time(now, now - 2 * 86_400_000), "2d ago");
        assert_eq!(relative_time(now, now - 95 * 86_400_000), "3mo ago");
        assert_eq!(relative_time(now, now - 800 * 86_400_000), "2y ago");
        assert_eq!(relative_time(now, now + 60_000), "in the future");
    }

    #[test]
    fn a_held_writer_lock_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let data = crate::config::DataDir::at(dir.path());
        let probe = || IndexStatus::from(crate::status::freshness(&data));
        assert_eq!(probe(), IndexStatus::default());
        let _lock = crate::lock::WriterLock::acquire(&data.lock(), "index").unwrap();
        let st = probe();
        let w = st.writer.as_ref().expect("held");
        assert_eq!((w.pid, w.command.as_str()), (std::process::id(), "index"));
        assert!(st.describe(0).contains("`cass index` running"), "{}", st.describe(0));
    }
}
