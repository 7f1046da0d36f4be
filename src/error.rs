//! One error type for the library. Every variant names the file, field, line or value that went
//! wrong and, where there is one, what the user can do about it: the binary prints the message
//! as a single line and nothing else.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown model '{name}'; known models: {known}")]
    UnknownModel { name: String, known: String },

    #[error("{}: {message}", path.display())]
    BadFile { path: PathBuf, message: String },

    #[error("{}: sha256 is {got}, expected {expected}; the file is damaged or not the pinned release: delete it and run `semclust models pull {model}` again", path.display())]
    Checksum {
        path: PathBuf,
        model: String,
        expected: String,
        got: String,
    },

    #[error("model '{model}' could not be fetched from any source: {tried}")]
    NoSource { model: String, tried: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("input line {line}: {message}")]
    Input { line: usize, message: String },

    #[error("{0}")]
    InvalidArgument(String),

    /// Two files would share one document key (and so the same passage ids).
    #[error("{path} would be indexed as '{key}', which the index already holds for {other}; indexing it would replace that document's passages. Rename one of the files, or index both from their common folder (their keys then include the folder's name)")]
    KeyTaken {
        key: String,
        path: String,
        other: String,
    },

    /// Work stopped because its caller went away (a request timed out or was cancelled).
    #[error("cancelled")]
    Cancelled,

    #[error("device '{device}' is not available: {reason}")]
    DeviceUnavailable { device: String, reason: String },

    #[error("tokenizer {}: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },

    /// The lexical (BM25) index failed; not the user's input.
    #[error("{target}: {message}")]
    Postgres { target: String, message: String },

    #[error("lexical index: {0}")]
    Lexical(String),

    #[error("model computation failed: {}", brief(.0))]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The first line of an error's message: candle appends a backtrace to some errors, and
/// semclust's errors are one line.
pub(crate) fn brief(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}
