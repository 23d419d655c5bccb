//! Loading an extension in the user-space host:
//! `cargo run --release -p bench --bin runtime_bench`.
//!
//! - The time `runtime::load::load` takes on the PID extension
//!   (`examples/pop/cpu_pid.pop`), best of many runs, and the same steps
//!   timed one by one: reading and checking the object, verifying its TAL,
//!   the re-lowering check (lowering again, then writing and comparing the
//!   object), and mapping and linking the code.
//! - 100,000 `Host::load`/`Host::unload` cycles of the same object: resident memory and the
//!   number of mappings before and after (after a warm-up of 1,000).
//!
//! Options: `--cycles N` for the second part (default 100,000).

#![forbid(unsafe_code)]

use bench::best_time;
use runtime::image::CodeImage;
use std::hint::black_box;
use std::time::{Duration, Instant};

const PID_SRC: &str = include_str!("../../../examples/pop/cpu_pid.pop");
const CALLS_SRC: &str = "extension calls;\nimport cpu;\nint r = 0;\n\
    int twice(int a) { return a + a; }\n\
    int thrice(int a) { return twice(a) + a; }\n\
    monitor void m(cap<cpu_qos> app) { r = thrice(r) + twice(1); }\n\
    handler void h(cap<cpu_qos> app, int e) on \"Error\" { r = twice(e); }\n";

fn object(source: &str) -> Vec<u8> {
    bench::compile_object("bench.pop", source, false).expect("the extension compiles")
}

fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm");
    pages * 4
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times every step of a load of `bytes` and prints a table.
fn breakdown(name: &str, bytes: &[u8]) {
    let config = verifier::Config::default();
    let parts = codegen::object::read_object(bytes).expect("reads");
    let read = best_time(
        || codegen::object::read_object(black_box(bytes)),
        |r| assert!(r.is_ok()),
    );
    let verify = best_time(
        || verifier::verify(black_box(&parts.module), &config),
        |r| assert!(r.is_ok()),
    );
    let relower = best_time(
        || codegen::check::relowering_matches(black_box(bytes), &parts),
        |r| assert!(r.is_ok()),
    );
    let options = codegen::Options::default();
    let lower = best_time(
        || codegen::lower::lower_module(black_box(&parts.module), options),
        |r| assert!(r.is_ok()),
    );
    let isa = best_time(codegen::lower::target_isa, |_| {});
    let funcs = codegen::lower::lower_module(&parts.module, options).unwrap();
    let write = best_time(
        || codegen::object::write_object(black_box(&parts.module), &funcs, options) == bytes,
        |same| assert!(*same),
    );
    let link = best_time(|| CodeImage::link(black_box(&parts)), |r| assert!(r.is_ok()));
    let whole = best_time(
        || runtime::load::load(black_box(bytes), &config),
        |r| assert!(r.is_ok()),
    );
    let rows = [
        ("read_object (ELF, metadata, digests, symbols, relocations)", read),
        ("verify the TAL", verify),
        ("re-lowering check", relower),
        ("  of which lowering (Cranelift)", lower),
        ("    of which building the target (`target_isa`)", isa),
        ("  of which writing the object and comparing", write),
        ("map, link, make executable, unmap", link),
    ];
    let sum = read + verify + relower + link;
    println!(
        "\n{name}: {} bytes, {} functions, {} relocations\n",
        bytes.len(),
        parts.functions.len(),
        parts.relocs.len()
    );
    println!("| step | µs | share |\n|---|---:|---:|");
    for (step, d) in rows {
        println!(
            "| {step} | {:.1} | {:.0} % |",
            us(d),
            100.0 * d.as_secs_f64() / sum.as_secs_f64()
        );
    }
    println!("| sum of the steps | {:.1} | 100 % |", us(sum));
    println!("| `runtime::load::load`, whole | {:.1} | |", us(whole));
}

fn main() {
    let mut cycles = 100_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|n| n.parse().ok())) {
            ("--cycles", Some(n)) => cycles = n,
            _ => {
                eprintln!("usage: runtime_bench [--cycles N]");
                std::process::exit(2);
            }
        }
    }

    let pid = object(PID_SRC);
    breakdown("PID extension (examples/pop/cpu_pid.pop)", &pid);
    breakdown("Calls between functions (4 functions, relocated)", &object(CALLS_SRC));

    // Through the host API: `Host::load` is `runtime::load` plus binding the
    // extension to an application (data region, slot).
    let mut host = runtime::system::host(runtime::HostConfig::default(), true).expect("host");
    let app = host.create_app("a").expect("app");
    let mut cycle = || {
        let ext = host.load(app, black_box(&pid)).expect("loads");
        assert!(host.unload(ext));
    };
    for _ in 0..1000 {
        cycle();
    }
    let (rss0, maps0) = (resident_kib(), mappings());
    let start = Instant::now();
    for _ in 0..cycles {
        cycle();
    }
    let elapsed = start.elapsed();
    let (rss1, maps1) = (resident_kib(), mappings());
    println!("\n{cycles} `Host::load`/`Host::unload` cycles of the PID extension (after 1,000 warm-up cycles):\n");
    println!("| | before | after |\n|---|---:|---:|");
    println!("| resident memory (KiB) | {rss0} | {rss1} |");
    println!("| mappings (`/proc/self/maps` lines) | {maps0} | {maps1} |");
    println!(
        "\n{:.1} µs per cycle on average, {:.2} s in all",
        us(elapsed) / cycles as f64,
        elapsed.as_secs_f64()
    );
}
