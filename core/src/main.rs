//! The `panechat` binary: parses the command line and runs one command.

mod cli;

fn main() {
    let code = cli::run();
    // Pane states published to Zellij are sent by detached processes; give one that was turned
    // away a moment to be sent again before this process is gone.
    panechat::adapters::zellij::settle(std::time::Duration::from_millis(500));
    std::process::exit(code);
}
