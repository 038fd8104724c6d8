//! Builds a report from the store's usage sums: groups them by period,
//! model, project, agent or session, and prices each model's share.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use chrono::{Datelike, Duration};

use super::{PriceTable, Zone};
use crate::filters::workspace_matches;
use crate::model::{Conversation, TimestampMs, TokenSums};
use crate::store::usage::{Names, SLOT_MS, for_each_slot, session_sums};
use crate::store::{self, Store};

/// How a report groups calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Grouping {
    /// One row per calendar day in the report's zone.
    #[default]
    Daily,
    /// One row per ISO week (Monday to Sunday), named by its Monday.
    Weekly,
    /// One row per calendar month.
    Monthly,
    /// One row per conversation, most expensive first.
    Sessions,
    /// One row per model.
    Models,
    /// One row per workspace.
    Projects,
    /// One row per agent.
    Agents,
}

impl Grouping {
    /// The name the command line and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Grouping::Daily => "daily",
            Grouping::Weekly => "weekly",
            Grouping::Monthly => "monthly",
            Grouping::Sessions => "sessions",
            Grouping::Models => "models",
            Grouping::Projects => "projects",
            Grouping::Agents => "agents",
        }
    }

    /// True for the groupings by time, whose rows read in time order.
    pub fn by_period(self) -> bool {
        matches!(self, Grouping::Daily | Grouping::Weekly | Grouping::Monthly)
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// How to group.
    pub grouping: Grouping,
    /// Calls at or after this instant (rounded down to its quarter hour).
    pub since: Option<TimestampMs>,
    /// Calls before this instant (rounded up to its quarter hour).
    pub until: Option<TimestampMs>,
    /// Agent slugs; empty for all.
    pub agents: Vec<String>,
    /// A workspace directory (it and everything below it) or a directory's
    /// name, as [`workspace_matches`] reads it.
    pub workspace: Option<String>,
    /// Where days start.
    pub zone: Zone,
    /// At most this many rows (the rest still count in the totals).
    pub limit: Option<usize>,
    /// The machines whose calls count (None: every machine).
    pub source: Option<crate::filters::SourceFilter>,
}

/// One model's share of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLine {
    /// The model as the agent named it ("" when it did not).
    pub model: String,
    /// Its tokens.
    pub tokens: TokenSums,
    /// Its cost in US dollars (0 when unpriced).
    pub cost: f64,
    /// Whether the price table knows it.
    pub priced: bool,
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The period (`2025-10-01`, `2025-10`, the week's Monday), model,
    /// workspace, agent or session id the row is about.
    pub key: String,
    /// For a sessions report: the conversation.
    pub session: Option<Conversation>,
    /// Its tokens.
    pub tokens: TokenSums,
    /// Its cost in US dollars.
    pub cost: f64,
    /// Per model, most expensive first.
    pub models: Vec<ModelLine>,
}

/// A finished report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// How it is grouped.
    pub grouping: Grouping,
    /// The zone its days were cut in.
    pub zone: String,
    /// Its rows, in the grouping's order.
    pub rows: Vec<ReportRow>,
    /// Rows left out by the limit.
    pub rows_omitted: usize,
    /// Every matching call, limit or not.
    pub totals: TokenSums,
    /// Their cost.
    pub cost: f64,
    /// Models with tokens but no price: counted at cost 0.
    pub unpriced: Vec<String>,
}

impl Report {
    /// The report of a store with no usage.
    pub fn empty(req: &ReportRequest) -> Report {
        Report {
            grouping: req.grouping,
            zone: req.zone.name(),
            rows: Vec::new(),
            rows_omitted: 0,
            totals: TokenSums::default(),
            cost: 0.0,
            unpriced: Vec::new(),
        }
    }
}

type Sums = BTreeMap<(String, String, u8), TokenSums>;

