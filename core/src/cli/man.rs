//! `panechat man`: manual pages, generated from the same definitions as `--help`.
//!
//! `panechat man` prints `panechat(1)`, `panechat man query` prints `panechat-query(1)`, and
//! `panechat man --dir DIR` writes every page into DIR (e.g. `~/.local/share/man/man1`).

use std::path::PathBuf;

use clap_mangen::Man;
use panechat::error::IoContext;
use panechat::{Error, Result};

use super::output::out;

/// `panechat man [COMMAND] [--dir DIR]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command whose page to print, e.g. `query` (default: the page of panechat itself).
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
    /// Write every page (panechat.1, panechat-query.1, …) into DIR and print their paths.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    dir: Option<PathBuf>,
}

/// Runs the command.
/// Runs the command; `full` is the whole command line's definition.
pub fn run(args: Args, full: clap::Command) -> Result<i32> {
    let mut top = full.disable_help_subcommand(true);
    top.build();
    if let Some(dir) = args.dir {
        std::fs::create_dir_all(&dir).ctx(&dir)?;
        let mut written = String::new();
        for (cmd, is_top) in pages(&top) {
            let man = Man::new(cmd.clone());
            let path = dir.join(man.get_filename());
            std::fs::write(&path, render(cmd, is_top)).ctx(&path)?;
            written.push_str(&format!("{}\n", path.display()));
        }
        out(&written)?;
        return Ok(0);
    }
    let (cmd, is_top) = match &args.command {
        None => (&top, true),
        Some(name) => (
            top.find_subcommand(name)
                .filter(|c| !c.is_hide_set())
                .ok_or_else(|| Error::BadArgument {
                    message: format!(
                        "`{name}` is not a panechat command; pages exist for: {}",
                        pages(&top)
                            .iter()
                            .skip(1)
                            .map(|(c, _)| c.get_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?,
            false,
        ),
    };
    out(&String::from_utf8_lossy(&render(cmd, is_top)))?;
    Ok(0)
}

/// panechat itself, then every visible command.
fn pages(top: &clap::Command) -> Vec<(&clap::Command, bool)> {
    std::iter::once((top, true))
        .chain(
            top.get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| (c, false)),
        )
        .collect()
}

/// One page in roff.
fn render(cmd: &clap::Command, is_top: bool) -> Vec<u8> {
    let man = Man::new(cmd.clone()).manual("panechat manual");
    let mut v = Vec::new();
    let _ = man.render_title(&mut v);
    let _ = man.render_name_section(&mut v);
    let _ = man.render_synopsis_section(&mut v);
    let _ = man.render_description_section(&mut v);
    if cmd
        .get_arguments()
        .any(|a| !a.is_hide_set() && a.get_id() != "version")
    {
        let _ = man.render_options_section(&mut v);
    }
    if is_top {
        let _ = man.render_subcommands_section(&mut v);
        v.extend_from_slice(b".SH \"EXIT STATUS\"\n");
        for line in super::texts::exit_status!().lines() {
            let (code, what) = line.trim().split_once(' ').unwrap_or((line, ""));
            v.extend_from_slice(format!(".TP\n{code}\n{}\n", roff_text(what.trim())).as_bytes());
        }
        v.extend_from_slice(b".SH FILES\n");
        v.extend_from_slice(roff_text(super::texts::FILES).as_bytes());
        v.extend_from_slice(b"\n.SH \"SEE ALSO\"\n");
        let see: Vec<String> = pages(cmd)
            .iter()
            .skip(1)
            .map(|(c, _)| format!("{}(1)", c.get_display_name().unwrap_or(c.get_name())))
            .collect();
        v.extend_from_slice(roff_text(&see.join(", ")).as_bytes());
        v.push(b'\n');
    } else {
        v.extend_from_slice(b".SH \"SEE ALSO\"\npanechat(1)\n");
    }
    let _ = man.render_version_section(&mut v);
    v
}

/// Text for a roff body line: backslashes doubled, a leading `.` or `'` guarded.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}
