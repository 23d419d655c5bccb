//! Structural properties of generated programs. (No front-end exists to
//! type-check them yet; `cxx_typecheck.rs` checks typing through a C++ shim.)

use popgen::{GenConfig, Program, large_extension, program, sample};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

const SAMPLES: u64 = 200;

fn samples(config: &GenConfig) -> Vec<Program> {
    (0..SAMPLES).map(|s| sample(s, config.clone())).collect()
}

/// Braces, parentheses and brackets nest properly (no string literal in a
/// generated program contains one).
fn balanced(src: &str) -> Result<(), String> {
    let mut stack = Vec::new();
    for (line, text) in src.lines().enumerate() {
        let code = text.split("//").next().unwrap_or("");
        for ch in code.chars() {
            match ch {
                '{' | '(' | '[' => stack.push(ch),
                '}' | ')' | ']' => {
                    let open = stack.pop().ok_or(format!("line {}: unmatched {ch}", line + 1))?;
                    let want = match ch {
                        '}' => '{',
                        ')' => '(',
                        _ => '[',
                    };
                    if open != want {
                        return Err(format!("line {}: {open} closed by {ch}", line + 1));
                    }
                }
                _ => {}
            }
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

/// The names called in `body`: identifiers directly followed by `(`.
fn called(body: &str) -> Vec<String> {
    let bytes = body.as_bytes();
    let mut names = Vec::new();
    for (i, _) in body.match_indices('(') {
        let start = body[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        if start < i && !bytes[start].is_ascii_digit() {
            names.push(body[start..i].to_string());
        }
    }
    names
}

/// Function definitions in order: (name, body text).
fn functions(src: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in src.lines() {
        let is_def = !line.starts_with(' ') && line.ends_with('{') && line.contains('(');
        if is_def {
            let head = &line[..line.find('(').unwrap()];
            let name = head.rsplit(' ').next().unwrap().to_string();
            out.push((name, String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

#[test]
fn deterministic_per_seed() {
    for seed in 0..20 {
        let a = sample(seed, GenConfig::default());
        let b = sample(seed, GenConfig::default());
        assert_eq!(a, b, "seed {seed}");
    }
    assert_ne!(
        sample(1, GenConfig::default()).source,
        sample(2, GenConfig::default()).source
    );
    // The strategy under a seeded runner is deterministic too.
    let run = || {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let s = program(GenConfig::default());
        (0..5)
            .map(|_| s.new_tree(&mut runner).unwrap().current())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn constructs_all_appear() {
    let all = samples(&GenConfig::default());
    let count = |needle: &str| all.iter().filter(|p| p.source.contains(needle)).count();
    let needles = [
        "while (",
        "for (",
        "do {",
        "} while (",
        "break;",
        "continue;",
        "try {",
        "} handle DivideByZero {",
        "} handle OutOfBounds {",
        "} handle Overflow {",
        "} handle RangeError {",
        "raise ",
        "] = {",
        "struct rec gs;",
        "gps[",
        "int a",
        "size(",
        " / ",
        " % ",
        " << ",
        " >> ",
        "+= ",
        "++",
        "--",
        "&&",
        "||",
        "!",
        "~",
        "0x",
        "9223372036854775807",
        "get_attribute(app, \"",
        "set_attribute(app, \"timeslice_adjustment\", ",
        "raise_event(\"Error\", ",
        "handler void h(cap<cpu_qos> app, int ev) on \"Error\" {",
        "bool f",
        "int f",
        "void f",
        "return;",
        "else if (",
        "else\n",
    ];
    for needle in needles {
        let n = count(needle);
        assert!(n >= 3, "{needle:?} appears in only {n} of {SAMPLES} programs");
    }
    let calls = all.iter().filter(|p| p.features.calls).count();
    assert!(calls > SAMPLES as usize / 2, "only {calls} programs call a helper");
    let f = |pick: fn(&popgen::Features) -> bool| all.iter().filter(|p| pick(&p.features)).count();
    for (name, n) in [
        ("while", f(|x| x.while_loops)),
        ("for", f(|x| x.for_loops)),
        ("do", f(|x| x.do_while_loops)),
        ("unbounded", f(|x| x.unbounded_loops)),
        ("try", f(|x| x.try_handle)),
        ("arrays", f(|x| x.arrays)),
        ("structs", f(|x| x.structs)),
        ("get_attribute", f(|x| x.get_attribute)),
        ("set_attribute", f(|x| x.set_attribute)),
        ("raise_event", f(|x| x.raise_event)),
        ("handler", f(|x| x.handler)),
        ("choices", f(|x| x.choices)),
    ] {
        assert!(n >= 3, "feature {name} in only {n} programs");
    }
}

#[test]
fn programs_are_well_formed() {
    for (seed, p) in samples(&GenConfig::default()).into_iter().enumerate() {
        let src = &p.source;
        balanced(src).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
        assert!(src.starts_with("extension gen;\nimport cpu;\n"), "seed {seed}");
        assert!(src.contains("monitor void run(cap<cpu_qos> app) {"), "seed {seed}");
        assert_eq!(p.entry, "run");
        assert_eq!(p.handler.is_some(), src.contains("\nhandler void h("), "seed {seed}");
        // No recursion: each function calls only functions defined before it.
        let funcs = functions(src);
        let names: Vec<&str> = funcs.iter().map(|(n, _)| n.as_str()).collect();
        let helpers: Vec<&str> = names.iter().copied().filter(|n| n.starts_with('f')).collect();
        assert_eq!(helpers, p.functions, "seed {seed}");
        for (k, (name, body)) in funcs.iter().enumerate() {
            for callee in called(body) {
                if let Some(j) = names.iter().position(|n| *n == callee) {
                    assert!(j < k, "seed {seed}: {name} calls {callee}, defined later or itself");
                    assert!(
                        !["run", "h"].contains(&callee.as_str()),
                        "seed {seed}: entry point called"
                    );
                }
            }
            let mut declared = std::collections::HashSet::new();
            for line in body.lines() {
                let t = line.trim_start().trim_start_matches("for (");
                let Some(rest) = t.strip_prefix("int ").or_else(|| t.strip_prefix("bool ")) else {
                    continue;
                };
                let local = rest.split(' ').next().unwrap();
                assert!(
                    declared.insert(local.to_string()),
                    "seed {seed}: {name} declares {local} twice"
                );
                assert!(
                    !src.contains(&format!("\nint {local} ")),
                    "seed {seed}: {local} shadows a global"
                );
            }
            let uses_api = body.contains("app") || body.contains("raise_event");
            assert!(
                !uses_api || ["run", "h"].contains(&name.as_str()),
                "seed {seed}: {name} uses the API"
            );
            if name == "h" {
                assert!(
                    !body.contains("raise_event"),
                    "seed {seed}: the handler raises its own event"
                );
            }
        }
        // Attribute names come from the class; only the writable one is written.
        for (i, _) in src.match_indices("get_attribute(app, \"") {
            let rest = &src[i + 20..];
            let attr = &rest[..rest.find('"').unwrap()];
            assert!(
                [
                    "period",
                    "target_cpu",
                    "actual_cpu",
                    "target_util",
                    "avg_util_2p",
                    "timeslice_adjustment"
                ]
                .contains(&attr),
                "seed {seed}: attribute {attr}"
            );
        }
        assert_eq!(
            src.matches("set_attribute(").count(),
            src.matches("set_attribute(app, \"timeslice_adjustment\", ").count(),
            "seed {seed}"
        );
    }
}

#[test]
fn config_switches_constructs_off() {
    let config = GenConfig {
        with_loops: false,
        with_exceptions: false,
        with_attributes: false,
        with_handler: false,
        with_structs: false,
        ..GenConfig::default()
    };
    for (seed, p) in samples(&config).into_iter().enumerate() {
        let src = &p.source;
        for needle in [
            "while",
            "for (",
            "do {",
            "break",
            "continue",
            "try",
            "raise",
            "handle",
            "_attribute",
            "handler",
            "struct",
        ] {
            assert!(
                !src.contains(needle),
                "seed {seed}: {needle:?} with it switched off\n{src}"
            );
        }
    }
    let p = sample(
        3,
        GenConfig {
            budget: Some(5000),
            ..GenConfig::default()
        },
    );
    assert!(p.source.contains("\nbudget 5000;\n"));
}

#[test]
fn config_bounds_size() {
    let small = GenConfig {
        max_functions: 1,
        max_stmts_per_block: 2,
        max_depth: 1,
        ..GenConfig::default()
    };
    for p in samples(&small) {
        assert!(p.functions.len() <= 1);
        assert!(p.source.lines().count() < 80, "{}", p.source);
    }
    let big = GenConfig {
        max_functions: 12,
        ..GenConfig::default()
    };
    assert!(samples(&big).iter().any(|p| p.functions.len() > 5));
}

#[test]
fn large_extension_has_the_requested_size() {
    let text = large_extension(10_000, 1);
    let lines = text.lines().count();
    assert!((9_000..=11_000).contains(&lines), "{lines} lines");
    assert_eq!(text, large_extension(10_000, 1));
    assert_ne!(text, large_extension(10_000, 2));
    balanced(&text).unwrap();
    assert!(text.contains("monitor void run(cap<cpu_qos> app) {"));
    let funcs = functions(&text);
    assert!(funcs.len() > 200, "{} functions", funcs.len());
    let avg = lines / funcs.len();
    assert!((10..=60).contains(&avg), "{avg} lines per function");
    let small = large_extension(500, 9);
    assert!((400..=600).contains(&small.lines().count()));
}

/// Shrinking (by editing the choice stream) finds a small counterexample.
#[test]
fn shrinks_to_a_small_program() {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[1; 32]));
    let result = runner.run(&program(GenConfig::default()), |p| {
        if p.source.contains("while (") {
            Err(TestCaseError::fail("has a while loop"))
        } else {
            Ok(())
        }
    });
    let minimal = match result {
        Err(proptest::test_runner::TestError::Fail(_, p)) => p,
        other => panic!("expected a failure, got {other:?}"),
    };
    assert!(minimal.source.contains("while ("));
    balanced(&minimal.source).unwrap();
    let lines = minimal.source.lines().count();
    assert!(lines < 40, "shrunk to {lines} lines:\n{}", minimal.source);
}
