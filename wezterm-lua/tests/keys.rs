//! The plugin's default keys shadow nothing in WezTerm's real default key table
//! (`tests/fixtures/wezterm-default-keys.txt`, recorded with `wezterm show-keys` from WezTerm
//! 20250223-062404-4ff581a8 with an empty config), and the docs list exactly those keys.

use std::sync::Arc;

use panechat_wezterm_tests::{
    default_key_table, repo_root, Harness, KeyPress, Runner, DEFAULT_KEYS,
};

/// The plugin's default keys: (option, mods, key).
fn defaults() -> Vec<(String, String, String)> {
    let h = Harness::new(Runner::Canned(Arc::new(|a| panic!("spawned {a:?}")))).unwrap();
    h.dofile(&repo_root().join("wezterm-lua/plugin/init.lua"))
        .unwrap();
    h.eval::<mlua::Table>(
        "local out = {}
         for _, name in ipairs { 'ask_key', 'fork_key', 'picker_key', 'next_key' } do
           local k = panechat.defaults[name]
           out[#out + 1] = { name, k.mods, k.key }
         end
         return out",
    )
    .unwrap()
    .sequence_values::<mlua::Table>()
    .map(|t| {
        let t = t.unwrap();
        (t.get(1).unwrap(), t.get(2).unwrap(), t.get(3).unwrap())
    })
    .collect()
}

#[test]
fn the_default_keys_shadow_nothing_in_wezterms_default_key_table() {
    let table = default_key_table(DEFAULT_KEYS);
    let mut seen = Vec::new();
    for (name, mods, key) in defaults() {
        let press = KeyPress::new(&mods, &key);
        let taken: Vec<&String> = table
            .iter()
            .filter(|(k, _)| *k == press)
            .map(|(_, a)| a)
            .collect();
        assert!(
            taken.is_empty(),
            "{name} ({press}) is WezTerm's default key for {taken:?}"
        );
        assert!(!seen.contains(&press), "{name} ({press}) is taken twice");
        seen.push(press);
    }
}

/// `CTRL+SHIFT+A` as the docs write a key.
fn doc_key(k: &str) -> KeyPress {
    let (mods, key) = k.rsplit_once('+').unwrap();
    KeyPress::new(&mods.replace('+', "|"), key)
}

#[test]
fn the_docs_list_the_default_keys_that_are_free() {
    let mut want: Vec<KeyPress> = defaults()
        .iter()
        .map(|(_, m, k)| KeyPress::new(m, k))
        .collect();
    want.sort();
    // docs/wezterm.md, its Keys table.
    let doc = std::fs::read_to_string(repo_root().join("docs/wezterm.md")).unwrap();
    let keys = &doc[doc.find("## Keys").unwrap()..];
    let mut documented: Vec<KeyPress> = keys
        .lines()
        .skip_while(|l| !l.starts_with("| key"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|r| doc_key(r.split('`').nth(1).unwrap()))
        .collect();
    documented.sort();
    assert_eq!(documented, want, "docs/wezterm.md's Keys table");
    assert!(
        keys.contains("free among WezTerm's default key assignments"),
        "the claim this test holds"
    );
    // The README's table of multiplexers.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| WezTerm |"))
        .expect("the WezTerm row");
    let mut listed: Vec<KeyPress> = row
        .split_whitespace()
        .filter(|w| w.starts_with("CTRL+") || w.starts_with("ALT+"))
        .map(|w| doc_key(w.trim_end_matches(',')))
        .collect();
    listed.sort();
    assert_eq!(listed, want, "README.md: {row}");
}
