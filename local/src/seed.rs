//! Demo data for the local stack: a restaurant and its owner, created
//! through the running stack's own API (so the credentials work against
//! that very stack), and a sample CSV to upload. Idempotent: seeding twice
//! finds the same owner.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

pub const DEMO_EMAIL: &str = "owner@demo.flux.dev";
pub const DEMO_PASSWORD: &str = "tasting-menu-for-two-42";
pub const DEMO_RESTAURANT: &str = "Chez Flux";
pub const DEMO_TIMEZONE: &str = "Europe/Paris";

/// What a running stack writes into its data directory, so that `seed`
/// (and anyone else) finds the stack that uses that directory.
pub const STACK_FILE: &str = "stack.json";

pub struct SeedReport {
    pub restaurant_id: String,
    pub user_id: String,
    pub created: bool,
    pub sample_csv: PathBuf,
}

/// The API of the stack running on `data_dir`, if one is.
pub fn running_api(data_dir: &Path) -> anyhow::Result<String> {
    let missing = || {
        format!(
            "no running stack uses the data directory {}: start it first \
             (`cargo run --release -p flux-local`, with the same --data-dir), then seed",
            data_dir.display()
        )
    };
    let text = std::fs::read_to_string(data_dir.join(STACK_FILE)).with_context(missing)?;
    let stack: Value = serde_json::from_str(&text).with_context(missing)?;
    let pid = stack["pid"].as_i64().unwrap_or(0) as libc::pid_t;
    // SAFETY: signal 0 only checks that the process exists.
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    anyhow::ensure!(alive, "{}", missing());
    Ok(stack["api_url"].as_str().unwrap_or_default().to_string())
}

/// Creates the demo owner through `api` unless it exists, and writes the
/// sample CSV into `data_dir`.
pub async fn seed(api: &str, data_dir: &Path) -> anyhow::Result<SeedReport> {
    let sample_csv = write_sample(data_dir)?;
    let client = reqwest::Client::new();
    let post = async |path: &str, body: Value| -> anyhow::Result<(u16, Value)> {
        let response = client
            .post(format!("{api}{path}"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("the stack at {api} does not answer"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    };
    let (status, body) = post(
        "/auth/register",
        json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
               "restaurant_name": DEMO_RESTAURANT, "timezone": DEMO_TIMEZONE}),
    )
    .await?;
    let (created, body) = match status {
        201 => (true, body),
        409 => {
            let (status, body) = post(
                "/auth/login",
                json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}),
            )
            .await?;
            anyhow::ensure!(
                status == 200,
                "the demo owner exists but cannot sign in ({status}): {body}"
            );
            (false, body)
        }
        _ => anyhow::bail!("registering the demo owner failed ({status}): {body}"),
    };
    Ok(SeedReport {
        restaurant_id: body["restaurant"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        user_id: body["user"]["id"].as_str().unwrap_or_default().to_string(),
        created,
        sample_csv,
    })
}

/// Writes the sample CSV into `data_dir`; returns its path.
pub fn write_sample(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("sample-sales.csv");
    std::fs::write(&path, SAMPLE_CSV)?;
    Ok(path)
}

/// Item-level sales in the format CSV.md defines, with some quoting.
const SAMPLE_CSV: &str = "\
order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method
A-1001,2026-01-29 19:05,Margherita,Pizza,2,12.50,0,2.10,card
A-1001,2026-01-29 19:05,Tiramisu,Dessert,1,6.00,1.00,0.50,card
A-1002,2026-01-29 19:17,\"Soup, of the day\",Starters,1,$7.25,,0.61,cash
A-1003,2026-01-29 19:42,Quattro Formaggi,Pizza,1,14.00,0,1.18,mobile
A-1003,2026-01-29 19:42,Espresso,Drinks,2,2.50,0,0.42,mobile
A-1004,2026-01-29 20:10,\"Burrata \"\"della casa\"\"\",Starters,1,11.00,0,0.93,card
A-1004,2026-01-29 20:10,Lasagne,Mains,2,16.50,3.30,2.50,card
A-1004,2026-01-29 20:10,Panna Cotta,Dessert,2,6.50,0,1.09,card
A-1005,2026-01-30 12:03,Caesar Salad,Starters,1,9.75,0,0.82,gift_card
A-1005,2026-01-30 12:03,Sparkling Water,Drinks,1,3.00,0,0.25,gift_card
A-1006,2026-01-30 12:31,Diavola,Pizza,3,13.50,0,3.40,cash
A-1006,2026-01-30 12:31,House Red (glass),Drinks,3,\"$1,234.50\",1200.00,8.00,cash
";
