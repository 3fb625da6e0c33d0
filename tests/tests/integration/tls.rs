//! Verified TLS to PostgreSQL (DESIGN.md: TLS to RDS, verify its CA), against
//! a real server with a certificate from a throwaway CA.

use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;

use flux_local::postgres::{Auth, PgCluster};
use flux_shared::db::{DbSettings, DbTls};
use flux_tests::{scratch_dir, TestDb};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// Writes a file the server (possibly running as `postgres`) may read.
fn write_for_server(data_dir: &Path, name: &str, contents: &str) {
    let path = data_dir.join(name);
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let owner = std::fs::metadata(data_dir).unwrap();
    chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
}

fn verifying(url: &str, ca_file: &Path) -> DbSettings {
    let mut settings = DbSettings::from_url(url).unwrap();
    settings.tls = DbTls::Verify {
        extra_ca_file: Some(ca_file.to_path_buf()),
    };
    settings
}

#[tokio::test]
async fn verified_tls_needs_a_certificate_for_the_host_from_a_trusted_ca_and_never_falls_back() {
    let dir = scratch_dir("tls");
    let trusted = ca();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &trusted.cert, &trusted.key)
        .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, trusted.cert.pem()).unwrap();
    let stranger_file = dir.join("stranger.pem");
    std::fs::write(&stranger_file, ca().cert.pem()).unwrap();

    let mut cluster = PgCluster::new(dir.join("pg"), Auth::Trust, false).unwrap();
    cluster.init().unwrap();
    let data = cluster.data_dir();
    write_for_server(&data, "server.crt", &server_cert.pem());
    write_for_server(&data, "server.key", &server_key.serialize_pem());
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    std::fs::write(&conf, text).unwrap();
    cluster.start(0).await.unwrap();
    let port = cluster.port().unwrap();

    // The right CA and the certificate's host name: connected, over TLS.
    let url = format!("postgres://postgres@localhost:{port}/postgres");
    let client = verifying(&url, &ca_file)
        .connect()
        .await
        .expect("verified TLS");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
    drop(client);

    // A certificate from a CA we do not trust, or for another name: refused.
    assert!(verifying(&url, &stranger_file).connect().await.is_err());
    let by_address = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    assert!(verifying(&by_address, &ca_file).connect().await.is_err());
    cluster.stop().await;

    // A server that declines TLS: refused, not a silent fall back to clear text.
    let plain = TestDb::new().await;
    let plain_url = plain.superuser_url.replace("127.0.0.1", "localhost");
    assert!(verifying(&plain_url, &ca_file).connect().await.is_err());
}
