//! Timestamps as the API writes them (API.md): RFC 3339 in UTC with exactly
//! three fractional digits, `2026-01-29T10:00:00.000Z`. For serde's `with`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(at))
}

/// For `Option<DateTime<Utc>>` fields: `null` when absent.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn always_three_fractional_digits() {
        let whole = chrono::Utc.with_ymd_and_hms(2026, 1, 29, 10, 0, 0).unwrap();
        assert_eq!(super::format(&whole), "2026-01-29T10:00:00.000Z");
        let micros = whole + chrono::TimeDelta::microseconds(123_456);
        assert_eq!(super::format(&micros), "2026-01-29T10:00:00.123Z");
    }
}
