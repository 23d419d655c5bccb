//! Files named on the command line. `-` is standard input for an input
//! and standard output for an output.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether `path` names standard input or output.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name diagnostics show: the path as typed, `<stdin>` for `-`.
pub fn display_name(path: &Path) -> String {
    if is_stdio(path) {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The name a compiled module records as its source: the file name alone,
/// without directories, so that the same source gives the same object
/// wherever it lives (`docs/object.md`); empty (none) for standard input.
pub fn recorded_name(path: &Path) -> String {
    if is_stdio(path) {
        return String::new();
    }
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads an input whole, or reports `L0001` on standard error.
pub fn read_input(path: &Path) -> Option<Vec<u8>> {
    let read = if is_stdio(path) {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    match read {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            crate::diag::plain_error("L0001", &format!("cannot read {}: {e}", display_name(path)));
            None
        }
    }
}

/// Standard input can be read once: refuses (`L0003`, on standard error)
/// a list of inputs that names it twice.
pub fn stdin_at_most_once(paths: &[PathBuf]) -> bool {
    if paths.iter().filter(|p| is_stdio(p)).count() > 1 {
        errln!("error[L0003]: standard input (`-`) is named twice; it can be read once");
        return false;
    }
    true
}

/// Whether writing `output` would overwrite `input`: the same file by
/// device and inode, so that `./x.pop`, `dir/../x.pop`, a symbolic link or
/// a hard link to the input are all recognized. An output that does not
/// exist yet cannot be an input that was read.
pub fn same_file(input: &Path, output: &Path) -> bool {
    if is_stdio(input) || is_stdio(output) {
        return false;
    }
    match (std::fs::metadata(input), std::fs::metadata(output)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Writes `bytes` to the output file `path`, or reports `L0002`.
pub fn write_output(path: &Path, bytes: &[u8]) -> bool {
    match std::fs::write(path, bytes) {
        Ok(()) => true,
        Err(e) => {
            crate::diag::plain_error("L0002", &format!("cannot write the output {}: {e}", path.display()));
            false
        }
    }
}

/// A source without its UTF-8 byte-order mark, which some editors write
/// and which is not part of the text.
pub fn without_bom(bytes: Vec<u8>) -> Vec<u8> {
    match bytes.strip_prefix("\u{feff}".as_bytes()) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    }
}
