//! What model calls cost: a dated table of list prices per model, which the
//! config file can extend or override. A model the table does not know is
//! reported as unpriced (its tokens counted, its cost 0), never guessed.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::TokenSums as Tokens;

/// The day the built-in prices were last checked against the providers'
/// price lists (as LiteLLM's and models.dev's catalogues carried them).
pub const PRICES_AS_OF: &str = "2026-11-30";

/// US dollars per million tokens of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// Prompt tokens read neither from nor into a cache.
    pub input: f64,
    /// Generated tokens, reasoning included.
    pub output: f64,
    /// Prompt tokens written to the cache (Anthropic: the 5-minute cache).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Prompt tokens written to the 1-hour cache (Anthropic: twice the
    /// input rate); defaults to `cache_write`.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    /// Prompt tokens read from the cache; defaults to the input rate.
    #[serde(default)]
    pub cache_read: Option<f64>,
}

impl Rates {
    const fn new(input: f64, output: f64, cache_write: f64, cache_write_1h: f64, cache_read: f64) -> Rates {
        Rates {
            input,
            output,
            cache_write: Some(cache_write),
            cache_write_1h: Some(cache_write_1h),
            cache_read: Some(cache_read),
        }
    }

    /// Anthropic's scheme: 5-minute writes at 1.25×, 1-hour writes at 2×,
    /// reads at 0.1× the input rate.
    const fn anthropic(input: f64, output: f64) -> Rates {
        Rates::new(input, output, input * 1.25, input * 2.0, input / 10.0)
    }

    /// OpenAI's and Google's scheme: no write charge, cached reads at `read`.
    const fn cached_reads(input: f64, output: f64, read: f64) -> Rates {
        Rates::new(input, output, 0.0, 0.0, read)
    }

    fn cache_write(&self) -> f64 {
        self.cache_write.unwrap_or(0.0)
    }

    fn cache_write_1h(&self) -> f64 {
        self.cache_write_1h.unwrap_or_else(|| self.cache_write())
    }

    fn cache_read(&self) -> f64 {
        self.cache_read.unwrap_or(self.input)
    }

    /// The cost of `t` tokens at these rates.
    fn of(&self, t: &Tokens) -> f64 {
        let write_5m = t.cache_write.saturating_sub(t.cache_write_1h);
        (t.input as f64 * self.input
            + t.output as f64 * self.output
            + write_5m as f64 * self.cache_write()
            + t.cache_write_1h as f64 * self.cache_write_1h()
            + t.cache_read as f64 * self.cache_read())
            / 1e6
    }
}

/// How a provider charges long prompts more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LongRule {
    /// Each kind of token past 200,000 in one call is charged the long
    /// rate, the first 200,000 the normal one (how LiteLLM's
    /// `*_above_200k_tokens` prices for Claude are applied).
    #[serde(rename = "tokens_past_200k")]
    TokensPast200k,
    /// A call whose prompt (input and cache tokens) passes 200,000 is
    /// charged the long rates for all its tokens (Gemini Pro).
    #[serde(rename = "calls_past_200k")]
    CallsPast200k,
    /// The same past 272,000 (OpenAI's GPT-5.4 and 5.5).
    #[serde(rename = "calls_past_272k")]
    CallsPast272k,
}

/// A long-context price: the rule and its rates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContext {
    /// When the long rates apply.
    pub rule: LongRule,
    /// The long rates.
    #[serde(flatten)]
    pub rates: Rates,
}

/// The price of one model.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// The normal rates.
    #[serde(flatten)]
    pub rates: Rates,
    /// Higher rates for long prompts, where the provider charges them.
    #[serde(default)]
    pub long: Option<LongContext>,
}

impl Price {
    /// What `t` cost, calls of prompt band `band` (see [`Tokens`]).
    pub fn cost(&self, t: &Tokens, band: u8) -> f64 {
        let base = self.rates.of(t);
        match self.long {
            None => base,
            Some(LongContext { rule: LongRule::TokensPast200k, rates }) => {
                let over = t.over();
                base - self.rates.of(&over) + rates.of(&over)
            }
            Some(LongContext { rule: LongRule::CallsPast200k, rates }) if band >= 1 => rates.of(t),
            Some(LongContext { rule: LongRule::CallsPast272k, rates }) if band >= 2 => rates.of(t),
            Some(_) => base,
        }
    }
}

