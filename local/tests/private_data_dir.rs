//! A newcomer who is root, with a checkout in root's home (mode 0700), runs
//! the README's first command and gets a working stack: PostgreSQL, which
//! runs as the `postgres` user, cannot reach that directory, so its cluster
//! lives where that user can.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn flux_local_serves_with_its_data_dir_inside_a_private_directory() {
    let private = std::env::temp_dir().join(format!("flux-private-{}", std::process::id()));
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut stack = Command::new(env!("CARGO_BIN_EXE_flux-local"))
        .args(["--port", "0", "--s3-port", "0", "--data-dir"])
        .arg(private.join(".flux-local"))
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flux-local");
    let stderr = stack.stderr.take().unwrap();
    let notes = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    // Read everything it prints (a closed pipe would stop it), and the API line.
    let (api_tx, api_rx) = std::sync::mpsc::channel();
    let stdout = stack.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("API: ") {
                let _ = api_tx.send(url.trim_start_matches("http://").to_string());
            }
        }
    });
    let api = api_rx.recv_timeout(Duration::from_secs(60)).ok();
    let Some(api) = api else {
        let _ = stack.kill();
        panic!("flux-local stopped: {}", notes.join().unwrap())
    };
    let mut socket = std::net::TcpStream::connect(&api).unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    // SIGTERM: it stops its PostgreSQL and exits.
    unsafe { libc::kill(stack.id() as i32, libc::SIGTERM) };
    let status = stack.wait().unwrap();
    let notes = notes.join().unwrap();
    // A relocated cluster is this test's to remove.
    if let Some(dir) = notes.split("its cluster lives in ").nth(1) {
        let _ = std::fs::remove_dir_all(dir.lines().next().unwrap().trim());
    }
    let _ = std::fs::remove_dir_all(&private);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}\n{notes}");
    assert!(reply.contains("\"status\":\"ok\""), "{reply}");
    assert!(status.success(), "{status:?}\n{notes}");
    assert!(!notes.contains("Permission denied"), "{notes}");
}
