//! Figures the stack only logs (csv-ingest's `rollup_ms`), caught from its
//! log events as they pass, beside the usual JSON log lines.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn seen() -> &'static Mutex<HashMap<String, u64>> {
    static SEEN: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The last value logged for the integer field `name`.
pub fn last(name: &str) -> Option<u64> {
    seen().lock().expect("not poisoned").get(name).copied()
}

struct Capture;

impl Visit for Capture {
    fn record_u64(&mut self, field: &Field, value: u64) {
        seen()
            .lock()
            .expect("not poisoned")
            .insert(field.name().to_string(), value);
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

struct CaptureLayer;

impl<S: tracing::Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        event.record(&mut Capture);
    }
}

/// JSON logs at warn (the figures are what a benchmark prints), and the capture.
pub fn init() {
    let _ = tracing_subscriber::registry()
        // Info and above only: trace-level events everywhere would slow the
        // very stack being measured.
        .with(CaptureLayer.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .with(tracing_subscriber::fmt::layer().json().with_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        ))
        .try_init();
}
