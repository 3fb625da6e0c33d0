//! Groups a stretch of valid lines into orders in memory, so that they go
//! into `transactions` and `transaction_items` in one pass, column by column
//! (each column becomes one array parameter of the insert).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::amounts::{self, OrderSums};
use crate::rows::{Line, RowError};

/// Transaction ids: an upload draws a block (a sequence value) and numbers
/// its orders inside it, so ids grow in insertion order (index inserts
/// append) and all of an upload's rows sit in one key range.
#[derive(Debug)]
pub struct TransactionIds {
    block: i64,
    next: i64,
}

impl TransactionIds {
    pub const BLOCK_BITS: u32 = 32;

    pub fn new(block: i64) -> Self {
        Self { block, next: 1 }
    }

    fn next(&mut self) -> i64 {
        let id = (self.block << Self::BLOCK_BITS) | self.next;
        self.next += 1;
        id
    }
}

/// One row per order of the stretch.
#[derive(Debug, Default)]
pub struct OrderColumns {
    /// Consecutive, from the upload's block (see [`TransactionIds`]).
    pub id: Vec<i64>,
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
    pub transaction_id: Vec<i64>,
    /// The line's position in its order, from 1, in file order.
    pub line_no: Vec<i32>,
    pub item_name: Vec<String>,
    pub category: Vec<Option<String>>,
    pub quantity: Vec<Decimal>,
    pub unit_price: Vec<Decimal>,
    pub discount: Vec<Decimal>,
    pub tax: Vec<Decimal>,
    pub line_total: Vec<Decimal>,
}

/// A stretch ready to insert, and the lines its out-of-range orders lost.
#[derive(Debug, Default)]
pub struct Stretch {
    pub orders: OrderColumns,
    pub items: ItemColumns,
    /// One error per line of an order whose sums are out of range.
    pub rejected: Vec<RowError>,
}

#[derive(Debug)]
struct Order {
    order_id: String,
    ordered_at: DateTime<Utc>,
    payment_method: &'static str,
    sums: OrderSums,
    lines: i32,
}

#[derive(Debug)]
pub struct OrderBatch {
    timezone: Tz,
    orders: Vec<Order>,
    /// Each line with the index of its order.
    lines: Vec<(usize, Line)>,
    by_order: HashMap<String, usize>,
}

impl OrderBatch {
    /// An empty batch; `timezone` is the restaurant's, for error messages.
    pub fn new(timezone: Tz) -> Self {
        Self {
            timezone,
            orders: Vec::new(),
            lines: Vec::new(),
            by_order: HashMap::new(),
        }
    }

    pub fn lines(&self) -> usize {
        self.lines.len()
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
        let index = match self.by_order.get(&line.order_id) {
            Some(&index) => {
                let expected = self.orders[index].ordered_at;
                if line.ordered_at != expected {
                    return Err(disagreement(&line, expected, self.timezone));
                }
                index
            }
            None => {
                let index = self.orders.len();
                self.by_order.insert(line.order_id.clone(), index);
                self.orders.push(Order {
                    order_id: line.order_id.clone(),
                    ordered_at: line.ordered_at,
                    payment_method: line.payment_method.as_str(),
                    sums: OrderSums::default(),
                    lines: 0,
                });
                index
            }
        };
        let order = &mut self.orders[index];
        order.sums.add(line.line_total, line.discount, line.tax);
        order.lines += 1;
        self.lines.push((index, line));
        Ok(())
    }

    /// The batch as columns, its orders numbered from `ids`; orders whose
    /// sums are out of range (CSV.md) are left out, each of their lines
    /// rejected.
    pub fn finish(self, ids: &mut TransactionIds) -> Stretch {
        let mut stretch = Stretch::default();
        let ids: Vec<Option<i64>> = self
            .orders
            .iter()
            .map(|order| (!order.sums.out_of_range).then(|| ids.next()))
            .collect();
        let mut lines_so_far = vec![0i32; ids.len()];
        for (order, id) in self.orders.into_iter().zip(&ids) {
            let Some(id) = *id else { continue };
            let o = &mut stretch.orders;
            o.id.push(id);
            o.order_id.push(order.order_id);
            o.ordered_at.push(order.ordered_at);
            o.subtotal.push(order.sums.subtotal);
            o.discount.push(order.sums.discount);
            o.tax.push(order.sums.tax);
            o.item_count.push(order.lines);
            o.payment_method.push(order.payment_method);
        }
        for (index, line) in self.lines {
            let Some(id) = ids[index] else {
                stretch.rejected.push(RowError {
                    line: line.line,
                    column: Some("order_id".into()),
                    value: Some(line.order_id),
                    message: amounts::ORDER_MESSAGE.into(),
                });
                continue;
            };
            lines_so_far[index] += 1;
            let i = &mut stretch.items;
            i.transaction_id.push(id);
            i.line_no.push(lines_so_far[index]);
            i.item_name.push(line.item_name);
            i.category.push(line.category);
            i.quantity.push(line.quantity);
            i.unit_price.push(line.unit_price);
            i.discount.push(line.discount);
            i.tax.push(line.tax);
            i.line_total.push(line.line_total);
        }
        stretch
    }
}

