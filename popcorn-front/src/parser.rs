//! Source text to [`ast::SourceFile`]: the logos lexer, then the lalrpop
//! grammar (`grammar.lalrpop`), with error recovery so that one run reports
//! every independent syntax error.
//!
//! Error codes:
//! - `P0001` syntax error: "expected one of X, Y, found Z" at the offending
//!   token (a zero-width span at the end of the file for end of file);
//! - `P0002` malformed input: unexpected character, unterminated comment or
//!   string, unknown escape, malformed integer literal (`0x`, `10u`, `007`),
//!   and C-isms with a help each: character and floating-point literals,
//!   preprocessor lines (skipped whole);
//! - `P0003` integer literal too large for 64 bits;
//! - `P0004` nesting too deep: more than [`MAX_NESTING`] brackets open at
//!   once (checked on the tokens, before parsing), or a tree deeper than
//!   that (long operator chains and `else if` ladders count).
//!
//! The depth limit is what keeps the later passes, which recurse over the
//! tree, within their stack: the parser itself is table-driven.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

use lalrpop_util::{ErrorRecovery, ParseError};

use crate::ast::{self, Expr, ExprKind, Ident, Init, Span, Stmt, StmtKind, StrLit, TypeExpr, VarDecl};
use crate::diag::Diagnostic;
use crate::lexer::{self, MAX_NESTING, Token};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, unused_variables)]
    grammar,
    "/grammar.rs"
);

/// After this many syntax errors, parsing stops.
const MAX_SYNTAX_ERRORS: usize = 100;

/// An expression or a statement with the depth of its tree. Boxed: most
/// end up boxed in the tree anyway, and the parser's stack moves them.
pub(crate) type E = (Box<Expr>, u32);
pub(crate) type S = (Box<Stmt>, u32);

type Recovery<'s> = ErrorRecovery<usize, Token<'s>, Infallible>;

/// What the grammar's actions record besides the tree.
#[derive(Default)]
pub(crate) struct State<'s> {
    /// Syntax errors recovered from.
    errors: Vec<Recovery<'s>>,
    /// Set at `MAX_SYNTAX_ERRORS` errors: the token stream then ends.
    stop: Rc<Cell<bool>>,
    /// The first node found deeper than `MAX_NESTING`.
    too_deep: Option<Span>,
    /// The operands of the [`Chain`]s being parsed that wait for their
    /// right side, each with its operator and start. One stack for all:
    /// chains nest (`a + (b * c)`), and each uses only its top.
    pending: Vec<(E, ast::BinOp, usize)>,
}

impl<'s> State<'s> {
    pub(crate) fn error(&mut self, error: Recovery<'s>) {
        // Recovery resumes between statements or items: any chain being
        // parsed was dropped.
        self.pending.clear();
        if self.errors.len() < MAX_SYNTAX_ERRORS {
            self.errors.push(error);
        }
        if self.errors.len() >= MAX_SYNTAX_ERRORS {
            self.stop.set(true);
        }
    }

    /// `depth` if it is within the limit; else remembers where the limit
    /// was first crossed and says to cut the tree.
    fn check_depth(&mut self, depth: u32, span: Span) -> bool {
        if depth <= MAX_NESTING {
            return true;
        }
        self.too_deep.get_or_insert(span);
        false
    }
}

