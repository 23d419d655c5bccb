//! What every `safexc` command-line test needs: the binary, run from the
//! workspace root, and its output as text.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn safexc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run safexc")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
