//! Builds the C side of `qos_bench` (`bench/c/`, see its README):
//!
//! - `qos_native.c`, the native baseline, at -O2 with the `cc` crate;
//! - `qos.bpf.c`, the same round as an eBPF program, with
//!   `clang -target bpf -O2` when clang is installed. The benchmark finds
//!   the object through `QOS_BPF_OBJECT` (empty when none was built) and
//!   the reason there is none through `QOS_BPF_STATUS`. Nothing here needs
//!   clang: without it the benchmark skips its eBPF column.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let c = PathBuf::from("c");
    for f in ["qos_native.c", "qos.bpf.c", "qos_logic.h", "include/linux/types.h"] {
        println!("cargo::rerun-if-changed=c/{f}");
    }
    println!("cargo::rerun-if-env-changed=CLANG");
    cc::Build::new()
        .file(c.join("qos_native.c"))
        .include(c.join("include"))
        .include(&c)
        .opt_level(2)
        .warnings(true)
        .compile("qos_native");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("qos.bpf.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let status = match Command::new(&clang)
        .args([
            "-target",
            "bpf",
            "-O2",
            "-g0",
            "-Wall",
            "-I",
            "c/include",
            "-I",
            "c",
            "-c",
            "c/qos.bpf.c",
            "-o",
        ])
        .arg(&object)
        .output()
    {
        Ok(o) if o.status.success() => "built".to_string(),
        Ok(o) => format!(
            "`{clang} -target bpf` failed: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("no message")
        ),
        Err(e) => format!("no `{clang}` to build the eBPF program ({e}); install clang for the eBPF column"),
    };
    let path = if status == "built" {
        object.display().to_string()
    } else {
        String::new()
    };
    println!("cargo::rustc-env=QOS_BPF_OBJECT={path}");
    println!("cargo::rustc-env=QOS_BPF_STATUS={status}");
}
