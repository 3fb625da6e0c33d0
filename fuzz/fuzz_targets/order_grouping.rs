//! Any sequence of valid lines grouped into orders: no panic, every line is
//! either an item of an order within range or rejected, and no order that
//! goes to the database is out of range.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{TimeZone, Utc};
use flux_csv_ingest::amounts::ORDER_LIMIT;
use flux_csv_ingest::orders::{OrderBatch, TransactionIds};
use flux_csv_ingest::rows::Line;
use flux_csv_ingest::values::PaymentMethod;
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

#[derive(Arbitrary, Debug)]
struct FuzzLine {
    order: u8,
    minute: u8,
    quantity: u32,
    unit_cents: i64,
    discount_cents: i64,
    tax_cents: i64,
    total_cents: i64,
}

fn amount(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fuzz_target!(|lines: Vec<FuzzLine>| {
    let mut batch = OrderBatch::new(chrono_tz::America::New_York);
    let mut accepted = 0usize;
    for (n, l) in lines.into_iter().enumerate() {
        let line = Line {
            line: n as u64 + 2,
            order_id: format!("O-{}", l.order % 16),
            ordered_at: Utc
                .timestamp_opt(1_769_713_500 + 60 * i64::from(l.minute % 4), 0)
                .unwrap(),
            ordered_at_cell: format!("minute {}", l.minute % 4),
            item_name: "item".into(),
            category: None,
            quantity: Decimal::new(i64::from(l.quantity % 10_000_001).max(1), 3),
            unit_price: amount(l.unit_cents),
            discount: amount(l.discount_cents),
            tax: amount(l.tax_cents),
            line_total: amount(l.total_cents),
            payment_method: PaymentMethod::Card,
        };
        if batch.push(line).is_ok() {
            accepted += 1;
        }
    }
    let stretch = batch.finish(&mut TransactionIds::new(1));
    assert_eq!(
        stretch.items.transaction_id.len() + stretch.rejected.len(),
        accepted
    );
    let o = &stretch.orders;
    for i in 0..o.id.len() {
        let total = o.subtotal[i] - o.discount[i] + o.tax[i];
        for value in [o.subtotal[i], o.discount[i], o.tax[i], total] {
            assert!(value.abs() < ORDER_LIMIT, "{value} went to the database");
        }
        assert!(stretch.items.transaction_id.contains(&o.id[i]));
    }
    // An order's lines are numbered 1..=item_count, in file order.
    for (k, id) in o.id.iter().enumerate() {
        let numbers: Vec<i32> = stretch
            .items
            .transaction_id
            .iter()
            .zip(&stretch.items.line_no)
            .filter(|(t, _)| *t == id)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(numbers, (1..=o.item_count[k]).collect::<Vec<_>>());
    }
});
