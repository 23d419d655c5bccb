//! Tokens of Popcorn-SX (a logos lexer) and the pass that turns a source
//! file into the token vector the grammar reads.
//!
//! Lexical errors do not stop the lexer: each becomes a diagnostic (`P0002`
//! for malformed input, `P0003` for an integer literal that does not fit 64
//! bits) and, where a token was meant, a [`Token::Error`] (or a stand-in
//! literal) takes its place, so that the parser goes on and reports the
//! syntax errors further on. The parser never accepts `Token::Error`; the
//! syntax error it raises at one is not reported again, the lexer has
//! already said what is wrong there.
//!
//! The same pass measures bracket nesting: more than [`MAX_NESTING`] open
//! brackets is refused (`P0004`) before parsing, since the passes after the
//! parser recurse over the tree.

use logos::Logos;

use crate::ast::Span;
use crate::diag::Diagnostic;

/// Deepest bracket nesting (and, in the parser, tree depth) accepted.
pub(crate) const MAX_NESTING: u32 = 256;

/// At most this many lexical diagnostics are reported; the rest are
/// counted in the last one.
const MAX_LEX_ERRORS: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum LexError {
    /// A character that starts no token.
    #[default]
    UnexpectedChar,
    /// `/*` without `*/`.
    UnterminatedComment,
    /// `"` without a closing `"` on the same line.
    UnterminatedString,
    /// A `\` in a string literal not followed by `"`, `\` or `n`; the
    /// offset of the `\` from the opening quote.
    BadEscape(u32),
    /// A literal that does not fit `u64`.
    IntTooLarge,
    /// `0x` without digits, `1e5`, `10u`, `0x1g`, ...
    BadNumber,
    /// `007`: C would read it as octal, Popcorn-SX has no octal.
    LeadingZero,
    /// `'a'`: C's character literal.
    CharLiteral,
    /// `1.5`.
    FloatLiteral,
    /// `#define N 4`: the whole line, skipped.
    Preprocessor,
}

/// A token. Identifiers and string literals borrow the source; a string
/// literal is its raw text between the quotes, escapes checked but not yet
/// replaced (see [`unescape`]).
#[derive(Logos, Clone, Copy, PartialEq, Eq, Debug)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f\x0B]+")]
#[logos(skip("'", char_literal))]
#[logos(skip("#", preprocessor))]
pub(crate) enum Token<'s> {
    /// A comment: a token, dropped by [`lex`], rather than skipped inside
    /// logos, whose generated code recursed once per skipped item (a debug
    /// build overflowed a thread's stack on some thousands of comments).
    #[regex(r"//[^\n]*", allow_greedy = true)]
    #[token("/*", block_comment)]
    Comment,
    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'s str),
    #[regex("[0-9][0-9A-Za-z_]*", integer)]
    #[regex(r"[0-9][0-9A-Za-z_]*\.[0-9A-Za-z_]*", float)]
    Int(u64),
    #[token("\"", string)]
    Str(&'s str),
    /// Stands for input the lexer rejected; the parser never accepts it.
    Error,

    // Keywords.
    #[token("extension")]
    Extension,
    #[token("import")]
    Import,
    #[token("const")]
    Const,
    #[token("budget")]
    Budget,
    #[token("struct")]
    Struct,
    #[token("attribute")]
    Attribute,
    #[token("class")]
    Class,
    #[token("readonly")]
    Readonly,
    #[token("range")]
    Range,
    #[token("event")]
    Event,
    #[token("monitor")]
    Monitor,
    #[token("handler")]
    Handler,
    #[token("guard")]
    Guard,
    #[token("on")]
    On,
    #[token("for")]
    For,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("do")]
    Do,
    #[token("switch")]
    Switch,
    #[token("case")]
    Case,
    #[token("default")]
    Default,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("try")]
    Try,
    #[token("handle")]
    Handle,
    #[token("raise")]
    Raise,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("int")]
    IntKw,
    #[token("bool")]
    Bool,
    #[token("void")]
    Void,
    #[token("cap")]
    Cap,
    #[token("extern")]
    Extern,
    #[token("goto")]
    Goto,
    /// `asm`, `__asm__`, `__asm`.
    #[token("asm")]
    #[token("__asm__")]
    #[token("__asm")]
    Asm,
    /// `volatile`, `__volatile__`, `__volatile` (after `asm` only).
    #[token("volatile")]
    #[token("__volatile__")]
    #[token("__volatile")]
    Volatile,

    // Operators and punctuation.
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("~")]
    Tilde,
    #[token("!")]
    Bang,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("=")]
    Assign,
    #[token("+=")]
    PlusEq,
    #[token("-=")]
    MinusEq,
    #[token("*=")]
    StarEq,
    #[token("/=")]
    SlashEq,
    #[token("%=")]
    PercentEq,
    #[token("<<=")]
    ShlEq,
    #[token(">>=")]
    ShrEq,
    #[token("&=")]
    AmpEq,
    #[token("|=")]
    PipeEq,
    #[token("^=")]
    CaretEq,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    #[token("->")]
    Arrow,
    #[token(".")]
    Dot,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
}

