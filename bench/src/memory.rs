//! `flux-bench memory`: csv-ingest's peak memory on the two hostile shapes
//! of a maximum-size upload: a file that is one single line, and a file of
//! lines just under the 64 KiB record limit. S3 events are captured, so the
//! PUT is over before csv-ingest starts and only its memory is measured.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::s3::S3Event;
use serde_json::{json, Value};

use crate::ingest::{peak_rss_mib, put_file, reset_peak_rss, rss_mib};

const HEADER: &str = "order_id,ordered_at,item_name,quantity,unit_price,notes\n";

/// `size` bytes that are one line, with no newline at all.
fn one_line(path: &std::path::Path, size: u64) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let chunk = vec![b'x'; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}

/// About `size` bytes of valid rows, each padded with a notes cell to
/// exactly 65,536 bytes before its newline.
fn long_lines(path: &std::path::Path, size: u64) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(HEADER.as_bytes())?;
    let mut written = HEADER.len() as u64;
    let mut rows = 0u64;
    while written + 65_537 <= size {
        let row = format!("L-{rows:08},2026-01-29 19:05,Soup,1,7.25,");
        let pad = 65_536 - row.len();
        out.write_all(row.as_bytes())?;
        out.write_all(&vec![b'n'; pad])?;
        out.write_all(b"\n")?;
        written += 65_537;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

pub async fn run(mib: u64) -> anyhow::Result<()> {
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<S3Event>();
    let handler: flux_local::s3::ObjectCreatedHandler = Arc::new(move |event| {
        let _ = events_tx.send(event);
        Box::pin(async {})
    });
    let (stack, dir) = crate::start_stack_with(Some(handler)).await?;
    let client = reqwest::Client::new();
    let registered: Value = client
        .post(format!("{}/auth/register", stack.api_url))
        .json(
            &json!({"email": "memory@flux.example", "password": "violet-otter-juggles-42-plums",
                      "restaurant_name": "Memory"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = registered["access_token"].as_str().unwrap_or_default();
    let size = mib * 1024 * 1024;

    type Generate = fn(&std::path::Path, u64) -> anyhow::Result<()>;
    let shapes: [(&str, Generate); 2] = [
        ("one line", one_line),
        ("64 KiB lines", |p, s| long_lines(p, s).map(|_| ())),
    ];
    for (shape, generate) in shapes {
        let file = dir.path().join("hostile.csv");
        generate(&file, size)?;
        let bytes = std::fs::metadata(&file)?.len();
        let created: Value = client
            .post(format!("{}/uploads", stack.api_url))
            .bearer_auth(token)
            .json(&json!({"filename": "hostile.csv", "size_bytes": bytes}))
            .send()
            .await?
            .json()
            .await?;
        put_file(&created, &file).await?;
        std::fs::remove_file(&file)?;
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no S3 event"))?;

        let before = rss_mib();
        reset_peak_rss();
        let started = Instant::now();
        flux_csv_ingest::handle(&stack.ingest, event, "bench").await?;
        let elapsed = started.elapsed();
        let peak = peak_rss_mib();
        let id = created["upload"]["id"].as_str().unwrap_or_default();
        let upload: Value = client
            .get(format!("{}/uploads/{id}", stack.api_url))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        println!(
            "{shape}, {:.0} MiB: {} ({}) in {elapsed:.2?}; RSS {before:.1} MiB before, peak {peak:.1} MiB (+{:.1} MiB)",
            bytes as f64 / 1048576.0,
            upload["status"],
            if upload["error"].is_null() {
                format!("{} rows ingested", upload["rows_ingested"])
            } else {
                upload["error"].to_string()
            },
            peak - before
        );
    }
    stack.shutdown().await;
    Ok(())
}
