// The Zellij plugin's build id, computed in one place: by the plugin's build script (which
// embeds it) and by a unit test of the core (which checks the plugin the binary carries against
// the sources as they are, without building it). Included with `include!`.

/// The files a build id hashes: every `.rs` and `.toml` under the plugin's `src`, the model's
/// `src` and the shared vocabulary's `src`, and the manifests and lock file; `root` is the
/// plugin's directory. Sorted.
pub fn build_id_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs" || x == "toml") {
                out.push(p);
            }
        }
    }
    let mut all = Vec::new();
    for dir in BUILD_ID_DIRS {
        walk(&root.join(dir), &mut all);
    }
    for f in BUILD_ID_FILES {
        all.push(root.join(f));
    }
    all.sort();
    all
}

/// The source directories a build id covers (relative to the plugin's directory).
pub const BUILD_ID_DIRS: [&str; 3] = ["src", "model/src", "../vocab/src"];

/// The single files a build id covers (relative to the plugin's directory).
pub const BUILD_ID_FILES: [&str; 4] = [
    "Cargo.toml",
    "Cargo.lock",
    "model/Cargo.toml",
    "../vocab/Cargo.toml",
];

/// `VERSION+HASH`: FNV-1a, 64 bits, over each of [`build_id_files`]' path (relative to `root`,
/// with `/`) and bytes.
pub fn build_id(root: &std::path::Path, version: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in build_id_files(root) {
        let rel = f.strip_prefix(root).unwrap_or(&f);
        eat(rel.to_string_lossy().replace('\\', "/").as_bytes());
        eat(&[0]);
        eat(&std::fs::read(&f).unwrap_or_default());
        eat(&[0]);
    }
    format!("{version}+{h:016x}")
}
