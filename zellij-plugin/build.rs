//! The plugin's build id: its version and a hash of every source file it is built from (this
//! crate, the model, the shared vocabulary, the lock file), so a plugin and the panechat binary carrying it can tell
//! whether they come from the same sources (`panechat doctor`, the plugin's problem line).

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs" || x == "toml") {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let mut all = Vec::new();
    for dir in ["src", "model/src", "../vocab/src"] {
        files(&root.join(dir), &mut all);
        println!("cargo:rerun-if-changed={dir}");
    }
    for f in ["Cargo.toml", "Cargo.lock", "model/Cargo.toml", "../vocab/Cargo.toml"] {
        all.push(root.join(f));
        println!("cargo:rerun-if-changed={f}");
    }
    all.sort();
    // FNV-1a, 64 bits, over each file's path (relative, with `/`) and bytes.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        eat(rel.to_string_lossy().replace('\\', "/").as_bytes());
        eat(&[0]);
        eat(&std::fs::read(f).unwrap_or_default());
        eat(&[0]);
    }
    println!(
        "cargo:rustc-env=PANECHAT_PLUGIN_BUILD={}+{h:016x}",
        std::env::var("CARGO_PKG_VERSION").unwrap()
    );
}
