//! The editor queries compile against the grammar, and the highlight query
//! colors a sample as an editor would: of the patterns that capture a
//! node, the first one wins (tree-sitter-highlight's rule, and Helix's).

mod common;

use std::collections::{BTreeSet, HashMap};

use streaming_iterator::StreamingIterator;
use tree_sitter::{Query, QueryCursor};

const SAMPLE: &str = r#"extension demo;
import cpu;
const int KP = 500;
event Tick;
// the gain
guard int timeslice_guard(cap<cpu_qos> app, int value) for "timeslice_adjustment" {
    int total = get_attribute(app, "target_cpu") + value;
    if (total < 0) return 0;
    try { raise_event("Error", total / KP); } handle DivideByZero { total = 0; }
    for (int i = 0; i < 3; i++) total += i;
    helper("a\n", true);
    /* done */
    return total;
}
"#;

/// The rest of the language, for the check that no pattern is dead.
const EVERYTHING_ELSE: &str = r#"extension rest;
budget 1000;
struct point { int x; int y; };
attribute class c { int a readonly range(0, 10); bool b; }
extern int now_us();
extern void raise_event("Name", int value);
bool flags[4];
int zero(void) { return 0; }
monitor void m(cap<c> app) {
    switch (now_us() % 3) { case 1: break; default: ; }
    while (false) { continue; }
    do { } while (!true);
    goto out;
out:
    asm volatile ("nop" : : );
    __asm__ ("nop");
    __asm ("nop");
    struct point p;
    p.x = -1 * 2 / 3 - (4 << 1 >> 1) | 5 ^ 6 & ~7;
    p.y -= p.x++ + --p.x;
    flags[0] = p.x == 1 && p.y != 2 || p.x <= 3 && p.y >= 4 && p.x > 5;
    p.x *= 2; p.x /= 2; p.x %= 2; p.x <<= 1; p.x >>= 1; p.x &= 1; p.x |= 1; p.x ^= 1;
    int *q = &p;
    q->x = *q;
    raise OutOfBounds;
}
handler void h(cap<c> app, int v) on "Tick" {}
"#;

fn query(source: &str) -> Query {
    Query::new(&tree_sitter_popcorn::LANGUAGE.into(), source).unwrap_or_else(|e| panic!("query error: {e}"))
}

/// Node range -> the winning capture's name, and the patterns that matched.
fn highlights(query: &Query, source: &str) -> (HashMap<(usize, usize), String>, BTreeSet<usize>) {
    let mut parser = common::parser();
    let tree = common::parse(&mut parser, source);
    assert!(!tree.root_node().has_error(), "the sample must parse cleanly");
    let names = query.capture_names();
    let mut best: HashMap<usize, (usize, (usize, usize), String)> = HashMap::new();
    let mut matched = BTreeSet::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, tree.root_node(), source.as_bytes());
    while let Some(m) = matches.next() {
        matched.insert(m.pattern_index);
        for capture in m.captures() {
            let name = names[capture.index as usize];
            if name.starts_with('_') {
                continue;
            }
            let node = capture.node;
            let entry = (m.pattern_index, (node.start_byte(), node.end_byte()), name.to_owned());
            best.entry(node.id())
                .and_modify(|e| {
                    if entry.0 < e.0 {
                        *e = entry.clone();
                    }
                })
                .or_insert(entry);
        }
    }
    let by_range = best.into_values().map(|(_, range, name)| (range, name)).collect();
    (by_range, matched)
}