/// Parses a Popcorn-SX file. On error, every diagnostic found, in source
/// order.
pub fn parse(source: &str) -> Result<ast::SourceFile, Vec<Diagnostic>> {
    match parse_recovering(source) {
        (Some(file), diagnostics) if diagnostics.is_empty() => Ok(file),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// [`parse`]'s work, also returning the tree error recovery built when
/// there were syntax errors (what did not parse is left out of it: an item
/// dropped, a statement made empty), for editors (`symbols`). No tree
/// past the error limit, for nesting too deep, or for a file too large.
pub(crate) fn parse_recovering(source: &str) -> (Option<ast::SourceFile>, Vec<Diagnostic>) {
    if u32::try_from(source.len()).is_err() {
        let diagnostic = Diagnostic::error(
            "P0002",
            Span { lo: 0, hi: 0 },
            "source file too large: spans are 32-bit byte offsets",
        );
        return (None, vec![diagnostic]);
    }
    let lexed = lexer::lex(source);
    let mut diagnostics = lexed.diagnostics;
    if lexed.too_deep {
        return (None, diagnostics);
    }
    let mut state = State::default();
    let stop = Rc::clone(&state.stop);
    let tokens = lexed.tokens.into_iter().take_while(|_| !stop.get()).map(Ok);
    let result = grammar::SourceFileParser::new().parse(&mut state, tokens);
    for recovery in state.errors.drain(..) {
        diagnostics.extend(syntax_error(source, recovery.error));
    }
    let file = match result {
        Ok(file) => Some(file),
        // Past the error limit, the end of the input is not the author's.
        Err(_) if state.stop.get() => None,
        Err(error) => {
            diagnostics.extend(syntax_error(source, error));
            None
        }
    };
    if state.stop.get()
        && let Some(last) = diagnostics.iter_mut().rev().find(|d| d.code == "P0001")
    {
        last.help = Some(format!(
            "stopped after {MAX_SYNTAX_ERRORS} syntax errors; fix these first"
        ));
    }
    if let Some(span) = state.too_deep {
        diagnostics.push(
            Diagnostic::error(
                "P0004",
                span,
                format!("nesting too deep: this is more than {MAX_NESTING} levels of nested expressions or statements"),
            )
            .with_help(
                "split it up with local variables or functions; long chains of operators and of `else if` count as \
                 nesting too",
            ),
        );
    }
    if file.is_none() || !diagnostics.is_empty() {
        diagnostics.sort_by_key(|d| d.span.lo);
    }
    (file, diagnostics)
}

// ------------------------------------------------------------------ syntax errors

/// The `P0001` diagnostic for a parse error; none if the offending token is
/// one the lexer already reported.
fn syntax_error(source: &str, error: ParseError<usize, Token<'_>, Infallible>) -> Option<Diagnostic> {
    let (span, found, expected) = match error {
        ParseError::UnrecognizedToken {
            token: (lo, token, hi),
            expected,
        } => {
            if token == Token::Error {
                return None;
            }
            (lexer::span(lo, hi), describe(source, token, lo, hi), expected)
        }
        ParseError::UnrecognizedEof { expected, .. } => (
            lexer::span(source.len(), source.len()),
            "end of file".to_owned(),
            expected,
        ),
        ParseError::ExtraToken { token: (lo, token, hi) } => {
            if token == Token::Error {
                return None;
            }
            (lexer::span(lo, hi), describe(source, token, lo, hi), Vec::new())
        }
        ParseError::InvalidToken { location } => {
            (lexer::span(location, location), "invalid input".to_owned(), Vec::new())
        }
        ParseError::User { error } => match error {},
    };
    let message = match expected_list(&expected) {
        Some(list) => format!("expected {list}, found {found}"),
        None => format!("unexpected {found}"),
    };
    let mut diag = Diagnostic::error("P0001", span, message);
    diag.help = c_habit(source, span, &expected);
    Some(diag)
}

/// C's integer and floating-point types, which Popcorn-SX does not have.
const C_TYPES: &[&str] = &[
    "unsigned", "signed", "long", "short", "char", "float", "double", "size_t", "ssize_t", "int8_t", "int16_t",
    "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "u8", "u16", "u32", "u64", "s8", "s16", "s32",
    "s64",
];

/// What to write instead, when a syntax error comes from a habit of C (or
/// a keyword used as a name): from the offending token, the text before
/// it and what the grammar expected there.
fn c_habit(source: &str, span: Span, expected: &[String]) -> Option<String> {
    let (lo, hi) = (span.lo as usize, span.hi as usize);
    let found = source.get(lo..hi).unwrap_or("");
    let before = source.get(..lo).unwrap_or("").trim_end();
    // The word just before the offending token, and the line up to it.
    let word_before = before
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    let wants = |name: &str| expected.iter().any(|e| unquote(e) == name);
    if word_before == "sizeof"
        || before
            .strip_suffix('(')
            .is_some_and(|b| b.trim_end().ends_with("sizeof"))
    {
        return Some("there is no `sizeof`: `size(a)` is the number of elements of array `a`".into());
    }
    if is_keyword(found) && wants("identifier") {
        return Some(format!(
            "`{found}` is a keyword of Popcorn-SX and cannot name anything; pick another name"
        ));
    }
    if C_TYPES.contains(&found) || C_TYPES.contains(&word_before) {
        return Some(
            "Popcorn-SX has one integer type, `int` (64-bit, signed), and `bool`; there are no unsigned, \
             narrower or floating-point types"
                .into(),
        );
    }
    if found == "[" && before.ends_with(']') {
        return Some("arrays have one dimension: use one of ROWS * COLS elements, indexed `i * COLS + j`".into());
    }
    None
}

/// Whether `text` is one of the grammar's keywords (its terminals that
/// are words).
fn is_keyword(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase()) && TERMINAL_ORDER.contains(&text)
}

/// The offending token, as the message names it.
fn describe(source: &str, token: Token<'_>, lo: usize, hi: usize) -> String {
    let text = source.get(lo..hi).unwrap_or("");
    match token {
        Token::Ident(name) => format!("identifier `{name}`"),
        Token::Int(_) => format!("integer literal `{text}`"),
        Token::Str(_) if text.len() <= 40 => format!("string literal `{text}`"),
        Token::Str(_) => "string literal".to_owned(),
        Token::Error => "invalid input".to_owned(),
        _ if is_keyword(text) => format!("keyword `{text}`"),
        _ => format!("`{text}`"),
    }
}

/// Terminal names, in the order messages list them. Grammar names outside
/// this table (none today) go last, as written.
#[rustfmt::skip]
const TERMINAL_ORDER: &[&str] = &[
    ";", ",", ")", "]", "}", ":", "(", "[", "{", "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=",
    "||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>", "+", "-", "*", "/", "%", "!", "~",
    "++", "--", ".", "->", "extension", "import", "const", "budget", "struct", "attribute", "class", "readonly",
    "range", "event", "monitor", "handler", "guard", "on", "extern", "int", "bool", "void", "cap", "if", "else",
    "while", "do", "for", "switch", "case", "default", "break", "continue", "return", "try", "handle", "raise", "goto", "asm", "volatile",
    "true", "false", "identifier", "integer literal", "string literal",
];

/// Tokens that start an expression; all of them expected reads "expression".
#[rustfmt::skip]
const EXPRESSION_START: &[&str] = &[
    "(", "-", "!", "~", "++", "--", "&", "*", "true", "false", "identifier", "integer literal", "string literal",
];

/// Tokens that continue an operand: binary, assignment and postfix
/// operators; all of them expected reads "operator".
#[rustfmt::skip]
const OPERATOR: &[&str] = &[
    "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "||", "&&", "|", "^", "&", "==", "!=", "<",
    "<=", ">", ">=", "<<", ">>", "+", "-", "*", "/", "%", "++", "--", ".", "->", "[",
];

/// Tokens that start a type.
#[rustfmt::skip]
const TYPE_START: &[&str] = &[
    "int", "bool", "void", "struct", "cap",
];

/// Tokens that start a statement, besides expressions and types.
#[rustfmt::skip]
const STATEMENT_START: &[&str] = &[
    ";", "{", "if", "while", "do", "for", "switch", "break", "continue", "return", "try", "raise", "goto", "asm",
];

/// "one of `;`, `,`" / "`;`", from lalrpop's quoted terminal names.
fn expected_list(expected: &[String]) -> Option<String> {
    let mut names: Vec<&str> = expected
        .iter()
        .map(|s| unquote(s))
        .filter(|s| *s != "invalid token")
        .collect();
    // The rank of each terminal in `TERMINAL_ORDER`, built once: sorting
    // with a linear search per comparison dominated error-heavy inputs.
    static RANK: std::sync::LazyLock<std::collections::HashMap<&'static str, usize>> =
        std::sync::LazyLock::new(|| TERMINAL_ORDER.iter().enumerate().map(|(i, t)| (*t, i)).collect());
    names.sort_by_key(|name| RANK.get(name).copied().unwrap_or(usize::MAX));
    names.dedup();
    let has_all = |names: &[&str], group: &[&str]| group.iter().all(|t| names.contains(t));
    let mut groups = Vec::new();
    if has_all(&names, EXPRESSION_START) && has_all(&names, TYPE_START) && has_all(&names, STATEMENT_START) {
        names.retain(|t| !EXPRESSION_START.contains(t) && !TYPE_START.contains(t) && !STATEMENT_START.contains(t));
        groups.push("statement");
    }
    if has_all(&names, EXPRESSION_START) {
        names.retain(|t| !EXPRESSION_START.contains(t));
        groups.push("expression");
    }
    if has_all(&names, TYPE_START) {
        names.retain(|t| !TYPE_START.contains(t));
        groups.push("type");
    }
    if has_all(&names, OPERATOR) {
        names.retain(|t| !OPERATOR.contains(t));
        groups.push("operator");
    }
    let mut shown: Vec<String> = names
        .iter()
        .map(|name| match *name {
            "identifier" | "integer literal" | "string literal" => (*name).to_owned(),
            _ => format!("`{name}`"),
        })
        .collect();
    shown.extend(groups.iter().map(|g| (*g).to_owned()));
    match shown.len() {
        0 => None,
        1 => shown.pop(),
        _ => Some(format!("one of {}", shown.join(", "))),
    }
}

fn unquote(name: &str) -> &str {
    name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name)
}

