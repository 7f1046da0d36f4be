//! One error type for the library. Every variant names the file, field, line or value that went
//! wrong and, where there is one, what the user can do about it: the binary prints the message
//! as a single line and nothing else.

use std::path::PathBuf;

use crate::fingerprint::Fingerprint;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown model '{name}'; curated models: {known}; or name a sentence-transformers model on the Hugging Face hub as ORG/NAME, or give its folder with --model-dir DIR")]
    UnknownModel { name: String, known: String },

    #[error("{}: {message}", path.display())]
    BadFile {
        path: PathBuf,
        message: String,
        /// What kind of problem: how a run that skips bad files counts it.
        problem: FileProblem,
    },

    #[error("{}: sha256 is {got}, expected {expected}; the file is damaged or not the pinned release: delete it and run `semclust models pull {model}` again", path.display())]
    Checksum {
        path: PathBuf,
        model: String,
        expected: String,
        got: String,
    },

    #[error("model '{model}' could not be fetched from any source: {tried}")]
    NoSource { model: String, tried: String },

    /// The cause is part of the message and not also a `source()`: every error prints its
    /// cause once, and a front end prints an error's `Display` and nothing else.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },

    #[error("input line {line}: {message}")]
    Input { line: usize, message: String },

    /// A value the caller chose is not acceptable. `field` is the library's name for it (`k`,
    /// `ef_search`, `other_articles`); each front end shows it under its own name (`--k` on the
    /// command line, `k` in a JSON request), so the message reads "FIELD REASON".
    #[error("{field} {reason}")]
    InvalidInput { field: &'static str, reason: String },

    /// Bad input that has no field of its own to name (kept for the few such cases).
    #[error("{0}")]
    InvalidArgument(String),

    /// Something asked for by name or id is not there.
    #[error("no {kind} '{id}' in the index")]
    NotFound { kind: &'static str, id: String },

    /// A vector of the wrong length for this index.
    #[error("{what} has {got} values, the index holds {expected}-d vectors")]
    DimensionMismatch {
        what: String,
        expected: usize,
        got: usize,
    },

    /// No index was ever created here (the front end says how to make one).
    #[error("{}", no_index(.location))]
    NoIndex { location: IndexName },

    /// The index exists and holds no passage yet.
    #[error("index {location} holds no passage")]
    EmptyIndex { location: IndexName },

    /// The index was built with another model, revision, precision or dimension: its vectors and
    /// the ones this model gives are not comparable.
    #[error("index {location} was built with {built_with}; this run uses {loaded}")]
    ModelMismatch {
        location: String,
        built_with: Box<Fingerprint>,
        loaded: Box<Fingerprint>,
    },

    /// A service this needs cannot be used now (the server is shutting down, its model thread
    /// stopped); trying again later may work.
    #[error("{0}")]
    Unavailable(String),

    /// What this machine lacks or an outside program failed at (python3, pip, a download).
    #[error("{0}")]
    Environment(String),

    /// A failure that is nobody's input: a broken invariant, a serialiser error.
    #[error("internal error: {0}")]
    Internal(String),

    /// Two files would share one document key (and so the same passage ids).
    #[error("{path} would be indexed as '{key}', which the index already holds for {other}; indexing it would replace that document's passages. Rename one of the files, or index both from their common folder (their keys then include the folder's name)")]
    KeyTaken {
        key: String,
        path: String,
        other: String,
    },

    /// A document sent by name (over the HTTP API or with `index -`) whose key another document holds.
    #[error("the name '{name}' is stored as '{key}', which the index already holds for {other}; sending it would replace that document's passages. Send it under another name, or remove the other document first (`delete`)")]
    NameTaken {
        name: String,
        key: String,
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

    /// Only the first line of candle's message: some carry a backtrace. Not a `source()`
    /// either, for the reason given at [`Error::Io`].
    #[error("model computation failed: {}", brief(.0))]
    Candle(candle_core::Error),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

fn no_index(location: &IndexName) -> String {
    match location.postgres {
        false => format!("no index at {}", location.shown),
        true => format!("{} holds no semclust index", location.shown),
    }
}

/// Where an index lives, as errors name it: the store's location as shown to people (a folder,
/// or a PostgreSQL target with its password masked) and the flag that names it. (Made from a
/// `store::StoreLocation`; a value here so that the error type depends on no store.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexName {
    pub shown: String,
    /// `--index DIR` or `--store URL`, for messages telling users what to run.
    pub flag: String,
    pub postgres: bool,
}

impl std::fmt::Display for IndexName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        Error::Internal(what.to_string())
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::file_problem(path, FileProblem::Content, message)
    }

    pub(crate) fn file_problem(
        path: impl Into<PathBuf>,
        problem: FileProblem,
        message: impl Into<String>,
    ) -> Self {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
            problem,
        }
    }

    /// What kind of problem a file had, for an error that names one file.
    pub fn file_problem_kind(&self) -> Option<FileProblem> {
        match self {
            Error::BadFile { problem, .. } => Some(*problem),
            Error::Io { .. } => Some(FileProblem::Unreadable),
            _ => None,
        }
    }
}

/// Why a file could not be indexed: the categories a run's summary counts skipped files by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileProblem {
    /// It could not be opened or read (permissions, an I/O error).
    Unreadable,
    /// Over `--max-file-bytes`.
    TooLarge,
    /// Not a regular file (a FIFO, a socket, a device).
    NotRegular,
    /// NUL bytes: not text.
    Binary,
    /// Neither UTF-8 nor a charset that decodes it cleanly.
    Charset,
    /// Its content: a passage over the limit, a bad JSONL record, bad front matter.
    Content,
}

impl FileProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            FileProblem::Unreadable => "unreadable",
            FileProblem::TooLarge => "too large",
            FileProblem::NotRegular => "not a regular file",
            FileProblem::Binary => "binary",
            FileProblem::Charset => "unknown charset",
            FileProblem::Content => "bad content",
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
