//! The `semclust` binary: parse, call the library, print. Errors are printed once, on one line,
//! and map to exit code 1 (2 for usage errors, from clap); a closed pipe is a normal exit.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    semclust::util::alloc::keep_large_buffers();
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Embed(a) => cli::embed::run(a),
        cli::Command::Models(c) => cli::models::run(c),
        cli::Command::Index(a) => cli::index::run(a),
        cli::Command::Search(a) => cli::search::run_search(a),
        cli::Command::Related(a) => cli::search::run_related(a),
        cli::Command::Themes(a) => cli::themes::run_themes(a),
        cli::Command::Report(a) => cli::themes::run_report(a),
        cli::Command::Serve(a) => cli::serve::run(a),
        cli::Command::Bench(a) => cli::bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // The causes, each once: library errors already end with their source's text, which
            // anyhow's `{:#}` would repeat.
            let mut msg = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !msg.contains(&text) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&text);
                }
            }
            // One line: anything after a newline (a dependency's backtrace) is noise to a user.
            // Passwords in URLs are removed whatever produced the message (a store URL can be
            // quoted by a dependency's error as well as by ours).
            let line = msg.lines().next().unwrap_or("");
            eprintln!(
                "semclust: error: {}",
                semclust::util::text::redact_secrets(line)
            );
            ExitCode::FAILURE
        }
    }
}
