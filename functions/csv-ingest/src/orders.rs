//! Groups a stretch of valid lines into orders in memory, so that they go
//! into `transactions` and `transaction_items` in one pass, column by column
//! (each column becomes one array parameter of the insert).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::rows::{Line, RowError};

/// One row per order of the stretch.
#[derive(Debug, Default)]
pub struct OrderColumns {
    /// Time-ordered (UUIDv7), so index inserts append instead of scattering.
    pub id: Vec<Uuid>,
    pub order_id: Vec<String>,
    pub ordered_at: Vec<DateTime<Utc>>,
    pub subtotal: Vec<Decimal>,
    pub discount: Vec<Decimal>,
    pub tax: Vec<Decimal>,
    pub item_count: Vec<i32>,
    pub payment_method: Vec<&'static str>,
}

/// One row per line of the stretch, pointing at its order.
#[derive(Debug, Default)]
pub struct ItemColumns {
    pub transaction_id: Vec<Uuid>,
    pub item_name: Vec<String>,
    pub category: Vec<Option<String>>,
    pub quantity: Vec<Decimal>,
    pub unit_price: Vec<Decimal>,
    pub discount: Vec<Decimal>,
    pub tax: Vec<Decimal>,
    pub line_total: Vec<Decimal>,
}

#[derive(Debug, Default)]
pub struct OrderBatch {
    pub orders: OrderColumns,
    pub items: ItemColumns,
    by_order: HashMap<String, usize>,
}

impl OrderBatch {
    pub fn lines(&self) -> usize {
        self.items.transaction_id.len()
    }

    /// Whether the batch should be sent before `next`: it holds at least
    /// `lines` lines and `next` starts an order it does not hold, so an
    /// order whose lines are together in the file is never cut in two.
    pub fn is_full_before(&self, next: &Line, lines: usize) -> bool {
        self.lines() >= lines && !self.by_order.contains_key(&next.order_id)
    }

    /// Adds a line to its order, or rejects it when it disagrees with the
    /// first line of its order on `ordered_at` (CSV.md).
    pub fn push(&mut self, line: Line) -> Result<(), RowError> {
        let o = &mut self.orders;
        let index = match self.by_order.get(&line.order_id) {
            Some(&index) => {
                let expected = o.ordered_at[index];
                if line.ordered_at != expected {
                    return Err(disagreement(&line, expected));
                }
                o.subtotal[index] += line.line_total;
                o.discount[index] += line.discount;
                o.tax[index] += line.tax;
                o.item_count[index] += 1;
                index
            }
            None => {
                let index = o.id.len();
                self.by_order.insert(line.order_id.clone(), index);
                o.id.push(Uuid::now_v7());
                o.order_id.push(line.order_id);
                o.ordered_at.push(line.ordered_at);
                o.subtotal.push(line.line_total);
                o.discount.push(line.discount);
                o.tax.push(line.tax);
                o.item_count.push(1);
                o.payment_method.push(line.payment_method.as_str());
                index
            }
        };
        let i = &mut self.items;
        i.transaction_id.push(o.id[index]);
        i.item_name.push(line.item_name);
        i.category.push(line.category);
        i.quantity.push(line.quantity);
        i.unit_price.push(line.unit_price);
        i.discount.push(line.discount);
        i.tax.push(line.tax);
        i.line_total.push(line.line_total);
        Ok(())
    }
}

/// The row error for a line whose `ordered_at` is not its order's.
pub fn disagreement(line: &Line, expected: DateTime<Utc>) -> RowError {
    RowError {
        line: line.line,
        column: Some("ordered_at".into()),
        value: Some(utc(line.ordered_at)),
        message: format!(
            "disagrees with the first row of order {} ({})",
            line.order_id,
            utc(expected)
        ),
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::values::PaymentMethod;

    fn line(n: u64, order: &str, minute: u32, total: &str, payment: PaymentMethod) -> Line {
        let amount = Decimal::from_str(total).unwrap();
        Line {
            line: n,
            order_id: order.into(),
            ordered_at: format!("2026-01-29T19:{minute:02}:00Z").parse().unwrap(),
            item_name: format!("item {n}"),
            category: None,
            quantity: Decimal::ONE,
            unit_price: amount,
            discount: Decimal::from_str("0.50").unwrap(),
            tax: Decimal::from_str("0.10").unwrap(),
            line_total: amount,
            payment_method: payment,
        }
    }

    #[test]
    fn lines_of_an_order_add_up_even_when_interleaved() {
        let mut batch = OrderBatch::default();
        batch
            .push(line(2, "A", 5, "12.50", PaymentMethod::Card))
            .unwrap();
        batch
            .push(line(3, "B", 7, "1.00", PaymentMethod::Cash))
            .unwrap();
        batch
            .push(line(4, "A", 5, "6.00", PaymentMethod::Cash))
            .unwrap();
        let o = &batch.orders;
        assert_eq!(o.order_id, ["A", "B"]);
        assert_eq!(
            o.subtotal,
            [Decimal::from_str("18.50").unwrap(), Decimal::ONE]
        );
        assert_eq!(o.discount[0], Decimal::ONE);
        assert_eq!(o.tax[0], Decimal::from_str("0.20").unwrap());
        assert_eq!(o.item_count, [2, 1]);
        // The first line of an order decides its payment method.
        assert_eq!(o.payment_method, ["card", "cash"]);
        assert_eq!(batch.items.transaction_id, [o.id[0], o.id[1], o.id[0]]);
        assert!(o.id[0] < o.id[1], "ids are time-ordered");
    }

    #[test]
    fn a_line_that_disagrees_with_its_order_is_rejected_and_not_counted() {
        let mut batch = OrderBatch::default();
        batch
            .push(line(2, "A", 5, "1.00", PaymentMethod::Card))
            .unwrap();
        let error = batch
            .push(line(3, "A", 6, "2.00", PaymentMethod::Card))
            .unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(error.value.as_deref(), Some("2026-01-29T19:06:00Z"));
        assert_eq!(
            error.message,
            "disagrees with the first row of order A (2026-01-29T19:05:00Z)"
        );
        assert_eq!(batch.orders.item_count, [1]);
        assert_eq!(batch.lines(), 1);
    }

    #[test]
    fn a_batch_is_only_cut_between_orders() {
        let mut batch = OrderBatch::default();
        batch
            .push(line(2, "A", 5, "1.00", PaymentMethod::Card))
            .unwrap();
        batch
            .push(line(3, "A", 5, "1.00", PaymentMethod::Card))
            .unwrap();
        let same_order = line(4, "A", 5, "1.00", PaymentMethod::Card);
        let next_order = line(5, "B", 5, "1.00", PaymentMethod::Card);
        assert!(!batch.is_full_before(&same_order, 2));
        assert!(batch.is_full_before(&next_order, 2));
        assert!(!batch.is_full_before(&next_order, 3));
    }
}
