//! A private PostgreSQL cluster run from the installed binaries, for the
//! local stack (data kept between runs) and the test harness (throwaway).
//!
//! Why not `postgresql_embedded` or `pgtemp`: both run `initdb` and the
//! server as the calling user, and `initdb` refuses to run as root, which is
//! how these machines and CI run. Here, as root, every PostgreSQL process
//! runs as the `postgres` system user; as anyone else, as that user.
//!
//! The server is a direct child that receives SIGINT (fast shutdown) when
//! the thread that started it ends, so a crashed or killed parent never
//! leaves a server behind.

use std::ffi::CString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "no PostgreSQL server binaries found (looked for initdb and postgres in $PG_BIN, \
         /usr/lib/postgresql/*/bin and $PATH). Install them, e.g. `apt-get install postgresql` \
         on Debian/Ubuntu or `brew install postgresql@16` on macOS, or pass --database-url"
    )]
    NoBinaries,
    #[error("the `postgres` system user is needed to run PostgreSQL as root, and it does not exist (apt-get install postgresql creates it)")]
    NoPostgresUser,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the `postgres` user cannot reach {dir}, and neither /var/lib/postgresql nor /var/tmp is \
         available to it. Pass --data-dir under a directory it can traverse (for example \
         /var/tmp/flux-local), or --database-url"
    )]
    Unreachable { dir: String },
    #[error("initdb failed:\n{0}")]
    Initdb(String),
    #[error("PostgreSQL did not start: {reason}\n--- last lines of {log} ---\n{tail}")]
    Start {
        reason: String,
        log: String,
        tail: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Io { what, source }
}

/// How clients authenticate over TCP.
#[derive(Clone)]
pub enum Auth {
    /// Anyone on loopback (throwaway test clusters).
    Trust,
    /// SCRAM with this superuser password (the local stack).
    Password(SecretString),
}

/// A cluster: its binaries, directory and superuser.
pub struct PgCluster {
    bin_dir: PathBuf,
    dir: PathBuf,
    auth: Auth,
    /// Test clusters trade durability for speed.
    durable: bool,
    running: Option<Running>,
}

struct Running {
    port: u16,
    /// None when we attached to a server another process started.
    pid: Option<libc::pid_t>,
    exited: Option<oneshot::Receiver<()>>,
}

pub const SUPERUSER: &str = "postgres";

