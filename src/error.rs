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
