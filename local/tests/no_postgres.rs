//! A newcomer without PostgreSQL gets told what to install, not a panic.

use std::process::Command;

#[test]
fn without_postgresql_binaries_flux_local_says_what_to_install() {
    let dir = std::env::temp_dir().join(format!("flux-local-no-pg-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_flux-local"))
        .args(["--port", "0", "--s3-port", "0", "--data-dir"])
        .arg(&dir)
        .env("PG_BIN", dir.join("nowhere"))
        .env_remove("DATABASE_URL")
        .output()
        .expect("run flux-local");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no PostgreSQL server binaries found")
            && stderr.contains("apt-get install postgresql")
            && stderr.contains("--database-url"),
        "{stderr}"
    );
}
