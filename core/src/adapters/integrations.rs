//! `panechat doctor`'s integrations: for each multiplexer this command runs in (and for the
//! plugin files panechat installed), whether panechat's plugin is there, loaded and current,
//! with the fix when it is not. At most one program per multiplexer runs, each with a
//! deadline; nothing it starts stays.

use std::path::Path;
use std::time::Duration;

use crate::adapters::exec::Exec;
use crate::adapters::{tmux, zellij, zellij_plugin};
use crate::env::Env;

/// The build of the plugin `plugin` (`wezterm` or `zellij`) this binary carries, and what to
/// run when a plugin of another build is loaded; `None` for a plugin panechat does not carry.
pub fn carried(plugin: &str) -> Option<(String, &'static str)> {
    match plugin {
        "wezterm" => Some((
            crate::adapters::wezterm::carried_build(),
            "load the plugin this panechat carries (`panechat init wezterm --plugin FILE`), or update the one wezterm.plugin.require cloned (`wezterm.plugin.update_all()`), or upgrade panechat",
        )),
        "zellij" => Some((
            zellij_plugin::carried_build().to_string(),
            "run `panechat init zellij > /dev/null`, then restart Zellij",
        )),
        _ => None,
    }
}

/// How long a multiplexer has to answer.
const DEADLINE: Duration = Duration::from_millis(900);

/// One line of the integrations section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The integration: `tmux`, `Zellij`, `Zellij plugin file`, `WezTerm plugin file`.
    pub what: &'static str,
    /// Whether all is well.
    pub ok: bool,
    /// What was found, and the fix when something is off.
    pub text: String,
}

/// The integrations section for a command run with `env`; `state` is panechat's state
/// directory (where `init wezterm --plugin` records the file it wrote).
pub fn check(env: &Env, exec: &dyn Exec, state: &Path) -> Vec<Line> {
    let mut lines = Vec::new();
    if env.get("TMUX").is_some_and(|t| !t.is_empty()) {
        lines.push(tmux_line(env, exec));
    }
    if let Some(l) = zellij_file_line(env) {
        lines.push(l);
    }
    if let Some(session) = env
        .get("ZELLIJ_SESSION_NAME")
        .filter(|s| !s.is_empty() && env.get("ZELLIJ").is_some())
    {
        lines.push(zellij_line(session, exec));
    }
    if let Some(l) = wezterm_file_line(state) {
        lines.push(l);
    }
    lines
}

/// The tmux server this command runs in: panechat's plugin loaded (`@panechat-bin`), its keys,
/// its status segment. One `tmux` run.
fn tmux_line(env: &Env, exec: &dyn Exec) -> Line {
    let argv = tmux::argv(&["show-options", "-g", ";", "list-keys"]);
    let out = match exec.run_within(&argv, DEADLINE) {
        Ok(Some(o)) if o.success() => o.text(),
        _ => {
            return Line {
                what: "tmux",
                ok: false,
                text: "the tmux server did not answer `tmux show-options -g`".into(),
            }
        }
    };
    tmux_report(&out, &crate::env::this_binary().to_string_lossy(), env)
}

/// What `tmux show-options -g ; list-keys` says of panechat's plugin.
pub fn tmux_report(out: &str, this_bin: &str, _env: &Env) -> Line {
    let option = |name: &str| {
        out.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let Some(bin) = option("@panechat-bin") else {
        return Line {
            what: "tmux",
            ok: false,
            text: "panechat's plugin is not loaded in this tmux server: add the line `panechat init tmux` prints to ~/.tmux.conf, then run `tmux source-file ~/.tmux.conf`".into(),
        };
    };
    let mut keys: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("bind-key") && l.contains("panechat"))
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip(1);
            let mut table = "prefix";
            let mut word = w.next()?;
            while word.starts_with('-') {
                if word == "-T" {
                    table = w.next()?;
                }
                word = w.next()?;
            }
            Some(if table == "root" {
                word.to_string()
            } else {
                format!("{table} {word}")
            })
        })
        .collect();
    keys.dedup();
    let status = ["status-left", "status-right"]
        .into_iter()
        .filter(|o| option(o).is_some_and(|v| v.contains("@panechat-status-format")))
        .collect::<Vec<_>>();
    let mut text = format!(
        "panechat's plugin is loaded; keys: {}; status segment: {}",
        if keys.is_empty() {
            "none bound (each was taken, or set to \"\")".to_string()
        } else {
            crate::title::pane_text(&keys.join(", "))
        },
        if status.is_empty() {
            "none (@panechat-status is off, or the status line was set after the plugin)"
                .to_string()
        } else {
            status.join(", ")
        }
    );
    let ok = bin == this_bin;
    if !ok {
        text.push_str(&format!(
            "; its keys run {} (@panechat-bin), not this panechat ({this_bin}): run `tmux source-file ~/.tmux.conf`",
            crate::title::pane_text(&bin)
        ));
    }
    Line {
        what: "tmux",
        ok,
        text,
    }
}

/// The plugin file `panechat init zellij` installs, when there is one.
fn zellij_file_line(env: &Env) -> Option<Line> {
    use zellij_plugin::Installed;
    let path = zellij_plugin::default_location(env)?;
    let shown = shown_path(&path);
    let carried = zellij_plugin::carried_build();
    let (ok, text) = match zellij_plugin::installed(&path) {
        Installed::Missing if env.get("ZELLIJ").is_none() => return None,
        Installed::Missing => (
            false,
            format!("no plugin at {shown}: run `panechat init zellij` (it prints the lines for config.kdl and writes the plugin)"),
        ),
        Installed::Current => (true, format!("{shown} is the plugin this panechat carries (build {carried})")),
        Installed::Other { build } => (
            false,
            format!(
                "{shown} is build {}, not the one this panechat carries ({carried}): run `panechat init zellij > /dev/null`, then restart Zellij",
                crate::title::pane_text(&build)
            ),
        ),
        Installed::Foreign => (false, format!("{shown} is not panechat's plugin")),
    };
    Some(Line {
        what: "Zellij plugin file",
        ok,
        text,
    })
}

