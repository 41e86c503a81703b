//! Every `--json` output has exactly the fields `docs/integration.md` documents for it, with
//! `"schema": 1`: the examples in the docs are the snapshots the real output is checked against.

use panechat_e2e::helpers::{active, hold, json, setup};
use serde_json::Value;

/// The tagged examples (`<!-- example: NAME -->` before a json block) of docs/integration.md.
fn examples() -> Vec<(String, Value)> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/integration.md"
    ))
    .unwrap();
    let mut out = Vec::new();
    let mut rest = doc.as_str();
    while let Some(i) = rest.find("<!-- example: ") {
        rest = &rest[i + 14..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let body = &rest[rest.find("```json\n").unwrap() + 8..];
        let body = &body[..body.find("```").unwrap()];
        let v: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("example {name} is not JSON: {e}\n{body}"));
        out.push((name, v));
    }
    out
}

/// Differences in shape between a documented example and a real output: the same keys in
/// every object; `null` on either side matches anything; arrays compare their first elements.
fn shape_diff(path: &str, doc: &Value, real: &Value, out: &mut Vec<String>) {
    match (doc, real) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(d), Value::Object(r)) => {
            for k in d.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{k}: documented, not printed"));
            }
            for k in r.keys().filter(|k| !d.contains_key(*k)) {
                out.push(format!("{path}.{k}: printed, not documented"));
            }
            for (k, dv) in d {
                if let Some(rv) = r.get(k) {
                    shape_diff(&format!("{path}.{k}"), dv, rv, out);
                }
            }
        }
        (Value::Array(d), Value::Array(r)) => {
            if let (Some(d0), Some(r0)) = (d.first(), r.first()) {
                shape_diff(&format!("{path}[0]"), d0, r0, out);
            }
        }
        (d, r) if std::mem::discriminant(d) != std::mem::discriminant(r) => {
            out.push(format!("{path}: documented {d}, printed {r}"));
        }
        _ => {}
    }
}

fn check(name: &str, doc: &[(String, Value)], real: &Value) {
    let (_, example) = doc
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("docs/integration.md has no example {name}"));
    let first = |v: &Value| match v {
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    assert_eq!(first(real)["schema"], 1, "{name}: schema version: {real}");
    let mut diffs = Vec::new();
    shape_diff(name, example, real, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{name} differs from its docs:\n{}\n{real:#}",
        diffs.join("\n")
    );
}

#[test]
fn every_json_output_matches_its_documented_example() {
    let docs = examples();
    assert!(docs.len() >= 8, "examples found: {}", docs.len());
    let (env, fake) = setup();
    std::fs::write(env.root.join("work/layout.kdl"), "layout {\n    pane\n}\n").unwrap();
    env.run_in(
        "a",
        ["q", "--new", "-f", "layout.kdl", "first [[title:Shared]]"],
    )
    .ok();
    let parent = active(&env, "a");
    let fork: Value = json(
        &env.run_in("a", ["fork", "--session", "b", "--json"])
            .ok()
            .stdout,
    );
    check("fork", &docs, &fork);
    let id = fork["id"].as_str().unwrap().to_string();
    env.run_in("b", ["q", "second"]).ok();
    env.run_in("b", ["use", &parent]).ok();
    env.run_in("b", ["use", &id]).ok();
    check(
        "status",
        &docs,
        &json(
            &env.run(["status", "--session", "b", "--format", "json"])
                .ok()
                .stdout,
        ),
    );
    check(
        "show",
        &docs,
        &json(&env.run_in("b", ["show", "--json"]).ok().stdout),
    );
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    let forked = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id.as_str())
        .unwrap()
        .clone();
    check("ls", &docs, &Value::Array(vec![forked]));
    check(
        "rename",
        &docs,
        &json(
            &env.run_in("b", ["rename", "tmux notes", "--json"])
                .ok()
                .stdout,
        ),
    );
    // A session with a live run.
    let held = hold(&env, "b", &id);
    let sessions = json(&env.run(["sessions", "--json"]).ok().stdout);
    let with_run = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !s["runs"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    check("sessions", &docs, &Value::Array(vec![with_run]));
    // The locked conversation shows its holder in ls.
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    let locked = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id.as_str())
        .unwrap();
    assert_eq!(locked["locked"], true);
    assert_eq!(locked["held_by"]["session"], "b");
    assert_eq!(locked["held_by"]["command"], "query");
    assert_eq!(locked["activity"], "streaming");
    let k = json(&env.run(["kill", "b", "--json", "--grace", "2"]).ok().stdout);
    check("kill", &docs, &k);
    assert_eq!(
        (k["total"].as_u64(), k["ended"].as_u64()),
        (Some(1), Some(1))
    );
    let _ = held.release(&fake);
    let rm = json(&env.run(["rm", &id, "--yes", "--json"]).ok().stdout);
    check("rm", &docs, &rm);
    assert_eq!(rm["sessions"][0]["session"], "b");
    assert_eq!(
        rm["sessions"][0]["conversation"],
        parent.as_str(),
        "falls back as prev would"
    );
    // use and new print the pane state.
    for args in [
        vec!["use", parent.as_str(), "--json"],
        vec!["new", "--json"],
    ] {
        check("status", &docs, &json(&env.run_in("b", &args).ok().stdout));
    }
}

#[test]
fn a_renamed_field_breaks_the_check() {
    let docs = examples();
    let (_, status) = docs.iter().find(|(n, _)| n == "status").unwrap();
    let mut renamed = status.clone();
    let v = renamed.as_object_mut().unwrap().remove("activity").unwrap();
    renamed.as_object_mut().unwrap().insert("state".into(), v);
    let mut diffs = Vec::new();
    shape_diff("status", status, &renamed, &mut diffs);
    assert_eq!(
        diffs,
        [
            "status.activity: documented, not printed",
            "status.state: printed, not documented"
        ]
    );
}
