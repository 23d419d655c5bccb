//! Tokens of the text format, with two tokens of lookahead.
//!
//! Sigils that are always followed by a number or a name (`$3`, `%1`, `@g`,
//! `#class.attr`) are single tokens; `vN` and `blockN` are identifiers that
//! the parser reads as numbers where it expects a value or a block, so they
//! stay usable as names elsewhere.
//!
//! Written out by hand (a byte dispatch, then a scan per token kind) for
//! speed; the tokens are the longest matches of the patterns each kind's
//! doc gives, as a regular-expression lexer would cut them, which a unit
//! test checks against one (logos) on every test module and edits of them.
//! Input no pattern matches is an [`Tok::Error`] token of one character;
//! the parser stops at it.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`
    Ident,
    /// `-?[0-9]+`, `-?0x[0-9a-fA-F]+`
    Int,
    /// `"([^"\\]|\\[\\"])*"`
    Str,
    /// `@name`: a global or a function.
    AtName,
    /// `@` before a span's `LO..HI`.
    At,
    /// `$[0-9]+`
    Slot,
    /// `%[0-9]+`
    Param,
    /// `#class.attr`.
    Attr,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LAngle,
    RAngle,
    Comma,
    Colon,
    /// `;` inside brackets (`[i64; 4]`); elsewhere `;` starts a comment.
    Semi,
    Dot,
    DotDot,
    Eq,
    /// `-` alone: no rights, or the first half of `->` (so that `cap<c, ->`
    /// lexes the same as `cap<c, - >`).
    Minus,
    Bang,
    Question,
    /// Input no token matches.
    Error,
    Eof,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn span(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    /// Where `src` starts in the input: tokens' positions are the input's.
    base: usize,
    /// Where the next token's search starts, in `src`.
    at: usize,
    /// `[` minus `]` so far (never below zero): a `;` inside brackets is
    /// the array-length separator, elsewhere a comment.
    brackets: u32,
    ahead: [Token; 2],
    buffered: usize,
    /// End of the last token taken with [`Lexer::next`].
    pub last_end: usize,
    /// Whether lexing reached the end of `src`: the end-of-input token, or
    /// a string still open there. Lexing a window of a larger input that
    /// ends at whitespace, only then can a token differ from the one the
    /// whole input has at the same place.
    pub touched_end: bool,
}

/// Byte classes, looked up rather than compared in the scanning loops.
const IDENT_START: u8 = 1;
const IDENT_CHAR: u8 = 2;
const DIGIT: u8 = 4;
const HEX_DIGIT: u8 = 8;

const CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' {
            classes[b] |= IDENT_START | IDENT_CHAR;
        }
        if c.is_ascii_digit() {
            classes[b] |= IDENT_CHAR | DIGIT;
        }
        if c.is_ascii_hexdigit() {
            classes[b] |= HEX_DIGIT;
        }
        b += 1;
    }
    classes
};

fn is(class: u8, b: u8) -> bool {
    CLASSES[usize::from(b)] & class != 0
}

fn is_ident_start(b: u8) -> bool {
    is(IDENT_START, b)
}

pub(super) fn is_ident_char(b: u8) -> bool {
    is(IDENT_CHAR, b)
}

fn is_digit(b: u8) -> bool {
    is(DIGIT, b)
}

impl<'a> Lexer<'a> {
    /// Lexes `src` from its start, outside brackets; `src` starts at byte
    /// `base` of the input, which tokens' positions count from.
    pub fn new(src: &'a str, base: usize) -> Self {
        let end = base + src.len();
        let eof = Token {
            kind: Tok::Eof,
            start: end,
            end,
        };
        Lexer {
            src,
            base,
            at: 0,
            brackets: 0,
            ahead: [eof; 2],
            buffered: 0,
            last_end: base,
            touched_end: false,
        }
    }

    /// The first byte at or after `from` for which `keep` fails.
    fn scan(&self, from: usize, keep: impl Fn(u8) -> bool) -> usize {
        let bytes = self.src.as_bytes();
        let mut at = from;
        while at < bytes.len() && keep(bytes[at]) {
            at += 1;
        }
        at
    }

    /// The end of the integer whose digits start at `from`: hexadecimal
    /// after `0x` if a hex digit follows, else decimal.
    fn int_end(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        if bytes.get(from) == Some(&b'0') && bytes.get(from + 1) == Some(&b'x') {
            let hex = self.scan(from + 2, |b| is(HEX_DIGIT, b));
            if hex > from + 2 {
                return hex;
            }
        }
        self.scan(from, is_digit)
    }

