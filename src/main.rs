//! The `semclust` binary: parse, call the library, print. Errors are printed once, on one line
//! (see `cli::errors`), and map to exit code 1, or 2 for usage errors (a flag's value the
//! library refuses counts as one, as clap's own refusals do); a closed pipe is a normal exit.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    semclust::util::alloc::keep_large_buffers();
    // The configuration file fills the environment the flags read their defaults from, so it
    // is read before parsing; a bad file is a usage error.
    if let Err(e) = cli::config::apply() {
        eprintln!("semclust: error: {}", cli::errors::one_line(&e));
        return ExitCode::from(2);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => cli::errors::exit_on_parse_error(e),
    };
    let result = match cli.command {
        cli::Command::Embed(a) => cli::embed::run(a),
        cli::Command::Models(c) => cli::models::run(c),
        cli::Command::Index(a) => cli::index::run(a),
        cli::Command::Docs(c) => cli::docs::run(c),
        cli::Command::Search(a) => cli::search::run_search(a),
        cli::Command::Related(a) => cli::search::run_related(a),
        cli::Command::Themes(a) => cli::themes::run_themes(a),
        cli::Command::Report(a) => cli::themes::run_report(a),
        cli::Command::Serve(a) => cli::serve::run(a),
        cli::Command::Bench(a) => cli::bench::run(a),
        cli::Command::Eval(a) => cli::eval::run(a),
        cli::Command::Completions(a) => cli::shell::completions(a),
        cli::Command::Man => cli::shell::man(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let broken_pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(broken_pipe)
                    || matches!(c.downcast_ref::<semclust::Error>(),
                        Some(semclust::Error::Io { cause, .. }) if broken_pipe(cause))
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("semclust: error: {}", cli::errors::one_line(&e));
            ExitCode::from(cli::errors::exit_code(&e))
        }
    }
}
