//! Shell completions and the manual page, both generated from the same clap definitions as the
//! parser, so that they cannot drift from it.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install, e.g. for bash:
    /// `semclust completions bash > ~/.local/share/bash-completion/completions/semclust`.
    pub shell: Shell,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "semclust", &mut std::io::stdout());
    Ok(())
}

/// The manual page of `semclust` and its subcommands, one roff document.
pub fn man() -> anyhow::Result<()> {
    let cmd = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names a command by a `'static` string: the page names live as long as the run.
        let name: &'static str = Box::leak(format!("semclust-{}", sub.get_name()).into_boxed_str());
        let page = sub.clone().name(name);
        clap_mangen::Man::new(page).render(&mut out)?;
    }
    Ok(())
}