// ------------------------------------------------------------------ tree builders (used by the grammar)

pub(crate) fn span(lo: usize, hi: usize) -> Span {
    lexer::span(lo, hi)
}

pub(crate) fn id(name: &str, lo: usize, hi: usize) -> Ident {
    Ident {
        name: name.to_owned(),
        span: span(lo, hi),
    }
}

pub(crate) fn strlit(raw: &str, lo: usize, hi: usize) -> StrLit {
    StrLit {
        value: lexer::unescape(raw),
        span: span(lo, hi),
    }
}

/// `asm("a" "b")`: adjacent literals joined.
pub(crate) fn asm_string(parts: &[&str], lo: usize, hi: usize) -> StrLit {
    let value = parts.iter().map(|raw| lexer::unescape(raw)).collect();
    StrLit {
        value,
        span: span(lo, hi),
    }
}

/// An expression node over children at most `children` deep; a stand-in
/// literal if that makes the tree too deep.
pub(crate) fn ex(st: &mut State<'_>, kind: ExprKind, lo: usize, hi: usize, children: u32) -> E {
    let span = span(lo, hi);
    let depth = children + 1;
    if st.check_depth(depth, span) {
        (Box::new(Expr { kind, span }), depth)
    } else {
        (
            Box::new(Expr {
                kind: ExprKind::Int(0),
                span,
            }),
            1,
        )
    }
}