/// The built-in prices, by model family (dated names, `@`-dated Vertex
/// names and Bedrock ids resolve to their family; see [`PriceTable::find`]).
fn builtin() -> Vec<(&'static str, Price)> {
    let plain = |rates| Price { rates, long: None };
    let a = Rates::anthropic;
    let o = Rates::cached_reads;
    let past_200k_tokens = |input: f64, output: f64| Price {
        rates: a(input, output),
        long: Some(LongContext { rule: LongRule::TokensPast200k, rates: a(input * 2.0, output * 1.5) }),
    };
    vec![
        // Anthropic
        ("claude-opus-4-7", plain(a(5.0, 25.0))),
        ("claude-opus-4-6", plain(a(5.0, 25.0))),
        ("claude-opus-4-5", plain(a(5.0, 25.0))),
        ("claude-opus-4-1", plain(a(15.0, 75.0))),
        ("claude-opus-4", plain(a(15.0, 75.0))),
        ("claude-sonnet-4-6", plain(a(3.0, 15.0))),
        ("claude-sonnet-4-5", past_200k_tokens(3.0, 15.0)),
        ("claude-sonnet-4", past_200k_tokens(3.0, 15.0)),
        ("claude-haiku-4-5", plain(a(1.0, 5.0))),
        ("claude-3-7-sonnet", plain(a(3.0, 15.0))),
        ("claude-3-5-sonnet", plain(a(3.0, 15.0))),
        ("claude-3-5-haiku", plain(a(0.8, 4.0))),
        ("claude-3-opus", plain(a(15.0, 75.0))),
        ("claude-3-haiku", plain(Rates::new(0.25, 1.25, 0.3, 0.5, 0.03))),
        // OpenAI
        (
            "gpt-5.5",
            Price {
                rates: o(5.0, 30.0, 0.5),
                long: Some(LongContext { rule: LongRule::CallsPast272k, rates: o(10.0, 45.0, 1.0) }),
            },
        ),
        (
            "gpt-5.4",
            Price {
                rates: o(2.5, 15.0, 0.25),
                long: Some(LongContext { rule: LongRule::CallsPast272k, rates: o(5.0, 22.5, 0.5) }),
            },
        ),
        ("gpt-5.3-codex", plain(o(1.75, 14.0, 0.175))),
        ("gpt-5.2-codex", plain(o(1.75, 14.0, 0.175))),
        ("gpt-5.2", plain(o(1.75, 14.0, 0.175))),
        ("gpt-5.1-codex-max", plain(o(1.25, 10.0, 0.125))),
        ("gpt-5.1-codex-mini", plain(o(0.25, 2.0, 0.025))),
        ("gpt-5.1-codex", plain(o(1.25, 10.0, 0.125))),
        ("gpt-5.1", plain(o(1.25, 10.0, 0.125))),
        ("gpt-5-codex", plain(o(1.25, 10.0, 0.125))),
        (
            "gpt-5-pro",
            plain(Rates { input: 15.0, output: 120.0, cache_write: None, cache_write_1h: None, cache_read: None }),
        ),
        ("gpt-5-mini", plain(o(0.25, 2.0, 0.025))),
        ("gpt-5-nano", plain(o(0.05, 0.4, 0.005))),
        ("gpt-5", plain(o(1.25, 10.0, 0.125))),
        ("gpt-4.1-mini", plain(o(0.4, 1.6, 0.1))),
        ("gpt-4.1", plain(o(2.0, 8.0, 0.5))),
        ("gpt-4o", plain(o(2.5, 10.0, 1.25))),
        // Google
        (
            "gemini-3-pro-preview",
            Price {
                rates: o(2.0, 12.0, 0.2),
                long: Some(LongContext { rule: LongRule::CallsPast200k, rates: o(4.0, 18.0, 0.4) }),
            },
        ),
        (
            "gemini-2.5-pro",
            Price {
                rates: o(1.25, 10.0, 0.125),
                long: Some(LongContext { rule: LongRule::CallsPast200k, rates: o(2.5, 15.0, 0.25) }),
            },
        ),
        ("gemini-2.5-flash-lite", plain(o(0.1, 0.4, 0.01))),
        ("gemini-2.5-flash", plain(o(0.3, 2.5, 0.03))),
    ]
}

/// The prices reports use: the built-in table with the config file's
/// entries laid over it (an entry for a known name replaces it).
#[derive(Debug, Clone)]
pub struct PriceTable {
    entries: BTreeMap<String, Price>,
    overridden: usize,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::new(&BTreeMap::new())
    }
}

impl PriceTable {
    /// The built-in table with `overrides` (model name → price) laid over it.
    pub fn new(overrides: &BTreeMap<String, Price>) -> PriceTable {
        let mut entries: BTreeMap<String, Price> = builtin().into_iter().map(|(k, p)| (k.to_string(), p)).collect();
        for (k, p) in overrides {
            entries.insert(k.to_ascii_lowercase(), *p);
        }
        PriceTable { entries, overridden: overrides.len() }
    }

    /// How many entries came from the config file.
    pub fn overridden(&self) -> usize {
        self.overridden
    }

