//! `cass semantic report`: reads a progress JSONL file and says where the
//! time went, run by run — per phase totals, rows/s, the slowest batches,
//! peak RSS — and names each stall as storage-side or model-side.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// Phases in pipeline order, and which side of the system each one stresses.
pub const PHASES: [(&str, Side); 6] = [
    ("selection", Side::Storage),
    ("packet_replay", Side::Storage),
    ("embed", Side::Model),
    ("staging", Side::Storage),
    ("checkpoint", Side::Storage),
    ("publish", Side::Storage),
];

/// Which part of the system a phase waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The store or the file system: selection, replay, staging, checkpoint, publish.
    Storage,
    /// The embedder.
    Model,
}

/// Time spent in one phase over a run.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTotal {
    /// The phase's name, as the progress file spells it.
    pub phase: &'static str,
    /// Which side it stresses.
    pub side: Side,
    /// Sum of its start-to-done intervals, in milliseconds.
    pub ms: u64,
    /// How many intervals were paired.
    pub count: u64,
    /// Fraction of the run's wall time, 0 to 1.
    pub share: f64,
}

/// One phase interval far slower than that phase's median: at least 4× and 100 ms.
#[derive(Debug, Clone, Serialize)]
pub struct Stall {
    /// The phase it happened in.
    pub phase: &'static str,
    /// Which side to blame.
    pub side: Side,
    /// The batch it belonged to, when the start event named one.
    pub batch_index: Option<u64>,
    /// How long the interval took, in milliseconds.
    pub ms: u64,
    /// How many times the phase's median this interval took.
    pub times_median: f64,
}

/// One run of the backfill, as its events tell it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The tier it built.
    pub tier: String,
    /// Id of the embedder that ran.
    pub embedder_id: String,
    /// `complete`, `cancelled`, `error`, or `incomplete` (no terminal event:
    /// the process died or is still running).
    pub outcome: String,
    /// The first error text among its events, if any.
    pub error: Option<String>,
    /// Time from opening the sink to the first event: loading the model
    /// (and opening the store), in milliseconds.
    pub model_load_ms: u64,
    /// Time from its first event to its last, in milliseconds.
    pub wall_ms: u64,
    /// Sum of all phase intervals; the rest of `wall_ms` is bookkeeping
    /// between events.
    pub phases_ms: u64,
    /// Time per phase, in pipeline order.
    pub phases: Vec<PhaseTotal>,
    /// Rows processed, the highest count any event carried.
    pub rows_processed: u64,
    /// Rows processed per second of wall time.
    pub rows_per_s: f64,
    /// Batches checkpointed.
    pub batches: u64,
    /// Highest resident set size seen, in MiB (absent when no event carried one).
    pub peak_rss_mib: Option<u64>,
    /// Up to five slowest batches as (batch index, ms in phases), slowest first.
    pub slowest_batches: Vec<(u64, u64)>,
    /// Up to ten stalls, longest first.
    pub stalls: Vec<Stall>,
}

/// What a progress file held.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The file read, as displayed.
    pub file: String,
    /// Non-blank lines read.
    pub lines: u64,
    /// Lines that were not progress events of this schema (a torn last line, say).
    pub unreadable_lines: u64,
    /// The runs found, in file order.
    pub runs: Vec<RunSummary>,
}

