//! Token usage as the store keeps it: the per-call rows `ingest` writes,
//! and the sums per quarter hour and per conversation that SQLite
//! triggers keep in step with them (schema v4). Reports read the sums
//! only, so they cost the number of quarter hours with calls, not the
//! number of calls.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store};
use crate::filters::SourceFilter;
use crate::model::{Conversation, TimestampMs, TokenSums};

/// Length of a slot: every time zone's days start on a quarter hour.
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// What the connectors' usage reading is at: a store whose files were
/// read by an older reading (or none: a store from before usage) has
/// them read once more by the next index run.
pub const USAGE_READER: &str = "1";

/// Counted calls of one quarter hour, prompt band, agent, workspace and
/// model, the names given as numbers into a [`Names`] table (a report
/// reads tens of thousands of these; each name is stored once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotSums {
    /// Start of the quarter hour, in slots since the epoch (`ms / SLOT_MS`).
    pub slot: i64,
    /// Prompt-size band: 0 up to 200k tokens, 1 up to 272k, 2 above.
    pub band: u8,
    /// The agent's slug.
    pub agent: u32,
    /// The conversations' workspace ("" when unknown).
    pub workspace: u32,
    /// The model ("" when the agent did not say).
    pub model: u32,
    /// The sums.
    pub tokens: TokenSums,
}

/// Names (agents, workspaces, models) by number, each kept once.
#[derive(Debug, Default, Clone)]
pub struct Names {
    names: Vec<String>,
    ids: rustc_hash::FxHashMap<String, u32>,
}

impl Names {
    /// The number of `name`, given one on first sight.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The name of number `id`.
    pub fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// Counted calls of one conversation, model and band.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSums {
    /// The conversation.
    pub conversation: Conversation,
    /// The model.
    pub model: String,
    /// Prompt-size band (see [`SlotSums::band`]).
    pub band: u8,
    /// The sums.
    pub tokens: TokenSums,
}

const SUM_COLUMNS: &str = "calls, input, output, cache_write, cache_write_1h, cache_read, reasoning, input_over, \
                           output_over, cache_write_over, cache_write_1h_over, cache_read_over";

/// The columns [`sums`] reads, of table alias `t`: the sums, then
/// whether any call passed 200k tokens (almost none do, so their five
/// `*_over` columns are read only then).
fn read_columns(t: &str) -> String {
    let mut cols: Vec<String> = SUM_COLUMNS.split(", ").map(|c| format!("{t}.{c}")).collect();
    cols.push(format!(
        "({t}.input_over + {t}.output_over + {t}.cache_write_over + {t}.cache_write_1h_over + {t}.cache_read_over) > 0"
    ));
    cols.join(", ")
}

fn sums(r: &Row<'_>, at: usize) -> rusqlite::Result<TokenSums> {
    // By reference: `get` converts through a generic path per column,
    // and reports read these of tens of thousands of rows.
    let n = |i: usize| -> rusqlite::Result<u64> {
        Ok(r.get_ref(at + i)?.as_i64().map_err(rusqlite::Error::from)?.max(0) as u64)
    };
    let mut t = TokenSums {
        calls: n(0)?,
        input: n(1)?,
        output: n(2)?,
        cache_write: n(3)?,
        cache_write_1h: n(4)?,
        cache_read: n(5)?,
        reasoning: n(6)?,
        ..TokenSums::default()
    };
    if n(12)? > 0 {
        t.input_over = n(7)?;
        t.output_over = n(8)?;
        t.cache_write_over = n(9)?;
        t.cache_write_1h_over = n(10)?;
        t.cache_read_over = n(11)?;
    }
    Ok(t)
}

