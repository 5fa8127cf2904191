//! Errors of the `portus` program: configuration, start-up and commands.

/// Errors of configuration, start-up and the command-line program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message names the key.
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A command was used wrongly; the message says how to use it.
    #[error("{0}")]
    Usage(String),
    /// What was asked is not supported by this server (`--server`) or this store; nothing was
    /// changed.
    #[error("{0}")]
    Unsupported(String),
    /// The portus server (`--server`) refused a request or answered with an error; `message`
    /// is the server's.
    #[error("the server answered {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// What the server said.
        message: String,
    },
    /// The portus server (`--server`) could not be reached.
    #[error("cannot reach the server at {url}")]
    Remote {
        /// The server's base URL.
        url: String,
        /// The underlying failure.
        #[source]
        source: reqwest::Error,
    },
    /// `portus doctor` found problems; the message says how many (each was printed with its fix).
    #[error("{0}")]
    Unhealthy(String),
    /// Token or authentication layer failure.
    #[error(transparent)]
    Auth(#[from] portus_auth::Error),
    /// Policy store failure.
    #[error(transparent)]
    Core(#[from] portus_core::Error),
    /// Registry access or synchronization failure.
    #[error(transparent)]
    Sync(#[from] portus_scan::Error),
    /// Reading or importing another installation failed.
    #[cfg(feature = "import")]
    #[error(transparent)]
    Import(#[from] portus_import::Error),
}
