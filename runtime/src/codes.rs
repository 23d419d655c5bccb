//! Loader and command line error codes, documented: what `safexc explain
//! CODE` prints for an `Lxxxx` code. One entry per code the runtime or the
//! `safexc` command line emits, sorted; the tests below check that against
//! the sources of both.
//!
//! An example is a short shell session or a description of the situation
//! that triggers the error.

pub use stdlib::codes::CodeDoc;

/// Every loader and command line code, sorted by code.
pub const CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "L0001",
        title: "cannot read the input file",
        explanation: "`safexc` could not read a file named on its command line: it does not exist, is a \
            directory, or is not readable. Nothing is checked or compiled from a file that was not read whole, \
            and the run fails so that a missing extension is never mistaken for an accepted one. Check the path \
            and the file's permissions.",
        example: "$ safexc verify missing.tal\nerror[L0001]: cannot read missing.tal: No such file or directory \
            (os error 2)\nmissing.tal: rejected: L0001",
    },
    CodeDoc {
        code: "L0002",
        title: "cannot write the output",
        explanation: "`safexc compile` could not write its output: the `-o` path is not writable, or an object \
            was asked for without `-o`. Objects are binary ELF files and are never written to a terminal, and a \
            partly written output must not pass for a compiled extension. Give a writable path with \
            `-o FILE.o`.",
        example: "$ safexc compile ext.pop --emit obj\nerror[L0002]: an object is written to a file: add `-o FILE.o`",
    },
    CodeDoc {
        code: "L0010",
        title: "cannot map memory for the code",
        explanation: "The loader could not map anonymous memory to hold the object's `.text`; the message carries \
            the system error. The code is copied into a fresh private mapping so that no other file or process \
            can change it after the checks. Free memory or raise the process's address space limit, then load \
            again.",
        example: "load an object in a process whose address space is capped (`ulimit -v`) below the size of \
            its code:\nerror[L0010]: cannot map 4096 bytes for code: Cannot allocate memory",
    },
    CodeDoc {
        code: "L0011",
        title: "relocation cannot be applied",
        explanation: "While linking the code, the loader found a relocation that names no function, whose field \
            lies outside the code, or whose displacement does not fit 32 bits. The object reader refuses such \
            relocations (`C0071`, `C0072`), so this means the parts handed to the linker did not come from a \
            checked object; patching code at an unchecked place would run bytes the verifier never covered. Load \
            objects through `runtime::load`, which reads and checks them first.",
        example: "call `CodeImage::link` on `ObjectParts` whose relocation offset was changed past the end of \
            `.text` after `read_object`:\nerror[L0011]: relocation at 0x1000 is outside the code",
    },
    CodeDoc {
        code: "L0012",
        title: "cannot make the code executable",
        explanation: "The loader could not turn the linked code's mapping from writable to executable; the \
            message carries the system error. Code memory is never writable and executable at once, so that \
            nothing can change the checked code while it may run. Check that the system allows executable \
            anonymous mappings for the process (SELinux `execmem`, PaX `MPROTECT`).",
        example: "load an object under a policy that forbids executable anonymous memory:\n\
            error[L0012]: cannot make the code executable: Permission denied",
    },
    CodeDoc {
        code: "L0020",
        title: "object built without fuel checks",
        explanation: "The object was compiled with `--no-fuel`, which leaves out the fuel checks that bound an \
            extension's run time. That option exists only to measure the checks' overhead, and an extension \
            without them could loop forever in the host, so every loader refuses it. Compile the extension \
            again without `--no-fuel`.",
        example: "$ safexc compile ext.pop --no-fuel -o ext.o\n\
            load ext.o with `runtime::load`:\n\
            error[L0020]: the object was built with --no-fuel: without fuel checks its run time has no bound",
    },
];

/// The documentation of `code` (`L0020`, `l0020`), if it is a loader or
/// command line code.
pub fn explain(code: &str) -> Option<&'static CodeDoc> {
    stdlib::codes::lookup(CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        stdlib::codes::check_table(CODES, 'L', 4).unwrap();
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dirs: Vec<std::path::PathBuf> = vec![root.join("runtime/src"), root.join("safexc/src")];
        let sources: Vec<std::path::PathBuf> = dirs.iter().flat_map(|d| stdlib::codes::rs_files(d)).collect();
        stdlib::codes::check_coverage(CODES, 'L', &sources).unwrap();
    }
}
