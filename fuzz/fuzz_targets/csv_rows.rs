//! Any bytes as an uploaded file: sniffing, the header, the record reader
//! and the row decoder and validator must never panic, and every row is
//! either a line whose amounts are within CSV.md's bounds, a rejection with
//! at least one error, or skipped.
#![no_main]

use flux_csv_ingest::amounts::{LINE_LIMIT, MONEY_LIMIT};
use flux_csv_ingest::reader;
use flux_csv_ingest::rows::{Outcome, RowParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let Ok((sniffed, mut stream)) = reader::open(data).await else {
            return;
        };
        let parser = RowParser {
            columns: sniffed.columns,
            timezone: chrono_tz::Europe::Paris,
            numbers: sniffed.numbers,
            encoding: sniffed.encoding,
        };
        while let Ok(Some((line, record))) = stream.next().await {
            let fields: Vec<&[u8]> = record.iter().collect();
            match parser.parse(&fields, line) {
                Outcome::Valid(valid) => {
                    assert!(valid.line_total.abs() < LINE_LIMIT);
                    assert!(valid.discount < MONEY_LIMIT && valid.tax < MONEY_LIMIT);
                    assert!(!valid.order_id.is_empty() && !valid.item_name.is_empty());
                    assert!(!valid.item_name.contains('\0'));
                }
                Outcome::Rejected(errors) => {
                    assert!(!errors.is_empty());
                    assert!(errors.iter().all(|e| e.line == line));
                }
                Outcome::Skipped => {}
            }
        }
    });
});
