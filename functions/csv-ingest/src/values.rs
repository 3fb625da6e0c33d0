//! Cell values of a sales CSV (CSV.md): money, quantities, date-times and
//! payment methods. Each parser's error is the message for the cell.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// How numbers are written in this file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberStyle {
    /// `1,234.50`
    DecimalPoint,
    /// `1.234,50` (files delimited by `;`)
    DecimalComma,
}

/// A signed amount of money with at most 2 decimals: an optional currency
/// symbol, thousands separators, a leading `-` or accounting parentheses.
pub fn money(raw: &str, style: NumberStyle) -> Result<Decimal, &'static str> {
    let mut s = raw.trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        negative = true;
        s = inner.trim();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.trim_start();
    }
    for symbol in ['$', '€', '£'] {
        if let Some(rest) = s.strip_prefix(symbol) {
            s = rest.trim_start();
            break;
        }
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.trim_start();
    }
    let value = decimal(s, style, 2, true).map_err(|e| match e {
        DecimalError::Format => "is not an amount of money",
        DecimalError::Scale => "has more than 2 decimals",
    })?;
    Ok(if negative { -value } else { value })
}

/// A quantity: > 0, at most 10000, at most 3 decimals.
pub fn quantity(raw: &str, style: NumberStyle) -> Result<Decimal, &'static str> {
    let value = decimal(raw.trim(), style, 3, false).map_err(|e| match e {
        DecimalError::Format => "is not a number",
        DecimalError::Scale => "has more than 3 decimals",
    })?;
    if value <= Decimal::ZERO {
        return Err("must be greater than 0");
    }
    if value > Decimal::from(10_000) {
        return Err("must be at most 10000");
    }
    Ok(value)
}

enum DecimalError {
    Format,
    Scale,
}

/// Digits with an optional fraction, and thousands separators in groups of
/// three when `grouping` is allowed.
fn decimal(
    s: &str,
    style: NumberStyle,
    max_scale: u32,
    grouping: bool,
) -> Result<Decimal, DecimalError> {
    let (decimal_mark, group_marks): (char, &[char]) = match style {
        NumberStyle::DecimalPoint => ('.', &[',']),
        NumberStyle::DecimalComma => (',', &['.', ' ', '\u{a0}']),
    };
    let (int_part, frac_part) = match s.split_once(decimal_mark) {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits_only = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let int_digits: String = if digits_only(int_part) {
        int_part.to_string()
    } else if grouping {
        let groups: Vec<&str> = int_part.split(group_marks).collect();
        let well_grouped = groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && digits_only(groups[0])
            && groups[1..].iter().all(|g| g.len() == 3 && digits_only(g));
        if !well_grouped {
            return Err(DecimalError::Format);
        }
        groups.concat()
    } else {
        return Err(DecimalError::Format);
    };
    let text = match frac_part {
        None => int_digits,
        Some(f) if digits_only(f) => {
            if f.len() as u32 > max_scale {
                return Err(DecimalError::Scale);
            }
            format!("{int_digits}.{f}")
        }
        Some(_) => return Err(DecimalError::Format),
    };
    Decimal::from_str(&text).map_err(|_| DecimalError::Format)
}

/// `ordered_at`: RFC 3339 with an offset, or a local time in `tz`.
pub fn date_time(raw: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = raw.trim();
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(s) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    let naive = local_date_time(s).ok_or_else(|| {
        "is not a date-time (use 2026-01-29 19:05, 01/29/2026 7:05 PM, or RFC 3339)".to_string()
    })?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        // The hour repeated when clocks go back: the first of the two.
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(format!("does not exist in {tz} (clocks went forward)")),
    }
}

const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

fn local_date_time(s: &str) -> Option<NaiveDateTime> {
    // Fractions of a second appear in some exports; they do not matter here.
    let s = match s.split_once('.') {
        Some((head, frac)) if frac.bytes().all(|b| b.is_ascii_digit()) && head.len() >= 16 => head,
        _ => s,
    };
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let upper = s.to_ascii_uppercase();
    LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&upper, f).ok())
}

