//! `panechat completions SHELL`.

use clap::CommandFactory;
use panechat::Result;

/// `panechat completions SHELL`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Runs the command.
pub fn run(args: Args) -> Result<i32> {
    let mut cmd = super::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "panechat", &mut buf);
    super::out(&String::from_utf8_lossy(&buf))?;
    Ok(0)
}
