//! The figures every analytics answer is made of (API.md): counts, and money
//! as strings with two decimals, sums rounded half-even to cents.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

/// Sums over some orders (and their item lines).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    pub orders: i64,
    pub items: i64,
    pub quantity: Decimal,
    pub gross: Decimal,
    pub discounts: Decimal,
    pub tax: Decimal,
}

impl Sums {
    pub fn add(&mut self, other: &Sums) {
        self.orders += other.orders;
        self.items += other.items;
        self.quantity += other.quantity;
        self.gross += other.gross;
        self.discounts += other.discounts;
        self.tax += other.tax;
    }

    pub fn net(&self) -> Decimal {
        self.gross - self.discounts
    }

    pub fn view(&self) -> Figures {
        let net = self.net();
        let average = match self.orders {
            0 => Decimal::ZERO,
            orders => net / Decimal::from(orders),
        };
        Figures {
            orders: self.orders,
            items: self.items,
            quantity: quantity(self.quantity),
            gross_sales: money(self.gross),
            discounts: money(self.discounts),
            net_sales: money(net),
            tax: money(self.tax),
            total: money(net + self.tax),
            average_order: money(average),
        }
    }
}

/// The figures of a period or a bucket (API.md, `totals` and `buckets`).
#[derive(Debug, Serialize)]
pub struct Figures {
    pub orders: i64,
    pub items: i64,
    pub quantity: String,
    pub gross_sales: String,
    pub discounts: String,
    pub net_sales: String,
    pub tax: String,
    pub total: String,
    pub average_order: String,
}

pub fn round_cents(value: Decimal) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(2);
    rounded
}

/// `"12.50"`: two decimals, rounded half-even.
pub fn money(value: Decimal) -> String {
    round_cents(value).to_string()
}

/// `"12"`, `"1.5"`: no trailing zeros.
pub fn quantity(value: Decimal) -> String {
    value.normalize().to_string()
}

/// A unit price: at least two decimals, at most four (`"12.50"`, `"3.3333"`).
pub fn unit_price(value: Decimal) -> String {
    let mut price = value.normalize();
    if price.scale() < 2 {
        price.rescale(2);
    }
    price.to_string()
}

/// `part / whole` rounded half-even to 4 decimals, as a JSON number; 0
/// when `whole` is 0.
pub fn share(part: Decimal, whole: Decimal) -> f64 {
    if whole.is_zero() {
        return 0.0;
    }
    let ratio = (part / whole).round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven);
    ratio.to_string().parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn money_quantities_prices_and_shares_are_written_as_the_contract_says() {
        assert_eq!(money(d("12.5")), "12.50");
        assert_eq!(money(d("0.125")), "0.12");
        assert_eq!(money(d("0.135")), "0.14");
        assert_eq!(money(Decimal::ZERO), "0.00");
        assert_eq!(quantity(d("12.000")), "12");
        assert_eq!(quantity(d("1.500")), "1.5");
        assert_eq!(quantity(Decimal::ZERO), "0");
        assert_eq!(unit_price(d("12.5000")), "12.50");
        assert_eq!(unit_price(d("3.3333")), "3.3333");
        assert_eq!(unit_price(d("3.3330")), "3.333");
        assert_eq!(share(d("812"), d("1234")), 0.658);
        assert_eq!(share(d("1"), d("3")), 0.3333);
        assert_eq!(share(d("1"), Decimal::ZERO), 0.0);
        let sums = Sums {
            orders: 3,
            items: 4,
            quantity: d("5"),
            gross: d("10.00"),
            discounts: d("0.01"),
            tax: d("1.00"),
        };
        let view = sums.view();
        assert_eq!(
            (
                view.net_sales.as_str(),
                view.total.as_str(),
                view.average_order.as_str()
            ),
            ("9.99", "10.99", "3.33")
        );
    }
}