/// After `/*`: skip to the matching `*/` (comments do not nest, as in C).
fn block_comment<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<(), LexError> {
    let rest = lex.remainder();
    match rest.find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            Ok(())
        }
        None => {
            lex.bump(rest.len());
            Err(LexError::UnterminatedComment)
        }
    }
}

/// After `"`: the literal runs to the next unescaped `"` on the same line.
fn string<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<&'s str, LexError> {
    let rest = lex.remainder();
    let bytes = rest.as_bytes();
    let mut bad_escape = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                lex.bump(i + 1);
                return match bad_escape {
                    None => Ok(&rest[..i]),
                    Some(at) => Err(LexError::BadEscape(at)),
                };
            }
            b'\n' => break,
            b'\\' => {
                match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'n') => {}
                    // Leave the newline to end the literal as unterminated.
                    None | Some(b'\n') => {
                        i += 1;
                        continue;
                    }
                    Some(_) => {
                        // `+ 1` for the opening quote; the file is < 4 GiB.
                        bad_escape.get_or_insert((i + 1) as u32);
                    }
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    lex.bump(i);
    Err(LexError::UnterminatedString)
}

/// After `'`: a C character literal, refused whole if it closes on the line
/// (else the `'` alone is an unexpected character).
fn char_literal<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<(), LexError> {
    let rest = lex.remainder().as_bytes();
    let mut i = 0;
    while i < rest.len() && i < 16 {
        match rest[i] {
            b'\'' => {
                lex.bump(i + 1);
                return Err(LexError::CharLiteral);
            }
            b'\n' => break,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Err(LexError::UnexpectedChar)
}

/// After `#`: a C preprocessor line, refused and skipped whole so that the
/// next line parses as if it were not there.
fn preprocessor<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<(), LexError> {
    let rest = lex.remainder();
    lex.bump(rest.find('\n').unwrap_or(rest.len()));
    Err(LexError::Preprocessor)
}

/// `[0-9][0-9A-Za-z_]*`: decimal, or hex after `0x`; anything else glued to
/// the digits (C suffixes, exponents) is an error rather than a second token.
fn integer<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<u64, LexError> {
    let text = lex.slice().as_bytes();
    let (digits, radix) = match text {
        [b'0', b'x' | b'X', hex @ ..] => (hex, 16),
        [b'0', _, ..] if text.iter().all(u8::is_ascii_digit) => return Err(LexError::LeadingZero),
        _ => (text, 10),
    };
    if digits.is_empty() {
        return Err(LexError::BadNumber);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &b in digits {
        let d = match (b as char).to_digit(radix) {
            Some(d) => d,
            None => return Err(LexError::BadNumber),
        };
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        Err(LexError::IntTooLarge)
    } else {
        Ok(value)
    }
}

/// `1.5`, `2.`, `1.0e5`: refused.
fn float<'s>(_: &mut logos::Lexer<'s, Token<'s>>) -> Result<u64, LexError> {
    Err(LexError::FloatLiteral)
}

/// Replaces the escapes of a string literal's raw text (already checked by
/// the lexer: only `\"`, `\\` and `\n` occur).
pub(crate) fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A token with its byte offsets, as the grammar reads it.
pub(crate) type Spanned<'s> = (usize, Token<'s>, usize);

/// The tokens of a file, and what went wrong lexing it.
pub(crate) struct Lexed<'s> {
    pub tokens: Vec<Spanned<'s>>,
    /// `P0002`/`P0003`, and `P0004` if the brackets nest too deep.
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the brackets nest deeper than [`MAX_NESTING`]: the tokens
    /// stop there and must not be parsed.
    pub too_deep: bool,
}

