//! Loading an extension in the user-space host:
//! `cargo run --release -p bench --bin runtime_bench`.
//!
//! - The time `runtime::load::load` takes on the PID extension
//!   (`examples/pop/cpu_pid.pop`), best of many runs, and the same steps
//!   timed one by one: reading and checking the object, verifying its TAL,
//!   the re-lowering check (lowering again, then writing and comparing the
//!   object), and mapping and linking the code.
//! - 100,000 `Host::load`/`Host::unload` cycles of the same object, the load
//!   cache off: resident memory and the number of mappings before and after
//!   (after a warm-up of 1,000).
//! - The three ways a host accepts an object, in the same process,
//!   interleaved (medians over rounds, ratios per round): an unsigned
//!   object checked in full (no cache), the same bytes again from the load
//!   cache, and the signed object on a trusted key's signature; through
//!   `Host::load` + `Host::unload` and through `runtime::load` alone, for
//!   the PID extension, the QoS round extension (`bench/pop/qos_round.pop`,
//!   when present), calls between functions and generated extensions of
//!   1,000 and 10,000 lines; then the steps of a signed load.
//!
//! Options: `--cycles N` for the second part (default 100,000); `--quick`
//! for fewer rounds of the third and no 10,000-line extension; `--signed`
//! for the third part alone.

#![forbid(unsafe_code)]

use bench::best_time;
use rand::SeedableRng;
use rand_xorshift::XorShiftRng;
use runtime::image::CodeImage;
use runtime::load::{Accepted, LoadCache};
use runtime::signed::{self, PublicKey};
use runtime::{Host, HostConfig};
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

/// The benchmark's signing key comes from a seeded generator: it signs
/// nothing but the benchmark's objects and is not secret.
struct NotSecret(XorShiftRng);

impl rand::TryRng for NotSecret {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.try_fill_bytes(dst)
    }
}

impl rand::TryCryptoRng for NotSecret {}