/// Square's time zone column: IANA names, or the display names it uses.
pub fn square_time_zone(raw: &str) -> Option<Tz> {
    let name = raw.trim();
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    let iana = match name.to_ascii_lowercase().as_str() {
        "eastern time (us & canada)" | "eastern time" | "et" | "est" | "edt" => "America/New_York",
        "central time (us & canada)" | "central time" | "ct" | "cst" | "cdt" => "America/Chicago",
        "mountain time (us & canada)" | "mountain time" | "mt" | "mst" | "mdt" => "America/Denver",
        "arizona" => "America/Phoenix",
        "pacific time (us & canada)" | "pacific time" | "pt" | "pst" | "pdt" => {
            "America/Los_Angeles"
        }
        "alaska" | "alaska time" => "America/Anchorage",
        "hawaii" | "hawaii time" => "Pacific/Honolulu",
        "london" => "Europe/London",
        "utc" | "gmt" | "coordinated universal time" => "UTC",
        _ => return None,
    };
    Tz::from_str(iana).ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentMethod {
    Cash,
    Card,
    Mobile,
    GiftCard,
    Other,
}

impl PaymentMethod {
    /// Anything unrecognised, or empty, is `other` (CSV.md).
    pub fn parse(raw: &str) -> Self {
        let normalized: String = raw
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect();
        match normalized.as_str() {
            "cash" => Self::Cash,
            "card" => Self::Card,
            "mobile" => Self::Mobile,
            "gift_card" => Self::GiftCard,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Mobile => "mobile",
            Self::GiftCard => "gift_card",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn money_accepts_symbols_separators_and_signs() {
        let p = NumberStyle::DecimalPoint;
        assert_eq!(money("12.50", p), Ok(d("12.50")));
        assert_eq!(money("$1,234.50", p), Ok(d("1234.50")));
        assert_eq!(money(" €7 ", p), Ok(d("7")));
        assert_eq!(money("-$1.00", p), Ok(d("-1.00")));
        assert_eq!(money("($1.00)", p), Ok(d("-1.00")));
        assert_eq!(money("$-2.5", p), Ok(d("-2.5")));
        assert_eq!(money("1.234", p), Err("has more than 2 decimals"));
        assert_eq!(money("12,5", p), Err("is not an amount of money"));
        assert_eq!(money("1,23.00", p), Err("is not an amount of money"));
        assert_eq!(money("abc", p), Err("is not an amount of money"));
        let c = NumberStyle::DecimalComma;
        assert_eq!(money("12,50", c), Ok(d("12.50")));
        assert_eq!(money("1.234,50 ", c), Ok(d("1234.50")));
        assert_eq!(money("£3", c), Ok(d("3")));
    }

    #[test]
    fn quantities_are_bounded() {
        let p = NumberStyle::DecimalPoint;
        assert_eq!(quantity("2", p), Ok(d("2")));
        assert_eq!(quantity("0.125", p), Ok(d("0.125")));
        assert_eq!(quantity("0", p), Err("must be greater than 0"));
        assert_eq!(quantity("-1", p), Err("is not a number"));
        assert_eq!(quantity("10000.001", p), Err("must be at most 10000"));
        assert_eq!(quantity("1.0001", p), Err("has more than 3 decimals"));
        assert_eq!(quantity("abc", p), Err("is not a number"));
        assert_eq!(quantity("1,5", NumberStyle::DecimalComma), Ok(d("1.5")));
    }

    #[test]
    fn date_times_in_every_accepted_form() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let expected = Utc.with_ymd_and_hms(2026, 1, 29, 18, 5, 0).unwrap();
        for raw in [
            "2026-01-29 19:05",
            "2026-01-29 19:05:00",
            "2026-01-29T19:05",
            "01/29/2026 19:05",
            "01/29/2026 7:05 PM",
            "1/29/2026 07:05:00 pm",
            "2026-01-29T19:05:00+01:00",
            "2026-01-29T18:05:00Z",
        ] {
            assert_eq!(date_time(raw, paris), Ok(expected), "{raw}");
        }
        assert!(date_time("29/01/2026 19:05", paris).is_err());
        assert!(date_time("yesterday", paris).is_err());
        // 02:30 on the day clocks go forward does not exist in Paris.
        assert!(date_time("2026-03-29 02:30", paris)
            .unwrap_err()
            .contains("does not exist"));
        // 02:30 when they go back happens twice: the first one (still summer time).
        assert_eq!(
            date_time("2026-10-25 02:30", paris),
            Ok(Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap())
        );
    }

    #[test]
    fn payment_methods_default_to_other() {
        assert_eq!(PaymentMethod::parse(" Card "), PaymentMethod::Card);
        assert_eq!(PaymentMethod::parse("Gift Card"), PaymentMethod::GiftCard);
        assert_eq!(PaymentMethod::parse(""), PaymentMethod::Other);
        assert_eq!(PaymentMethod::parse("bitcoin"), PaymentMethod::Other);
    }

    #[test]
    fn square_zone_names_map_to_iana() {
        assert_eq!(
            square_time_zone("Pacific Time (US & Canada)"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            square_time_zone("Europe/Paris"),
            Some(chrono_tz::Europe::Paris)
        );
        assert_eq!(square_time_zone("Somewhere"), None);
    }
}
