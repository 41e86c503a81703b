//! Snapshot assertions for what is a whole document or screen: the text is compared with
//! `tests/snapshots/NAME.txt`, and a difference fails with the first differing line. After a
//! change meant to alter it, `PANECHAT_UPDATE_SNAPSHOTS=1 cargo test …` rewrites the file (read
//! the diff before committing it). A missing file is written, and the test fails once so the
//! new snapshot is looked at.

use std::path::PathBuf;

/// Where snapshot `name` lives.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.txt"))
}

/// Asserts that `text` is snapshot `name` (see the module's doc).
#[track_caller]
pub fn assert_snapshot(name: &str, text: &str) {
    let file = path(name);
    let update = std::env::var_os("PANECHAT_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let saved = std::fs::read_to_string(&file).ok();
    if saved.as_deref() == Some(text) {
        return;
    }
    if update || saved.is_none() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        if update {
            return;
        }
        panic!(
            "snapshot {name} was missing: written to {}; check it and run again",
            file.display()
        );
    }
    let saved = saved.unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = (saved.lines().collect(), text.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "snapshot {name} ({}) differs at line {}:\n  saved: {:?}\n  now:   {:?}\n\
         (PANECHAT_UPDATE_SNAPSHOTS=1 rewrites it after a change meant to alter it)\n--- now ---\n{text}",
        file.display(),
        at + 1,
        a.get(at).copied().unwrap_or("<end>"),
        b.get(at).copied().unwrap_or("<end>"),
    );
}
