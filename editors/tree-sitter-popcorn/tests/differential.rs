//! The grammar against the front-end's parser, on broken programs: each
//! `.pop` file of the repository is mutated at the token level (a token
//! deleted, doubled, swapped with the next, replaced or preceded by another
//! one), and for every mutant the tree must have an ERROR or MISSING node
//! exactly when the front-end reports a syntax or lexical error (P0001,
//! P0002). The mutations are drawn from a fixed seed: the run is the same
//! every time.
//!
//! One difference is known and allowed (README, "Known differences"):
//! where an operand is expected, the front-end's lexer reads `&&` as one
//! token and reports a syntax error, while tree-sitter's lexer, which only
//! looks for tokens valid in the parser's state, reads `& &`: two
//! address-of operators, which the checker refuses (P0302) anyway.

mod common;

use tree_sitter::Node;

/// Tokens spliced into the programs: every keyword, operator and
/// punctuation, literals, and C's lexical leftovers the lexer refuses.
const PALETTE: &[&str] = &[
    "extension",
    "import",
    "const",
    "budget",
    "struct",
    "attribute",
    "class",
    "readonly",
    "range",
    "event",
    "monitor",
    "handler",
    "guard",
    "on",
    "for",
    "if",
    "else",
    "while",
    "do",
    "switch",
    "case",
    "default",
    "break",
    "continue",
    "return",
    "try",
    "handle",
    "raise",
    "true",
    "false",
    "int",
    "bool",
    "void",
    "cap",
    "extern",
    "goto",
    "asm",
    "__asm__",
    "volatile",
    "__volatile__",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "~",
    "!",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "<<=",
    ">>=",
    "&=",
    "|=",
    "^=",
    "++",
    "--",
    "->",
    ".",
    ",",
    ";",
    ":",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "x",
    "app",
    "1",
    "0",
    "0x1F",
    "\"a\"",
    "\"e\\n\"",
    "010",
    "1.5",
    "10u",
    "'a'",
    "?",
    "#",
    "\"\\q\"",
    "/* c */",
    "// c\n",
    "@",
];

/// Mutants per file.
const MUTANTS: usize = 30;

/// xorshift64*: deterministic, and enough to spread the mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The byte ranges of the tokens: leaves, with strings and comments whole.
fn tokens(node: Node<'_>, out: &mut Vec<(usize, usize)>) {
    if node.child_count() == 0 || matches!(node.kind(), "string_literal" | "comment" | "number_literal") {
        if node.end_byte() > node.start_byte() {
            out.push((node.start_byte(), node.end_byte()));
        }
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        tokens(child, out);
    }
}

/// Whether the tree has an address-of `&` written right before another `&`:
/// the known difference above.
fn has_split_and_and(node: Node<'_>, source: &str) -> bool {
    if node.kind() == "pointer_expression"
        && node
            .child(0)
            .is_some_and(|op| op.kind() == "&" && source[op.end_byte()..].starts_with('&'))
    {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|child| has_split_and_and(child, source))
}

fn mutate(source: &str, toks: &[(usize, usize)], rng: &mut Rng) -> String {
    let i = rng.below(toks.len());
    let (lo, hi) = toks[i];
    let pick = PALETTE[rng.below(PALETTE.len())];
    match rng.below(5) {
        // Delete the token.
        0 => format!("{}{}", &source[..lo], &source[hi..]),
        // Double it.
        1 => format!("{} {}", &source[..hi], &source[lo..]),
        // Swap it with the next one.
        2 if i + 1 < toks.len() => {
            let (lo2, hi2) = toks[i + 1];
            format!(
                "{}{}{}{}{}",
                &source[..lo],
                &source[lo2..hi2],
                &source[hi..lo2],
                &source[lo..hi],
                &source[hi2..]
            )
        }
        // Replace it.
        3 => format!("{} {pick} {}", &source[..lo], &source[hi..]),
        // Put another token before it.
        _ => format!("{} {pick} {}", &source[..lo], &source[lo..]),
    }
}

#[test]
fn mutants_are_errors_exactly_when_the_front_end_says_so() {
    let root = common::repo_root();
    let mut parser = common::parser();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut mismatches = Vec::new();
    let (mut total, mut broken, mut split) = (0usize, 0usize, 0usize);
    for path in common::pop_files(&root) {
        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        let source = std::fs::read_to_string(&path).expect("read .pop file");
        let tree = common::parse(&mut parser, &source);
        let mut toks = Vec::new();
        tokens(tree.root_node(), &mut toks);
        if toks.is_empty() {
            continue;
        }
        for _ in 0..MUTANTS {
            let mutant = mutate(&source, &toks, &mut rng);
            let Some(expected) = common::front_end_syntax_error(&mutant) else {
                continue;
            };
            let tree = common::parse(&mut parser, &mutant);
            let actual = tree.root_node().has_error();
            total += 1;
            broken += usize::from(expected);
            if expected && !actual && has_split_and_and(tree.root_node(), &mutant) {
                split += 1;
                continue;
            }
            if actual != expected && mismatches.len() < 20 {
                let what = if expected {
                    "the front-end reports a syntax error, the tree has none".to_owned()
                } else {
                    format!(
                        "the front-end parses it, the tree has {}",
                        common::first_error(tree.root_node()).unwrap_or_default()
                    )
                };
                mismatches.push(format!("--- mutant of {name}: {what}\n{mutant}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    println!(
        "{total} mutants agree with the front-end ({broken} with syntax errors, {split} of them by reading `&&` as `& &`)"
    );
    assert!(
        split <= total / 100,
        "{split} mutants differ by `&&`: more than that one known difference is at work"
    );
    assert!(total >= 1000, "only {total} mutants");
    // Both outcomes must be well represented, or the test proves little.
    assert!(
        broken >= total / 10 && total - broken >= total / 20,
        "{broken} of {total} mutants broken"
    );
}
