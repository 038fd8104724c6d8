//! Timestamps arrive in every shape (ISO with and without zone, epoch
//! seconds, milliseconds, microseconds, numeric strings); one tolerant parser
//! turns them all into epoch milliseconds.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::model::TimestampMs;

/// Interprets an epoch number by magnitude: below 1e11 it is seconds (that is
/// before the year 5138), below 1e14 milliseconds, otherwise microseconds.
pub fn from_epoch_number(n: f64) -> Option<TimestampMs> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ms = if n < 1e11 {
        n * 1000.0
    } else if n < 1e14 {
        n
    } else {
        n / 1000.0
    };
    Some(ms.round() as i64)
}

/// Parses a timestamp string: RFC 3339, ISO without zone (taken as UTC),
/// `YYYY-MM-DD HH:MM:SS`, or a number.
pub fn parse_str(s: &str) -> Option<TimestampMs> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return from_epoch_number(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&naive).timestamp_millis());
        }
    }
    None
}

/// Parses a JSON value holding a timestamp of any supported shape.
pub fn parse_value(v: &Value) -> Option<TimestampMs> {
    match v {
        Value::Number(n) => parse_number(n),
        Value::String(s) => parse_str(s),
        _ => None,
    }
}

/// Parses a JSON number holding epoch seconds or milliseconds.
pub fn parse_number(n: &serde_json::Number) -> Option<TimestampMs> {
    n.as_f64().and_then(from_epoch_number)
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn to_rfc3339(ms: TimestampMs) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// The current wall clock in epoch milliseconds.
pub fn now_ms() -> TimestampMs {
    Utc::now().timestamp_millis()
}

/// Parses a span like `45s`, `30m`, `12h`, `7d`, `2w` into milliseconds.
pub fn parse_duration_ms(spec: &str) -> Option<i64> {
    let s = spec.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// A span for people, at the coarsest unit that keeps it honest: `42s`,
/// `17m`, `5h 3m`, `3d 4h`.
pub fn human_duration_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// A local wall-clock time for people, `2026-03-10 14:02` (the raw number
/// when it is out of range).
pub fn local_clock(ms: TimestampMs) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_shape_to_the_same_instant() {
        let want = 1_705_315_200_000; // 2024-01-15T10:40:00Z
        assert_eq!(parse_str("2024-01-15T10:40:00Z"), Some(want));
        assert_eq!(parse_str("2024-01-15T10:40:00.000Z"), Some(want));
        assert_eq!(parse_str("2024-01-15T11:40:00+01:00"), Some(want));
        assert_eq!(parse_str("2024-01-15T10:40:00"), Some(want));
        assert_eq!(parse_str("2024-01-15 10:40:00"), Some(want));
        assert_eq!(parse_value(&json!(1_705_315_200)), Some(want));
        assert_eq!(parse_value(&json!(1_705_315_200.0)), Some(want));
        assert_eq!(parse_value(&json!(1_705_315_200_000i64)), Some(want));
        assert_eq!(parse_value(&json!(1_705_315_200_000_000i64)), Some(want));
        assert_eq!(parse_value(&json!("1705315200")), Some(want));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_str("yesterday-ish"), None);
        assert_eq!(parse_value(&json!(true)), None);
        assert_eq!(parse_value(&json!(-5)), None);
        assert_eq!(parse_str(""), None);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(to_rfc3339(1_705_315_200_123), "2024-01-15T10:40:00.123Z");
    }

    #[test]
    fn durations_both_ways() {
        assert_eq!(parse_duration_ms("45s"), Some(45_000));
        assert_eq!(parse_duration_ms("30m"), Some(1_800_000));
        assert_eq!(parse_duration_ms("2w"), Some(14 * 86_400_000));
        assert_eq!(parse_duration_ms("7"), None);
        assert_eq!(parse_duration_ms("7y"), None);
        assert_eq!(human_duration_ms(42_000), "42s");
        assert_eq!(human_duration_ms(5 * 3_600_000 + 3 * 60_000), "5h 3m");
        assert_eq!(human_duration_ms(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
    }
}