/// The row error for a line whose `ordered_at` is not its order's: the cell
/// as the file wrote it, and the order's time in the restaurant's timezone.
pub fn disagreement(line: &Line, expected: DateTime<Utc>, timezone: Tz) -> RowError {
    RowError {
        line: line.line,
        column: Some("ordered_at".into()),
        value: Some(line.ordered_at_cell.clone()),
        message: format!(
            "disagrees with the first row of order {} ({})",
            line.order_id,
            local_time(expected, timezone)
        ),
    }
}

/// `2026-01-29 20:00:00 Europe/Paris`
pub fn local_time(at: DateTime<Utc>, timezone: Tz) -> String {
    format!(
        "{} {}",
        at.with_timezone(&timezone).format("%Y-%m-%d %H:%M:%S"),
        timezone.name()
    )
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
            ordered_at_cell: format!("2026-01-29 20:{minute:02}"),
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

    fn batch() -> OrderBatch {
        OrderBatch::new(chrono_tz::Europe::Paris)
    }

    fn finish(batch: OrderBatch) -> Stretch {
        batch.finish(&mut TransactionIds::new(7))
    }

    #[test]
    fn lines_of_an_order_add_up_even_when_interleaved() {
        let mut batch = batch();
        batch
            .push(line(2, "A", 5, "12.50", PaymentMethod::Card))
            .unwrap();
        batch
            .push(line(3, "B", 7, "1.00", PaymentMethod::Cash))
            .unwrap();
        batch
            .push(line(4, "A", 5, "6.00", PaymentMethod::Cash))
            .unwrap();
        let stretch = finish(batch);
        let o = &stretch.orders;
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
        assert_eq!(stretch.items.transaction_id, [o.id[0], o.id[1], o.id[0]]);
        assert_eq!(stretch.items.line_no, [1, 1, 2]);
        assert_eq!(
            o.id,
            [(7 << 32) + 1, (7 << 32) + 2],
            "numbered in the upload's block"
        );
        assert!(stretch.rejected.is_empty());
    }

    #[test]
    fn a_line_that_disagrees_with_its_order_is_rejected_and_not_counted() {
        let mut batch = batch();
        batch
            .push(line(2, "A", 5, "1.00", PaymentMethod::Card))
            .unwrap();
        let error = batch
            .push(line(3, "A", 6, "2.00", PaymentMethod::Card))
            .unwrap_err();
        assert_eq!(error.line, 3);
        // The cell as written; the order's time as the restaurant reads it.
        assert_eq!(error.value.as_deref(), Some("2026-01-29 20:06"));
        assert_eq!(
            error.message,
            "disagrees with the first row of order A (2026-01-29 20:05:00 Europe/Paris)"
        );
        assert_eq!(batch.lines(), 1);
        assert_eq!(finish(batch).orders.item_count, [1]);
    }

    #[test]
    fn a_batch_is_only_cut_between_orders() {
        let mut batch = batch();
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

    #[test]
    fn an_order_out_of_range_loses_all_its_lines_and_nothing_else() {
        let mut batch = batch();
        for n in 0..101 {
            batch
                .push(line(n + 2, "BIG", 5, "9999999.99", PaymentMethod::Card))
                .unwrap();
        }
        batch
            .push(line(200, "SMALL", 5, "3.00", PaymentMethod::Card))
            .unwrap();
        let stretch = finish(batch);
        assert_eq!(stretch.orders.order_id, ["SMALL"]);
        assert_eq!(stretch.items.transaction_id.len(), 1);
        assert_eq!(stretch.rejected.len(), 101);
        assert!(stretch
            .rejected
            .iter()
            .all(|e| e.message == "order total out of range" && e.value.as_deref() == Some("BIG")));
    }
}