fn bin(st: &mut State<'_>, op: ast::BinOp, a: E, b: E, lo: usize, hi: usize) -> E {
    let children = a.1.max(b.1);
    ex(st, ExprKind::Binary(op, a.0, b.0), lo, hi, children)
}

/// C's binary precedence, loosest first; all are left-associative.
fn precedence(op: ast::BinOp) -> u8 {
    use ast::BinOp::*;
    match op {
        Or => 1,
        And => 2,
        BitOr => 3,
        BitXor => 4,
        BitAnd => 5,
        Eq | Ne => 6,
        Lt | Le | Gt | Ge => 7,
        Shl | Shr => 8,
        Add | Sub => 9,
        Mul | Div | Rem => 10,
    }
}

/// `a op b op c ...` being parsed: operator precedence parsing over the
/// operands the grammar hands over one at a time. The operands still
/// waiting for their right side are on [`State::pending`] above `base`,
/// with strictly increasing precedences.
pub(crate) struct Chain {
    base: usize,
    /// The last operand (or the tree folded so far at its right end).
    top: E,
    top_lo: usize,
    /// End of the last operand.
    hi: usize,
}

impl Chain {
    pub(crate) fn new(st: &State<'_>, first: E, lo: usize, hi: usize) -> Chain {
        Chain {
            base: st.pending.len(),
            top: first,
            top_lo: lo,
            hi,
        }
    }

    /// Folds the waiting operands that bind at least as tightly as `op`.
    fn fold(mut self, st: &mut State<'_>, min: u8) -> Chain {
        while st.pending.len() > self.base
            && let Some(&(_, op, _)) = st.pending.last()
            && precedence(op) >= min
            && let Some((lhs, op, lo)) = st.pending.pop()
        {
            self.top = bin(st, op, lhs, self.top, lo, self.hi);
            self.top_lo = lo;
        }
        self
    }