/// Builds the report `req` asks for from the store's sums and `prices`.
pub fn build(store: &Store, req: &ReportRequest, prices: &PriceTable) -> store::Result<Report> {
    let mut sums: Sums = BTreeMap::new();
    let mut sessions: BTreeMap<String, Conversation> = BTreeMap::new();
    if req.grouping == Grouping::Sessions {
        for s in session_sums(store, req.since, req.until, &req.agents, req.source.as_ref())? {
            if !workspace_ok(req, s.conversation.workspace.as_deref().unwrap_or("")) {
                continue;
            }
            let key = s.conversation.id.to_string();
            sums.entry((key.clone(), s.model, s.band)).or_default().add(&s.tokens);
            sessions.entry(key).or_insert(s.conversation);
        }
    } else {
        let from = req.since.map(|t| t.div_euclid(SLOT_MS));
        let to = req.until.map(|t| t.div_euclid(SLOT_MS) + i64::from(t.rem_euclid(SLOT_MS) > 0));
        // Summed by numbers first (tens of thousands of rows at a million
        // messages), named once at the end. Rows come in slot order, so
        // the period of the last slot is usually the next one's too.
        let mut names = Names::default();
        let mut by_id: FxHashMap<(u32, u32, u8), TokenSums> = FxHashMap::default();
        let mut periods = Names::default();
        let mut last: Option<(i64, u32)> = None;
        let mut by_date: FxHashMap<chrono::NaiveDate, u32> = FxHashMap::default();
        let mut agent_ok: FxHashMap<u32, bool> = FxHashMap::default();
        let mut workspace_ok_by_id: FxHashMap<u32, bool> = FxHashMap::default();
        for_each_slot(store, from, to, req.source.as_ref(), &mut names, |s, names| {
            let agent_in = *agent_ok
                .entry(s.agent)
                .or_insert_with(|| req.agents.is_empty() || req.agents.iter().any(|a| a == names.get(s.agent)));
            let ws_in =
                *workspace_ok_by_id.entry(s.workspace).or_insert_with(|| workspace_ok(req, names.get(s.workspace)));
            if !agent_in || !ws_in {
                return;
            }
            let key = match req.grouping {
                Grouping::Models => u32::MAX,
                Grouping::Projects => s.workspace,
                Grouping::Agents => s.agent,
                _ => match last {
                    Some((slot, period)) if slot == s.slot => period,
                    _ => {
                        let date = req.zone.date(s.slot * SLOT_MS);
                        let period =
                            *by_date.entry(date).or_insert_with(|| periods.id(&period_key(req.grouping, date)));
                        last = Some((s.slot, period));
                        period
                    }
                },
            };
            by_id.entry((key, s.model, s.band)).or_default().add(&s.tokens);
        })?;
        for ((key, model, band), t) in by_id {
            let name = match req.grouping {
                Grouping::Models => names.get(model).to_string(),
                Grouping::Projects | Grouping::Agents => names.get(key).to_string(),
                _ => periods.get(key).to_string(),
            };
            sums.entry((name, names.get(model).to_string(), band)).or_default().add(&t);
        }
    }

    let mut rows: BTreeMap<String, ReportRow> = BTreeMap::new();
    let mut unpriced = BTreeSet::new();
    let mut lines: BTreeMap<(String, String), ModelLine> = BTreeMap::new();
    for ((key, model, band), t) in &sums {
        let price = prices.find(model);
        if price.is_none() {
            unpriced.insert(model.clone());
        }
        let cost = price.map_or(0.0, |p| p.cost(t, *band));
        let line = lines.entry((key.clone(), model.clone())).or_insert_with(|| ModelLine {
            model: model.clone(),
            tokens: TokenSums::default(),
            cost: 0.0,
            priced: price.is_some(),
        });
        line.tokens.add(t);
        line.cost += cost;
    }
    for ((key, _), line) in lines {
        let row = rows.entry(key.clone()).or_insert_with(|| ReportRow {
            session: sessions.get(&key).cloned(),
            key,
            tokens: TokenSums::default(),
            cost: 0.0,
            models: Vec::new(),
        });
        row.tokens.add(&line.tokens);
        row.cost += line.cost;
        row.models.push(line);
    }
    let mut rows: Vec<ReportRow> = rows.into_values().collect();
    for row in &mut rows {
        row.models.sort_by(|a, b| b.cost.total_cmp(&a.cost).then(b.tokens.total().cmp(&a.tokens.total())));
    }
    if !req.grouping.by_period() {
        rows.sort_by(|a, b| b.cost.total_cmp(&a.cost).then(b.tokens.total().cmp(&a.tokens.total())));
    }
    let mut totals = TokenSums::default();
    let mut cost = 0.0;
    for row in &rows {
        totals.add(&row.tokens);
        cost += row.cost;
    }
    let mut rows_omitted = 0;
    if let Some(limit) = req.limit
        && rows.len() > limit
    {
        rows_omitted = rows.len() - limit;
        // Periods keep their latest rows, the others their biggest.
        if req.grouping.by_period() {
            rows.drain(..rows_omitted);
        } else {
            rows.truncate(limit);
        }
    }
    unpriced.retain(|m| sums.iter().any(|((_, model, _), t)| model == m && t.total() > 0));
    Ok(Report {
        grouping: req.grouping,
        zone: req.zone.name(),
        rows,
        rows_omitted,
        totals,
        cost,
        unpriced: unpriced.into_iter().collect(),
    })
}

fn workspace_ok(req: &ReportRequest, workspace: &str) -> bool {
    req.workspace.as_deref().is_none_or(|f| !workspace.is_empty() && workspace_matches(f, workspace))
}

fn period_key(grouping: Grouping, d: chrono::NaiveDate) -> String {
    match grouping {
        Grouping::Weekly => {
            let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
            monday.format("%Y-%m-%d").to_string()
        }
        Grouping::Monthly => d.format("%Y-%m").to_string(),
        _ => d.format("%Y-%m-%d").to_string(),
    }
}
