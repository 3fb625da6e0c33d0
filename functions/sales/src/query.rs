//! Query parameters parsed into typed values (API.md "Sales analytics"):
//! every bad parameter named in one `Query is invalid` problem.

use chrono::{Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use flux_shared::http::Request;
use flux_shared::problem::{FieldError, Problem};

/// The longest period a request may ask for, in days (3 years).
pub const MAX_DAYS: i64 = 1096;
/// The default period: the 30 days ending today.
pub const DEFAULT_DAYS: u64 = 30;

/// A request's query string, and the problems found in it so far.
pub struct Query {
    params: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    pub fn of(req: &Request) -> Self {
        let raw = req.uri().query().unwrap_or("");
        Self {
            params: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            errors: Vec::new(),
        }
    }

    /// The parameter's last value; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A 400 naming every bad parameter, if there was any.
    pub fn finish(self) -> Result<(), Problem> {
        match self.errors.is_empty() {
            true => Ok(()),
            false => Err(Problem::invalid_query(self.errors)),
        }
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let raw = self.get(name)?;
        // Exactly YYYY-MM-DD: chrono alone would take `2026-1-5`.
        let date = (raw.len() == 10)
            .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
            .flatten();
        if date.is_none() {
            self.reject(name, "must be a date as YYYY-MM-DD");
        }
        date
    }

    /// `from` and `to`, local dates in `timezone`. Without them, the 30
    /// days ending today; with only one, 30 days from or to it.
    pub fn period(&mut self, timezone: Tz) -> Option<Period> {
        let (from, to) = (self.date("from"), self.date("to"));
        if !self.errors.is_empty() {
            return None;
        }
        let span = Days::new(DEFAULT_DAYS - 1);
        let today = Utc::now().with_timezone(&timezone).date_naive();
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from.checked_add_days(span).unwrap_or(from)),
            (None, Some(to)) => (to.checked_sub_days(span).unwrap_or(to), to),
            (None, None) => (today.checked_sub_days(span).unwrap_or(today), today),
        };
        if from > to {
            self.reject("from", "must not be after to");
            return None;
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            self.reject("to", format!("the period must be at most {MAX_DAYS} days"));
            return None;
        }
        Some(Period { from, to })
    }

    /// One of `allowed`, or `default` when absent.
    pub fn choice(
        &mut self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> &'static str {
        match self.get(name) {
            None => default,
            Some(raw) => match allowed.iter().find(|a| **a == raw) {
                Some(found) => found,
                None => {
                    self.reject(name, format!("must be one of {}", allowed.join(", ")));
                    default
                }
            },
        }
    }

    /// An integer in `1..=max`, or `default` when absent.
    pub fn limit(&mut self, default: i64, max: i64) -> i64 {
        match self.get("limit") {
            None => default,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    self.reject("limit", format!("must be an integer from 1 to {max}"));
                    default
                }
            },
        }
    }
}

/// Local dates, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Which rollup rows cover a period: its whole months from month rows, the
/// days before and after them from day rows. Ranges are `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub months: (NaiveDate, NaiveDate),
    pub head: (NaiveDate, NaiveDate),
    pub tail: (NaiveDate, NaiveDate),
}

pub fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

pub fn next_month(day: NaiveDate) -> NaiveDate {
    first_of_month(day)
        .checked_add_months(chrono::Months::new(1))
        .expect("dates stay in range")
}

impl Period {
    /// The day after `to`.
    pub fn end(&self) -> NaiveDate {
        self.to.succ_opt().expect("dates stay in range")
    }

    pub fn windows(&self) -> Windows {
        let end = self.end();
        let first_whole = if self.from.day() == 1 {
            self.from
        } else {
            next_month(self.from)
        };
        let after_whole = first_of_month(end);
        if first_whole >= after_whole {
            return Windows {
                months: (first_whole, first_whole),
                head: (self.from, end),
                tail: (end, end),
            };
        }
        Windows {
            months: (first_whole, after_whole),
            head: (self.from, first_whole),
            tail: (after_whole, end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn period(from: &str, to: &str) -> Period {
        Period {
            from: d(from),
            to: d(to),
        }
    }

    #[test]
    fn whole_months_come_from_month_rows_and_edges_from_days() {
        let w = period("2026-01-15", "2026-04-10").windows();
        assert_eq!(w.months, (d("2026-02-01"), d("2026-04-01")));
        assert_eq!(w.head, (d("2026-01-15"), d("2026-02-01")));
        assert_eq!(w.tail, (d("2026-04-01"), d("2026-04-11")));
        // Exactly whole months: no edge days.
        let w = period("2026-01-01", "2026-02-28").windows();
        assert_eq!(w.months, (d("2026-01-01"), d("2026-03-01")));
        assert_eq!(w.head.0, w.head.1);
        assert_eq!(w.tail.0, w.tail.1);
        // Inside one month: days only.
        let w = period("2026-01-05", "2026-01-20").windows();
        assert_eq!(w.months.0, w.months.1);
        assert_eq!(w.head, (d("2026-01-05"), d("2026-01-21")));
        // Across a month boundary but no whole month.
        let w = period("2026-01-20", "2026-02-10").windows();
        assert_eq!(w.months.0, w.months.1);
        assert_eq!(w.head, (d("2026-01-20"), d("2026-02-11")));
    }
}
