//! A token budget for a list of results: hits are added in rank order
//! while the estimated size of the whole answer stays within the budget,
//! and the answer says how many were left out and where to page on.
//! Sizes are estimated as [`super::estimate_tokens`] does: a token per
//! four bytes.

use serde_json::{Value, json};

use super::Format;

/// What [`fit`] kept and spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// Items kept, from the front.
    pub kept: usize,
    /// Items left out.
    pub dropped: usize,
    /// Estimated tokens of the answer with the kept items.
    pub tokens: usize,
}

/// Bytes an item adds to the answer in `format`: its text plus the
/// separator, and for pretty JSON the indentation of its nesting (two
/// levels inside the document: four spaces on every line).
fn item_bytes(item: &Value, format: Format) -> usize {
    match format {
        Format::Json => {
            let s = serde_json::to_string_pretty(item).unwrap_or_default();
            s.len() + 4 * s.lines().count() + 2
        }
        Format::Jsonl | Format::Compact => item.to_string().len() + 1,
    }
}

/// Keeps the longest prefix of `doc[key]` whose answer fits `max_tokens`,
/// and always at least the first item (the estimate then says by how much
/// it is over).
/// When items are left out, `doc` gains `"budget": {"max_tokens",
/// "estimated_tokens", "hits_dropped"}` and, for paging, `next_offset`
/// becomes `offset` + the kept count.
pub fn fit(doc: &mut Value, key: &str, max_tokens: usize, format: Format, offset: usize) -> Fit {
    let items = match doc.get_mut(key) {
        Some(Value::Array(items)) => std::mem::take(items),
        _ => return Fit { kept: 0, dropped: 0, tokens: 0 },
    };
    // The answer without items, plus room for the budget note itself.
    let fixed = match format {
        Format::Json => serde_json::to_string_pretty(doc).unwrap_or_default().len(),
        _ => doc.to_string().len(),
    } + 96;
    let mut bytes = fixed;
    let mut kept = 0;
    for item in &items {
        let more = item_bytes(item, format);
        // The first item always goes in, so paging on `next_offset` moves
        // forward even when one hit alone is over the budget.
        if kept > 0 && estimate_tokens_of(bytes + more) > max_tokens {
            break;
        }
        bytes += more;
        kept += 1;
    }
    let dropped = items.len() - kept;
    let tokens = estimate_tokens_of(bytes);
    let mut items = items;
    items.truncate(kept);
    doc[key] = Value::Array(items);
    if dropped > 0 {
        doc["budget"] = json!({ "max_tokens": max_tokens, "estimated_tokens": tokens, "hits_dropped": dropped });
        doc["next_offset"] = json!(offset + kept);
    }
    Fit { kept, dropped, tokens }
}

/// [`estimate_tokens`] for a length already known.
fn estimate_tokens_of(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_stop_at_the_budget_and_the_answer_says_so() {
        let hits: Vec<Value> = (0..20).map(|i| json!({"message_id": i, "text": "x".repeat(200)})).collect();
        let mut doc = json!({"total": 20, "hits": hits, "next_offset": null});
        let fit = fit(&mut doc, "hits", 500, Format::Compact, 10);
        assert!(fit.kept > 0 && fit.kept < 20, "{fit:?}");
        assert_eq!(doc["hits"].as_array().unwrap().len(), fit.kept);
        assert!(doc.to_string().len().div_ceil(4) <= 500, "the answer fits: {}", doc.to_string().len());
        assert_eq!(doc["budget"]["hits_dropped"], 20 - fit.kept);
        assert_eq!(doc["next_offset"], 10 + fit.kept);
    }

    #[test]
    fn one_hit_over_the_budget_is_still_shown_so_paging_moves_on() {
        let mut doc = json!({"hits": [{"text": "x".repeat(4000)}, {"text": "y"}], "next_offset": null});
        let fit = fit(&mut doc, "hits", 10, Format::Compact, 5);
        assert_eq!((fit.kept, fit.dropped), (1, 1));
        assert!(fit.tokens > 10);
        assert_eq!(doc["next_offset"], 6);
    }

    #[test]
    fn a_budget_that_holds_everything_changes_nothing() {
        let mut doc = json!({"hits": [{"a": 1}, {"a": 2}]});
        let before = doc.clone();
        let fit = fit(&mut doc, "hits", 10_000, Format::Json, 0);
        assert_eq!((fit.kept, fit.dropped), (2, 0));
        assert_eq!(doc, before);
    }
}
