//! Loader and command line error codes, documented: what `safexc explain
//! CODE` prints for an `Lxxxx` code. One entry per code the runtime or the
//! `safexc` command line emits, sorted; the tests below check that against
//! the sources of both.
//!
//! An example is a short shell session or a description of the situation
//! that triggers the error.

/// The documentation of one error code.
#[derive(Debug)]
pub struct CodeDoc {
    /// `Lxxxx`.
    pub code: &'static str,
    /// One line: what the error is about.
    pub title: &'static str,
    /// What is wrong, why the rule exists, and how to fix it. One paragraph,
    /// without line breaks: the reader wraps it.
    pub explanation: &'static str,
    /// A shell session or a description of what triggers the error.
    pub example: &'static str,
}

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
    CODES.iter().find(|d| d.code.eq_ignore_ascii_case(code.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Codes `letter` + four digits in `text`, as whole words: `"L0010"`,
    /// `error[L0001]`, `rejected: L0001`.
    fn codes_in(text: &str, letter: char) -> Vec<String> {
        let b = text.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        (0..b.len().saturating_sub(4))
            .filter(|&i| {
                b[i] == letter as u8
                    && (i == 0 || !word(b[i - 1]))
                    && b[i + 1..i + 5].iter().all(u8::is_ascii_digit)
                    && b.get(i + 5).is_none_or(|&c| !word(c))
            })
            .map(|i| text[i..i + 5].to_owned())
            .collect()
    }

    fn rs_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect()
    }

    /// Every `L0123` in the runtime's sources (but this file) and in the
    /// `safexc` command line's.
    fn codes_in_sources() -> BTreeSet<String> {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = rs_files(&crate_dir.join("src"))
            .into_iter()
            .filter(|p| p.file_name().is_none_or(|n| n != "codes.rs"))
            .collect();
        files.extend(rs_files(&crate_dir.join("../safexc/src")));
        assert!(files.len() >= 4, "only {} source files found", files.len());
        let mut found = BTreeSet::new();
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            found.extend(codes_in(&text, 'L'));
        }
        found
    }

    #[test]
    fn codes_are_sorted_unique_and_well_formed() {
        for pair in CODES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].code, pair[1].code);
        }
        for d in CODES {
            assert!(
                d.code.len() == 5 && d.code.starts_with('L') && d.code[1..].bytes().all(|b| b.is_ascii_digit()),
                "{}",
                d.code
            );
            assert!(!d.title.is_empty() && !d.title.ends_with('.'), "{}: title", d.code);
            assert!(
                !d.explanation.contains('\n'),
                "{}: the explanation is one paragraph",
                d.code
            );
            let sentences = d.explanation.matches(". ").count() + 1;
            assert!((2..=4).contains(&sentences), "{}: {sentences} sentences", d.code);
            assert!(d.example.lines().count() >= 2, "{}: example", d.code);
        }
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let used = codes_in_sources();
        let documented: BTreeSet<String> = CODES.iter().map(|d| d.code.to_owned()).collect();
        let undocumented: Vec<&String> = used.difference(&documented).collect();
        let stale: Vec<&String> = documented.difference(&used).collect();
        assert!(
            undocumented.is_empty(),
            "codes emitted but not in CODES: {undocumented:?}"
        );
        assert!(stale.is_empty(), "codes in CODES that nothing emits: {stale:?}");
    }

    #[test]
    fn the_scanner_finds_whole_codes_only() {
        let text = r#"fail("L0010", x) error[L0001]: rejected: L0002 L0xxx XL0003 L00031 "C0060""#;
        assert_eq!(codes_in(text, 'L'), ["L0010", "L0001", "L0002"]);
    }

    #[test]
    fn explain_is_case_insensitive() {
        assert_eq!(explain("L0020").map(|d| d.code), Some("L0020"));
        assert_eq!(explain("l0020").map(|d| d.code), Some("L0020"));
        assert_eq!(explain(" L0001 ").map(|d| d.code), Some("L0001"));
        assert!(explain("L9999").is_none());
        assert!(explain("C0065").is_none());
        assert!(explain("").is_none());
    }
}