    /// The end of the string whose opening quote is at `from`, if it is
    /// closed with only `\\` and `\"` escapes inside.
    fn string_end(&mut self, from: usize) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut at = from + 1;
        loop {
            let Some(&b) = bytes.get(at) else {
                self.touched_end = true;
                return None;
            };
            match b {
                b'"' => return Some(at + 1),
                b'\\' => match bytes.get(at + 1) {
                    Some(b'\\' | b'"') => at += 2,
                    Some(_) => return None,
                    None => {
                        self.touched_end = true;
                        return None;
                    }
                },
                _ => at += 1,
            }
        }
    }

    #[inline(never)]
    fn lex(&mut self) -> Token {
        let bytes = self.src.as_bytes();
        let mut at = self.at;
        // Whitespace and comments.
        loop {
            match bytes.get(at) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0c) => at += 1,
                Some(b';') if self.brackets == 0 => at = self.scan(at, |b| b != b'\n'),
                _ => break,
            }
        }
        let start = at;
        let Some(&first) = bytes.get(start) else {
            self.at = start;
            self.touched_end = true;
            return Token {
                kind: Tok::Eof,
                start: self.base + start,
                end: self.base + start,
            };
        };
        let next = bytes.get(start + 1).copied().unwrap_or(0);
        let one = |kind| (kind, start + 1);
        let (kind, end) = match first {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => (Tok::Ident, self.scan(start + 1, is_ident_char)),
            b'0'..=b'9' => (Tok::Int, self.int_end(start)),
            b'-' if is_digit(next) => (Tok::Int, self.int_end(start + 1)),
            b'-' => one(Tok::Minus),
            b'"' => match self.string_end(start) {
                Some(end) => (Tok::Str, end),
                None => one(Tok::Error),
            },
            b'@' if is_ident_start(next) => (Tok::AtName, self.scan(start + 2, is_ident_char)),
            b'@' => one(Tok::At),
            b'$' if is_digit(next) => (Tok::Slot, self.scan(start + 2, is_digit)),
            b'%' if is_digit(next) => (Tok::Param, self.scan(start + 2, is_digit)),
            b'#' if is_ident_start(next) => {
                let class_end = self.scan(start + 2, is_ident_char);
                match bytes.get(class_end..class_end + 2) {
                    Some(&[b'.', attr]) if is_ident_start(attr) => (Tok::Attr, self.scan(class_end + 2, is_ident_char)),
                    _ => one(Tok::Error),
                }
            }
            b'(' => one(Tok::LParen),
            b')' => one(Tok::RParen),
            b'{' => one(Tok::LBrace),
            b'}' => one(Tok::RBrace),
            b'[' => {
                self.brackets = self.brackets.saturating_add(1);
                one(Tok::LBracket)
            }
            b']' => {
                self.brackets = self.brackets.saturating_sub(1);
                one(Tok::RBracket)
            }
            b'<' => one(Tok::LAngle),
            b'>' => one(Tok::RAngle),
            b',' => one(Tok::Comma),
            b':' => one(Tok::Colon),
            b';' => one(Tok::Semi),
            b'.' if next == b'.' => (Tok::DotDot, start + 2),
            b'.' => one(Tok::Dot),
            b'=' => one(Tok::Eq),
            b'!' => one(Tok::Bang),
            b'?' => one(Tok::Question),
            _ => {
                // One character: an unterminated string would otherwise
                // cover the rest of the input.
                let len = self
                    .src
                    .get(start..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(1, char::len_utf8);
                (Tok::Error, start + len)
            }
        };
        self.at = end;
        Token {
            kind,
            start: self.base + start,
            end: self.base + end,
        }
    }

    #[inline]
    pub fn peek(&mut self) -> Token {
        if self.buffered == 0 {
            self.ahead[0] = self.lex();
            self.buffered = 1;
        }
        self.ahead[0]
    }

    /// The token after [`Lexer::peek`].
    pub fn peek2(&mut self) -> Token {
        self.peek();
        if self.buffered == 1 {
            self.ahead[1] = self.lex();
            self.buffered = 2;
        }
        self.ahead[1]
    }

    /// Where the next token's search starts in `src`, for a caller that
    /// reads the next tokens itself (the parser's fast paths): `None` inside
    /// brackets or after a lookahead token that is a bracket. A buffered
    /// token is given back (it will be cut again the same way from its
    /// start).
    #[inline]
    pub fn resting(&mut self) -> Option<usize> {
        if self.brackets != 0 {
            return None;
        }
        match self.buffered {
            0 => Some(self.at),
            1 if !matches!(self.ahead[0].kind, Tok::LBracket | Tok::RBracket) => {
                self.buffered = 0;
                self.at = self.ahead[0].start - self.base;
                Some(self.at)
            }
            _ => None,
        }
    }

    /// Goes on after tokens the caller read itself from [`Lexer::resting`]:
    /// the last of them ended at `end` in `src`, and they opened as many
    /// brackets as they closed.
    #[inline]
    pub fn skip_to(&mut self, end: usize) {
        self.at = end;
        self.last_end = self.base + end;
        self.buffered = 0;
    }

    /// Where `src` starts in the input.
    pub fn base(&self) -> usize {
        self.base
    }

    #[inline]
    pub fn next(&mut self) -> Token {
        let token = self.peek();
        self.ahead[0] = self.ahead[1];
        self.buffered -= 1;
        self.last_end = token.end;
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logos::{Filter, Logos};

    /// The lexer this one replaced, as the patterns' reference.
    #[derive(Logos, Clone, Copy, PartialEq, Eq, Debug)]
    #[logos(extras = u32)]
    #[logos(skip r"[ \t\r\n\f]+")]
    enum Reference {
        #[regex("[A-Za-z_][A-Za-z0-9_]*")]
        Ident,
        #[regex("-?[0-9]+")]
        #[regex("-?0x[0-9a-fA-F]+")]
        Int,
        #[regex(r#""([^"\\]|\\[\\"])*""#)]
        Str,
        #[regex("@[A-Za-z_][A-Za-z0-9_]*")]
        AtName,
        #[token("@")]
        At,
        #[regex(r"\$[0-9]+")]
        Slot,
        #[regex("%[0-9]+")]
        Param,
        #[regex(r"#[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")]
        Attr,
        #[token("(")]
        LParen,
        #[token(")")]
        RParen,
        #[token("{")]
        LBrace,
        #[token("}")]
        RBrace,
        #[token("[", |lex| lex.extras = lex.extras.saturating_add(1))]
        LBracket,
        #[token("]", |lex| lex.extras = lex.extras.saturating_sub(1))]
        RBracket,
        #[token("<")]
        LAngle,
        #[token(">")]
        RAngle,
        #[token(",")]
        Comma,
        #[token(":")]
        Colon,
        #[token(";", semi_or_comment)]
        Semi,
        #[token(".")]
        Dot,
        #[token("..")]
        DotDot,
        #[token("=")]
        Eq,
        #[token("-")]
        Minus,
        #[token("!")]
        Bang,
        #[token("?")]
        Question,
    }

    fn semi_or_comment(lex: &mut logos::Lexer<Reference>) -> Filter<()> {
        if lex.extras > 0 {
            return Filter::Emit(());
        }
        let rest = lex.remainder();
        lex.bump(rest.find('\n').unwrap_or(rest.len()));
        Filter::Skip
    }

    /// The reference's tokens of `src`, through the first error.
    fn reference(src: &str) -> Vec<(Tok, usize, usize)> {
        let mut lex = Reference::lexer(src);
        let mut tokens = Vec::new();
        while let Some(next) = lex.next() {
            let span = lex.span();
            let kind = match next {
                Ok(kind) => match kind {
                    Reference::Ident => Tok::Ident,
                    Reference::Int => Tok::Int,
                    Reference::Str => Tok::Str,
                    Reference::AtName => Tok::AtName,
                    Reference::At => Tok::At,
                    Reference::Slot => Tok::Slot,
                    Reference::Param => Tok::Param,
                    Reference::Attr => Tok::Attr,
                    Reference::LParen => Tok::LParen,
                    Reference::RParen => Tok::RParen,
                    Reference::LBrace => Tok::LBrace,
                    Reference::RBrace => Tok::RBrace,
                    Reference::LBracket => Tok::LBracket,
                    Reference::RBracket => Tok::RBracket,
                    Reference::LAngle => Tok::LAngle,
                    Reference::RAngle => Tok::RAngle,
                    Reference::Comma => Tok::Comma,
                    Reference::Colon => Tok::Colon,
                    Reference::Semi => Tok::Semi,
                    Reference::Dot => Tok::Dot,
                    Reference::DotDot => Tok::DotDot,
                    Reference::Eq => Tok::Eq,
                    Reference::Minus => Tok::Minus,
                    Reference::Bang => Tok::Bang,
                    Reference::Question => Tok::Question,
                },
                Err(()) => {
                    let len = src[span.start..].chars().next().map_or(0, char::len_utf8);
                    tokens.push((Tok::Error, span.start, span.start + len));
                    return tokens;
                }
            };
            tokens.push((kind, span.start, span.end));
        }
        tokens
    }

    fn ours(src: &str) -> Vec<(Tok, usize, usize)> {
        let mut lex = Lexer::new(src, 0);
        let mut tokens = Vec::new();
        loop {
            let t = lex.next();
            match t.kind {
                Tok::Eof => return tokens,
                Tok::Error => {
                    tokens.push((t.kind, t.start, t.end));
                    return tokens;
                }
                kind => tokens.push((kind, t.start, t.end)),
            }
        }
    }

    #[test]
    fn cuts_tokens_as_the_reference_does() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts: Vec<String> = [
            "a_1 -12 -0x1F 0x 0xg 00x5 12abc - -> -x \"a\\\\b\\\"c\" \"bad\\n\" \"open",
            "@g @ @12 @_ $ $1 %2 % #c.a #c #c. #c.1 #1 ( ) { } [ ] < > , : ; . .. ... = ! ? é & ~ \u{b}",
            "[i64; 4] ; comment ] [\n; x\n[[;]];;\n",
            "\t\r\n\x0c v0",
        ]
        .map(str::to_owned)
        .to_vec();
        for dir in ["examples/tal", "verifier/tests/reject"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("test directory") {
                texts.push(std::fs::read_to_string(entry.expect("entry").path()).expect("read"));
            }
        }
        for text in &texts {
            // Each text, and every suffix of its first 2000 bytes (cut
            // anywhere, mid-token included).
            for start in (0..text.len().min(2000)).filter(|&i| text.is_char_boundary(i)) {
                let src = &text[start..];
                assert_eq!(ours(src), reference(src), "{src:?}");
            }
        }
    }
}
