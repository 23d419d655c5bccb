//! Front-end throughput: lines per second for parse + check + lower of
//! generated extensions of 10k and 100k lines, and for the verifier pass
//! that follows in `safexc check`:
//! `cargo run --release -p bench --bin front_bench`.

#![forbid(unsafe_code)]

use bench::best_time;
use std::hint::black_box;

const SIZES: [usize; 2] = [10_000, 100_000];
const SEED: u64 = 1;

fn main() {
    println!("| lines | bytes | TAL instructions | compile | lines/s | compile + verify | lines/s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for target in SIZES {
        let source = popgen::large_extension(target, SEED);
        let lines = source.lines().count();
        let options = popcorn_front::Options {
            file_name: "large.pop".into(),
            stdlib: false,
            inline: true,
        };
        let compile = || popcorn_front::compile(black_box(&source), &options);
        let accepted = |c: &popcorn_front::Compiled| {
            assert!(
                c.module.is_some(),
                "the generated extension is rejected: {:?}",
                &c.diagnostics[..1]
            );
        };
        let compile_time = best_time(compile, accepted);
        let module = compile().module.expect("accepted above");
        let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
        let config = verifier::Config::default();
        let both = best_time(
            || {
                let c = compile();
                verifier::verify(c.module.as_ref().expect("accepted"), &config).map(|_| c)
            },
            |r| assert!(r.is_ok(), "the front-end's TAL is rejected"),
        );
        let per_s = |d: std::time::Duration| lines as f64 / d.as_secs_f64();
        println!(
            "| {lines} | {} | {insts} | {:.1} ms | {:.0} k | {:.1} ms | {:.0} k |",
            source.len(),
            compile_time.as_secs_f64() * 1e3,
            per_s(compile_time) / 1e3,
            both.as_secs_f64() * 1e3,
            per_s(both) / 1e3,
        );
    }
}
