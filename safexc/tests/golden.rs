//! The checked-in objects are what `safexc compile` builds from their
//! sources today: the standard guards the hosts install (`stdlib/obj`) and
//! the examples' objects (`examples/obj`). A change to the front-end, the
//! cost model or code generation that changes an object fails here;
//! `SAFEX_BLESS=1 cargo test -p safexc --test golden` rewrites them (then
//! build again: the hosts embed `stdlib/obj`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// (source, object, compiled as part of the standard library).
const GOLDEN: &[(&str, &str, bool)] = &[
    ("stdlib/pop/timeslice_guard.pop", "stdlib/obj/timeslice_guard.o", true),
    ("examples/pop/cpu_pid.pop", "examples/obj/cpu_pid.o", false),
    ("examples/pop/cpu_avg.pop", "examples/obj/cpu_avg.o", false),
    ("examples/pop/robust_pid.pop", "examples/obj/robust_pid.o", false),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn checked_in_objects_are_what_safexc_compiles() {
    let bless = std::env::var_os("SAFEX_BLESS").is_some();
    let out_dir = std::env::temp_dir().join(format!("safexc-golden-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temp dir");
    let mut stale = Vec::new();
    for &(source, object, stdlib) in GOLDEN {
        let fresh = out_dir.join(Path::new(object).file_name().expect("a file name"));
        let mut args = vec!["compile", source, "-o", fresh.to_str().expect("utf-8 path")];
        if stdlib {
            args.push("--stdlib");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_safexc"))
            .args(&args)
            .current_dir(root())
            .output()
            .expect("run safexc");
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fresh = std::fs::read(&fresh).expect("the fresh object");
        let path = root().join(object);
        if std::fs::read(&path).ok().as_deref() != Some(fresh.as_slice()) {
            if bless {
                std::fs::write(&path, &fresh).expect("bless the object");
            } else {
                stale.push(object);
            }
        }
    }
    std::fs::remove_dir_all(&out_dir).ok();
    assert!(
        stale.is_empty(),
        "stale objects (SAFEX_BLESS=1 cargo test -p safexc --test golden rewrites them): {stale:?}"
    );
}

#[test]
fn checked_in_objects_verify() {
    let objects: Vec<&str> = GOLDEN.iter().map(|&(_, object, _)| object).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_safexc"))
        .arg("verify")
        .args(&objects)
        .current_dir(root())
        .output()
        .expect("run safexc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
