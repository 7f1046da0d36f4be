//! How the command line shows errors: on one line, each cause once, with the library's field
//! names turned into this front end's flags (`k` → `--k`) and, for the errors that have one,
//! the command that fixes it.

use semclust::Error;

/// The flag (or argument) through which the command line sets a library field.
pub fn flag(field: &str) -> String {
    match field {
        "query" => "the query".to_string(),
        "id" => "the passage ID".to_string(),
        "filter" => "--where/--since/--until".to_string(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A library error as the command line says it.
pub fn describe(e: &Error) -> String {
    match e {
        Error::InvalidInput { field, reason } => format!("{} {reason}", flag(field)),
        Error::NoIndex { location } => format!(
            "{e}; build one with `semclust index PATH {}`",
            location.flag
        ),
        Error::EmptyIndex { location } => {
            format!("{e}; run `semclust index PATH {}`", location.flag)
        }
        Error::ModelMismatch { built_with, .. } => format!(
            "{e}: pass --model {} --precision {} (and --model-dir if it came from a folder), or choose another --index or --store",
            built_with.model, built_with.precision
        ),
        Error::NotFound { kind: "passage", .. } => {
            format!("{e}; ids are printed by `semclust search`")
        }
        Error::NotFound {
            kind: "document", ..
        } => {
            format!("{e}; `semclust docs list` prints the keys")
        }
        other => other.to_string(),
    }
}

/// The exit code of a failed run: 2 for a usage error, a value of a flag or argument that the
/// library refuses (`search -k 0`, as clap's own refusals exit 2), else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let usage = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<Error>(),
            Some(Error::InvalidInput { field, .. }) if *field != "data"
        )
    });
    if usage {
        2
    } else {
        1
    }
}

/// The whole chain of an error on one line: the command's context first, then each cause. Only
/// the first line of each is kept (a dependency's backtrace is noise to a user), and passwords in
/// URLs are removed whatever produced the message.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = match cause.downcast_ref::<Error>() {
            Some(lib) => describe(lib),
            None => cause.to_string(),
        };
        parts.push(text.lines().next().unwrap_or("").trim().to_string());
        if cause.downcast_ref::<Error>().is_some() {
            // The library's errors already hold their cause.
            break;
        }
    }
    semclust::util::text::redact_secrets(&parts.join(": "))
}

/// A flag whose value did not parse is one line naming the flag, exit status 2, like every
/// usage error; other clap errors (help, version, a missing argument) print as clap prints them.
pub fn exit_on_parse_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::ValueValidation {
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => s.split_whitespace().next().unwrap_or("").to_string(),
            _ => String::new(),
        };
        let inner = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<Error>());
        let text = match inner {
            Some(Error::InvalidInput { reason, .. }) if !arg.is_empty() => {
                format!("{arg} {reason}")
            }
            Some(lib) => describe(lib),
            None => e
                .to_string()
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string(),
        };
        eprintln!(
            "semclust: error: {}",
            semclust::util::text::redact_secrets(&text)
        );
        std::process::exit(2);
    }
    e.exit()
}