/// A cluster dropped while the server it started runs (a stack dropped
/// without `shutdown`, as in a test that panicked) asks that server to stop,
/// rather than leave it running until this process exits.
impl Drop for PgCluster {
    fn drop(&mut self) {
        let Some(Running {
            pid: Some(pid),
            exited: Some(mut exited),
            ..
        }) = self.running.take()
        else {
            return;
        };
        // Only while it runs: an exited server's pid may be another's now.
        if let Err(oneshot::error::TryRecvError::Empty) = exited.try_recv() {
            // SAFETY: plain syscall on a pid we spawned and that still runs.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
    }
}

impl PgCluster {
    /// A cluster kept in `dir` (the data directory is `dir/data`).
    pub fn new(dir: impl Into<PathBuf>, auth: Auth, durable: bool) -> Result<Self, PgError> {
        Ok(Self {
            bin_dir: find_bin_dir()?,
            dir: dir.into(),
            auth,
            durable,
            running: None,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    pub fn port(&self) -> Option<u16> {
        self.running.as_ref().map(|r| r.port)
    }

    /// A URL for `user` on database `db` of the running cluster.
    pub fn url(&self, user: &str, password: Option<&SecretString>, db: &str) -> String {
        let port = self.port().expect("cluster is running");
        match password {
            Some(pw) => format!(
                "postgres://{user}:{}@127.0.0.1:{port}/{db}",
                pw.expose_secret()
            ),
            None => format!("postgres://{user}@127.0.0.1:{port}/{db}"),
        }
    }

    /// The superuser's URL for database `db`.
    pub fn superuser_url(&self, db: &str) -> String {
        match &self.auth {
            Auth::Trust => self.url(SUPERUSER, None, db),
            Auth::Password(pw) => self.url(SUPERUSER, Some(pw), db),
        }
    }

    /// Creates the cluster unless it exists. Returns whether it was created.
    pub fn init(&self) -> Result<bool, PgError> {
        let data = self.data_dir();
        if data.join("PG_VERSION").exists() {
            return Ok(false);
        }
        let owner = server_user()?;
        fs::create_dir_all(&data).map_err(io(format!("creating {}", data.display())))?;
        for dir in [&self.dir, &data] {
            if let Some((uid, gid)) = owner {
                chown(dir, Some(uid), Some(gid)).map_err(io(format!("chown {}", dir.display())))?;
            }
        }
        fs::set_permissions(&data, fs::Permissions::from_mode(0o700))
            .map_err(io("chmod data dir"))?;

        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"]);
        let pwfile = self.dir.join(".pwfile");
        match &self.auth {
            Auth::Trust => {
                cmd.args(["-A", "trust"]);
            }
            Auth::Password(pw) => {
                fs::write(&pwfile, pw.expose_secret()).map_err(io("writing the password file"))?;
                fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))
                    .map_err(io("chmod password file"))?;
                if let Some((uid, gid)) = owner {
                    chown(&pwfile, Some(uid), Some(gid)).map_err(io("chown password file"))?;
                }
                cmd.args(["-A", "scram-sha-256", "--pwfile"]).arg(&pwfile);
            }
        }
        let output = cmd.output().map_err(io("running initdb"));
        let _ = fs::remove_file(&pwfile);
        let output = output?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(&data);
            return Err(PgError::Initdb(format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(true)
    }

    /// Starts the server on `port` (or on a free port when `port` is 0), or
    /// attaches to the server another process already runs on this cluster.
    pub async fn start(&mut self, port: u16) -> Result<(), PgError> {
        if self.running.is_some() {
            return Ok(());
        }
        if let Some(port) = self.running_elsewhere() {
            self.running = Some(Running {
                port,
                pid: None,
                exited: None,
            });
            return self.wait_ready(Duration::from_secs(10)).await;
        }
        let port = if port == 0 { free_port()? } else { port };
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io("opening the PostgreSQL log"))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ])
            .args(["-c", "max_connections=200"])
            // Room for bulk ingestion without constant checkpoints.
            .args([
                "-c",
                "shared_buffers=256MB",
                "-c",
                "max_wal_size=4GB",
                "-c",
                "checkpoint_timeout=15min",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("log"))?)
            .stderr(log);
        if !self.durable {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        let (pid, exited) = spawn_supervised(cmd)?;
        self.running = Some(Running {
            port,
            pid: Some(pid),
            exited: Some(exited),
        });
        if let Err(e) = self.wait_ready(Duration::from_secs(30)).await {
            self.stop().await;
            return Err(e);
        }
        Ok(())
    }

    /// Stops a server this process started (fast shutdown: open sessions
    /// are ended, data is kept). Attached servers are left running.
    pub async fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let (Some(pid), Some(exited)) = (running.pid, running.exited) else {
            return;
        };
        // SAFETY: plain syscall on a pid we spawned.
        unsafe { libc::kill(pid, libc::SIGINT) };
        if tokio::time::timeout(Duration::from_secs(20), exited)
            .await
            .is_err()
        {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Stops a server this process started the way a crash would: an
    /// immediate shutdown, with no checkpoint; the next start recovers.
    pub async fn crash(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let (Some(pid), Some(exited)) = (running.pid, running.exited) else {
            return;
        };
        // SAFETY: plain syscall on a pid we spawned.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
        if tokio::time::timeout(Duration::from_secs(20), exited)
            .await
            .is_err()
        {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        if let Ok(Some((uid, gid))) = server_user() {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(&self.dir);
        cmd
    }

    /// The port of a live server on this data directory, from `postmaster.pid`.
    fn running_elsewhere(&self) -> Option<u16> {
        let pid_file = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let mut lines = pid_file.lines();
        let pid: libc::pid_t = lines.next()?.trim().parse().ok()?;
        let port: u16 = lines.nth(2)?.trim().parse().ok()?;
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive.then_some(port)
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<(), PgError> {
        let started = Instant::now();
        let url = self.superuser_url("postgres");
        loop {
            let exited = self
                .running
                .as_mut()
                .and_then(|r| r.exited.as_mut())
                .is_some_and(|rx| rx.try_recv().is_ok());
            if exited {
                return Err(self.start_error("the server exited"));
            }
            if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                if client.simple_query("SELECT 1").await.is_ok() {
                    return Ok(());
                }
            }
            if started.elapsed() > limit {
                return Err(self.start_error(&format!("not ready after {}s", limit.as_secs())));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn start_error(&self, reason: &str) -> PgError {
        let log = self.log_path();
        let tail = fs::File::open(&log)
            .map(|f| {
                let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
                lines[lines.len().saturating_sub(15)..].join("\n")
            })
            .unwrap_or_default();
        PgError::Start {
            reason: reason.to_string(),
            log: log.display().to_string(),
            tail,
        }
    }
}

/// Where `initdb` and `postgres` are: `$PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin`, then `$PATH`.
pub fn find_bin_dir() -> Result<PathBuf, PgError> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return if has_both(&dir) {
            Ok(dir)
        } else {
            Err(PgError::NoBinaries)
        };
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Ok(dir);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| has_both(dir))
        .ok_or(PgError::NoBinaries)
}

/// Where a cluster meant for `wanted` can live. The server runs as the
/// `postgres` user when we are root, and that user must be able to reach
/// its directory: a checkout in root's home (mode 0700), or any directory
/// made by `mktemp -d`, is out of its reach. Then the cluster lives in the
/// `postgres` user's own space instead, at a place derived from `wanted`,
/// so that it is found again on the next run; `wanted` is left as it is.
pub fn reachable_dir(wanted: &Path) -> Result<PathBuf, PgError> {
    let Some((uid, gid)) = server_user()? else {
        return Ok(wanted.to_path_buf());
    };
    if reachable_by(uid, gid, wanted) {
        return Ok(wanted.to_path_buf());
    }
    let home = ["/var/lib/postgresql", "/var/tmp"]
        .iter()
        .map(Path::new)
        .find(|dir| dir.is_dir() && reachable_by(uid, gid, dir))
        .ok_or(PgError::Unreachable {
            dir: wanted.display().to_string(),
        })?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        wanted.as_os_str().as_encoded_bytes(),
    );
    let name: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = home.join("flux-local").join(name);
    for path in [dir.parent().expect("has a parent"), dir.as_path()] {
        fs::create_dir_all(path).map_err(io(format!("creating {}", path.display())))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .map_err(io(format!("chmod {}", path.display())))?;
    }
    Ok(dir)
}

/// Whether `uid` (group `gid`) may traverse every directory down to `path`
/// (the parts that exist; what is missing will be made by us).
fn reachable_by(uid: u32, gid: u32, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    path.ancestors().all(|dir| match fs::metadata(dir) {
        Err(_) => true,
        Ok(meta) => {
            let mode = meta.mode();
            if meta.uid() == uid {
                mode & 0o100 != 0
            } else if meta.gid() == gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            }
        }
    })
}

/// The uid/gid PostgreSQL runs as: the `postgres` user when we are root
/// (initdb and postgres refuse root), otherwise ourselves (`None`).
fn server_user() -> Result<Option<(u32, u32)>, PgError> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new(SUPERUSER).expect("no NUL");
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy
    // the two ids out before any other call could overwrite it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(PgError::NoPostgresUser);
    }
    // SAFETY: non-null pointer from getpwnam.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

/// A free TCP port on loopback. Binding to 127.0.0.1 (never 0.0.0.0) to ask.
pub fn free_port() -> Result<u16, PgError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

/// Spawns `cmd` from a thread that lives exactly as long as the child, so
/// the child's parent-death signal fires when this process dies, and not
/// before. Returns the pid and a receiver that resolves when the child exits.
fn spawn_supervised(mut cmd: Command) -> Result<(libc::pid_t, oneshot::Receiver<()>), PgError> {
    // SAFETY: prctl and getppid are async-signal-safe and touch no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (exited_tx, exited_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("postgres-supervisor".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = started_tx.send(Ok(child.id() as libc::pid_t));
                let _ = child.wait();
                let _ = exited_tx.send(());
            }
            Err(e) => {
                let _ = started_tx.send(Err(e));
            }
        })
        .map_err(io("starting the supervisor thread"))?;
    let pid = started_rx
        .recv()
        .map_err(|_| PgError::Io {
            what: "starting postgres".into(),
            source: std::io::Error::other("supervisor thread ended"),
        })?
        .map_err(io("starting postgres"))?;
    Ok((pid, exited_rx))
}