/// Hands `each` the slot sums in `[from, to)` (slots; open ends when
/// None) of the conversations `source` keeps (every machine when None), in
/// slot order, naming agents, workspaces and models in `names`.
///
/// The slots carry no machine: remote conversations are the few (an
/// index keeps them apart), so their calls are summed per slot as the
/// report runs, and this machine's sums are every machine's minus those,
/// taken away as the slots stream by (both come in key order).
pub fn for_each_slot(
    store: &Store,
    from: Option<i64>,
    to: Option<i64>,
    source: Option<&SourceFilter>,
    names: &mut Names,
    mut each: impl FnMut(&SlotSums, &Names),
) -> Result<()> {
    let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    let all = format!(
        "SELECT s.slot, s.band, s.agent, s.workspace, s.model, {} FROM usage_slots s WHERE s.slot >= ?1 AND s.slot < ?2",
        read_columns("s")
    );
    let (sql, machine, minus) = match source {
        None => (all, None, Vec::new()),
        Some(SourceFilter::Remote) => (remote_slots("1"), None, Vec::new()),
        Some(SourceFilter::Named(name)) => (remote_slots("c.source = ?3"), Some(name.as_str()), Vec::new()),
        Some(SourceFilter::Local) => {
            let remote = remote_rows(store, from, to)?;
            (all, None, remote)
        }
    };
    let mut stmt = store.conn.prepare_cached(&sql)?;
    let mut rows = match machine {
        Some(name) => stmt.query(params![from, to, name])?,
        None => stmt.query(params![from, to])?,
    };
    let mut minus = minus.into_iter().peekable();
    // Rows come in key order: a name is most often the previous row's.
    let mut last = [(String::new(), u32::MAX), (String::new(), u32::MAX), (String::new(), u32::MAX)];
    while let Some(r) = rows.next()? {
        let slot: i64 = r.get(0)?;
        let band = r.get::<_, i64>(1)? as u8;
        let mut tokens = sums(r, 5)?;
        if minus.peek().is_some() {
            let text = |i: usize| -> rusqlite::Result<&str> { r.get_ref(i)?.as_str().map_err(rusqlite::Error::from) };
            let key = (slot, band, text(2)?, text(3)?, text(4)?);
            while minus.next_if(|m| m.key() < key).is_some() {}
            if let Some(m) = minus.next_if(|m| m.key() == key) {
                tokens.subtract(&m.tokens);
                if tokens.calls == 0 {
                    continue; // every call of this slot was another machine's
                }
            }
        }
        let mut ids = [0u32; 3];
        for (k, (text, id)) in last.iter_mut().enumerate() {
            let name = r.get_ref(2 + k)?.as_str().map_err(rusqlite::Error::from)?;
            if *id == u32::MAX || text != name {
                *id = names.id(name);
                text.clear();
                text.push_str(name);
            }
            ids[k] = *id;
        }
        let row = SlotSums { slot, band, agent: ids[0], workspace: ids[1], model: ids[2], tokens };
        each(&row, names);
    }
    Ok(())
}

/// Remote calls summed per slot, band, agent, workspace and model.
struct RemoteSlot {
    slot: i64,
    band: u8,
    agent: String,
    workspace: String,
    model: String,
    tokens: TokenSums,
}

impl RemoteSlot {
    fn key(&self) -> (i64, u8, &str, &str, &str) {
        (self.slot, self.band, &self.agent, &self.workspace, &self.model)
    }
}

