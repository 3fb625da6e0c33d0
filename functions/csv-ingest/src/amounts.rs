//! The bounds on amounts (CSV.md) and the arithmetic on them. Every sum and
//! product is checked: a value out of range rejects its row, and an order
//! out of range its order's rows, never the file (and never a panic).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::cells::Cells;
use crate::columns::Field;
use crate::values::{self, NumberStyle};

/// Unit prices, discounts and taxes are below this.
pub const MONEY_LIMIT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// A line amount (given, or quantity × unit price) is below this.
pub const LINE_LIMIT: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);
/// A unit price derived from a line amount must fit `numeric(12,4)`.
pub const DERIVED_UNIT_LIMIT: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// An order's subtotal, discount, tax and total are below this.
pub const ORDER_LIMIT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

pub const MONEY_MESSAGE: &str = "must be less than 1,000,000";
pub const LINE_MESSAGE: &str = "line amount out of range";
pub const UNIT_PRICE_MESSAGE: &str =
    "gives a unit price (line amount / quantity) of 100,000,000 or more";
pub const ORDER_MESSAGE: &str = "order total out of range";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The line amount is out of range.
    Line,
    /// The unit price derived from a given line amount is out of range.
    UnitPrice,
}

/// A line's unit price and amount (before discount and tax), from what the
/// file gives: the line amount when it has one (the unit price derived
/// from it when the file gives none), else quantity × unit price, rounded
/// half-even to cents. A given unit price is already within its bound.
pub fn line(
    unit_price: Option<Decimal>,
    given_amount: Option<Decimal>,
    quantity: Decimal,
) -> Result<(Decimal, Decimal), LineError> {
    let (unit, amount) = match (unit_price, given_amount) {
        (Some(unit), Some(amount)) => (unit, amount),
        (None, Some(amount)) => {
            let unit = amount
                .checked_div(quantity)
                .ok_or(LineError::UnitPrice)?
                .round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven);
            if unit.abs() >= DERIVED_UNIT_LIMIT {
                return Err(LineError::UnitPrice);
            }
            (unit, amount)
        }
        (Some(unit), None) => {
            let amount = unit
                .checked_mul(quantity)
                .ok_or(LineError::Line)?
                .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
            (unit, amount)
        }
        (None, None) => return Err(LineError::Line),
    };
    if amount.abs() >= LINE_LIMIT {
        return Err(LineError::Line);
    }
    Ok((unit, amount))
}

/// The running sums of an order. Once out of range, it stays so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderSums {
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub out_of_range: bool,
}

impl OrderSums {
    pub fn add(&mut self, line_total: Decimal, discount: Decimal, tax: Decimal) {
        let sums = (
            self.subtotal.checked_add(line_total),
            self.discount.checked_add(discount),
            self.tax.checked_add(tax),
        );
        let (Some(subtotal), Some(discount), Some(tax)) = sums else {
            self.out_of_range = true;
            return;
        };
        (self.subtotal, self.discount, self.tax) = (subtotal, discount, tax);
        let total = self.total();
        if [Some(subtotal), Some(discount), Some(tax), total]
            .iter()
            .any(|v| v.is_none_or(|v| v.abs() >= ORDER_LIMIT))
        {
            self.out_of_range = true;
        }
    }

    /// subtotal − discount + tax.
    pub fn total(&self) -> Option<Decimal> {
        self.subtotal
            .checked_sub(self.discount)?
            .checked_add(self.tax)
    }
}

/// What the sign of an amount means.
#[derive(Clone, Copy)]
pub enum Sign {
    /// Negative amounts are errors.
    Positive,
    /// Square shows discounts as negative amounts: the sign is presentation.
    Presentation,
}

/// The amount in `field`'s cell, within its bound (line amounts below
/// 10,000,000, anything else below 1,000,000); `None` when empty or bad
/// (then the row has the error).
pub fn in_cell(
    row: &mut Cells<'_>,
    field: Field,
    sign: Sign,
    numbers: NumberStyle,
) -> Option<Decimal> {
    row.non_empty(field)?;
    row.parse(field, |s| {
        let mut value = values::money(s, numbers).map_err(String::from)?;
        match sign {
            Sign::Presentation => value = value.abs(),
            Sign::Positive if value < Decimal::ZERO => return Err("must be at least 0".into()),
            Sign::Positive => {}
        }
        let (limit, message) = match field {
            Field::LineAmount => (LINE_LIMIT, LINE_MESSAGE),
            _ => (MONEY_LIMIT, MONEY_MESSAGE),
        };
        match value < limit {
            true => Ok(value),
            false => Err(message.into()),
        }
    })
}

/// A row must give a unit price or a line amount.
pub fn require_a_price(row: &mut Cells<'_>) {
    if row.non_empty(Field::UnitPrice).is_none() && row.non_empty(Field::LineAmount).is_none() {
        let field = match row.has(Field::UnitPrice) {
            true => Field::UnitPrice,
            false => Field::LineAmount,
        };
        row.reject(field, "", "is required");
    }
}

/// [`line`], with an out-of-range result blamed on the cell the amount
/// came from, as the file wrote it.
pub fn line_in_row(
    row: &mut Cells<'_>,
    unit_price: Option<Decimal>,
    given_amount: Option<Decimal>,
    quantity: Decimal,
) -> Option<(Decimal, Decimal)> {
    let error = match line(unit_price, given_amount, quantity) {
        Ok(amounts) => return Some(amounts),
        Err(error) => error,
    };
    let field = match given_amount {
        Some(_) => Field::LineAmount,
        None => Field::UnitPrice,
    };
    let cell = row.non_empty(field).unwrap_or_default().to_string();
    let message = match error {
        LineError::Line => LINE_MESSAGE,
        LineError::UnitPrice => UNIT_PRICE_MESSAGE,
    };
    row.reject(field, &cell, message);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn lines_round_half_even_and_stay_in_range() {
        assert_eq!(
            line(Some(d("0.05")), None, d("0.5")),
            Ok((d("0.05"), d("0.02")))
        );
        assert_eq!(
            line(None, Some(d("10.00")), d("3")),
            Ok((d("3.3333"), d("10.00")))
        );
        assert_eq!(
            line(Some(d("999999.99")), None, d("10000")),
            Err(LineError::Line)
        );
        assert_eq!(
            line(None, Some(d("9999999.99")), d("2")),
            Ok((d("4999999.995"), d("9999999.99")))
        );
        assert_eq!(
            line(None, Some(d("9999999.99")), d("0.01")),
            Err(LineError::UnitPrice)
        );
        assert_eq!(
            line(None, Some(d("10000000")), d("1")),
            Err(LineError::Line)
        );
        // The largest decimal there is, twice: no overflow, no panic.
        assert_eq!(line(Some(Decimal::MAX), None, d("2")), Err(LineError::Line));
        assert_eq!(
            line(None, Some(Decimal::MAX), d("0.001")),
            Err(LineError::UnitPrice)
        );
    }

    #[test]
    fn orders_out_of_range_stay_out_of_range() {
        let mut sums = OrderSums::default();
        sums.add(d("9999999.99"), d("0"), d("1"));
        assert!(!sums.out_of_range);
        assert_eq!(sums.total(), Some(d("10000000.99")));
        for _ in 0..100 {
            sums.add(d("9999999.99"), d("0"), d("0"));
        }
        assert!(sums.out_of_range, "{sums:?}");
        let mut discounts = OrderSums::default();
        discounts.add(d("1"), Decimal::MAX, d("0"));
        discounts.add(d("1"), Decimal::MAX, d("0"));
        assert!(discounts.out_of_range);
    }
}
