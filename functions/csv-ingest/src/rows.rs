//! One data row → a validated line of an order, a list of errors, or a
//! skipped (voided) line.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::amounts::{self, LineError};
use crate::columns::{Columns, Field};
use crate::values::{self, NumberStyle, PaymentMethod};

/// Offending values are cut to this many characters in errors.
const MAX_ERROR_VALUE_CHARS: usize = 100;
/// Text PostgreSQL cannot store; the rest of the row may be fine.
const NUL_MESSAGE: &str = "must not contain NUL characters";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub line: u64,
    pub order_id: String,
    pub ordered_at: DateTime<Utc>,
    /// `ordered_at` as the file wrote it, for row errors.
    pub ordered_at_cell: String,
    pub item_name: String,
    pub category: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub line_total: Decimal,
    pub payment_method: PaymentMethod,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Valid(Line),
    Rejected(Vec<RowError>),
    Skipped,
}

pub struct RowParser {
    pub columns: Columns,
    pub timezone: Tz,
    pub numbers: NumberStyle,
    pub encoding: Encoding,
}

impl RowParser {
    pub fn parse(&self, fields: &[&[u8]], line: u64) -> Outcome {
        if fields.len() != self.columns.width {
            return Outcome::Rejected(vec![RowError {
                line,
                column: None,
                value: None,
                message: format!(
                    "expected {} fields, found {}",
                    self.columns.width,
                    fields.len()
                ),
            }]);
        }
        let mut cells: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(fields.len());
        for raw in fields {
            match self.encoding {
                Encoding::Utf8 => match std::str::from_utf8(raw) {
                    Ok(s) => cells.push(s.into()),
                    Err(_) => {
                        return Outcome::Rejected(vec![RowError {
                            line,
                            column: None,
                            value: None,
                            message: "the row is not valid UTF-8".into(),
                        }])
                    }
                },
                Encoding::Windows1252 => {
                    cells.push(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0);
                }
            }
        }
        let mut row = Cells {
            cells: &cells,
            columns: &self.columns,
            line,
            errors: Vec::new(),
        };

        if let Some(event) = row.text(Field::EventType) {
            if event.trim().eq_ignore_ascii_case("refund") {
                row.reject(
                    Field::EventType,
                    &event.clone(),
                    "refunds are not supported",
                );
                return Outcome::Rejected(row.errors);
            }
        }
        if let Some(void) = row.text(Field::Void) {
            if matches!(
                void.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "y" | "1"
            ) {
                return Outcome::Skipped;
            }
        }

        let order_id = row.required_text(Field::OrderId, 64);
        let item_name = row.required_text(Field::ItemName, 200);
        let category_of = |f| row.text(f).filter(|c: &String| !c.trim().is_empty());
        let category = match category_of(Field::Category).or_else(|| category_of(Field::MenuGroup))
        {
            Some(c) if c.trim().chars().count() > 100 => {
                row.reject(Field::Category, &c, "must be at most 100 characters");
                None
            }
            Some(c) if c.contains('\0') => {
                row.reject(Field::Category, &c, NUL_MESSAGE);
                None
            }
            Some(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
            _ => None,
        };
        let ordered_at = self.ordered_at(&mut row);
        let quantity = row.parse(Field::Quantity, |s| {
            values::quantity(s, self.numbers).map_err(String::from)
        });
        let unit_price = self.optional_amount(&mut row, Field::UnitPrice, Sign::Positive);
        let line_amount = self.optional_amount(&mut row, Field::LineAmount, Sign::Positive);
        if row.non_empty(Field::UnitPrice).is_none() && row.non_empty(Field::LineAmount).is_none() {
            let field = if self.columns.get(Field::UnitPrice).is_some() {
                Field::UnitPrice
            } else {
                Field::LineAmount
            };
            row.reject(field, "", "is required");
        }
        // Square shows discounts as negative amounts; there the sign is presentation.
        let discount = match self.columns.get(Field::Discount) {
            Some(_) => self.optional_amount(&mut row, Field::Discount, Sign::Positive),
            None => self.optional_amount(&mut row, Field::Discounts, Sign::Presentation),
        };
        let tax = self.optional_amount(&mut row, Field::Tax, Sign::Positive);
        let payment_method = match (row.text(Field::PaymentMethod), row.text(Field::CardBrand)) {
            (Some(p), _) => PaymentMethod::parse(&p),
            (None, Some(brand)) if !brand.trim().is_empty() => PaymentMethod::Card,
            _ => PaymentMethod::Other,
        };

        if !row.errors.is_empty() {
            return Outcome::Rejected(row.errors);
        }
        let (Some(order_id), Some(item_name), Some((ordered_at, ordered_at_cell)), Some(quantity)) =
            (order_id, item_name, ordered_at, quantity)
        else {
            return Outcome::Rejected(row.errors);
        };
        let (unit_price, line_total) = match amounts::line(unit_price, line_amount, quantity) {
            Ok(amounts) => amounts,
            Err(error) => {
                // Blame the cell the amount came from, as the file wrote it.
                let field = match line_amount {
                    Some(_) => Field::LineAmount,
                    None => Field::UnitPrice,
                };
                let cell = row.non_empty(field).unwrap_or_default().to_string();
                let message = match error {
                    LineError::Line => amounts::LINE_MESSAGE,
                    LineError::UnitPrice => amounts::UNIT_PRICE_MESSAGE,
                };
                row.reject(field, &cell, message);
                return Outcome::Rejected(row.errors);
            }
        };
        Outcome::Valid(Line {
            line,
            order_id,
            ordered_at,
            ordered_at_cell,
            item_name,
            category,
            quantity,
            unit_price,
            discount: discount.unwrap_or_default(),
            tax: tax.unwrap_or_default(),
            line_total,
            payment_method,
        })
    }

    /// An amount of money within its bounds (CSV.md): line amounts below
    /// 10,000,000, anything else below 1,000,000.
    fn amount(&self, s: &str, field: Field, sign: Sign) -> Result<Decimal, String> {
        let mut value = values::money(s, self.numbers).map_err(String::from)?;
        match sign {
            Sign::Presentation => value = value.abs(),
            Sign::Positive if value < Decimal::ZERO => return Err("must be at least 0".into()),
            Sign::Positive => {}
        }
        let (limit, message) = match field {
            Field::LineAmount => (amounts::LINE_LIMIT, amounts::LINE_MESSAGE),
            _ => (amounts::MONEY_LIMIT, amounts::MONEY_MESSAGE),
        };
        if value >= limit {
            return Err(message.into());
        }
        Ok(value)
    }

    fn optional_amount(&self, row: &mut Cells<'_>, field: Field, sign: Sign) -> Option<Decimal> {
        row.non_empty(field)?;
        row.parse(field, |s| self.amount(s, field, sign))
    }

    /// The order's time, and the cell (or Square's date and time) it came from.
    fn ordered_at(&self, row: &mut Cells<'_>) -> Option<(DateTime<Utc>, String)> {
        if self.columns.get(Field::OrderedAt).is_some() {
            return match row.non_empty(Field::OrderedAt).map(str::to_string) {
                Some(cell) => row
                    .parse(Field::OrderedAt, |s| values::date_time(s, self.timezone))
                    .map(|at| (at, cell)),
                None => {
                    row.reject(Field::OrderedAt, "", "is required");
                    None
                }
            };
        }
        let date = row.text(Field::Date).unwrap_or_default();
        let time = row.text(Field::Time).unwrap_or_default();
        if date.trim().is_empty() || time.trim().is_empty() {
            row.reject(Field::Date, &format!("{date} {time}"), "is required");
            return None;
        }
        let timezone = row
            .text(Field::TimeZone)
            .and_then(|z| values::square_time_zone(&z))
            .unwrap_or(self.timezone);
        let combined = format!("{} {}", date.trim(), time.trim());
        match values::date_time(&combined, timezone) {
            Ok(t) => Some((t, combined)),
            Err(message) => {
                row.reject(Field::Date, &combined, &message);
                None
            }
        }
    }
}

/// What the sign of an amount means.
#[derive(Clone, Copy)]
enum Sign {
    /// Negative amounts are errors.
    Positive,
    /// Square shows discounts as negative amounts: the sign is presentation.
    Presentation,
}

/// A row's decoded cells and the errors found so far.
struct Cells<'a> {
    cells: &'a [std::borrow::Cow<'a, str>],
    columns: &'a Columns,
    line: u64,
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn text(&self, field: Field) -> Option<String> {
        self.columns.get(field).map(|i| self.cells[i].to_string())
    }

    fn non_empty(&self, field: Field) -> Option<&str> {
        let i = self.columns.get(field)?;
        let cell = self.cells[i].trim();
        (!cell.is_empty()).then_some(cell)
    }

    fn reject(&mut self, field: Field, value: &str, message: &str) {
        self.errors.push(RowError {
            line: self.line,
            column: Some(field.name().to_string()),
            // PostgreSQL cannot store NUL: show where it was instead.
            value: Some(
                value
                    .chars()
                    .take(MAX_ERROR_VALUE_CHARS)
                    .map(|c| {
                        if c == '\0' {
                            char::REPLACEMENT_CHARACTER
                        } else {
                            c
                        }
                    })
                    .collect(),
            ),
            message: message.to_string(),
        });
    }

    fn required_text(&mut self, field: Field, max_chars: usize) -> Option<String> {
        let value = self.text(field).unwrap_or_default();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.reject(field, &value, "is required");
            None
        } else if trimmed.chars().count() > max_chars {
            self.reject(
                field,
                trimmed,
                &format!("must be at most {max_chars} characters"),
            );
            None
        } else if trimmed.contains('\0') {
            self.reject(field, trimmed, NUL_MESSAGE);
            None
        } else {
            Some(trimmed.to_string())
        }
    }

    fn parse<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.text(field)?;
        match parse(&value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.reject(field, value.trim(), &message);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn parser(header: &[&str]) -> RowParser {
        let names: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        RowParser {
            columns: Columns::from_header(&names).unwrap(),
            timezone: "Europe/Paris".parse().unwrap(),
            numbers: NumberStyle::DecimalPoint,
            encoding: Encoding::Utf8,
        }
    }

    fn parse(p: &RowParser, fields: &[&str]) -> Outcome {
        let bytes: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        p.parse(&bytes, 7)
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    const HEADER: &[&str] = &[
        "order_id",
        "ordered_at",
        "item_name",
        "category",
        "quantity",
        "unit_price",
        "discount",
        "tax",
        "payment_method",
    ];

    #[test]
    fn nul_characters_reject_their_row_and_never_reach_an_error_value() {
        let p = parser(HEADER);
        let Outcome::Rejected(errors) = parse(
            &p,
            &[
                "A-1",
                "2026-01-29 19:05",
                "Pi\0zza",
                "Mains\0",
                "1\0",
                "12.50",
                "",
                "",
                "card",
            ],
        ) else {
            panic!("a NUL rejects the row");
        };
        let columns: Vec<_> = errors.iter().map(|e| e.column.as_deref()).collect();
        assert_eq!(
            columns,
            [Some("item_name"), Some("category"), Some("quantity")]
        );
        assert_eq!(errors[0].message, "must not contain NUL characters");
        assert!(errors
            .iter()
            .all(|e| !e.value.as_deref().unwrap_or("").contains('\0')));
    }

    #[test]
    fn a_valid_row_becomes_a_line() {
        let p = parser(HEADER);
        let Outcome::Valid(line) = parse(
            &p,
            &[
                "A-1",
                "2026-01-29 19:05",
                "Margherita",
                "Pizza",
                "3",
                "12.50",
                "0",
                "2.10",
                "Card",
            ],
        ) else {
            panic!()
        };
        assert_eq!(line.order_id, "A-1");
        assert_eq!(line.quantity, d("3"));
        assert_eq!(line.line_total, d("37.50"));
        assert_eq!(line.payment_method, PaymentMethod::Card);
        assert_eq!(
            line.ordered_at,
            DateTime::parse_from_rfc3339("2026-01-29T18:05:00Z").unwrap()
        );
        // 12.345 has 3 decimals: money allows only 2.
        let Outcome::Rejected(errors) = parse(
            &p,
            &[
                "A-1",
                "2026-01-29 19:05",
                "M",
                "",
                "3",
                "12.345",
                "",
                "",
                "",
            ],
        ) else {
            panic!()
        };
        assert_eq!(errors[0].column.as_deref(), Some("unit_price"));
        let Outcome::Valid(line) = parse(
            &p,
            &[
                "A-2",
                "2026-01-29 19:05",
                "Soup",
                "",
                "3",
                "$0.35",
                "",
                "",
                "",
            ],
        ) else {
            panic!()
        };
        // 3 × 0.35 = 1.05; empty category is none; empty payment is other.
        assert_eq!(line.line_total, d("1.05"));
        assert_eq!(line.category, None);
        assert_eq!(line.payment_method, PaymentMethod::Other);
        assert_eq!(line.discount, Decimal::ZERO);
    }

    #[test]
    fn line_totals_round_half_even() {
        let p = parser(HEADER);
        let Outcome::Valid(line) = parse(
            &p,
            &["A", "2026-01-29 19:05", "x", "", "0.5", "0.05", "", "", ""],
        ) else {
            panic!()
        };
        // 0.025 → 0.02 (half to even), not 0.03.
        assert_eq!(line.line_total, d("0.02"));
    }

    #[test]
    fn every_bad_cell_is_reported_with_its_column() {
        let p = parser(HEADER);
        let Outcome::Rejected(errors) =
            parse(&p, &["", "someday", "", "", "abc", "-1", "-2", "x", "card"])
        else {
            panic!()
        };
        let columns: Vec<&str> = errors
            .iter()
            .map(|e| e.column.as_deref().unwrap())
            .collect();
        assert_eq!(
            columns,
            vec![
                "order_id",
                "item_name",
                "ordered_at",
                "quantity",
                "unit_price",
                "discount",
                "tax"
            ]
        );
        let quantity = errors
            .iter()
            .find(|e| e.column.as_deref() == Some("quantity"))
            .unwrap();
        assert_eq!(
            (
                quantity.value.as_deref(),
                quantity.message.as_str(),
                quantity.line
            ),
            (Some("abc"), "is not a number", 7)
        );
        let Outcome::Rejected(errors) = parse(&p, &["A", "2026-01-29 19:05", "x"]) else {
            panic!()
        };
        assert_eq!(errors[0].message, "expected 9 fields, found 3");
        let long = "y".repeat(300);
        let Outcome::Rejected(errors) = parse(
            &p,
            &["A", "2026-01-29 19:05", &long, "", "1", "1", "", "", ""],
        ) else {
            panic!()
        };
        assert_eq!(errors[0].value.as_ref().unwrap().chars().count(), 100);
    }

    #[test]
    fn square_rows_combine_date_and_time_and_flip_discounts() {
        let p = parser(&[
            "Date",
            "Time",
            "Time Zone",
            "Category",
            "Item",
            "Qty",
            "Gross Sales",
            "Discounts",
            "Tax",
            "Transaction ID",
            "Card Brand",
            "Event Type",
        ]);
        let Outcome::Valid(line) = parse(
            &p,
            &[
                "01/29/2026",
                "7:05:00 PM",
                "Pacific Time (US & Canada)",
                "Pizza",
                "Margherita",
                "2",
                "$25.00",
                "($1.00)",
                "$2.10",
                "T1",
                "Visa",
                "Payment",
            ],
        ) else {
            panic!()
        };
        assert_eq!(
            line.ordered_at,
            DateTime::parse_from_rfc3339("2026-01-30T03:05:00Z").unwrap()
        );
        assert_eq!(line.unit_price, d("12.5"));
        assert_eq!(line.line_total, d("25.00"));
        assert_eq!(line.discount, d("1.00"));
        assert_eq!(line.payment_method, PaymentMethod::Card);
        let Outcome::Rejected(errors) = parse(
            &p,
            &[
                "01/29/2026",
                "7:05:00 PM",
                "",
                "Pizza",
                "Margherita",
                "1",
                "$12.50",
                "",
                "",
                "T2",
                "",
                "Refund",
            ],
        ) else {
            panic!()
        };
        assert_eq!(errors[0].message, "refunds are not supported");
    }

    #[test]
    fn toast_voids_are_skipped_and_menu_group_is_the_fallback_category() {
        let p = parser(&[
            "Order Id",
            "Order Date",
            "Menu Item",
            "Menu Group",
            "Qty",
            "Gross Price",
            "Discount",
            "Tax",
            "Void?",
        ]);
        assert_eq!(
            parse(
                &p,
                &[
                    "1",
                    "01/29/2026 19:05",
                    "x",
                    "Mains",
                    "1",
                    "3.00",
                    "0",
                    "0",
                    "true"
                ]
            ),
            Outcome::Skipped
        );
        let Outcome::Valid(line) = parse(
            &p,
            &[
                "1",
                "01/29/2026 19:05",
                "x",
                "Mains",
                "3",
                "10.00",
                "0",
                "0",
                "false",
            ],
        ) else {
            panic!()
        };
        assert_eq!(line.category.as_deref(), Some("Mains"));
        // 10 / 3 keeps 4 decimals; the line amount stays as given.
        assert_eq!(line.unit_price, d("3.3333"));
        assert_eq!(line.line_total, d("10.00"));
    }

    #[test]
    fn windows_1252_cells_are_decoded() {
        let mut p = parser(HEADER);
        p.encoding = Encoding::Windows1252;
        let fields: Vec<&[u8]> = vec![
            b"A",
            b"2026-01-29 19:05",
            b"Cr\xe8me br\xfbl\xe9e",
            b"",
            b"1",
            b"\x80" as &[u8],
            b"",
            b"",
            b"",
        ];
        // "€" alone is not an amount: rejected, and the value is decoded.
        let Outcome::Rejected(errors) = p.parse(&fields, 2) else {
            panic!()
        };
        assert_eq!(errors[0].value.as_deref(), Some("€"));
        let fields: Vec<&[u8]> = vec![
            b"A",
            b"2026-01-29 19:05",
            b"Cr\xe8me br\xfbl\xe9e",
            b"",
            b"1",
            b"\x805",
            b"",
            b"",
            b"",
        ];
        let Outcome::Valid(line) = p.parse(&fields, 2) else {
            panic!()
        };
        assert_eq!(line.item_name, "Crème brûlée");
        assert_eq!(line.unit_price, d("5"));
    }
}
