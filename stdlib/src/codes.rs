//! Documented error codes: the shape every phase's table has (`Pxxxx`
//! front-end, `Vxxxx` verifier and TAL formats, `Cxxxx` objects, `Lxxxx`
//! loaders and command line), the lookup `safexc explain` uses, and the
//! checks each table's tests run: well formed, and exactly the codes its
//! sources emit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The documentation of one error code.
#[derive(Debug)]
pub struct CodeDoc {
    /// A letter and four digits.
    pub code: &'static str,
    /// One line: what the error is about.
    pub title: &'static str,
    /// What is wrong, why the rule exists, and how to fix it. One paragraph,
    /// without line breaks: the reader wraps it.
    pub explanation: &'static str,
    /// Something that produces the code.
    pub example: &'static str,
}

/// The entry for `code` in `table`, ignoring case and surrounding spaces.
pub fn lookup(table: &'static [CodeDoc], code: &str) -> Option<&'static CodeDoc> {
    table.iter().find(|d| d.code.eq_ignore_ascii_case(code.trim()))
}

/// Checks a table: sorted and unique `letter` codes, one-line titles,
/// one-paragraph explanations of 2 to `max_sentences` sentences, examples of
/// at least two lines. `Err` says what is wrong.
pub fn check_table(table: &[CodeDoc], letter: char, max_sentences: usize) -> Result<(), String> {
    for pair in table.windows(2) {
        if pair[0].code >= pair[1].code {
            return Err(format!("{} before {}", pair[0].code, pair[1].code));
        }
    }
    for d in table {
        let well_formed =
            d.code.len() == 5 && d.code.starts_with(letter) && d.code[1..].bytes().all(|b| b.is_ascii_digit());
        let sentences = d.explanation.matches(". ").count() + 1;
        let problem = if !well_formed {
            "code"
        } else if d.title.is_empty() || d.title.ends_with('.') {
            "title"
        } else if d.explanation.contains('\n') {
            "the explanation is one paragraph"
        } else if !(2..=max_sentences).contains(&sentences) {
            "number of sentences"
        } else if d.example.lines().count() < 2 {
            "example"
        } else {
            continue;
        };
        return Err(format!("{}: {problem}", d.code));
    }
    Ok(())
}

/// Codes `letter` + four digits in `text`, as whole words: `"V0701"`,
/// `error[L0001]`, `rejected: L0001`, but not `L0xxx` or `XL0003`.
pub fn codes_in(text: &str, letter: char) -> Vec<String> {
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

/// The `.rs` files of a directory, except the tables themselves (`codes.rs`).
pub fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && p.file_name().is_none_or(|n| n != "codes.rs"))
        .collect();
    files.sort();
    files
}

/// Checks that `table` documents exactly the `letter` codes that `sources`
/// mention: none undocumented, none stale.
pub fn check_coverage(table: &[CodeDoc], letter: char, sources: &[PathBuf]) -> Result<(), String> {
    let mut used = BTreeSet::new();
    for path in sources {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        used.extend(codes_in(&text, letter));
    }
    let documented: BTreeSet<String> = table.iter().map(|d| d.code.to_owned()).collect();
    let undocumented: Vec<&String> = used.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&used).collect();
    if undocumented.is_empty() && stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "codes emitted but not documented: {undocumented:?}; documented but never emitted: {stale:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[CodeDoc] = &[
        CodeDoc {
            code: "L0001",
            title: "a",
            explanation: "One. Two.",
            example: "x\ny",
        },
        CodeDoc {
            code: "L0020",
            title: "b",
            explanation: "One. Two.",
            example: "x\ny",
        },
    ];

    #[test]
    fn lookup_ignores_case_and_spaces() {
        assert_eq!(lookup(TABLE, "L0020").map(|d| d.code), Some("L0020"));
        assert_eq!(lookup(TABLE, "l0020").map(|d| d.code), Some("L0020"));
        assert_eq!(lookup(TABLE, " L0001 ").map(|d| d.code), Some("L0001"));
        assert!(lookup(TABLE, "L9999").is_none());
        assert!(lookup(TABLE, "").is_none());
    }

    #[test]
    fn the_scanner_finds_whole_codes_only() {
        let text = r#"fail("L0010", x) error[L0001]: rejected: L0002 L0xxx XL0003 L00031 "C0060""#;
        assert_eq!(codes_in(text, 'L'), ["L0010", "L0001", "L0002"]);
    }

    #[test]
    fn tables_are_checked() {
        assert_eq!(check_table(TABLE, 'L', 4), Ok(()));
        assert!(check_table(TABLE, 'C', 4).is_err());
        let unsorted = [
            CodeDoc {
                code: "L0002",
                ..TABLE[0]
            },
            CodeDoc {
                code: "L0001",
                ..TABLE[0]
            },
        ];
        assert!(check_table(&unsorted, 'L', 4).is_err());
    }
}
