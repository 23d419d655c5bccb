//! `include/safex.h` is what cbindgen makes of `src/lib.rs` with
//! `cbindgen.toml`: this test regenerates it and compares it with the
//! committed one (`SAFEX_BLESS=1` rewrites it), then compiles it as C11
//! and as C++ with the system's compiler, as a C program includes it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The header cbindgen generates now.
fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn the_header_is_up_to_date() {
    let fresh = generate();
    let file = crate_dir().join("include/safex.h");
    if std::env::var_os("SAFEX_BLESS").is_some_and(|v| v != "0") {
        std::fs::write(&file, &fresh).expect("write the header");
    }
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        current == fresh,
        "libsafex/include/safex.h is stale: SAFEX_BLESS=1 cargo test -p libsafex --test header regenerates it"
    );
}

#[test]
fn the_header_declares_the_api_as_documented() {
    let h = generate();
    for needle in [
        "#ifndef SAFEX_H",
        "#ifdef __cplusplus\nextern \"C\" {",
        "struct safex_client;",
        "struct safex_subscription;",
        "enum safex_notice_kind {",
        "SAFEX_NOTICE_LAGGED = 6,",
        "struct safex_notice {",
        "int safex_client_connect(const char *path, struct safex_client **out);",
        "void safex_client_free(struct safex_client *client);",
        "const char *safex_client_errcode(const struct safex_client *client);",
        "const char *safex_client_last_error(const struct safex_client *client);",
        "int safex_deploy(struct safex_client *client,",
        "int safex_subscription_next(struct safex_client *client,",
        "#define SAFEX_RIGHT_READ 1",
        "#define SAFEX_MAX_OBJECT_BYTES 16777216",
    ] {
        assert!(h.contains(needle), "the header lacks {needle:?}:\n{h}");
    }
    // The default socket is the client's.
    let define = format!("#define SAFEX_DEFAULT_SOCKET \"{}\"", safex_rs::DEFAULT_SOCKET);
    assert!(h.contains(&define), "{define}");
    // Every exported function is documented (a comment right above it).
    let lines: Vec<&str> = h.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" safex_") && line.contains('(') && !line.starts_with(' ') && !line.starts_with('#') {
            assert_eq!(lines[i - 1].trim(), "*/", "undocumented: {line}");
        }
    }
}

/// Compiles `source` with `compiler` and `flags`, the header as generated
/// now on the include path (the committed one is the same, or
/// `the_header_is_up_to_date` fails; and a blessing test run may be
/// rewriting it meanwhile).
fn compile(compiler: &str, flags: &[&str], source: &str, ext: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("check.{ext}"));
    std::fs::write(&file, source).expect("write");
    let include: &Path = &dir.path().join("include");
    std::fs::create_dir(include).expect("mkdir");
    std::fs::write(include.join("safex.h"), generate()).expect("write the header");
    let out = Command::new(compiler)
        .args(flags)
        .args([
            "-Wall",
            "-Wextra",
            "-Wshadow",
            "-Wstrict-prototypes",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(include)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {flags:?} refuses safex.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const USE: &str = r#"
#include <sys/socket.h>
#include <safex.h>
#include <safex.h>

int check(void);
int check(void)
{
    struct safex_client *client = NULL;
    struct safex_subscription *sub = NULL;
    struct safex_notice n = {0};
    uint64_t id = 0;
    int64_t value = 0;
    int err = safex_client_connect(SAFEX_DEFAULT_SOCKET, &client);
    if (err)
        return err;
    err = safex_deploy(client, "app", "", 0, &id) ||
          safex_attr_read(client, "app", "target_cpu", &value) ||
          safex_grant(client, "app", 1000, SAFEX_RIGHT_READ | SAFEX_RIGHT_WRITE) ||
          safex_subscribe(client, "app", 0, &sub) ||
          safex_subscription_next(client, sub, -1, &n);
    if (!err && n.kind == SAFEX_NOTICE_CHANGE && n.change.has_applied)
        value = n.change.applied;
    safex_subscription_free(sub);
    safex_client_free(client);
    return err ? (int)safex_client_errcode(NULL)[0] : (int)value;
}
"#;

#[test]
fn the_header_compiles_as_c11_and_as_cxx() {
    compile("cc", &["-std=c11", "-Wstrict-prototypes"], USE, "c");
    // Not in C++: `{0}` for a struct whose first member is an enum.
    let cxx = USE.replace("struct safex_notice n = {0};", "struct safex_notice n = {};");
    compile("c++", &["-std=c++11"], &cxx, "cc");
}

/// Sizes, alignments and offsets of every struct, as Rust lays them out.
macro_rules! layouts {
    ($($ty:ident { $($field:ident),* })*) => {{
        let mut all: Vec<(String, usize)> = Vec::new();
        $(
            all.push((format!("sizeof(struct {})", stringify!($ty)), std::mem::size_of::<safex::$ty>()));
            all.push((format!("_Alignof(struct {})", stringify!($ty)), std::mem::align_of::<safex::$ty>()));
            $(
                all.push((
                    format!("offsetof(struct {}, {})", stringify!($ty), stringify!($field)),
                    std::mem::offset_of!(safex::$ty, $field),
                ));
            )*
        )*
        all
    }};
}

#[test]
fn c_and_rust_agree_on_every_layout() {
    let mut expected = layouts! {
        safex_notice { kind, tick, event, change, trap, trace, counters, lagged }
        safex_event_notice { name, value, handlers }
        safex_change_notice { attribute, old_value, new_value, extension_id, entry, outcome, has_applied, applied }
        safex_trap_notice { extension_id, entry, trap, quarantined }
        safex_trace_notice { extension_id, entry, value, site }
        safex_counters_notice { extensions, count }
        safex_lagged_notice { lost }
        safex_extension_counters {
            id, name, quarantined, error, invocations, aborts, exceptions, out_of_fuel, deadlines, host_aborts,
            fuel_used, events_raised, time_ns, max_time_ns
        }
    };
    expected.push((
        "sizeof(enum safex_notice_kind)".to_string(),
        std::mem::size_of::<safex::safex_notice_kind>(),
    ));
    let mut program =
        String::from("#include <stdio.h>\n#include <stddef.h>\n#include <safex.h>\n\nint main(void)\n{\n");
    for (expr, _) in &expected {
        program.push_str(&format!("    printf(\"%zu\\n\", (size_t)({expr}));\n"));
    }
    program.push_str("    return 0;\n}\n");

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("layout.c"), program).expect("write");
    std::fs::write(dir.path().join("safex.h"), generate()).expect("write the header");
    let exe = dir.path().join("layout");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(dir.path())
        .arg(dir.path().join("layout.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(&exe).output().expect("runs");
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    let c: Vec<usize> = printed.lines().map(|l| l.parse().expect("a number")).collect();
    assert_eq!(c.len(), expected.len());
    for ((expr, rust), c) in expected.iter().zip(c) {
        assert_eq!(*rust, c, "{expr}: Rust {rust}, C {c}");
    }
}
