//! Prints generated programs: `cargo run -p popgen --example sample -- SEED [COUNT]`,
//! or `-- --large LINES SEED` for a large extension.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    if args.first().map(String::as_str) == Some("--large") {
        print!("{}", popgen::large_extension(num(1, 1000) as usize, num(2, 1)));
        return;
    }
    let seed = num(0, 0);
    for s in seed..seed + num(1, 1) {
        println!("// ---- seed {s}");
        print!("{}", popgen::sample(s, popgen::GenConfig::default()).source);
    }
}
