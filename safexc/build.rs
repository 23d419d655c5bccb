//! Records the commit `safexc --version` prints: `git rev-parse --short
//! HEAD`, or `unknown` outside a git checkout or without git.

use std::path::Path;
use std::process::Command;

/// The trimmed output of a successful `git` command run in this crate.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=SAFEXC_COMMIT={commit}");
    // Run again when HEAD moves: HEAD itself (a checkout), the branch it
    // names (a commit), or the packed refs. Only existing files: cargo
    // reruns every build for one that does not exist.
    let dir = |kind: &str| git(&["rev-parse", "--path-format=absolute", kind]);
    let mut watched = Vec::new();
    if let Some(git_dir) = dir("--git-dir") {
        watched.push(Path::new(&git_dir).join("HEAD"));
    }
    if let Some(common) = dir("--git-common-dir") {
        let common = Path::new(&common);
        watched.push(common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(branch));
        }
    }
    for file in watched.iter().filter(|f| f.exists()) {
        println!("cargo::rerun-if-changed={}", file.display());
    }
}
