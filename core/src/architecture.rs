//! The shape of the code, checked: which file of `core/src` uses which (through `crate::`,
//! `super::`, `panechat::` paths, and a `mod.rs` naming its own children), and that no file
//! reaches itself again through that graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`, by its path relative to `root`.
fn files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).expect("reading core/src") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            files(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(
                rel,
                std::fs::read_to_string(&p).expect("reading a source file"),
            );
        }
    }
}

/// The module path of a file: `cli/mod.rs` is `cli`, `store/log.rs` is `store::log`.
fn module_of(rel: &str) -> String {
    let m = rel.trim_end_matches(".rs");
    let m = m.strip_suffix("/mod").unwrap_or(m);
    if m == "lib" || m == "main" {
        String::new()
    } else {
        m.replace('/', "::")
    }
}

/// The code of a file without its tests and comments.
fn code(src: &str) -> String {
    // (an inline test module; `mod tests;` in a file's head names a file of its own)
    let src = src.split("#[cfg(test)]\nmod tests {").next().unwrap_or(src);
    src.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file-level import graph.
fn graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut srcs = BTreeMap::new();
    files(root, root, &mut srcs);
    let modules: BTreeMap<String, String> =
        srcs.keys().map(|r| (module_of(r), r.clone())).collect();
    // The file a path lands in: its longest prefix that is a module.
    let file_of = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        (1..=parts.len())
            .rev()
            .find_map(|n| modules.get(&parts[..n].join("::")).cloned())
    };
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, src) in &srcs {
        let me = module_of(rel);
        let parent = me.rsplit_once("::").map_or("", |(p, _)| p).to_string();
        let body = code(src);
        let mut targets = BTreeSet::new();
        for head in ["crate::", "super::", "panechat::"] {
            for (at, _) in body.match_indices(head) {
                if body[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &body[at + head.len()..];
                let base = if head == "super::" {
                    parent.clone()
                } else {
                    String::new()
                };
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let prefix = format!("{base}::{path}");
                if rest[path.len()..].starts_with('{') {
                    let inner = rest[path.len() + 1..].split('}').next().unwrap_or("");
                    for item in inner.split(',') {
                        let item = item.split_whitespace().next().unwrap_or("");
                        targets.extend(file_of(&format!("{prefix}{item}")));
                    }
                } else {
                    targets.extend(file_of(&prefix));
                }
            }
        }
        // A mod.rs using one of its children by a relative path (`openai::parse`).
        for line in body.lines() {
            let l = line
                .trim_start()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            if let Some(child) = l.strip_prefix("mod ").and_then(|c| c.strip_suffix(';')) {
                let used = body.match_indices(&format!("{child}::")).any(|(at, _)| {
                    !body[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                });
                if used {
                    let child_mod = if me.is_empty() {
                        child.to_string()
                    } else {
                        format!("{me}::{child}")
                    };
                    targets.extend(modules.get(&child_mod).cloned());
                }
            }
        }
        targets.remove(rel);
        g.insert(rel.clone(), targets);
    }
    g
}

/// A cycle through `start`, if there is one (depth-first).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut c = path[i..].to_vec();
            c.push(at.to_string());
            return Some(c);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in g.get(at).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|k| visit(g, k, &mut Vec::new(), &mut done))
}

#[test]
fn no_file_of_the_core_imports_itself_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&root);
    assert!(g.len() > 40, "the graph was not read: {g:?}");
    // (the checker sees what it must: the provider runner uses its wire formats)
    assert!(
        g["provider/mod.rs"].contains("provider/openai.rs"),
        "{:?}",
        g["provider/mod.rs"]
    );
    assert!(
        g["cli/rm.rs"].contains("cli/ctx.rs"),
        "{:?}",
        g["cli/rm.rs"]
    );
    if let Some(c) = cycle(&g) {
        panic!("an import cycle: {}", c.join(" -> "));
    }
    // The query workflow sits above the store, locks, providers and publishing: it uses them,
    // and nothing of the library below it uses it (only the binary does).
    for below in ["store/mod.rs", "lock.rs", "provider/mod.rs", "runs.rs"] {
        assert!(g["query/mod.rs"].contains(below), "{:?}", g["query/mod.rs"]);
    }
    for (file, uses) in &g {
        let above = file.starts_with("query/") || file.starts_with("cli/") || file == "main.rs";
        if let Some(q) = uses
            .iter()
            .find(|u| u.starts_with("query/"))
            .filter(|_| !above)
        {
            panic!("{file} uses the query workflow ({q}), which sits above it");
        }
    }
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a.rs".into(), ["b.rs".to_string()].into());
    g.insert("b.rs".into(), ["c.rs".to_string()].into());
    g.insert("c.rs".into(), ["a.rs".to_string()].into());
    assert_eq!(cycle(&g).unwrap(), ["a.rs", "b.rs", "c.rs", "a.rs"]);
}

