//! An independent check of well-typedness: generated programs, rewritten a
//! little, must compile as C++ against a prelude in which `int` and `bool`
//! are distinct classes with no conversion between them (so `if (x)` on an
//! int, `b + 1` on a bool, `!x`, `x && y` on ints and `b1 < b2` do not
//! compile), arrays are indexed only by `int`, capabilities are their own
//! type, and attribute/event names must be string literals. g++ then checks
//! names and scopes, declaration before use, arity and argument types,
//! assignments to `const`s, `break`/`continue` outside loops and missing
//! returns (`-Werror=return-type`). Skipped when `g++` is not installed.

use popgen::{GenConfig, large_extension, sample};
use std::io::Write;
use std::process::{Command, Stdio};

const PRELUDE: &str = r#"
#include <cstddef>
#include <type_traits>
struct I {
    long long v;
    I() : v(0) {}
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    I(T x) : v((long long)x) {}
    I(__int128 x) : v((long long)x) {}
    I &operator+=(I); I &operator-=(I); I &operator*=(I); I &operator/=(I); I &operator%=(I);
    I &operator<<=(I); I &operator>>=(I); I &operator&=(I); I &operator|=(I); I &operator^=(I);
    I &operator++(); I operator++(int); I &operator--(); I operator--(int);
};
struct B {
    bool v;
    B() : v(false) {}
    template <class T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
    B(T x) : v(x) {}
    explicit operator bool() const { return v; }
};
I operator+(I, I); I operator-(I, I); I operator*(I, I); I operator/(I, I); I operator%(I, I);
I operator<<(I, I); I operator>>(I, I); I operator&(I, I); I operator|(I, I); I operator^(I, I);
I operator-(I); I operator~(I);
B operator<(I, I); B operator<=(I, I); B operator>(I, I); B operator>=(I, I);
B operator==(I, I); B operator!=(I, I); B operator==(B, B); B operator!=(B, B);
template <std::size_t N> struct Arr { I d[N]; I &operator[](I); };
template <class T, std::size_t N> struct SArr { T d[N]; T &operator[](I); };
struct ArrRef { template <std::size_t N> ArrRef(Arr<N> &); I &operator[](I); };
template <std::size_t N> I size(Arr<N> &);
I size(ArrRef);
template <class C> struct cap {};
struct cpu_qos {};
struct Name { template <std::size_t N> Name(const char (&)[N]); };
I get_attribute(cap<cpu_qos>, Name);
void set_attribute(cap<cpu_qos>, Name, I);
void raise_event(Name, I);
struct DivideByZero {}; struct OutOfBounds {}; struct Overflow {}; struct RangeError {};
#define int I
#define bool B
#define monitor
#define handler
#define extension typedef long
#define import typedef long
#define budget static const long budget_ =
"#;

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Rewrites one Popcorn-SX line into the prelude's C++.
fn shim_line(line: &str) -> String {
    let mut l = line.to_string();
    // Global arrays: `int NAME[N]...` and `struct S NAME[N]...` at column 0.
    if let Some(rest) = l.strip_prefix("int ")
        && let (Some(open), Some(close)) = (rest.find('['), rest.find(']'))
        && is_ident(&rest[..open])
        && open < close
    {
        l = format!(
            "Arr<{}> {}{}",
            &rest[open + 1..close],
            &rest[..open],
            &rest[close + 1..]
        );
    } else if let Some(rest) = l.strip_prefix("struct ")
        && let Some(sp) = rest.find(' ')
        && let (Some(open), Some(close)) = (rest.find('['), rest.find(']'))
        && sp < open
        && is_ident(&rest[sp + 1..open])
    {
        let ty = &rest[..sp];
        l = format!(
            "SArr<{ty}, {}> {}{}",
            &rest[open + 1..close],
            &rest[sp + 1..open],
            &rest[close + 1..]
        );
    }
    // Array parameters: `int NAME[]`.
    while let Some(i) = l.find("[]") {
        let start = l[..i].rfind("int ").expect("`int` before an array parameter");
        let name = l[start + 4..i].to_string();
        assert!(is_ident(&name), "array parameter in {line:?}");
        l.replace_range(start..i + 2, &format!("ArrRef {name}"));
    }
    l = l.replace(" on \"Error\"", "");
    for exc in ["DivideByZero", "OutOfBounds", "Overflow", "RangeError"] {
        l = l.replace(&format!("handle {exc} {{"), &format!("catch ({exc} &) {{"));
    }
    let trimmed = l.trim_start();
    if let Some(rest) = trimmed.strip_prefix("raise ") {
        let indent = &l[..l.len() - trimmed.len()];
        l = format!("{indent}throw {}{{}};", rest.trim_end_matches(';'));
    }
    l
}

