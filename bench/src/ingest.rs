//! `flux-bench ingest --rows N`: generates a realistic sales CSV, uploads it
//! through a presigned URL to the local stack, waits for `completed`, and
//! compares with `psql \copy` of the same file into a plain table in the
//! same database.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ITEMS: &[(&str, &str, u32)] = &[
    ("Margherita", "Pizza", 1250),
    ("Quattro Formaggi", "Pizza", 1400),
    ("Diavola", "Pizza", 1350),
    ("Soup, of the day", "Starters", 725),
    ("Caesar Salad", "Starters", 975),
    ("Burrata \"della casa\"", "Starters", 1100),
    ("Lasagne", "Mains", 1650),
    ("Risotto ai funghi", "Mains", 1550),
    ("Tiramisu", "Dessert", 600),
    ("Panna Cotta", "Dessert", 650),
    ("Espresso", "Drinks", 250),
    ("House Red (glass)", "Drinks", 700),
    ("Sparkling Water", "Drinks", 300),
];
const PAYMENTS: &[&str] = &["card", "card", "card", "cash", "mobile", "gift_card"];

/// A deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn cents(value: u64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

/// Writes `rows` item lines, about 3 per order, and returns the byte size.
fn generate(path: &std::path::Path, rows: u64) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method"
    )?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0;
    let mut order = 0u64;
    while written < rows {
        order += 1;
        let lines = (1 + rng.below(5)).min(rows - written);
        let minute = order * 7 / 3;
        let ordered_at = format!(
            "2026-{:02}-{:02} {:02}:{:02}:00",
            1 + (minute / 40_000) % 12,
            1 + (minute / 1_440) % 28,
            11 + (minute / 60) % 12,
            minute % 60
        );
        let payment = PAYMENTS[rng.below(PAYMENTS.len() as u64) as usize];
        for _ in 0..lines {
            let (name, category, price) = ITEMS[rng.below(ITEMS.len() as u64) as usize];
            let quantity = 1 + rng.below(3);
            let discount = if rng.below(10) == 0 { 100 } else { 0 };
            let tax = (price as u64 * quantity) / 12;
            writeln!(
                out,
                "ORD-{order:08},{ordered_at},{},{category},{quantity},{},{},{},{payment}",
                csv_field(name),
                cents(price as u64),
                cents(discount),
                cents(tax)
            )?;
        }
        written += lines;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Peak resident memory of this process since the last reset, in MiB.
pub(crate) fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

pub(crate) fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(crate) fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU seconds (user + system) of one process, from /proc (in USER_HZ).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process and of every PostgreSQL process, so a run
/// shows which side of the ingest is the bottleneck.
fn cpu_split() -> (f64, f64) {
    let postgres = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().to_string();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres").then(|| cpu_secs(&pid))
        })
        .sum();
    (cpu_secs("self"), postgres)
}

