//! Demo data for the local stack: a restaurant, its owner, and a sample CSV
//! to upload. Idempotent: seeding twice finds the same owner.

use std::path::{Path, PathBuf};

use flux_shared::db::DbSettings;
use flux_shared::passwords;
use flux_shared::tenant::{with_tenant, RestaurantId};
use uuid::Uuid;

pub const DEMO_EMAIL: &str = "owner@demo.flux.dev";
pub const DEMO_PASSWORD: &str = "tasting-menu-for-two-42";
pub const DEMO_RESTAURANT: &str = "Chez Flux";
pub const DEMO_TIMEZONE: &str = "Europe/Paris";

pub struct SeedReport {
    pub restaurant_id: Uuid,
    pub user_id: Uuid,
    pub created: bool,
    pub sample_csv: PathBuf,
}

/// Creates the demo owner (as the app role, through row-level security)
/// unless it exists, and writes the sample CSV into `data_dir`.
pub async fn seed(app: &DbSettings, data_dir: &Path) -> anyhow::Result<SeedReport> {
    let mut client = app.connect().await?;
    let sample_csv = data_dir.join("sample-sales.csv");
    std::fs::write(&sample_csv, SAMPLE_CSV)?;

    // Before a restaurant is known, a user row is visible only to a
    // transaction that names its email (the login_lookup policy).
    let email_key = flux_shared::emails::key(DEMO_EMAIL);
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT set_config('app.login_email', $1, true)",
        &[&email_key],
    )
    .await?;
    let existing = tx
        .query_opt(
            "SELECT id, restaurant_id FROM users WHERE email_key = $1",
            &[&email_key],
        )
        .await?;
    tx.commit().await?;
    if let Some(row) = existing {
        return Ok(SeedReport {
            user_id: row.get(0),
            restaurant_id: row.get(1),
            created: false,
            sample_csv,
        });
    }

    let restaurant = RestaurantId(Uuid::new_v4());
    let user_id = Uuid::new_v4();
    let hash = passwords::hash(DEMO_PASSWORD.to_string()).await?;
    with_tenant(&mut client, restaurant, async |tx| {
        tx.execute(
            "INSERT INTO restaurants (id, name, timezone) VALUES ($1, $2, $3)",
            &[&restaurant.0, &DEMO_RESTAURANT, &DEMO_TIMEZONE],
        )
        .await?;
        tx.execute(
            "INSERT INTO users (id, restaurant_id, email, email_key, password_hash, role)
             VALUES ($1, $2, $3, $4, $5, 'owner')",
            &[&user_id, &restaurant.0, &DEMO_EMAIL, &email_key, &hash],
        )
        .await?;
        Ok::<_, tokio_postgres::Error>(())
    })
    .await?;
    Ok(SeedReport {
        restaurant_id: restaurant.0,
        user_id,
        created: true,
        sample_csv,
    })
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