/// Medians of `N` contenders timed in interleaved rounds: each round runs
/// a batch of `ops[k]` operations of each contender, the order rotating
/// from round to round, for at least `min_rounds` rounds and `min_time`.
/// Per contender: the median over rounds of its time per operation, and
/// the median over rounds of its time per operation divided by contender
/// 0's in the same round.
fn interleaved_medians<const N: usize>(
    ops: [u32; N],
    contenders: [&mut dyn FnMut(); N],
    min_rounds: usize,
    min_time: Duration,
) -> [(Duration, f64); N] {
    let mut rounds: Vec<[f64; N]> = Vec::new();
    let started = Instant::now();
    while rounds.len() < min_rounds || started.elapsed() < min_time {
        let mut round = [0.0; N];
        for k in 0..N {
            let which = (k + rounds.len()) % N;
            let start = Instant::now();
            for _ in 0..ops[which] {
                contenders[which]();
            }
            round[which] = start.elapsed().as_secs_f64() / f64::from(ops[which]);
        }
        rounds.push(round);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    std::array::from_fn(|k| {
        (
            Duration::from_secs_f64(median(rounds.iter().map(|r| r[k]).collect())),
            median(rounds.iter().map(|r| r[k] / r[0]).collect()),
        )
    })
}

/// A host with the standard classes and guard, a load cache of
/// `cache_entries` objects, trusting `key` if given, and one application.
fn bench_host(cache_entries: usize, key: Option<&[u8]>) -> (Host, runtime::AppId) {
    let config = HostConfig {
        load_cache_entries: cache_entries,
        ..HostConfig::default()
    };
    let mut host = runtime::system::host(config, true).expect("host");
    if let Some(key) = key {
        host.trust(key).expect("the benchmark's key");
    }
    let app = host.create_app("a").expect("app");
    (host, app)
}

/// The three ways of accepting `object` (and `signed`, it signed with
/// `public`'s key), through the host and through `runtime::load` alone:
/// prints one row of each table.
fn accept_paths(name: &str, object: &[u8], signed: &[u8], public: &[u8], quick: bool) -> [String; 2] {
    let config = verifier::Config::default();
    let keys = [PublicKey::from_der(public).expect("key")];
    let (mut cold_host, cold_app) = bench_host(0, None);
    let (mut cache_host, cache_app) = bench_host(64, None);
    let (mut signed_host, signed_app) = bench_host(64, Some(public));
    let cycle = |host: &mut Host, app, bytes: &[u8], expected: Accepted| {
        let ext = host.load(app, black_box(bytes)).expect("loads");
        assert_eq!(host.accepted(ext), Some(expected));
        assert!(host.unload(ext));
    };
    // Warm: the cache holds the object, every path has run once.
    cycle(&mut cold_host, cold_app, object, Accepted::Checked);
    cycle(&mut cache_host, cache_app, object, Accepted::Checked);
    cycle(&mut signed_host, signed_app, signed, Accepted::Signed);
    let mut cache = LoadCache::new(64, 16 << 20);
    cache.load(object, &config).expect("loads");
    // A batch of cold loads takes about as long as one of the others.
    let probe = Instant::now();
    drop(runtime::load::load(object, &config).expect("loads"));
    let cold_us = us(probe.elapsed());
    let fast_ops = ((cold_us / 60.0).round() as u32).clamp(1, 50);
    let (rounds, time) = if quick {
        (11, Duration::from_millis(300))
    } else {
        (41, Duration::from_secs(2))
    };
    let [cold, cached, sig] = interleaved_medians(
        [1, fast_ops, fast_ops],
        [
            &mut || cycle(&mut cold_host, cold_app, object, Accepted::Checked),
            &mut || cycle(&mut cache_host, cache_app, object, Accepted::Cached),
            &mut || cycle(&mut signed_host, signed_app, signed, Accepted::Signed),
        ],
        rounds,
        time,
    );
    let [lcold, lcached, lsig] = interleaved_medians(
        [1, fast_ops, fast_ops],
        [
            &mut || {
                assert_eq!(
                    runtime::load::load(black_box(object), &config).expect("loads").accepted,
                    Accepted::Checked
                )
            },
            &mut || {
                assert_eq!(
                    cache.load(black_box(object), &config).expect("loads").accepted,
                    Accepted::Cached
                )
            },
            &mut || {
                assert_eq!(
                    runtime::load::load_signed(black_box(signed), &keys)
                        .expect("loads")
                        .accepted,
                    Accepted::Signed
                )
            },
        ],
        rounds,
        time,
    );
    let parts = codegen::object::read_object(object).expect("reads");
    let row = |[cold, cached, sig]: [(Duration, f64); 3]| {
        format!(
            "| {name} | {} | {} / {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} |",
            object.len(),
            parts.functions.len(),
            parts.relocs.len(),
            us(cold.0),
            us(cached.0),
            us(sig.0),
            cached.1,
            sig.1
        )
    };
    [row([cold, cached, sig]), row([lcold, lcached, lsig])]
}

/// The steps of a signed load of `signed` (`object` signed with `public`'s
/// key), interleaved: medians and shares of the whole.
fn signed_steps(name: &str, object: &[u8], signed: &[u8], public: &[u8], quick: bool) {
    let keys = [PublicKey::from_der(public).expect("key")];
    let (inner, signature) = signed::split(signed).expect("signed").expect("signed");
    let parts = codegen::object::read_object(object).expect("reads");
    let (mut host, app) = bench_host(64, Some(public));
    let (rounds, time) = if quick {
        (11, Duration::from_millis(300))
    } else {
        (41, Duration::from_secs(2))
    };
    let ok = |r: bool| assert!(r);
    let steps = interleaved_medians(
        [20; 8],
        [
            &mut || {
                let ext = host.load(app, black_box(signed)).expect("loads");
                ok(host.unload(ext));
            },
            &mut || ok(runtime::load::load_signed(black_box(signed), &keys).is_ok()),
            &mut || ok(signed::verify_parts(black_box(inner), signature, &keys).is_ok()),
            &mut || {
                black_box(codegen::meta::sha256(black_box(inner)));
            },
            &mut || ok(runtime::load::check_signed_object(black_box(inner)).is_ok()),
            &mut || ok(codegen::object::read_object(black_box(inner)).is_ok()),
            &mut || ok(CodeImage::link(black_box(&parts)).is_ok()),
            &mut || ok(PublicKey::from_der(black_box(public)).is_ok()),
        ],
        rounds,
        time,
    );
    let whole = steps[1].0;
    println!("\n{name}: the steps of a signed load (medians of interleaved rounds)\n");
    println!("| step | µs | share of `load_signed` |\n|---|---:|---:|");
    for ((what, share), (d, _)) in [
        ("`Host::load` + `Host::unload` of the signed object", false),
        ("`runtime::load::load_signed`, whole", true),
        (
            "  RSA-2048 signature check (`signed::verify_parts`: SHA-256 of the object, one public-key operation)",
            true,
        ),
        ("    of which SHA-256 of the object", true),
        ("  structural checks (`check_signed_object`)", true),
        ("    of which `read_object`", true),
        ("  map, link, make executable, unmap (`CodeImage::link`)", true),
        ("reading the public key from DER (once, in `Host::trust`)", false),
    ]
    .into_iter()
    .zip(steps)
    {
        let share = if share {
            format!("{:.0} %", 100.0 * d.as_secs_f64() / whole.as_secs_f64())
        } else {
            String::new()
        };
        println!("| {what} | {:.1} | {share} |", us(d));
    }
}

/// Signed load and the load cache against a full load, for every
/// extension at hand.
fn signed_and_cached(quick: bool) {
    let key = signed::generate(&mut NotSecret(XorShiftRng::seed_from_u64(0x5afe_00b5))).expect("key");
    let public = signed::public_key_der(&key).expect("public key");
    let mut extensions: Vec<(String, Vec<u8>)> = vec![
        ("PID (`examples/pop/cpu_pid.pop`)".into(), object(PID_SRC)),
        ("calls (`CALLS_SRC`, inlined)".into(), object(CALLS_SRC)),
    ];
    let qos_round = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pop/qos_round.pop");
    match std::fs::read_to_string(&qos_round).map(|src| bench::compile_object("qos_round.pop", &src, false)) {
        Ok(Ok(obj)) => extensions.insert(1, ("QoS round (`bench/pop/qos_round.pop`)".into(), obj)),
        Ok(Err(e)) => eprintln!("bench/pop/qos_round.pop is left out: {e}"),
        Err(e) => eprintln!("bench/pop/qos_round.pop is left out: {e}"),
    }
    let sizes: &[usize] = if quick { &[1_000] } else { &[1_000, 10_000] };
    for &lines in sizes {
        let source = popgen::large_extension(lines, 1);
        let obj = bench::compile_object("large.pop", &source, false).expect("the generated extension compiles");
        extensions.push((format!("generated, {lines} lines (`popgen::large_extension`)"), obj));
    }
    let mut host_rows = Vec::new();
    let mut load_rows = Vec::new();
    for (name, obj) in &extensions {
        let signed = signed::sign(obj, &key).expect("signs");
        let [host, load] = accept_paths(name, obj, &signed, &public, quick);
        host_rows.push(host);
        load_rows.push(load);
    }
    let header = "| extension | object bytes | functions / relocations | unsigned, checked (µs) | unsigned, cached (µs) \
        | signed, trusted key (µs) | cached / checked | signed / checked |\n|---|---:|---:|---:|---:|---:|---:|---:|";
    println!("\nAccepting an object three ways: medians of interleaved rounds, ratios per round.");
    println!("\n`Host::load` + `Host::unload` (the host's own checks and binding included):\n\n{header}");
    for r in &host_rows {
        println!("{r}");
    }
    println!("\n`runtime::load::load`, `LoadCache::load`, `runtime::load::load_signed` (then unmapped):\n\n{header}");
    for r in &load_rows {
        println!("{r}");
    }
    for (name, obj) in extensions.iter().take(2) {
        signed_steps(name, obj, &signed::sign(obj, &key).expect("signs"), &public, quick);
    }
}

fn main() {
    let mut cycles = 100_000usize;
    let mut quick = false;
    let mut only_signed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--signed" => only_signed = true,
            "--cycles" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => cycles = n,
                None => usage(),
            },
            _ => usage(),
        }
    }
    if only_signed {
        signed_and_cached(quick);
        return;
    }

    let pid = object(PID_SRC);
    breakdown("PID extension (examples/pop/cpu_pid.pop)", &pid);
    breakdown("Calls between functions (4 functions, relocated)", &object(CALLS_SRC));

    // Through the host API: `Host::load` is `runtime::load` plus binding the
    // extension to an application (data region, slot). Without the load
    // cache, so that every cycle runs every check, as before it existed.
    let config = HostConfig {
        load_cache_entries: 0,
        ..HostConfig::default()
    };
    let mut host = runtime::system::host(config, true).expect("host");
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
    signed_and_cached(quick);
}

fn usage() -> ! {
    eprintln!("usage: runtime_bench [--cycles N] [--quick] [--signed]");
    std::process::exit(2);
}
