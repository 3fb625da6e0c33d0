//! Structured JSON logs, one line per event, with the request span's fields
//! (request id, method, path) on every line. Callers never log secrets:
//! secret values are `SecretString`s, whose `Debug` is redacted.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber, writing to stdout (where Lambda collects
/// it); `RUST_LOG` filters (default `info`). Calling it again is a no-op.
pub fn init() {
    init_with(std::io::stdout);
}

/// The same on stderr, for a process whose stdout is for people.
pub fn init_on_stderr() {
    init_with(std::io::stderr);
}

fn init_with<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