/// The capture of the `nth` (from 0) occurrence of `token` in `source`.
fn capture_of(map: &HashMap<(usize, usize), String>, source: &str, token: &str, nth: usize) -> String {
    let start = source
        .match_indices(token)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{token}` #{nth} not in the sample"))
        .0;
    map.get(&(start, start + token.len()))
        .cloned()
        .unwrap_or_else(|| format!("<no capture for `{token}` #{nth}>"))
}

#[test]
fn highlights_color_the_sample() {
    let query = query(tree_sitter_popcorn::HIGHLIGHTS_QUERY);
    let (map, _) = highlights(&query, SAMPLE);
    let expect = [
        // Keywords, by kind; the guard's `for` is not the loop's.
        ("extension", 0, "keyword.import"),
        ("const", 0, "keyword.modifier"),
        ("event", 0, "keyword.type"),
        ("guard", 0, "keyword.function"),
        ("for", 0, "keyword.function"),
        ("if", 0, "keyword.conditional"),
        ("return", 0, "keyword.return"),
        ("try", 0, "keyword.exception"),
        ("handle", 0, "keyword.exception"),
        ("for", 1, "keyword.repeat"),
        // Names.
        ("demo", 0, "module"),
        ("cpu", 0, "module"),
        ("KP", 0, "constant"),
        ("KP", 1, "constant"),
        ("Tick", 0, "string.special.symbol"),
        ("timeslice_guard", 0, "function"),
        ("get_attribute", 0, "function.builtin"),
        ("raise_event", 0, "function.builtin"),
        ("helper", 0, "function.call"),
        ("app", 0, "variable.parameter"),
        ("total", 1, "variable"),
        ("DivideByZero", 0, "type.builtin"),
        // Types.
        ("int", 0, "type.builtin"),
        ("cap", 0, "type.builtin"),
        ("cpu_qos", 0, "type"),
        ("<", 0, "punctuation.bracket"),
        // Strings: attribute and event names, and plain strings.
        ("\"timeslice_adjustment\"", 0, "property"),
        ("\"target_cpu\"", 0, "property"),
        ("\"Error\"", 0, "string.special.symbol"),
        ("\"a\\n\"", 0, "string"),
        ("\\n", 0, "string.escape"),
        // Literals, comments, operators, punctuation.
        ("500", 0, "number"),
        ("true", 0, "boolean"),
        ("// the gain", 0, "comment"),
        ("/* done */", 0, "comment"),
        ("+=", 0, "operator"),
        ("++", 0, "operator"),
        ("<", 1, "operator"),
        (";", 0, "punctuation.delimiter"),
        ("{", 0, "punctuation.bracket"),
    ];
    let wrong: Vec<String> = expect
        .iter()
        .filter_map(|&(token, nth, want)| {
            let got = capture_of(&map, SAMPLE, token, nth);
            (got != want).then(|| format!("`{token}` #{nth}: expected @{want}, got @{got}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// No pattern of the highlight query is dead: each one matches in one of
/// the samples.
#[test]
fn every_highlight_pattern_matches_somewhere() {
    let query = query(tree_sitter_popcorn::HIGHLIGHTS_QUERY);
    let (_, mut matched) = highlights(&query, SAMPLE);
    matched.extend(highlights(&query, EVERYTHING_ELSE).1);
    let dead: Vec<String> = (0..query.pattern_count())
        .filter(|i| !matched.contains(i))
        .map(|i| {
            let start = query.start_byte_for_pattern(i);
            let text = &tree_sitter_popcorn::HIGHLIGHTS_QUERY[start..];
            format!("pattern {i}: {}", text.lines().next().unwrap_or_default())
        })
        .collect();
    assert!(dead.is_empty(), "patterns that match nothing:\n{}", dead.join("\n"));
}

#[test]
fn locals_query_compiles_and_finds_definitions() {
    let query = query(tree_sitter_popcorn::LOCALS_QUERY);
    let mut parser = common::parser();
    let tree = common::parse(&mut parser, SAMPLE);
    let names = query.capture_names();
    let mut definitions = Vec::new();
    let mut scopes = 0;
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&query, tree.root_node(), SAMPLE.as_bytes());
    while let Some(m) = matches.next() {
        for capture in m.captures() {
            match names[capture.index as usize] {
                "local.definition" => definitions.push(&SAMPLE[capture.node.byte_range()]),
                "local.scope" => scopes += 1,
                _ => {}
            }
        }
    }
    definitions.sort_unstable();
    // KP is a global constant: locals are parameters and local variables.
    assert_eq!(definitions, ["KP", "app", "i", "total", "value"]);
    // The guard, its body, the `try` body, the handler's body, the `for`.
    assert_eq!(scopes, 5);
}

#[test]
fn node_types_name_the_editor_nodes() {
    for kind in [
        "\"monitor_definition\"",
        "\"handler_definition\"",
        "\"guard_definition\"",
        "\"function_definition\"",
        "\"string_literal\"",
        "\"number_literal\"",
        "\"comment\"",
    ] {
        assert!(
            tree_sitter_popcorn::NODE_TYPES.contains(kind),
            "{kind} missing from node-types.json"
        );
    }
}
