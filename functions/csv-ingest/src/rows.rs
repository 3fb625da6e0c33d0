//! One data row → a validated line of an order, a list of errors, or a
//! skipped (voided) line. Cells are decoded by [`crate::reader::Encoding`],
//! vendor conventions are [`crate::vendors`], amounts [`crate::amounts`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::amounts::{self, Sign};
use crate::cells::Cells;
use crate::columns::{Columns, Field};
use crate::reader::Encoding;
use crate::values::{self, NumberStyle, PaymentMethod};
use crate::vendors::{self, NotASale};

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

impl RowError {
    /// An error of the whole row, not of one cell.
    fn of_row(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            value: None,
            message: message.into(),
        }
    }
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
    /// Every cell is checked, so a rejected row lists all its errors.
    pub fn parse(&self, fields: &[&[u8]], line: u64) -> Outcome {
        let width = self.columns.width;
        if fields.len() != width {
            let message = format!("expected {width} fields, found {}", fields.len());
            return Outcome::Rejected(vec![RowError::of_row(line, message)]);
        }
        let Some(cells) = self.encoding.decode(fields) else {
            let message = "the row is not valid UTF-8";
            return Outcome::Rejected(vec![RowError::of_row(line, message)]);
        };
        let mut row = Cells::new(&cells, &self.columns, line);
        match vendors::not_a_sale(&mut row) {
            Some(NotASale::Refund) => return Outcome::Rejected(row.into_errors()),
            Some(NotASale::Void) => return Outcome::Skipped,
            None => {}
        }
        let numbers = self.numbers;
        let order_id = row.required_text(Field::OrderId, 64);
        let item_name = row.required_text(Field::ItemName, 200);
        let category = vendors::category(&mut row);
        let ordered_at = vendors::ordered_at(&mut row, self.timezone);
        let quantity = row.parse(Field::Quantity, |s| {
            values::quantity(s, numbers).map_err(String::from)
        });
        let unit_price = amounts::in_cell(&mut row, Field::UnitPrice, Sign::Positive, numbers);
        let line_amount = amounts::in_cell(&mut row, Field::LineAmount, Sign::Positive, numbers);
        amounts::require_a_price(&mut row);
        let discount = vendors::discount(&mut row, numbers);
        let tax = amounts::in_cell(&mut row, Field::Tax, Sign::Positive, numbers);
        let payment_method = vendors::payment_method(&row);

        let (Some(order_id), Some(item_name), Some((ordered_at, ordered_at_cell)), Some(quantity)) =
            (order_id, item_name, ordered_at, quantity)
        else {
            return Outcome::Rejected(row.into_errors());
        };
        let amounts = match row.has_errors() {
            true => None,
            false => amounts::line_in_row(&mut row, unit_price, line_amount, quantity),
        };
        let Some((unit_price, line_total)) = amounts else {
            return Outcome::Rejected(row.into_errors());
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

    fn valid(p: &RowParser, fields: &[&str]) -> Line {
        match parse(p, fields) {
            Outcome::Valid(line) => line,
            other => panic!("expected a valid line, got {other:?}"),
        }
    }

    fn rejected(p: &RowParser, fields: &[&str]) -> Vec<RowError> {
        match parse(p, fields) {
            Outcome::Rejected(errors) => errors,
            other => panic!("expected a rejected row, got {other:?}"),
        }
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
        let errors = rejected(
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
        );
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
        let line = valid(
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
        );
        assert_eq!(line.order_id, "A-1");
        assert_eq!(line.quantity, d("3"));
        assert_eq!(line.line_total, d("37.50"));
        assert_eq!(line.payment_method, PaymentMethod::Card);
        assert_eq!(
            line.ordered_at,
            DateTime::parse_from_rfc3339("2026-01-29T18:05:00Z").unwrap()
        );
        // 12.345 has 3 decimals: money allows only 2.
        let errors = rejected(
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
        );
        assert_eq!(errors[0].column.as_deref(), Some("unit_price"));
        let line = valid(
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
        );
        // 3 × 0.35 = 1.05; empty category is none; empty payment is other.
        assert_eq!(line.line_total, d("1.05"));
        assert_eq!(line.category, None);
        assert_eq!(line.payment_method, PaymentMethod::Other);
        assert_eq!(line.discount, Decimal::ZERO);
    }

    #[test]
    fn line_totals_round_half_even() {
        let p = parser(HEADER);
        let line = valid(
            &p,
            &["A", "2026-01-29 19:05", "x", "", "0.5", "0.05", "", "", ""],
        );
        // 0.025 → 0.02 (half to even), not 0.03.
        assert_eq!(line.line_total, d("0.02"));
    }

    #[test]
    fn every_bad_cell_is_reported_with_its_column() {
        let p = parser(HEADER);
        let errors = rejected(&p, &["", "someday", "", "", "abc", "-1", "-2", "x", "card"]);
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
        let errors = rejected(&p, &["A", "2026-01-29 19:05", "x"]);
        assert_eq!(errors[0].message, "expected 9 fields, found 3");
        let long = "y".repeat(300);
        let errors = rejected(
            &p,
            &["A", "2026-01-29 19:05", &long, "", "1", "1", "", "", ""],
        );
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
        let line = valid(
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
        );
        assert_eq!(
            line.ordered_at,
            DateTime::parse_from_rfc3339("2026-01-30T03:05:00Z").unwrap()
        );
        assert_eq!(line.unit_price, d("12.5"));
        assert_eq!(line.line_total, d("25.00"));
        assert_eq!(line.discount, d("1.00"));
        assert_eq!(line.payment_method, PaymentMethod::Card);
        let errors = rejected(
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
        );
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
        let line = valid(
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
        );
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
