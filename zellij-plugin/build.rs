//! The plugin's build id: its version and a hash of every source file it is built from (this
//! crate, the model, the shared vocabulary, the lock file), so a plugin and the panechat binary
//! carrying it can tell whether they come from the same sources (`panechat doctor`, the
//! plugin's problem line). Computed in `build_id.rs`, which a core test shares.

include!("build_id.rs");

fn main() {
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    for dir in BUILD_ID_DIRS.iter().chain(BUILD_ID_FILES.iter()) {
        println!("cargo:rerun-if-changed={dir}");
    }
    println!("cargo:rerun-if-changed=build_id.rs");
    println!(
        "cargo:rustc-env=PANECHAT_PLUGIN_BUILD={}",
        build_id(&root, &std::env::var("CARGO_PKG_VERSION").unwrap())
    );
}