/// Reads a progress file (a torn last line is tolerated and counted).
pub fn read(path: &Path) -> std::io::Result<Report> {
    let file = std::fs::File::open(path)?;
    let mut runs = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let (mut lines, mut bad) = (0u64, 0u64);
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            bad += 1;
            continue;
        };
        if v.get("schema").and_then(Value::as_str) != Some(super::progress::SCHEMA) {
            bad += 1;
            continue;
        }
        // A new run starts when elapsed time goes backwards (a new sink).
        let elapsed = v.get("elapsed_ms").and_then(Value::as_u64).unwrap_or(0);
        let prev = current.last().and_then(|p| p.get("elapsed_ms")).and_then(Value::as_u64);
        if prev.is_some_and(|p| elapsed < p) {
            runs.push(summarize(std::mem::take(&mut current)));
        }
        let terminal = matches!(v.get("event").and_then(Value::as_str), Some("complete" | "cancelled" | "error"));
        current.push(v);
        if terminal {
            runs.push(summarize(std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        runs.push(summarize(current));
    }
    Ok(Report { file: path.display().to_string(), lines, unreadable_lines: bad, runs })
}

fn summarize(events: Vec<Value>) -> RunSummary {
    let get_u = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
    let get_s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let first = &events[0];
    let last = &events[events.len() - 1];
    let start = get_u(first, "elapsed_ms").unwrap_or(0);
    let end = get_u(last, "elapsed_ms").unwrap_or(start);
    let outcome = match get_s(last, "event").as_deref() {
        Some(e @ ("complete" | "cancelled" | "error")) => e.to_string(),
        _ => "incomplete".to_string(),
    };
    // Pair each *_start with the next *_done of the same phase.
    let mut open: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    let mut intervals: Vec<(&'static str, Option<u64>, u64)> = Vec::new();
    for e in &events {
        let (Some(phase), Some(sub)) = (get_s(e, "phase"), get_s(e, "sub_phase")) else {
            continue;
        };
        let at = get_u(e, "elapsed_ms").unwrap_or(0);
        match sub.as_str() {
            "start" => {
                open.insert(phase, (at, get_u(e, "batch_index")));
            }
            "done" => {
                if let Some((s, batch)) = open.remove(&phase)
                    && let Some(&(name, _)) = PHASES.iter().find(|(p, _)| *p == phase)
                {
                    intervals.push((name, batch, at.saturating_sub(s)));
                }
            }
            _ => {}
        }
    }
    let wall = end.saturating_sub(start);
    let phases_ms: u64 = intervals.iter().map(|i| i.2).sum();
    let phases: Vec<PhaseTotal> = PHASES
        .iter()
        .map(|&(phase, side)| {
            let (ms, count) = intervals.iter().filter(|i| i.0 == phase).fold((0, 0), |(m, c), i| (m + i.2, c + 1));
            PhaseTotal { phase, side, ms, count, share: if wall > 0 { ms as f64 / wall as f64 } else { 0.0 } }
        })
        .collect();
    let mut per_batch: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, b, ms) in &intervals {
        if let Some(b) = b {
            *per_batch.entry(*b).or_default() += ms;
        }
    }
    let mut slowest: Vec<(u64, u64)> = per_batch.into_iter().collect();
    slowest.sort_by_key(|&(b, ms)| (std::cmp::Reverse(ms), b));
    slowest.truncate(5);
    let mut stalls = Vec::new();
    for &(phase, side) in &PHASES {
        let mut durs: Vec<u64> = intervals.iter().filter(|i| i.0 == phase).map(|i| i.2).collect();
        if durs.len() < 3 {
            continue;
        }
        durs.sort_unstable();
        let median = durs[durs.len() / 2].max(1);
        for &(p, batch, ms) in &intervals {
            if p == phase && ms >= 100 && ms >= 4 * median {
                stalls.push(Stall { phase, side, batch_index: batch, ms, times_median: ms as f64 / median as f64 });
            }
        }
    }
    stalls.sort_by_key(|s| std::cmp::Reverse(s.ms));
    stalls.truncate(10);
    let rows = events.iter().filter_map(|e| get_u(e, "rows_processed")).max().unwrap_or(0);
    RunSummary {
        tier: get_s(first, "tier").unwrap_or_default(),
        embedder_id: get_s(first, "embedder_id").unwrap_or_default(),
        error: events.iter().find_map(|e| get_s(e, "error")),
        outcome,
        model_load_ms: start,
        wall_ms: wall,
        phases_ms,
        phases,
        rows_processed: rows,
        rows_per_s: if wall > 0 { rows as f64 * 1000.0 / wall as f64 } else { 0.0 },
        batches: events.iter().filter(|e| get_s(e, "event").as_deref() == Some("checkpoint_save_done")).count() as u64,
        peak_rss_mib: events.iter().filter_map(|e| get_u(e, "rss_mib")).max(),
        slowest_batches: slowest,
        stalls,
    }
}

/// The report as text for a person.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    use crate::words::count;
    let _ = writeln!(
        s,
        "{}: {}, {} unreadable, {}",
        r.file,
        count(r.lines, "event"),
        r.unreadable_lines,
        count(r.runs.len(), "run")
    );
    for (i, run) in r.runs.iter().enumerate() {
        let _ = writeln!(
            s,
            "\nrun {} — tier {} ({}), {}: {} in {:.2} s ({:.0} rows/s), {}, peak RSS {}",
            i + 1,
            run.tier,
            run.embedder_id,
            run.outcome,
            count(run.rows_processed, "row"),
            run.wall_ms as f64 / 1000.0,
            run.rows_per_s,
            count(run.batches, "batch"),
            run.peak_rss_mib.map_or("n/a".into(), |m| format!("{m} MiB"))
        );
        if let Some(e) = &run.error {
            let _ = writeln!(s, "  error: {e}");
        }
        let _ = writeln!(
            s,
            "  {:<14} {:>9} ms  (before the first event, not in the run's time)",
            "model load", run.model_load_ms
        );
        for p in &run.phases {
            let _ = writeln!(
                s,
                "  {:<14} {:>9} ms {:>6.1}%  ({}×, {}-side)",
                p.phase,
                p.ms,
                p.share * 100.0,
                p.count,
                side(p.side)
            );
        }
        let other = run.wall_ms.saturating_sub(run.phases_ms);
        let _ = writeln!(
            s,
            "  {:<14} {:>9} ms {:>6.1}%",
            "between events",
            other,
            if run.wall_ms > 0 { other as f64 * 100.0 / run.wall_ms as f64 } else { 0.0 }
        );
        if !run.slowest_batches.is_empty() {
            let list: Vec<String> = run.slowest_batches.iter().map(|(b, ms)| format!("#{b} {ms} ms")).collect();
            let _ = writeln!(s, "  slowest batches: {}", list.join(", "));
        }
        for st in &run.stalls {
            let _ = writeln!(
                s,
                "  stall: {} took {} ms in batch {} ({:.1}× its median) — {}-side",
                st.phase,
                st.ms,
                st.batch_index.map_or("-".into(), |b| b.to_string()),
                st.times_median,
                side(st.side)
            );
        }
    }
    s
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Storage => "storage",
        Side::Model => "model",
    }
}