pub(crate) fn span(lo: usize, hi: usize) -> Span {
    // `parse` refuses files of 4 GiB or more, so offsets fit.
    Span {
        lo: lo as u32,
        hi: hi as u32,
    }
}

/// Lexes the whole file (at most `u32::MAX` bytes).
pub(crate) fn lex(source: &str) -> Lexed<'_> {
    let mut tokens: Vec<Spanned<'_>> = Vec::with_capacity(source.len() / 4 + 1);
    let mut diagnostics = Vec::new();
    let mut suppressed = 0usize;
    let mut depth = 0u32;
    let mut lexer = Token::lexer(source);
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        let (lo, hi) = (range.start, range.end);
        let token = match result {
            Ok(Token::Comment) => continue,
            Ok(token) => token,
            Err(error) => {
                let (token, diag, hi) = lex_error(source, error, lo, hi);
                // A run of unexpected characters is one error.
                if error == LexError::UnexpectedChar
                    && let Some(prev) = tokens.last_mut()
                    && prev.1 == Token::Error
                    && prev.2 == lo
                    && let Some(last) = diagnostics.last_mut()
                    && is_unexpected_char(last, prev.0)
                {
                    prev.2 = hi;
                    last.span.hi = hi as u32;
                    last.message = format!("unexpected characters {}", show(&source[prev.0..hi]));
                    last.help = None;
                    continue;
                }
                if let Some(diag) = diag {
                    if diagnostics.len() < MAX_LEX_ERRORS {
                        diagnostics.push(diag);
                    } else {
                        suppressed += 1;
                    }
                }
                match token {
                    Some(token) => token,
                    None => continue,
                }
            }
        };
        match token {
            Token::LParen | Token::LBrace | Token::LBracket => {
                depth += 1;
                if depth > MAX_NESTING {
                    diagnostics.push(
                        Diagnostic::error(
                            "P0004",
                            span(lo, hi),
                            format!("nesting too deep: more than {MAX_NESTING} brackets open at once"),
                        )
                        .with_help("move the inner part into a function or a variable"),
                    );
                    return Lexed {
                        tokens,
                        diagnostics,
                        too_deep: true,
                    };
                }
            }
            Token::RParen | Token::RBrace | Token::RBracket => depth = depth.saturating_sub(1),
            _ => {}
        }
        tokens.push((lo, token, hi));
    }
    if suppressed > 0
        && let Some(last) = diagnostics.last_mut()
    {
        last.labels.push((
            last.span,
            format!("and {suppressed} more lexical errors after this one"),
        ));
    }
    Lexed {
        tokens,
        diagnostics,
        too_deep: false,
    }
}

/// Text for a message: in backticks, or escaped if it holds control
/// characters or whitespace.
fn show(text: &str) -> String {
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        format!("{text:?}")
    } else {
        format!("`{text}`")
    }
}

fn is_unexpected_char(diag: &Diagnostic, lo: usize) -> bool {
    diag.code == "P0002" && diag.span.lo as usize == lo && diag.message.starts_with("unexpected character")
}