/// The plugin of the Zellij session this command runs in, asked over a pipe.
fn zellij_line(session: &str, exec: &dyn Exec) -> Line {
    let session_shown = crate::title::pane_text(session);
    let views = zellij::plugin_views(exec, DEADLINE);
    zellij_report(&session_shown, &views)
}

/// What the plugin's instances said of themselves (`panechat::list`, one JSON per line).
pub fn zellij_report(session: &str, views: &[serde_json::Value]) -> Line {
    let carried = zellij_plugin::carried_build();
    let Some(v) = views.iter().find(|v| v["leader"] == true).or(views.first()) else {
        return Line {
            what: "Zellij",
            ok: false,
            text: format!("session '{session}': panechat's plugin did not answer: is it in config.kdl (`panechat init zellij`), and were its permissions granted? (docs/zellij.md)"),
        };
    };
    let build = v["build"].as_str().unwrap_or("unknown");
    let granted = v["granted"] == true;
    let current = build == carried;
    let mut text = format!(
        "session '{session}': panechat's plugin answers (build {}{}), permissions {}",
        crate::title::pane_text(build),
        if current { ", current" } else { "" },
        if granted { "granted" } else { "not granted" }
    );
    if !current {
        text.push_str(&format!(
            "; this panechat carries build {carried}: run `panechat init zellij > /dev/null`, then `zellij action start-or-reload-plugin panechat`"
        ));
    }
    if !granted {
        text.push_str("; answer its permission question (to be asked again, remove its entry from ~/.cache/zellij/permissions.kdl)");
    }
    Line {
        what: "Zellij",
        ok: current && granted,
        text,
    }
}

/// The WezTerm plugin file `init wezterm --plugin FILE` wrote, when it recorded one.
fn wezterm_file_line(state: &Path) -> Option<Line> {
    let recorded = crate::files::read(&wezterm_record(state)).ok()?;
    let path = String::from_utf8(recorded).ok()?;
    let path = Path::new(path.trim());
    let shown = shown_path(path);
    let (ok, text) = match zellij_plugin::read_regular(path) {
        Ok(Some(b)) if b == crate::adapters::wezterm::PLUGIN.as_bytes() => {
            (true, format!("{shown} is the plugin this panechat carries"))
        }
        Ok(_) => (
            false,
            format!("{shown} is not the plugin this panechat carries: run `panechat init wezterm --plugin {shown}` again"),
        ),
        Err(_) => (
            false,
            format!("{shown} (written by `panechat init wezterm --plugin`) is gone: run that again, or remove the `dofile` line from wezterm.lua"),
        ),
    };
    Some(Line {
        what: "WezTerm plugin file",
        ok,
        text,
    })
}

/// A path as shown on the terminal: as it is, but for the controls a hostile name could hold.
pub fn shown_path(path: &Path) -> String {
    crate::title::strip_terminal_controls(&path.display().to_string()).replace(['\n', '\t'], " ")
}

/// Where `init wezterm --plugin FILE` records FILE.
pub fn wezterm_record(state: &Path) -> std::path::PathBuf {
    state.join("wezterm-plugin-file")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADED: &str = r##"@panechat-bin /usr/bin/panechat
status-right "#{E:@panechat-status-format} %H:%M"
bind-key    -T prefix       F                    run-shell -b "'/usr/bin/panechat' tmux-plugin 'fork'"
bind-key    -T prefix       P                    run-shell -b "'/usr/bin/panechat' tmux-plugin 'pick'"
bind-key    -T copy-mode-vi Q                    send-keys -X copy-selection-and-cancel panechat-selection
bind-key    -T prefix       c                    new-window
"##;

    #[test]
    fn tmux_says_keys_status_and_which_binary() {
        let l = tmux_report(LOADED, "/usr/bin/panechat", &Env::default());
        assert!(l.ok, "{l:?}");
        assert!(
            l.text.contains("keys: prefix F, prefix P, copy-mode-vi Q")
                && l.text.contains("status segment: status-right"),
            "{}",
            l.text
        );
        let l = tmux_report(LOADED, "/opt/new/panechat", &Env::default());
        assert!(!l.ok && l.text.contains("source-file"), "{}", l.text);
        let l = tmux_report(
            "status-right \"%H:%M\"\n",
            "/usr/bin/panechat",
            &Env::default(),
        );
        assert!(!l.ok && l.text.contains("not loaded"), "{}", l.text);
    }

    #[test]
    fn zellij_says_build_and_grant() {
        let carried = zellij_plugin::carried_build();
        let v = |b: &str, g: bool| serde_json::json!({"build": b, "granted": g, "leader": true});
        let l = zellij_report("s", &[v(carried, true)]);
        assert!(l.ok && l.text.contains("current"), "{}", l.text);
        let l = zellij_report("s", &[v("0.0.1+00000000000000aa", true)]);
        assert!(
            !l.ok && l.text.contains("start-or-reload-plugin"),
            "{}",
            l.text
        );
        let l = zellij_report("s", &[v(carried, false)]);
        assert!(!l.ok && l.text.contains("not granted"), "{}", l.text);
        let l = zellij_report("s", &[]);
        assert!(!l.ok && l.text.contains("did not answer"), "{}", l.text);
    }
}
