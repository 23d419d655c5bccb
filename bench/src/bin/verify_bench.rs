//! Verification and decoding throughput on generated modules of 1k to 10M
//! instructions: `cargo run --release -p bench --bin verify_bench [-- --max N]`.
//!
//! A plain binary rather than a criterion bench: one 10M-instruction
//! verification takes seconds, too slow for statistical sampling. Each case
//! reports the best of at least three runs (more for small sizes, until half
//! a second has been spent), which filters out scheduling noise.
//!
//! The verifier checks the module as decoded from its binary encoding, as a
//! loader does: the heap layout of the IR it walks is then the production
//! one (allocations in serialization order), not the generator's, whose
//! patched terminators are scattered and cost up to ~20% more at 1M+
//! instructions. Small modules stay cache-resident across the repeated runs
//! while 1M+ ones stream from memory, which is most of the per-instruction
//! growth the last column shows.

#![forbid(unsafe_code)]

use bench::{Shape, best_time, generate, grouped, inst_count};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
/// The size the per-instruction scaling figure is relative to.
const BASELINE: usize = 10_000;
const SEED: u64 = 1;

struct Row {
    shape: Shape,
    insts: usize,
    verify: Duration,
    bytes: usize,
    decode: Duration,
}

fn main() {
    let max = parse_max().unwrap_or_else(|e| {
        eprintln!("verify_bench: {e}\nusage: verify_bench [--max N]   (N may end in k or M)");
        std::process::exit(2)
    });
    let config = verifier::Config::default();
    let mut rows = Vec::new();
    for shape in Shape::ALL {
        for size in SIZES.into_iter().filter(|&s| s <= max) {
            let module = generate(shape, size, SEED);
            let insts = inst_count(&module);
            let encoded = tal_ir::binary::encode(&module);
            drop(module);
            let decode = best_time(
                || tal_ir::binary::decode(black_box(&encoded)),
                |r| assert!(r.is_ok(), "encoded module does not decode"),
            );
            let module = tal_ir::binary::decode(&encoded).expect("decoded above");
            let verify = best_time(
                || verifier::verify(black_box(&module), &config),
                |r| {
                    if let Err(e) = r {
                        panic!(
                            "generated {} module of {insts} instructions rejected: {}",
                            shape.name(),
                            e[0]
                        );
                    }
                },
            );
            eprintln!(
                "{} {insts}: verify {verify:?}, decode {decode:?}, peak RSS {}",
                shape.name(),
                peak_rss()
            );
            rows.push(Row {
                shape,
                insts,
                verify,
                bytes: encoded.len(),
                decode,
            });
        }
    }
    print_tables(&rows);
}

/// `--max N`: skip sizes above N (for quick runs).
fn parse_max() -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    let mut max = usize::MAX;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max" => {
                let n = args.next().ok_or("--max needs a value")?;
                let (digits, scale) = match n.strip_suffix(['k', 'K']) {
                    Some(d) => (d, 1_000),
                    None => n.strip_suffix('M').map_or((n.as_str(), 1), |d| (d, 1_000_000)),
                };
                max = digits.parse::<usize>().map_err(|e| format!("--max {n}: {e}"))? * scale;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(max)
}

/// Best wall time of `run` over at least [`MIN_RUNS`] runs and
/// [`MIN_TOTAL`]. Results are checked and dropped outside the timed region.
fn print_tables(rows: &[Row]) {
    let ns_per_inst = |r: &Row| r.verify.as_nanos() as f64 / r.insts as f64;
    println!("## Verification (`verifier::verify`, default config, best run)\n");
    println!("| shape | instructions | time | ns/instruction | M instructions/s | ns/inst vs 10k |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let base = rows
            .iter()
            .find(|b| b.shape == r.shape && b.insts.abs_diff(BASELINE) * 20 <= BASELINE);
        let ratio = base.map_or("n/a".to_string(), |b| {
            format!("{:.2}x", ns_per_inst(r) / ns_per_inst(b))
        });
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {ratio} |",
            r.shape.name(),
            grouped(r.insts),
            human(r.verify),
            ns_per_inst(r),
            r.insts as f64 / r.verify.as_secs_f64() / 1e6,
        );
    }
    println!("\n## Decoding (`tal_ir::binary::decode`, best run)\n");
    println!("| shape | instructions | encoded bytes | bytes/instruction | time | MB/s | M instructions/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let secs = r.decode.as_secs_f64();
        println!(
            "| {} | {} | {} | {:.2} | {} | {:.0} | {:.1} |",
            r.shape.name(),
            grouped(r.insts),
            grouped(r.bytes),
            r.bytes as f64 / r.insts as f64,
            human(r.decode),
            r.bytes as f64 / secs / 1e6,
            r.insts as f64 / secs / 1e6,
        );
    }
    println!("\nPeak resident memory: {}", peak_rss());
}

fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} µs", s * 1e6),
    }
}

/// The process's peak resident set (`VmHWM`), where Linux reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