    pub(crate) fn push(self, st: &mut State<'_>, op: ast::BinOp, rhs: E, lo: usize, hi: usize) -> Chain {
        let chain = self.fold(st, precedence(op));
        st.pending.push((chain.top, op, chain.top_lo));
        Chain {
            base: chain.base,
            top: rhs,
            top_lo: lo,
            hi,
        }
    }

    pub(crate) fn finish(self, st: &mut State<'_>) -> E {
        self.fold(st, 0).top
    }
}

pub(crate) fn un(st: &mut State<'_>, op: ast::UnOp, a: E, lo: usize, hi: usize) -> E {
    let children = a.1;
    ex(st, ExprKind::Unary(op, a.0), lo, hi, children)
}

/// A statement node over children at most `children` deep; an empty
/// statement if that makes the tree too deep.
pub(crate) fn stmt(st: &mut State<'_>, kind: StmtKind, lo: usize, hi: usize, children: u32) -> S {
    let span = span(lo, hi);
    let depth = children + 1;
    if st.check_depth(depth, span) {
        (Box::new(Stmt { kind, span }), depth)
    } else {
        (
            Box::new(Stmt {
                kind: StmtKind::Empty,
                span,
            }),
            1,
        )
    }
}

/// `T *`, unless that makes more than `MAX_NESTING` stars.
pub(crate) fn pointer(st: &mut State<'_>, target: TypeExpr, lo: usize, hi: usize) -> TypeExpr {
    let span = span(lo, hi);
    let mut depth = 1;
    let mut t = &target;
    while let TypeExpr::Pointer(inner, _) = t {
        depth += 1;
        t = inner;
    }
    if st.check_depth(depth, span) {
        TypeExpr::Pointer(Box::new(target), span)
    } else {
        target
    }
}

/// A variable declaration and the depth of its length and initializer.
pub(crate) fn decl(
    ty: TypeExpr,
    name: Ident,
    len: Option<E>,
    init: Option<(Init, u32)>,
    lo: usize,
    hi: usize,
) -> (Box<VarDecl>, u32) {
    let depth = len.as_ref().map_or(0, |l| l.1).max(init.as_ref().map_or(0, |i| i.1));
    let decl = VarDecl {
        ty,
        name,
        len: len.map(|l| *l.0),
        init: init.map(|i| i.0),
        span: span(lo, hi),
    };
    (Box::new(decl), depth)
}

/// A further name of a declaration (`, NAME [LEN] [= INIT]`), with its
/// span's bounds.
pub(crate) type MoreDecl = (Ident, Option<E>, Option<(Init, u32)>, usize, usize);

/// A declaration with more names (`int a, b = 2;`), as one declaration
/// per name, each of the first one's type, with its own span: the first
/// from the type (`lo`) to its end, the others from their name; the last
/// ends at `hi`.
pub(crate) fn decls(
    first: (Box<VarDecl>, u32),
    more: Vec<MoreDecl>,
    lo: usize,
    hi: usize,
) -> impl Iterator<Item = ((Box<VarDecl>, u32), (usize, usize))> {
    let ty = first.0.ty.clone();
    let first_end = first.0.span.hi as usize;
    let rest = more
        .into_iter()
        .map(move |(name, len, init, l, r)| (decl(ty.clone(), name, len, init, l, r), (l, r)));
    std::iter::once((first, (lo, first_end)))
        .chain(rest)
        .map(move |(d, (l, r))| (d, (l, r.min(hi))))
}

pub(crate) fn for_stmt(
    st: &mut State<'_>,
    (init, cond, step): (Option<S>, Option<E>, Option<E>),
    body: S,
    lo: usize,
    hi: usize,
) -> S {
    let children = [
        init.as_ref().map(|s| s.1),
        cond.as_ref().map(|e| e.1),
        step.as_ref().map(|e| e.1),
        Some(body.1),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    let kind = StmtKind::For {
        init: init.map(|s| s.0),
        cond: cond.map(|e| *e.0),
        step: step.map(|e| *e.0),
        body: body.0,
    };
    stmt(st, kind, lo, hi, children)
}