    /// The price of `model` as an agent names it: the exact name; else,
    /// with a provider prefix (`anthropic/`, `openai/`, `google/`,
    /// `models/`, Bedrock's `anthropic.`, `us.anthropic.`) and a date or
    /// version suffix (`-20250929`, `@20250929`, `-2025-08-07`,
    /// `-v1:0`, `-latest`) taken off, its family. `gpt-5-mini` is not
    /// `gpt-5`: only a date or version may follow a family's name.
    pub fn find(&self, model: &str) -> Option<&Price> {
        let name = model.trim().to_ascii_lowercase();
        if let Some(p) = self.entries.get(&name) {
            return Some(p);
        }
        let mut rest = name.as_str();
        if let Some((_, tail)) = rest.rsplit_once('/') {
            rest = tail;
        }
        for prefix in ["us.anthropic.", "eu.anthropic.", "apac.anthropic.", "global.anthropic.", "anthropic."] {
            if let Some(tail) = rest.strip_prefix(prefix) {
                rest = tail;
                break;
            }
        }
        if let Some(p) = self.entries.get(rest) {
            return Some(p);
        }
        let family = strip_version(rest);
        self.entries.get(family)
    }
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; `…@20250929`,
/// `…-v1:0`, `…-2025-08-07`, `…-latest` likewise; anything else unchanged.
fn strip_version(name: &str) -> &str {
    let mut s = name;
    if let Some(i) = s.rfind("-v")
        && s[i + 2..].chars().all(|c| c.is_ascii_digit() || c == ':')
        && s.len() > i + 2
    {
        s = &s[..i];
    }
    if let Some(base) = s.strip_suffix("-latest") {
        return base;
    }
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    if let Some(i) = s.rfind(['-', '@'])
        && digits(&s[i + 1..], 8)
    {
        return &s[..i];
    }
    // -YYYY-MM-DD
    if s.len() > 11 {
        let (head, date) = s.split_at(s.len() - 11);
        let b = date.as_bytes();
        if b[0] == b'-'
            && digits(&date[1..5], 4)
            && b[5] == b'-'
            && digits(&date[6..8], 2)
            && b[8] == b'-'
            && digits(&date[9..11], 2)
        {
            return head;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(input: u64, output: u64, cache_write: u64, cache_read: u64) -> Tokens {
        Tokens { calls: 1, input, output, cache_write, cache_read, ..Tokens::default() }
    }

    #[test]
    fn families_resolve_and_neighbours_do_not() {
        let table = PriceTable::default();
        for name in [
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5@20250929",
            "anthropic/claude-sonnet-4-5",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5",
        ] {
            assert_eq!(table.find(name), table.find("claude-sonnet-4-5"), "{name}");
        }
        assert_ne!(table.find("gpt-5-mini"), table.find("gpt-5"));
        assert_eq!(table.find("gpt-5-2025-08-07"), table.find("gpt-5"));
        assert!(table.find("gpt-5-mega").is_none());
        assert!(table.find("<synthetic>").is_none());
        assert!(table.find("").is_none());
    }

    #[test]
    fn anthropic_rates_and_marginal_long_context() {
        let table = PriceTable::default();
        let sonnet = table.find("claude-sonnet-4-20250514").unwrap();
        // 1M input, 1M output, 1M cache write, 1M cache read at 3/15/3.75/0.3.
        let c = sonnet.cost(&t(1_000_000, 1_000_000, 1_000_000, 1_000_000), 0);
        assert!((c - (3.0 + 15.0 + 3.75 + 0.3)).abs() < 1e-9, "{c}");
        // One call of 300k input: 200k at 3, 100k at 6.
        let mut long = t(300_000, 0, 0, 0);
        long.input_over = 100_000;
        let c = sonnet.cost(&long, 2);
        assert!((c - (0.6 + 0.6)).abs() < 1e-9, "{c}");
        // 1-hour writes at twice the input rate.
        let mut h = t(0, 0, 100_000, 0);
        h.cache_write_1h = 100_000;
        assert!((sonnet.cost(&h, 0) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn whole_call_long_context_by_band() {
        let table = PriceTable::default();
        let pro = table.find("gemini-2.5-pro").unwrap();
        let calls = t(1_000_000, 0, 0, 0);
        assert!((pro.cost(&calls, 0) - 1.25).abs() < 1e-9);
        assert!((pro.cost(&calls, 1) - 2.5).abs() < 1e-9);
        let gpt = table.find("gpt-5.4").unwrap();
        assert!((gpt.cost(&calls, 1) - 2.5).abs() < 1e-9, "272k rule ignores band 1");
        assert!((gpt.cost(&calls, 2) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn overrides_replace_and_extend() {
        let mut o = BTreeMap::new();
        let p = Price {
            rates: Rates { input: 1.0, output: 2.0, cache_write: None, cache_write_1h: None, cache_read: None },
            long: None,
        };
        o.insert("my-local-model".to_string(), p);
        o.insert("gpt-5".to_string(), p);
        let table = PriceTable::new(&o);
        assert_eq!(table.find("my-local-model"), Some(&p));
        assert_eq!(table.find("gpt-5-2025-08-07"), Some(&p));
        // Cache reads default to the input rate, writes to nothing.
        assert!((p.cost(&t(0, 0, 1_000_000, 1_000_000), 0) - 1.0).abs() < 1e-9);
    }
}
