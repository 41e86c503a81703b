//! `panechat completions SHELL`.
//!
//! The scripts come from clap's generators, from the command line without its hidden commands
//! (`lock-prompt`, `lock-answer`: plugins run them, people do not). For bash, zsh and fish the
//! conversation targets of `use`, `show`, `rm`, `fork` and `rename` complete to `last`, `prev`,
//! `pick` and the ids that `panechat ls --ids` prints (one read of the index, no config, no
//! network), asked of the same `panechat` the line runs.

use clap_complete::Shell;
use panechat::Result;

/// `panechat completions SHELL`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// The subcommands whose positional arguments name conversations.
const TARGET_COMMANDS: &[&str] = &["use", "show", "rm", "fork", "rename"];

/// Runs the command.
/// Runs the command; `full` is the whole command line's definition.
pub fn run(args: Args, full: clap::Command) -> Result<i32> {
    super::output::out(&script(args.shell, full))?;
    Ok(0)
}

/// The command line as people use it: the hidden subcommands left out.
fn visible_command(full: clap::Command) -> clap::Command {
    // Everything but the subcommands, as defined on the full command.
    let mut cmd = clap::Command::new("panechat")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .propagate_version(true)
        .subcommand_required(full.is_subcommand_required_set());
    for a in full.get_arguments() {
        cmd = cmd.arg(a.clone());
    }
    for sc in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        cmd = cmd.subcommand(sc.clone());
    }
    cmd
}

/// The completion script for `shell`.
pub fn script(shell: Shell, full: clap::Command) -> String {
    let mut cmd = visible_command(full);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "panechat", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    match shell {
        Shell::Bash => format!("{generated}\n{BASH_IDS}"),
        Shell::Zsh => zsh_with_ids(&generated),
        Shell::Fish => format!(
            "{generated}\n# Conversation ids for the commands that take a target.\ncomplete -c panechat -n \"{}\" -f -a \"last prev pick (panechat ls --ids 2>/dev/null)\"\n",
            TARGET_COMMANDS
                .iter()
                .map(|c| format!("__fish_panechat_using_subcommand {c}"))
                .collect::<Vec<_>>()
                .join("; or ")
        ),
        _ => generated,
    }
}

/// Bash: a wrapper around clap's `_panechat` that completes the targets of use, show, rm,
/// fork and rename to conversation ids, and leaves everything else (options, their values) to
/// clap's function.
const BASH_IDS: &str = r#"# Conversation ids for the commands that take a target (`panechat ls --ids`).
_panechat_with_ids() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub= i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --cfg | --session) ((i++)) ;;
        -*) ;;
        *) sub=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $sub in
    use | show | rm | fork | rename)
        if [[ $cur != -* && $prev != --* ]]; then
            COMPREPLY=($(compgen -W "last prev pick $("${COMP_WORDS[0]}" ls --ids 2>/dev/null)" -- "$cur"))
            return 0
        fi
        ;;
    esac
    _panechat "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _panechat_with_ids -o nosort -o bashdefault -o default panechat
else
    complete -F _panechat_with_ids -o bashdefault -o default panechat
fi
"#;

/// Zsh: clap's script, with the target arguments of use, show, rm, fork and rename completed
/// by `_panechat_ids` instead of file names.
fn zsh_with_ids(generated: &str) -> String {
    const IDS: &str = r#"
(( $+functions[_panechat_ids] )) ||
_panechat_ids() {
    # (Past the subcommand, $words starts at it: the command itself is $service.)
    local -a ids
    ids=(last prev pick ${(f)"$(${service:-panechat} ls --ids 2>/dev/null)"})
    compadd -a ids
}
"#;
    let mut out = String::with_capacity(generated.len() + IDS.len());
    let mut in_target_command = false;
    for line in generated.lines() {
        let l = line.trim_start();
        if l.starts_with('(') && l.ends_with(')') && !l.contains(' ') {
            in_target_command = TARGET_COMMANDS.contains(&&l[1..l.len() - 1]);
        }
        let is_target = in_target_command
            && (l.starts_with("'::target -- ")
                || l.starts_with("':target -- ")
                || l.starts_with("'*::targets -- ")
                || l.starts_with("'*::words -- "));
        if is_target && line.ends_with(":_default' \\") {
            out.push_str(&line.replace(":_default' \\", ":_panechat_ids' \\"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    // Before the last lines that register the function.
    match out.rfind("\nif [ \"$funcstack[1]\" = \"_panechat\" ]") {
        Some(i) => out.insert_str(i + 1, IDS),
        None => out.push_str(IDS),
    }
    out
}
