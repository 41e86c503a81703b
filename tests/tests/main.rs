//! Every end-to-end test of this crate, in one test binary (one link, one process whose
//! real-program drivers serialise what must not run at once).

mod agents_backend;
mod agents_hooks;
mod ask;
mod cli;
mod context;
mod exactly_once;
mod faults;
mod fuzz_smoke;
mod json_schema;
mod output;
mod providers;
mod runs;
mod snapshots;
mod store_files;
mod tmux;
mod tmux_plugin;
mod tty;
mod zellij;
mod zellij_clients;
mod zellij_install;
mod zellij_names;
mod zellij_publish;