pub async fn run(rows: u64) -> anyhow::Result<()> {
    let (stack, dir) = crate::start_stack().await?;
    let file = dir.path().join("bench-sales.csv");
    let started = Instant::now();
    let size = generate(&file, rows)?;
    eprintln!(
        "generated {rows} rows, {:.1} MiB, in {:.1?}",
        size as f64 / 1048576.0,
        started.elapsed()
    );

    let client = reqwest::Client::new();
    let registered: Value = client
        .post(format!("{}/auth/register", stack.api_url))
        .json(
            &json!({"email": "bench@flux.example", "password": "violet-otter-juggles-42-plums",
                      "restaurant_name": "Bench", "timezone": "Europe/Paris"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = registered["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created: Value = client
        .post(format!("{}/uploads", stack.api_url))
        .bearer_auth(&token)
        .json(&json!({"filename": "bench-sales.csv", "size_bytes": size}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["upload"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let baseline_rss = rss_mib();
    reset_peak_rss();
    let cpu_before = cpu_split();
    let wall = Instant::now();
    put_file(&created, &file).await?;
    let peak_put = peak_rss_mib();
    // From here on, what csv-ingest adds (the PUT's own buffers are over).
    reset_peak_rss();
    let upload = loop {
        let upload: Value = client
            .get(format!("{}/uploads/{id}", stack.api_url))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        match upload["status"].as_str() {
            Some("completed") | Some("completed_with_errors") | Some("failed") => break upload,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let wall = wall.elapsed();
    let peak = peak_rss_mib();
    let cpu_after = cpu_split();
    anyhow::ensure!(
        upload["status"] == "completed",
        "ingest did not complete: {upload}"
    );
    let started_at = chrono_secs(&upload["started_at"]);
    let finished_at = chrono_secs(&upload["finished_at"]);
    let ingest_secs = finished_at - started_at;

    // psql \copy of the same file into a plain table with the same columns.
    let url_psql = stack.database.human_url.clone();
    let psql = |commands: &[&str]| -> anyhow::Result<f64> {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url_psql]);
        for command in commands {
            cmd.args(["-c", command]);
        }
        let started = Instant::now();
        let output = cmd.output()?;
        anyhow::ensure!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(started.elapsed().as_secs_f64())
    };
    psql(&["DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (order_id text, ordered_at timestamptz,
            item_name text, category text, quantity numeric, unit_price numeric, discount numeric, tax numeric,
            payment_method text)"])?;
    let copy_secs = psql(&[&format!(
        "\\copy bench_copy FROM '{}' WITH (FORMAT csv, HEADER true)",
        file.display()
    )])?;

    // The floor: what the data model itself costs. The rows just ingested,
    // copied by psql into fresh copies of the two sales tables (LIKE ...
    // INCLUDING ALL: the same keys, indexes and defaults; no row-level
    // security, which refuses COPY to the application role), after a
    // checkpoint. No loader that keeps these tables can beat it.
    let orders_file = dir.path().join("floor-transactions.csv");
    let items_file = dir.path().join("floor-items.csv");
    psql(&[&format!(
        "\\copy (SELECT * FROM transactions WHERE upload_id = '{id}' ORDER BY id) TO '{}' CSV",
        orders_file.display()
    )])?;
    psql(&[&format!(
        "\\copy (SELECT i.* FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id
                   WHERE t.upload_id = '{id}' ORDER BY i.transaction_id, i.line_no) TO '{}' CSV",
        items_file.display()
    )])?;
    psql(&["DROP TABLE IF EXISTS floor_transactions, floor_items;
            CREATE TABLE floor_transactions (LIKE transactions INCLUDING ALL);
            CREATE TABLE floor_items (LIKE transaction_items INCLUDING ALL);
            CHECKPOINT"])?;
    let floor_secs = psql(&[
        &format!(
            "\\copy floor_transactions FROM '{}' CSV",
            orders_file.display()
        ),
        &format!("\\copy floor_items FROM '{}' CSV", items_file.display()),
    ])?;
    psql(&["DROP TABLE floor_transactions, floor_items"])?;

    // Undoing the upload: its rows and its share of every rollup, which
    // must then hold nothing (it was the restaurant's only upload).
    let deleting = Instant::now();
    let deleted = client
        .delete(format!("{}/uploads/{id}", stack.api_url))
        .bearer_auth(&token)
        .send()
        .await?
        .status();
    let delete_secs = deleting.elapsed().as_secs_f64();
    anyhow::ensure!(deleted.as_u16() == 204, "DELETE answered {deleted}");
    let (left, connection) =
        tokio_postgres::connect(&stack.database.human_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let leftovers: i64 = left
        .query_one(
            "SELECT (SELECT count(*) FROM sales_days) + (SELECT count(*) FROM sales_items)
                  + (SELECT count(*) FROM sales_item_categories) + (SELECT count(*) FROM sales_categories)
                  + (SELECT count(*) FROM sales_hours) + (SELECT count(*) FROM sales_payments)
                  + (SELECT count(*) FROM transactions) + (SELECT count(*) FROM transaction_items)",
            &[],
        )
        .await?
        .get(0);
    stack.shutdown().await;

    let ours = rows as f64 / ingest_secs;
    let theirs = rows as f64 / copy_secs;
    let postgres_cpu = cpu_after.1 - cpu_before.1;
    let rollup_secs = crate::capture::last("rollup_ms").unwrap_or(0) as f64 / 1000.0;
    println!("rows: {rows} ({:.1} MiB)", size as f64 / 1048576.0);
    println!(
        "flux ingest: {ingest_secs:.2} s in csv-ingest ({ours:.0} rows/s); {:.2} s wall from PUT to completed",
        wall.as_secs_f64()
    );
    println!("psql \\copy of the file into one plain table: {copy_secs:.2} s; ratio (ours / psql, rows/s): {:.2}", ours / theirs);
    println!(
        "floor, psql \\copy of the ingested rows into copies of the sales tables: {floor_secs:.2} s; ours / floor: {:.2}",
        ingest_secs / floor_secs
    );
    println!(
        "rollup upkeep: {rollup_secs:.2} s, {:.0} % of ingest time",
        100.0 * rollup_secs / ingest_secs
    );
    println!(
        "CPU from PUT to completed: {:.2} s in this process (stack and csv-ingest), {postgres_cpu:.2} s in PostgreSQL ({:.2} s per million lines)",
        cpu_after.0 - cpu_before.0,
        postgres_cpu * 1e6 / rows as f64
    );
    println!("peak RSS of the whole stack process: {peak_put:.1} MiB during the PUT, {peak:.1} MiB during ingest (baseline before: {baseline_rss:.1} MiB)");
    println!(
        "DELETE /uploads/{{id}}: {delete_secs:.2} s, {:.2}x the floor; rows and rollup rows left: {leftovers}",
        delete_secs / floor_secs
    );
    println!(
        "ingested: {} rows, {} transactions",
        upload["rows_ingested"], upload["transactions_ingested"]
    );
    Ok(())
}

/// PUTs `file` to the presigned URL of `created` (a `POST /uploads`
/// response) with exactly its headers. curl streams the file from disk, so
/// the upload adds no memory to this process.
pub(crate) async fn put_file(created: &Value, file: &std::path::Path) -> anyhow::Result<()> {
    let mut put = tokio::process::Command::new("curl");
    put.args(["-sS", "-f", "-T"]).arg(file);
    for (name, value) in created["upload_headers"].as_object().into_iter().flatten() {
        put.args([
            "-H",
            &format!("{name}: {}", value.as_str().unwrap_or_default()),
        ]);
    }
    let put = put
        .arg(created["upload_url"].as_str().unwrap_or_default())
        .output()
        .await?;
    anyhow::ensure!(
        put.status.success(),
        "PUT failed: {}",
        String::from_utf8_lossy(&put.stderr)
    );
    Ok(())
}

fn chrono_secs(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(0.0, |t| t.timestamp_micros() as f64 / 1e6)
}
