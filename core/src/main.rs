//! The `panechat` binary: parses the command line and runs one command.

mod cli;

fn main() {
    let code = cli::run();
    // What was handed to a multiplexer and is still on its way gets a moment before this
    // process is gone.
    if panechat::adapters::in_flight() {
        panechat::adapters::settle(std::time::Duration::from_millis(500));
    }
    std::process::exit(code);
}
