//! Compiles `proto/safex.proto` with a pure-Rust protobuf compiler
//! (`protox`), so building needs no `protoc`, then generates the messages
//! (`prost`) and the client and server (`tonic`) into `OUT_DIR`. The output
//! depends only on the `.proto` file and these crates' versions (pinned by
//! `Cargo.lock`).

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let file = dir.join("safex.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = match protox::compile([&file], [&dir]) {
        Ok(fds) => fds,
        Err(e) => {
            println!("cargo:warning=error[D0100]: {}: {e}", file.display());
            std::process::exit(1);
        }
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
    {
        println!(
            "cargo:warning=error[D0100]: generating code from {}: {e}",
            file.display()
        );
        std::process::exit(1);
    }
}
