//! Tokens of the text format, with two tokens of lookahead.
//!
//! Sigils that are always followed by a number or a name (`$3`, `%1`, `@g`,
//! `#class.attr`) are single tokens; `vN` and `blockN` are identifiers that
//! the parser reads as numbers where it expects a value or a block, so they
//! stay usable as names elsewhere.

use logos::{Filter, Logos};

#[derive(Logos, Clone, Copy, PartialEq, Eq, Debug)]
#[logos(extras = u32)]
#[logos(skip r"[ \t\r\n\f]+")]
pub(super) enum Tok {
    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex("-?[0-9]+")]
    #[regex("-?0x[0-9a-fA-F]+")]
    Int,
    #[regex(r#""([^"\\]|\\[\\"])*""#)]
    Str,
    /// `@name`: a global or a function.
    #[regex("@[A-Za-z_][A-Za-z0-9_]*")]
    AtName,
    /// `@` before a span's `LO..HI`.
    #[token("@")]
    At,
    #[regex(r"\$[0-9]+")]
    Slot,
    #[regex("%[0-9]+")]
    Param,
    /// `#class.attr`.
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
    /// `;` inside brackets (`[i64; 4]`); elsewhere `;` starts a comment.
    #[token(";", semi_or_comment)]
    Semi,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("=")]
    Eq,
    /// `-` alone: no rights, or the first half of `->` (so that `cap<c, ->`
    /// lexes the same as `cap<c, - >`).
    #[token("-")]
    Minus,
    #[token("!")]
    Bang,
    #[token("?")]
    Question,
    /// Input no token matches.
    Error,
    Eof,
}

/// The array-length `;` and the comment `;` are told apart by bracket depth,
/// so a comment cannot start inside `[...]`.
fn semi_or_comment(lex: &mut logos::Lexer<Tok>) -> Filter<()> {
    if lex.extras > 0 {
        return Filter::Emit(());
    }
    let rest = lex.remainder();
    lex.bump(rest.find('\n').unwrap_or(rest.len()));
    Filter::Skip
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
    inner: logos::Lexer<'a, Tok>,
    ahead: [Token; 2],
    buffered: usize,
    /// End of the last token taken with [`Lexer::next`].
    pub last_end: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        let eof = Token {
            kind: Tok::Eof,
            start: src.len(),
            end: src.len(),
        };
        Lexer {
            inner: Tok::lexer(src),
            ahead: [eof; 2],
            buffered: 0,
            last_end: 0,
        }
    }

    fn lex(&mut self) -> Token {
        let next = self.inner.next();
        let src = self.inner.source();
        let span = self.inner.span();
        match next {
            None => Token {
                kind: Tok::Eof,
                start: src.len(),
                end: src.len(),
            },
            Some(Ok(kind)) => Token {
                kind,
                start: span.start,
                end: span.end,
            },
            // Just the first character: an unterminated string would otherwise
            // cover the rest of the input.
            Some(Err(())) => {
                let first = src.get(span.start..).and_then(|rest| rest.chars().next());
                Token {
                    kind: Tok::Error,
                    start: span.start,
                    end: span.start + first.map_or(0, char::len_utf8),
                }
            }
        }
    }

    fn fill(&mut self, n: usize) {
        while self.buffered < n {
            self.ahead[self.buffered] = self.lex();
            self.buffered += 1;
        }
    }

    pub fn peek(&mut self) -> Token {
        self.fill(1);
        self.ahead[0]
    }

    /// The token after [`Lexer::peek`].
    pub fn peek2(&mut self) -> Token {
        self.fill(2);
        self.ahead[1]
    }

    pub fn next(&mut self) -> Token {
        self.fill(1);
        let token = self.ahead[0];
        self.ahead[0] = self.ahead[1];
        self.buffered -= 1;
        self.last_end = token.end;
        token
    }
}
