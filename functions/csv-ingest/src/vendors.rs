//! What one point-of-sale system's export means that another's does not
//! (CSV.md "Vendor exports"): Square's refunds, split date and time, time
//! zone column and negative discounts; Toast's voids and menu groups; card
//! brands standing for a payment method.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::amounts::{self, Sign};
use crate::cells::{Cells, NUL_MESSAGE};
use crate::columns::Field;
use crate::values::{self, NumberStyle, PaymentMethod};

/// A row that records no sale.
pub enum NotASale {
    /// A Square refund: rejected (the cell says why).
    Refund,
    /// A Toast void: skipped.
    Void,
}

pub fn not_a_sale(row: &mut Cells<'_>) -> Option<NotASale> {
    if let Some(event) = row.text(Field::EventType) {
        if event.trim().eq_ignore_ascii_case("refund") {
            row.reject(Field::EventType, &event, "refunds are not supported");
            return Some(NotASale::Refund);
        }
    }
    let void = row.text(Field::Void)?;
    matches!(
        void.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "y" | "1"
    )
    .then_some(NotASale::Void)
}

/// The category, or Toast's menu group when there is none.
pub fn category(row: &mut Cells<'_>) -> Option<String> {
    let category_of = |f| row.text(f).filter(|c: &String| !c.trim().is_empty());
    match category_of(Field::Category).or_else(|| category_of(Field::MenuGroup)) {
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
    }
}

/// The payment method, or `card` when only a card brand is given.
pub fn payment_method(row: &Cells<'_>) -> PaymentMethod {
    match (row.text(Field::PaymentMethod), row.text(Field::CardBrand)) {
        (Some(p), _) => PaymentMethod::parse(&p),
        (None, Some(brand)) if !brand.trim().is_empty() => PaymentMethod::Card,
        _ => PaymentMethod::Other,
    }
}

/// The discount; Square shows discounts as negative amounts, where the
/// sign is presentation.
pub fn discount(row: &mut Cells<'_>, numbers: NumberStyle) -> Option<Decimal> {
    match row.has(Field::Discount) {
        true => amounts::in_cell(row, Field::Discount, Sign::Positive, numbers),
        false => amounts::in_cell(row, Field::Discounts, Sign::Presentation, numbers),
    }
}

/// The order's time, and the cell (or Square's date and time) it came from.
pub fn ordered_at(row: &mut Cells<'_>, timezone: Tz) -> Option<(DateTime<Utc>, String)> {
    if row.has(Field::OrderedAt) {
        return match row.non_empty(Field::OrderedAt).map(str::to_string) {
            Some(cell) => row
                .parse(Field::OrderedAt, |s| values::date_time(s, timezone))
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
        .unwrap_or(timezone);
    let combined = format!("{} {}", date.trim(), time.trim());
    match values::date_time(&combined, timezone) {
        Ok(t) => Some((t, combined)),
        Err(message) => {
            row.reject(Field::Date, &combined, &message);
            None
        }
    }
}