fn shim(src: &str) -> String {
    let mut out = String::from(PRELUDE);
    for line in src.lines() {
        out.push_str(&shim_line(line));
        out.push('\n');
    }
    out
}

fn gxx() -> bool {
    Command::new("g++")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `cxx`; returns g++'s complaints on failure.
fn compile(cxx: &str) -> Result<(), String> {
    let mut child = Command::new("g++")
        .args(["-std=c++17", "-fsyntax-only", "-Werror=return-type", "-x", "c++", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn g++");
    child.stdin.take().unwrap().write_all(cxx.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn check_all(programs: Vec<(String, String)>) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let chunks: Vec<Vec<(String, String)>> = (0..threads)
        .map(|t| programs.iter().skip(t).step_by(threads).cloned().collect())
        .collect();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .filter_map(|(what, src)| {
                            let cxx = shim(&src);
                            compile(&cxx).err().map(|e| format!("{what}:\n{src}\n--- g++:\n{e}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} failed; first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn generated_programs_typecheck_as_strict_cxx() {
    if !gxx() {
        eprintln!("g++ not found: skipping the C++ type check");
        return;
    }
    // POPGEN_CXX_SAMPLES=2000 for a longer sweep.
    let n: u64 = std::env::var("POPGEN_CXX_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let mut programs: Vec<(String, String)> = (0..n)
        .map(|s| (format!("seed {s}"), sample(s, GenConfig::default()).source))
        .collect();
    let big = GenConfig {
        max_functions: 10,
        max_stmts_per_block: 10,
        max_depth: 4,
        max_expr_depth: 4,
        budget: Some(100_000),
        ..GenConfig::default()
    };
    programs.extend((1000..1000 + n / 6).map(|s| (format!("big seed {s}"), sample(s, big.clone()).source)));
    programs.push(("large_extension(3000, 5)".into(), large_extension(3000, 5)));
    check_all(programs);
}

/// The shim is strict enough to reject what Popcorn-SX rejects.
#[test]
fn the_shim_rejects_ill_typed_programs() {
    if !gxx() {
        eprintln!("g++ not found: skipping the C++ type check");
        return;
    }
    let base = "extension gen;\nimport cpu;\nint g0 = 1;\nbool gb0 = true;\nint arr0[4];\nconst int K0 = 3;\n";
    let ok = format!("{base}int f0(int a[]) {{\n    return a[0];\n}}\n");
    compile(&shim(&ok)).unwrap();
    for bad in [
        "void f0() {\n    if (g0) {\n    }\n}\n",
        "void f0() {\n    int v0 = gb0 + 1;\n}\n",
        "void f0() {\n    bool b0 = g0;\n}\n",
        "void f0() {\n    int v0 = g0 && g0;\n}\n",
        "void f0() {\n    arr0[gb0] = 1;\n}\n",
        "void f0() {\n    K0 = 4;\n}\n",
        "void f0() {\n    break;\n}\n",
        "int f0() {\n    g0 = 1;\n}\n",
        "void f0() {\n    f1();\n}\nvoid f1() {\n}\n",
        "void f0() {\n    {\n        int v0 = 1;\n    }\n    v0 = 2;\n}\n",
        "void f0(int p0) {\n}\nvoid f1() {\n    f0(1, 2);\n}\n",
        "void f0(int a[]) {\n}\nvoid f1() {\n    f0(g0);\n}\n",
        "monitor void run(cap<cpu_qos> app) {\n    int v0 = get_attribute(g0, \"period\");\n}\n",
        "void f0() {\n    gb0++;\n}\n",
        "void f0() {\n    bool b0 = gb0 < gb0;\n}\n",
    ] {
        let src = format!("{base}{bad}");
        assert!(compile(&shim(&src)).is_err(), "the shim accepts:\n{bad}");
    }
}