/// Every remote conversation's calls summed per slot in `[from, to)`, in
/// `usage_slots` key order (byte order of the names, as SQLite's).
fn remote_rows(store: &Store, from: i64, to: i64) -> Result<Vec<RemoteSlot>> {
    let mut stmt = store.conn.prepare_cached(&remote_slots("1"))?;
    let rows = stmt.query_map(params![from, to], |r| {
        Ok(RemoteSlot {
            slot: r.get(0)?,
            band: r.get::<_, i64>(1)? as u8,
            agent: r.get(2)?,
            workspace: r.get(3)?,
            model: r.get(4)?,
            tokens: sums(r, 5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The counted calls of remote conversations passing `which` (SQL over
/// `c`, the conversation), summed per slot in `[?1, ?2)` as `usage_slots`
/// sums them, in its key order, with the columns [`sums`] reads. The
/// conversations lead (`CROSS JOIN` keeps SQLite from scanning every call):
/// the few remote ones through their partial index, then their calls.
fn remote_slots(which: &str) -> String {
    let band = "CASE WHEN u.input + u.cache_write + u.cache_read > 272000 THEN 2 \
                WHEN u.input + u.cache_write + u.cache_read > 200000 THEN 1 ELSE 0 END";
    let over = |e: &str| format!("SUM(MAX({e} - 200000, 0))");
    let sums = [
        "COUNT(*)".to_string(),
        "SUM(u.input)".into(),
        "SUM(u.output)".into(),
        "SUM(u.cache_write)".into(),
        "SUM(u.cache_write_1h)".into(),
        "SUM(u.cache_read)".into(),
        "SUM(u.reasoning)".into(),
        over("u.input"),
        over("u.output"),
        over("u.cache_write - u.cache_write_1h"),
        over("u.cache_write_1h"),
        over("u.cache_read"),
    ];
    // Whether any call passed 200k tokens: the five `*_over` sums above.
    let over_flag = format!("({}) > 0", sums[7..].join(" + "));
    format!(
        "SELECT u.ts / {SLOT_MS} AS slot, {band} AS band, u.agent AS agent, COALESCE(u.workspace, '') AS workspace, \
         u.model AS model, {}, {over_flag} FROM conversations c CROSS JOIN usage u ON u.conversation_id = c.id \
         WHERE c.source <> 'local' AND {which} AND u.counted = 1 AND u.ts / {SLOT_MS} >= ?1 AND u.ts / {SLOT_MS} < ?2 \
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
        sums.join(", ")
    )
}

/// The per-conversation sums of conversations with any message in
/// `[since, until)` (open ends when None), of `agents` only when it names
/// any, from the machines `source` keeps (all when None).
pub fn session_sums(
    store: &Store,
    since: Option<TimestampMs>,
    until: Option<TimestampMs>,
    agents: &[String],
    source: Option<&SourceFilter>,
) -> Result<Vec<SessionSums>> {
    let cols: Vec<String> = super::query::CONV_COLS.split(", ").map(|c| format!("c.{c}")).collect();
    let sql = format!(
        "SELECT {}, s.model, s.band, {}
         FROM usage_sessions s JOIN conversations c ON c.id = s.conversation_id
         WHERE COALESCE(c.ended_at, 0) >= ?1 AND COALESCE(c.started_at, 0) < ?2",
        cols.join(", "),
        read_columns("s")
    );
    let at = cols.len();
    let mut stmt = store.conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)], |r| {
        Ok(SessionSums {
            conversation: super::query::conv_from_row(r)?,
            model: r.get(at)?,
            band: r.get::<_, i64>(at + 1)? as u8,
            tokens: sums(r, at + 2)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        if (agents.is_empty() || agents.contains(&row.conversation.agent))
            && source.is_none_or(|f| f.accepts(&row.conversation.source))
        {
            out.push(row);
        }
    }
    Ok(out)
}

/// The usage reading the store's files were last read with (None: a
/// store from before usage, or a new one).
pub fn usage_reader(store: &Store) -> Result<Option<String>> {
    Ok(store.conn.query_row("SELECT value FROM meta WHERE key = 'usage_reader'", [], |r| r.get(0)).optional()?)
}

/// Records that every file was read with [`USAGE_READER`].
pub fn set_usage_reader(store: &Store) -> Result<()> {
    store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('usage_reader', ?1)", [USAGE_READER])?;
    Ok(())
}

/// The sums the triggers keep, as columns of SQL over each table.
fn totals_sql(table: &str, filter: &str) -> String {
    let cols = SUM_COLUMNS.split(", ").skip(1).take(6).map(|c| format!("COALESCE(SUM({c}), 0)")).collect::<Vec<_>>();
    let calls = if table == "usage" { "COUNT(*)".to_string() } else { "COALESCE(SUM(calls), 0)".to_string() };
    format!("SELECT {calls}, {} FROM {table} {filter}", cols.join(", "))
}

/// Whether the kept sums agree with the calls they sum, and each call
/// logged in several files is counted exactly once: None when they do,
/// else what disagrees. Reads every call (`health --deep` only).
pub fn check_sums(store: &Store) -> Result<Option<String>> {
    let read = |sql: &str| -> Result<Vec<i64>> {
        Ok(store.conn.query_row(sql, [], |r| (0..7).map(|i| r.get::<_, i64>(i)).collect())?)
    };
    let calls = read(&totals_sql("usage", "WHERE counted = 1"))?;
    let slots = read(&totals_sql("usage_slots", ""))?;
    let sessions = read(&totals_sql("usage_sessions", ""))?;
    if calls != slots || calls != sessions {
        return Ok(Some(format!(
            "the usage sums disagree with the calls (calls {calls:?}, per quarter hour {slots:?}, per session \
             {sessions:?})"
        )));
    }
    let keys: i64 = store.conn.query_row(
        "SELECT COUNT(*) FROM (SELECT request_key FROM usage WHERE request_key IS NOT NULL
           GROUP BY request_key HAVING SUM(counted) != 1)",
        [],
        |r| r.get(0),
    )?;
    Ok((keys > 0).then(|| format!("{keys} model calls are not counted exactly once")))
}

/// Recomputes which copy of each call counts and every kept sum from the
/// calls themselves (`index --repair` after [`check_sums`] found them off).
pub fn recount(store: &mut Store) -> Result<()> {
    let tx = store.conn.transaction()?;
    tx.execute_batch(
        "UPDATE usage SET counted = (request_key IS NULL
             OR id = (SELECT MIN(id) FROM usage AS first WHERE first.request_key = usage.request_key));
         DELETE FROM usage_slots;
         DELETE FROM usage_sessions;",
    )?;
    let band = "CASE WHEN input + cache_write + cache_read > 272000 THEN 2 \
                WHEN input + cache_write + cache_read > 200000 THEN 1 ELSE 0 END";
    let sums = "COUNT(*), SUM(input), SUM(output), SUM(cache_write), SUM(cache_write_1h), SUM(cache_read), \
                SUM(reasoning), SUM(MAX(input - 200000, 0)), SUM(MAX(output - 200000, 0)), \
                SUM(MAX(cache_write - cache_write_1h - 200000, 0)), SUM(MAX(cache_write_1h - 200000, 0)), \
                SUM(MAX(cache_read - 200000, 0))";
    tx.execute_batch(&format!(
        "INSERT INTO usage_slots SELECT ts / {SLOT_MS}, {band}, agent, COALESCE(workspace, ''), model, {sums}
           FROM usage WHERE counted = 1 GROUP BY 1, 2, 3, 4, 5;
         INSERT INTO usage_sessions SELECT conversation_id, model, {band}, {sums}
           FROM usage WHERE counted = 1 GROUP BY 1, 2, 3;"
    ))?;
    tx.commit()?;
    Ok(())
}
