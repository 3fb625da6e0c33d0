//! Secrets the local stack generates once and keeps in its data directory
//! (mode 0600), read back through the same interface the functions use.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use flux_shared::secrets::{file_name, ExposeSecret, SecretString};

/// The secret `id` from `dir`, generated (a v4 UUID: 122 random bits) if missing.
pub fn ensure_secret(dir: &Path, id: &str) -> anyhow::Result<SecretString> {
    ensure_secret_with(dir, id, || {
        SecretString::from(uuid::Uuid::new_v4().simple().to_string())
    })
}

/// The secret `id` from `dir`, made by `generate` if missing.
pub fn ensure_secret_with(
    dir: &Path,
    id: &str,
    generate: impl FnOnce() -> SecretString,
) -> anyhow::Result<SecretString> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let path = dir.join(file_name(id));
    match fs::read_to_string(&path) {
        Ok(value) if !value.trim().is_empty() => {
            return Ok(SecretString::from(value.trim().to_string()))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let value = generate();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(value.expose_secret().as_bytes())?;
    Ok(value)
}
