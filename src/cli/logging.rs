//! The log on stderr: text for people (the default) or one JSON object per line
//! (`log.format = "json"`). The level is `PORTUS_LOG`, read at start; the format can only be
//! known once the configuration is loaded, so the output layer is swapped then.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, reload};

use crate::config::LogFormat;

type Output = Box<dyn Layer<Registry> + Send + Sync>;

static OUTPUT: OnceLock<reload::Handle<Output, Registry>> = OnceLock::new();

fn output(format: LogFormat) -> Output {
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colours only for a person at a terminal: a log file or a pipe gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        // The request's span (with its request id) on each line, its fields at the top level.
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    }
}

/// Starts logging as text at the `PORTUS_LOG` level (`info` by default).
pub(super) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(output(LogFormat::Text));
    if tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init()
        .is_ok()
    {
        let _ = OUTPUT.set(handle);
    }
}

/// Writes the log in `format` from now on.
pub(super) fn set_format(format: LogFormat) {
    if format == LogFormat::Text {
        return;
    }
    if let Some(handle) = OUTPUT.get() {
        let _ = handle.reload(output(format));
    }
}
