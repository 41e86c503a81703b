//! The plugin speaks panechat's own vocabulary: the wasm build depends on `panechat-vocab`,
//! and the model defines no copy of what that crate holds (a copy would drift from the core).

use std::path::Path;
use std::process::Command;

fn plugin_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn the_wasm_plugin_is_built_with_the_shared_vocabulary() {
    // The wasm plugin's own dependency graph, for its target, as its lock file fixes it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--locked", "--offline", "-e", "normal"])
        .args([
            "--target",
            "wasm32-wasip1",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(plugin_dir().join("Cargo.toml"))
        .args(["-i", "panechat-vocab"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed (is zellij-plugin/Cargo.lock up to date?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `-i panechat-vocab`: the crates that pull it in, the plugin itself among them.
    let users: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for want in ["panechat-vocab", "panechat-zellij-model", "panechat-zellij"] {
        assert!(users.contains(&want), "{want} missing from:\n{stdout}");
    }
}

#[test]
fn the_model_keeps_no_copy_of_the_vocabulary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let plugin = plugin_dir().join("src");
    // What only the vocabulary crate may define.
    let forbidden = [
        "fn score(",
        "fn score_term(",
        "fn age(",
        "fn unix_seconds(",
        "fn session_part(name",
        "fn fnv1a(",
        "0xcbf2",
        "fn inert(",
        "fn is_control(",
        "struct PaneState",
        "enum Activity",
        "const SCHEMA",
    ];
    let mut found = Vec::new();
    for dir in [src, plugin] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for f in forbidden {
                    if text.contains(f) {
                        found.push(format!("{}: {f}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "defined again outside panechat-vocab (use the crate's instead):\n{}",
        found.join("\n")
    );
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/fuzzy.rs")
        .exists());
}