/// The diagnostic for a lexical error, the token standing in its place (if
/// any), and the corrected end of the erroneous text.
fn lex_error(source: &str, error: LexError, lo: usize, hi: usize) -> (Option<Token<'_>>, Option<Diagnostic>, usize) {
    match error {
        LexError::UnexpectedChar => {
            // Exactly one character, whatever logos consumed.
            let c = source[lo..].chars().next().unwrap_or(' ');
            let hi = lo + c.len_utf8();
            let shown = show(&source[lo..hi]);
            let mut diag = Diagnostic::error("P0002", span(lo, hi), format!("unexpected character {shown}"));
            diag.help = match c {
                '?' => Some(
                    "Popcorn-SX has no conditional operator `?:`; use `if`/`else`, or the built-in `min`, `max`, `abs`, \
                     `clamp`"
                        .into(),
                ),
                '\'' => Some("Popcorn-SX has no character literals; use an integer".into()),
                _ => None,
            };
            (Some(Token::Error), Some(diag), hi)
        }
        LexError::FloatLiteral => (
            Some(Token::Int(0)),
            Some(
                Diagnostic::error(
                    "P0002",
                    span(lo, hi),
                    format!("floating-point literal `{}`", &source[lo..hi]),
                )
                .with_help("Popcorn-SX has only integers; use fixed point, e.g. per-mille values"),
            ),
            hi,
        ),
        LexError::Preprocessor => {
            // Name the directive: `#` and the word after it.
            let rest = &source[lo + 1..hi];
            let word = rest.trim_start();
            let word_len = word
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(word.len());
            let word_end = if word_len == 0 {
                lo + 1
            } else {
                hi - word.len() + word_len
            };
            (
                None,
                Some(
                    Diagnostic::error("P0002", span(lo, word_end), format!("preprocessor directive {}", show(&source[lo..word_end])))
                        .with_help("Popcorn-SX has no preprocessor; use `const int` for constants and `import` for the standard library"),
                ),
                hi,
            )
        }
        LexError::CharLiteral => (
            Some(Token::Error),
            Some(
                Diagnostic::error(
                    "P0002",
                    span(lo, hi),
                    format!("character literal {}", show(&source[lo..hi])),
                )
                .with_help("Popcorn-SX has no character literals; use the character's code as an integer"),
            ),
            hi,
        ),
        LexError::UnterminatedComment => (
            None,
            Some(
                Diagnostic::error("P0002", span(lo, lo + 2), "unterminated block comment")
                    .with_help("close the comment with `*/`"),
            ),
            hi,
        ),
        LexError::UnterminatedString => (
            Some(Token::Error),
            Some(
                Diagnostic::error("P0002", span(lo, hi), "unterminated string literal")
                    .with_help("close the string with `\"` on the same line"),
            ),
            hi,
        ),
        LexError::BadEscape(at) => {
            let at = lo + at as usize;
            let len = 1 + source[at + 1..].chars().next().map_or(0, char::len_utf8);
            (
                Some(Token::Error),
                Some(
                    Diagnostic::error(
                        "P0002",
                        span(at, at + len),
                        format!("unknown escape `{}` in string literal", &source[at..at + len]),
                    )
                    .with_help("the escapes are `\\\"`, `\\\\` and `\\n`"),
                ),
                hi,
            )
        }
        LexError::IntTooLarge => (
            // The literal still stands where it is, so that parsing goes on
            // as if it were well formed.
            Some(Token::Int(u64::MAX)),
            Some(
                Diagnostic::error("P0003", span(lo, hi), "integer literal too large")
                    .with_help("integer literals must fit in 64 bits"),
            ),
            hi,
        ),
        LexError::BadNumber => (
            Some(Token::Int(0)),
            Some(
                Diagnostic::error(
                    "P0002",
                    span(lo, hi),
                    format!("invalid integer literal `{}`", &source[lo..hi]),
                )
                .with_help("integer literals are decimal (`1000`) or hex (`0x3e8`), without suffix"),
            ),
            hi,
        ),
        LexError::LeadingZero => (
            Some(Token::Int(0)),
            Some(
                Diagnostic::error(
                    "P0002",
                    span(lo, hi),
                    format!("integer literal `{}` has a leading zero", &source[lo..hi]),
                )
                .with_help("Popcorn-SX has no octal literals: write the decimal value, or hex with `0x`"),
            ),
            hi,
        ),
    }
}