/// Where a multiplexer's name may be written outside `adapters/`, and why: the names records,
/// JSON and keys use for the multiplexers (not programs), and the `zellij:` scheme of a plugin
/// location.
const NAMES_NOT_PROGRAMS: &[(&str, &str)] = &[
    ("session.rs", "Multiplexer::"),
    ("cli/init.rs", "Some((\"zellij\", rest))"),
];

/// Every line of `srcs` (code only, tests excluded) outside `adapters/` that names a
/// multiplexer's program (`"tmux"`, `"zellij"`, `"wezterm"`), other than [`NAMES_NOT_PROGRAMS`].
fn tool_names_outside_adapters(srcs: &BTreeMap<String, String>) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, src) in srcs {
        if rel.starts_with("adapters/") || rel == "architecture.rs" {
            continue;
        }
        for line in code(src).lines() {
            let names_one = ["\"tmux\"", "\"zellij\"", "\"wezterm\""]
                .iter()
                .any(|n| line.contains(n));
            let allowed = NAMES_NOT_PROGRAMS
                .iter()
                .any(|(file, mark)| rel == file && line.contains(mark));
            if names_one && !allowed {
                found.push(format!("{rel}: {}", line.trim()));
            }
        }
    }
    found
}

#[test]
fn each_multiplexer_is_known_in_its_adapter_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut srcs = BTreeMap::new();
    files(&root, &root, &mut srcs);
    let found = tool_names_outside_adapters(&srcs);
    assert!(
        found.is_empty(),
        "a multiplexer's program named outside core/src/adapters (run it through its adapter):\n{}",
        found.join("\n")
    );
    // (the checker sees what it must)
    let mut planted = BTreeMap::new();
    planted.insert(
        "cli/pick.rs".to_string(),
        "fn f() { Command::new(\"tmux\"); }\n#[cfg(test)]\nmod tests { \"zellij\" }".to_string(),
    );
    planted.insert(
        "adapters/tmux/mod.rs".to_string(),
        "const PROGRAM: &str = \"tmux\";".to_string(),
    );
    planted.insert(
        "session.rs".to_string(),
        "Multiplexer::Tmux => \"tmux\",\nif comm == \"zellij\" {}".to_string(),
    );
    assert_eq!(
        tool_names_outside_adapters(&planted),
        [
            "cli/pick.rs: fn f() { Command::new(\"tmux\"); }",
            "session.rs: if comm == \"zellij\" {}"
        ]
    );
}

#[test]
fn no_document_holds_an_unresolved_merge() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).expect("reading docs/") {
        docs.push(e.expect("a directory entry").path());
    }
    for d in docs
        .iter()
        .filter(|d| d.extension().is_some_and(|x| x == "md"))
    {
        let text = std::fs::read_to_string(d).expect("reading a document");
        for (n, line) in text.lines().enumerate() {
            assert!(
                !(line.starts_with("<<<<<<< ") || line.starts_with(">>>>>>> ")),
                "{}:{}: a merge conflict left in: {line}",
                d.display(),
                n + 1
            );
        }
    }
}

#[test]
fn the_vocabulary_shared_with_the_plugins_is_defined_only_in_panechat_vocab() {
    // The Zellij plugin reads what these produce; a copy here would drift from its.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut srcs = BTreeMap::new();
    files(&root, &root, &mut srcs);
    let forbidden = [
        "fn fnv1a(",
        "0xcbf2",
        "fn safe_part(",
        "fn short_hash(",
        "fn fuzzy_score(",
        "fn unix_seconds(",
        "fn short_age(",
        "struct PaneState",
        "enum Activity",
        "pub const SCHEMA",
    ];
    let found: Vec<String> = srcs
        .iter()
        .filter(|(rel, _)| *rel != "architecture.rs")
        .flat_map(|(rel, src)| {
            let code = code(src);
            forbidden
                .iter()
                .filter(move |f| code.contains(**f))
                .map(move |f| format!("{rel}: {f}"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "defined again outside panechat-vocab (use the crate's instead):\n{}",
        found.join("\n")
    );
}
