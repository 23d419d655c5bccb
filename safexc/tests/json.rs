//! `--message-format json`: every line safexc writes on standard error is
//! one JSON object valid against `docs/diagnostics.schema.json`, checked by
//! a validator of the schema keywords that file uses (`$ref`, `oneOf`,
//! `type`, `required`, `properties`, `items`, `const`, `enum`).

use serde_json::Value;
use std::process::Output;

mod common;
use common::{root, safexc, text};

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("docs/diagnostics.schema.json")).unwrap()).unwrap()
}

/// Why `value` does not match `schema` (within `root`'s `$defs`), if not.
fn invalid(value: &Value, schema: &Value, root: &Value) -> Option<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local refs only");
        return invalid(value, &root["$defs"][name], root);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options.iter().filter(|s| invalid(value, s, root).is_none()).count();
        return (matching != 1).then(|| format!("{matching} of oneOf match {value}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        return Some(format!("{value} is not {c}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return Some(format!("{value} is not one of {e:?}"));
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema"),
        };
        let is = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => panic!("type {t} not handled"),
        };
        if !types.iter().any(|t| is(t)) {
            return Some(format!("{value} is not {types:?}"));
        }
    }
    for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        let key = key.as_str().unwrap();
        if value.get(key).is_none() {
            return Some(format!("{value} lacks {key}"));
        }
    }
    for (key, sub) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(v) = value.get(key)
            && let Some(why) = invalid(v, sub, root)
        {
            return Some(format!("{key}: {why}"));
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for v in values {
            if let Some(why) = invalid(v, items, root) {
                return Some(why);
            }
        }
    }
    None
}

/// Every line of standard error, parsed and checked against the schema.
fn objects(out: &Output) -> Vec<Value> {
    let schema = schema();
    text(&out.stderr)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if let Some(why) = invalid(&value, &schema, &schema) {
                panic!("not valid against the schema: {why}\n{line}");
            }
            value
        })
        .collect()
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let schema = schema();
    let good = serde_json::json!({"$message_type": "help", "schema": 1, "message": "m"});
    assert_eq!(invalid(&good, &schema, &schema), None);
    for bad in [
        serde_json::json!({"$message_type": "help", "schema": 2, "message": "m"}),
        serde_json::json!({"$message_type": "help", "schema": 1}),
        serde_json::json!({"$message_type": "summary", "schema": 1, "file_name": "f", "errors": "1", "warnings": 0, "codes": []}),
        serde_json::json!({"$message_type": "other", "schema": 1, "message": "m"}),
    ] {
        assert!(invalid(&bad, &schema, &schema).is_some(), "{bad}");
    }
}

#[test]
fn check_reports_each_diagnostic_as_an_object_then_a_summary() {
    let dir = std::env::temp_dir().join(format!("safexc-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.pop");
    std::fs::write(&file, "extension e;\nint f() { return x; }\nbool g() { return 1; }\n").unwrap();
    let out = safexc(&["check", "--message-format", "json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    // Standard output keeps its summary line.
    assert!(
        text(&out.stdout).contains("rejected: P0101, P0201"),
        "{}",
        text(&out.stdout)
    );
    let objects = objects(&out);
    assert_eq!(objects.len(), 3, "{objects:?}");
    let first = &objects[0];
    assert_eq!(first["code"]["code"], "P0101");
    assert!(first["code"]["explanation"].as_str().is_some_and(|e| !e.is_empty()));
    let span = &first["spans"][0];
    assert_eq!(
        (span["line_start"].as_i64(), span["column_start"].as_i64()),
        (Some(2), Some(18))
    );
    assert_eq!(
        &text(&std::fs::read(&file).unwrap()[span["byte_start"].as_u64().unwrap() as usize..][..1]),
        "x"
    );
    assert_eq!(objects[1]["children"][0]["level"], "help");
    assert!(!objects[1]["rendered"].as_str().unwrap().contains('\u{1b}'));
    assert_eq!(objects[2]["$message_type"], "summary");
    assert_eq!(objects[2]["errors"], 2);
    assert_eq!(objects[2]["codes"], serde_json::json!(["P0101", "P0201"]));
}

#[test]
fn verify_compile_and_unreadable_files_write_objects_too() {
    let dir = std::env::temp_dir().join(format!("safexc-json-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tal = dir.join("forge.tal");
    std::fs::write(
        &tal,
        "module m\nclass c { a: i64 }\nfunc @f(i64) {\nblock0(v0: i64):\n    fuel 3\n    call @spin_lock(v0)\n    ret\n}\n",
    )
    .unwrap();
    let out = safexc(&["verify", "--message-format", "json", tal.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let verified = objects(&out);
    assert!(
        verified
            .iter()
            .any(|o| o["$message_type"] == "diagnostic" && o["level"] == "error"),
        "{verified:?}"
    );

    let pop = dir.join("bad.pop");
    std::fs::write(&pop, "extension e;\nvoid f() { int a = 1 }\n").unwrap();
    let out = safexc(&["compile", "--message-format", "json", pop.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(objects(&out)[0]["code"]["code"], "P0001");

    let out = safexc(&["check", "--message-format", "json", "/nonexistent/x.pop"]);
    let unread = objects(&out);
    assert_eq!(unread[0]["code"]["code"], "L0001");
    assert_eq!(unread[0]["spans"], serde_json::json!([]));
}

#[test]
fn inspect_json_is_one_object_and_function_shows_one() {
    let out = safexc(&["inspect", "--json", "examples/obj/cpu_pid.o"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(object["schema"], 1);
    assert_eq!(object["meta"]["name"], "cpu_pid");
    assert_eq!(object["meta"]["entries"][0]["kind"], "monitor");
    let names: Vec<&str> = object["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu_monitor", "cpu_pid"]);
    let first = &object["functions"][0]["instructions"][0];
    assert_eq!(
        (first["asm"].as_str(), first["bytes"].as_str()),
        (Some("endbr64"), Some("f30f1efa"))
    );
    assert!(object["tal"].as_str().unwrap().starts_with("module cpu_pid"));

    let out = safexc(&["inspect", "--function", "cpu_monitor", "examples/obj/cpu_pid.o"]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains("cpu_monitor (fn0") && !listing.contains("cpu_pid (fn1"),
        "{listing}"
    );
    assert!(!listing.contains("== metadata"), "{listing}");
    let out = safexc(&["inspect", "--function", "nope", "examples/obj/cpu_pid.o"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no function `nope`; its functions: cpu_monitor, cpu_pid"));
}
