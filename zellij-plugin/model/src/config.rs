//! The plugin's options, from the KDL block of its alias in `config.kdl`
//! (`plugins { panechat location="…" { title_format "💬 {title}" } }`).

use std::collections::BTreeMap;

/// Every option, with its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The `panechat` binary the plugin runs (`panechat`: found on the server's `PATH`).
    pub panechat: String,
    /// How a pane is named after its conversation: `{title}` is the title (the short id while
    /// untitled), `{id}` the conversation id. Default `💬 {title}`.
    pub title_format: String,
    /// Rename panes after their conversations (default `true`).
    pub rename_panes: bool,
    /// Also rename panes the user renamed by hand (default `false`).
    pub overwrite_renamed: bool,
    /// Longest pane name, in characters (default 60).
    pub name_max: usize,
    /// The name while the pane's query runs: `{name}` is the name `title_format` gives
    /// (default `{name} ●`).
    pub running_format: String,
    /// The name while another pane's query holds the conversation (default `{name} 🔒`).
    pub held_format: String,
    /// Also tell zjstatus (`pipe_panechat` in its bar) about the focused pane's conversation,
    /// on each change (default `false`).
    pub zjstatus: bool,
    /// Mark the tab of a pane whose coding agent needs you (`⚑ ` before its name, taken off
    /// again after; default `true`).
    pub mark_tabs: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            panechat: "panechat".into(),
            title_format: "💬 {title}".into(),
            rename_panes: true,
            overwrite_renamed: false,
            name_max: 60,
            running_format: "{name} ●".into(),
            held_format: "{name} 🔒".into(),
            zjstatus: false,
            mark_tabs: true,
        }
    }
}

impl Config {
    /// The format of a pane's name: `title_format`, inside `running_format` while the pane's
    /// query runs, inside `held_format` while another pane's query holds the conversation
    /// (both while the pane's query waits for that one to end).
    pub fn name_format(&self, running: bool, held: bool) -> String {
        let mut whole = self.title_format.clone();
        if running {
            whole = self.running_format.replace("{name}", &whole);
        }
        if held {
            whole = self.held_format.replace("{name}", &whole);
        }
        whole
    }
}

fn flag(key: &str, v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        other => Err(format!(
            "option `{key}` is `{other}`; write `{key} \"true\"` or `{key} \"false\"`"
        )),
    }
}

impl Config {
    /// Reads the options; an unknown key or a bad value is an error that names it.
    /// Keys Zellij itself adds to the configuration (`_allow_exec_host_cmd`, …) are ignored.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Config, String> {
        let mut c = Config::default();
        for (k, v) in map {
            match k.as_str() {
                "panechat" => {
                    if v.trim().is_empty() {
                        return Err("option `panechat` is empty; name the panechat binary".into());
                    }
                    c.panechat = v.trim().to_string();
                }
                "title_format" => {
                    if !v.contains("{title}") && !v.contains("{id}") {
                        return Err(format!(
                            "option `title_format` is `{v}`; it needs `{{title}}` or `{{id}}`"
                        ));
                    }
                    c.title_format = v.clone();
                }
                "running_format" | "held_format" => {
                    if !v.contains("{name}") {
                        return Err(format!(
                            "option `{k}` is `{v}`; it needs `{{name}}` (the pane's name)"
                        ));
                    }
                    if k == "running_format" {
                        c.running_format = v.clone();
                    } else {
                        c.held_format = v.clone();
                    }
                }
                "zjstatus" => c.zjstatus = flag(k, v)?,
                "mark_tabs" => c.mark_tabs = flag(k, v)?,
                "rename_panes" => c.rename_panes = flag(k, v)?,
                "overwrite_renamed" => c.overwrite_renamed = flag(k, v)?,
                "name_max" => {
                    c.name_max = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| (4..=500).contains(n))
                        .ok_or_else(|| {
                            format!("option `name_max` is `{v}`; give a number from 4 to 500")
                        })?;
                }
                _ if k.starts_with('_') => {}
                // Keys a keybind or `MessagePlugin`/`LaunchOrFocusPlugin` block may carry.
                "floating" | "move_to_focused_tab" | "in_place" | "skip_cache" | "launch_new"
                | "name" | "payload" | "cwd" | "title" => {}
                _ => {
                    return Err(format!(
                        "unknown option `{k}`; known: panechat, title_format, running_format, held_format, rename_panes, overwrite_renamed, name_max, zjstatus, mark_tabs"
                    ))
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Config::from_map(&map(&[])).unwrap(), Config::default());
        let c = Config::from_map(&map(&[
            ("panechat", "/opt/bin/panechat"),
            ("title_format", "[{title}]"),
            ("overwrite_renamed", "true"),
            ("name_max", "20"),
            ("_allow_exec_host_cmd", "x"),
        ]))
        .unwrap();
        assert_eq!(c.panechat, "/opt/bin/panechat");
        assert_eq!(c.title_format, "[{title}]");
        assert!(c.overwrite_renamed);
        assert_eq!(c.name_max, 20);
    }

    #[test]
    fn bad_options_name_the_key_and_the_fix() {
        let e = Config::from_map(&map(&[("rename_panes", "maybe")])).unwrap_err();
        assert!(e.contains("rename_panes") && e.contains("\"true\""), "{e}");
        let e = Config::from_map(&map(&[("titel_format", "x")])).unwrap_err();
        assert!(e.contains("unknown option `titel_format`"), "{e}");
        assert!(Config::from_map(&map(&[("title_format", "static")])).is_err());
        assert!(Config::from_map(&map(&[("name_max", "2")])).is_err());
    }
}
