//! The time zone a report cuts its days in.

use chrono::{DateTime, Local, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::model::TimestampMs;

/// Where days start: the machine's local zone, or a named IANA zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The local zone (`TZ`, else the system's).
    Local,
    /// A named zone (`UTC`, `Europe/Berlin`, `Asia/Kolkata`).
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `local`, or an IANA name as the tz database spells it (`utc` in any case).
    pub fn parse(name: &str) -> Result<Zone, String> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        if n.eq_ignore_ascii_case("utc") {
            return Ok(Zone::Named(chrono_tz::UTC));
        }
        n.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| format!("unknown time zone '{name}' (an IANA name such as UTC or Europe/Berlin, or local)"))
    }

    /// The zone's name as reports print it.
    pub fn name(&self) -> String {
        match self {
            Zone::Local => "local".to_string(),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }

    /// The calendar day instant `ms` falls on in this zone.
    pub fn date(&self, ms: TimestampMs) -> NaiveDate {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        match self {
            Zone::Local => utc.with_timezone(&Local).date_naive(),
            Zone::Named(tz) => utc.with_timezone(tz).date_naive(),
        }
    }

    /// The instant day `d` starts in this zone (the first valid local
    /// time when a DST change skips midnight).
    pub fn day_start(&self, d: NaiveDate) -> TimestampMs {
        let mut t = d.and_time(NaiveTime::MIN);
        for _ in 0..8 {
            let at = match self {
                Zone::Local => Local.from_local_datetime(&t).earliest().map(|x| x.timestamp_millis()),
                Zone::Named(tz) => tz.from_local_datetime(&t).earliest().map(|x| x.timestamp_millis()),
            };
            if let Some(ms) = at {
                return ms;
            }
            t += chrono::Duration::minutes(15);
        }
        t.and_utc().timestamp_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_zones_cut_days_where_they_start() {
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        // 2025-10-01T15:30Z is 00:30 on the 2nd in Tokyo.
        let ms = crate::time::parse_str("2025-10-01T15:30:00Z").unwrap();
        assert_eq!(tokyo.date(ms), NaiveDate::from_ymd_opt(2025, 10, 2).unwrap());
        assert_eq!(Zone::parse("utc").unwrap().date(ms), NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        let start = kolkata.day_start(NaiveDate::from_ymd_opt(2025, 10, 2).unwrap());
        assert_eq!(start, crate::time::parse_str("2025-10-01T18:30:00Z").unwrap());
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
