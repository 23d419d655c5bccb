//! The parser: recursive descent over the token stream, resolving names to
//! ids as it goes.
//!
//! Items come in the canonical order, so a name is declared before it is
//! used, with two exceptions resolved later: struct types inside struct
//! declarations (when the struct section ends), and callees, since a
//! function may be called before it is defined (at the end, in order of
//! mention, which is the order implicit externs are numbered in).
//!
//! The parser reads one text, but what it has learnt (the module so far and
//! its names: a [`Scope`]) outlives it, so that `read.rs` can parse a file
//! through windows: an outline parses every item but function bodies, one
//! item per text ([`Parser::header`], [`Parser::item`], [`Parser::end`]),
//! and leaves each body to be skipped by its braces ([`skip_body`]);
//! [`Parser::body`] then parses one body, from a text that holds exactly it.
//! Every name is declared by then, so callees resolve at once, except
//! implicit externs, which only a whole-module parse numbers (by first
//! mention in the whole text): a body naming one is refused. A body parses
//! from a fresh lexer at its start, as the whole-module parse reaches it (a
//! parsed item closes every `[` it opens, so the lexer's bracket depth is 0
//! there), and must end at the `}` the outline found: so a module read
//! function by function is the module `parse` gives, or an error. Token
//! positions, and so error spans, are the input's wherever the text starts
//! in it.
//!
//! In a body, each block header, instruction and terminator is first tried
//! by a fast path (`fast.rs`) that reads it straight from the bytes when it
//! is written the common way, and gives exactly what the token-by-token
//! code below gives, or declines and leaves the line to it.

use super::lexer::{Lexer, Tok, Token};
use super::{BINARY, CONDS, UNARY, root_elem};
use crate::*;
use std::collections::HashMap;
use std::ops::Range;

mod fast;

type Result<T> = std::result::Result<T, FormatError>;

pub(super) fn parse(src: &str, fast: bool) -> Result<(Module, TextMap)> {
    let mut parser = Parser::new(src, 0, Mode::Whole, Scope::default());
    parser.fast = fast;
    parser.header()?;
    while parser.item()? {}
    parser.end()?;
    Ok((parser.s.module, parser.s.map))
}

/// What the parser does with a function body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Parses it, and maps its blocks and instructions to their text.
    Whole,
    /// Stops after its `{`, leaving [`Parser::body_at`] there (see the
    /// module doc); the function's signature is added to the module.
    Outline,
}

const FORGING: [&str; 5] = ["inttoptr", "ptrtoint", "bitcast", "cast", "addr"];

fn error(code: &'static str, span: Range<usize>, message: String) -> FormatError {
    FormatError { code, message, span }
}

fn unknown(what: &str, name: &str, span: Range<usize>) -> FormatError {
    error("V0003", span, format!("unknown {what} `{}`", snippet(name)))
}

/// Input quoted in a message, cut short so a huge token stays readable.
pub(super) fn snippet(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The value of a non-empty run of decimal digits, saturating at
/// `u64::MAX`; `None` if `digits` is empty or has anything else.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
    })
}

/// An integer literal's value; `None` if its magnitude exceeds 64 bits.
fn int_value(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let magnitude: u64 = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    })
}

/// Item groups in their required order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Source,
    Budget,
    Class,
    Event,
    Struct,
    Global,
    Extern,
    Func,
}

#[derive(Clone, Copy)]
enum Mnemonic {
    Fuel,
    Iconst,
    Bconst,
    Event,
    Unary(UnaryOp),
    Binary(BinaryOp),
    Icmp,
    CheckNonZero,
    CheckBounds,
    CheckRange,
    CheckNull,
    Load,
    Store,
    Init,
    Size,
    Call,
    Helper,
    Asm,
    /// `cli` and `sti`: inline assembly without the `asm "…"` wrapper.
    BareAsm(&'static str),
}

impl Mnemonic {
    fn from_name(name: &str) -> Option<Mnemonic> {
        // Arithmetic first: most instructions are.
        if let Some(&(op, _)) = BINARY.iter().find(|(_, n)| *n == name) {
            return Some(Mnemonic::Binary(op));
        }
        Some(match name {
            "fuel" => Mnemonic::Fuel,
            "iconst" => Mnemonic::Iconst,
            "bconst" => Mnemonic::Bconst,
            "event" => Mnemonic::Event,
            "icmp" => Mnemonic::Icmp,
            "check.nonzero" => Mnemonic::CheckNonZero,
            "check.bounds" => Mnemonic::CheckBounds,
            "check.range" => Mnemonic::CheckRange,
            "check.null" => Mnemonic::CheckNull,
            "load" => Mnemonic::Load,
            "store" => Mnemonic::Store,
            "init" => Mnemonic::Init,
            "size" => Mnemonic::Size,
            "call" => Mnemonic::Call,
            "helper" => Mnemonic::Helper,
            "asm" => Mnemonic::Asm,
            "cli" => Mnemonic::BareAsm("cli"),
            "sti" => Mnemonic::BareAsm("sti"),
            _ => Mnemonic::Unary(UNARY.iter().find(|(_, n)| *n == name)?.0),
        })
    }

    /// Whether the instruction defines a value; `None` where the text decides
    /// (`call`, `helper`).
    fn defines_value(self) -> Option<bool> {
        match self {
            Mnemonic::Fuel | Mnemonic::Store | Mnemonic::Init | Mnemonic::Asm | Mnemonic::BareAsm(_) => Some(false),
            Mnemonic::Call | Mnemonic::Helper => None,
            _ => Some(true),
        }
    }
}

/// A struct name used in a struct's field, before all structs are declared.
#[derive(Clone)]
struct StructRef {
    strukt: usize,
    field: usize,
    name: Box<str>,
    span: Range<usize>,
}

/// A `call` whose callee was not a known function yet, or a `helper` whose
/// name is not in the helper table (an extern).
struct CalleeRef<'a> {
    at: InstAt,
    name: &'a str,
    span: Range<usize>,
    helper: bool,
}

/// Where the instruction being parsed will be.
#[derive(Clone, Copy)]
struct InstAt {
    func: usize,
    block: usize,
    inst: usize,
}

/// What the body of the function being parsed needs from its header.
struct Frame {
    params: Vec<ParamType>,
    slots: Vec<ObjType>,
    /// Wider than `ValueId`, so that no definition matches once it is exhausted.
    next_value: u64,
}

type Names = HashMap<Box<str>, u32>;

/// What a parser has learnt of a module, kept from one text to the next:
/// the module so far (with only signatures in an outline), where its items
/// are, and its names.
#[derive(Clone, Default)]
pub(super) struct Scope {
    pub(super) module: Module,
    map: TextMap,
    /// The section of the last item, `None` before the first.
    section: Option<Section>,
    classes: Names,
    class_attrs: Vec<Names>,
    events: Names,
    structs: Names,
    struct_fields: Vec<Names>,
    globals: Names,
    externs: Names,
    funcs: Names,
    struct_refs: Vec<StructRef>,
}

pub(super) struct Parser<'a> {
    src: &'a str,
    mode: Mode,
    /// Whether the fast paths (`fast.rs`) are tried; off, the parser is
    /// their reference.
    fast: bool,
    pub(super) lex: Lexer<'a>,
    pub(super) s: Scope,
    callee_refs: Vec<CalleeRef<'a>>,
    /// Vectors of a function the reader's caller is done with: its blocks'
    /// (empty), and for new blocks' instructions, parameters and branch
    /// arguments.
    spare_blocks: Vec<Block>,
    spare_insts: Vec<Vec<Inst>>,
    spare_types: Vec<Vec<Type>>,
    spare_values: Vec<Vec<ValueId>>,
    /// The id of the global a fast path found last.
    last_global: std::cell::Cell<Option<u32>>,
    /// In an outline, after a function's `{`: where its body starts.
    pub(super) body_at: Option<usize>,
}

/// Adds `name` to a namespace as the item with id `id`.
fn declare(names: &mut Names, what: &str, name: &str, span: Range<usize>, id: usize) -> Result<u32> {
    let id = id as u32;
    if names.insert(name.into(), id).is_some() {
        return Err(error("V0006", span, format!("duplicate {what} `{}`", snippet(name))));
    }
    Ok(id)
}

impl<'a> Parser<'a> {
    /// A parser of `src`, which starts at byte `base` of the input, knowing
    /// what `s` holds.
    pub(super) fn new(src: &'a str, base: usize, mode: Mode, s: Scope) -> Self {
        Parser {
            src,
            mode,
            fast: true,
            lex: Lexer::new(src, base),
            s,
            callee_refs: Vec::new(),
            spare_blocks: Vec::new(),
            spare_insts: Vec::new(),
            spare_types: Vec::new(),
            spare_values: Vec::new(),
            last_global: std::cell::Cell::new(None),
            body_at: None,
        }
    }

    // Tokens.

    fn peek(&mut self) -> Token {
        self.lex.peek()
    }

    fn next(&mut self) -> Token {
        self.lex.next()
    }

    /// The text of input bytes `span` (which this text holds).
    fn at(&self, span: Range<usize>) -> Option<&'a str> {
        let base = self.lex.base();
        self.src.get(span.start.wrapping_sub(base)..span.end.wrapping_sub(base))
    }

    fn text(&self, t: Token) -> &'a str {
        self.at(t.span()).unwrap_or("")
    }

    /// The text after a one-character sigil (`@g`, `$0`, `%1`, `#c.a`).
    fn sigil_text(&self, t: Token) -> &'a str {
        self.text(t).get(1..).unwrap_or("")
    }

    fn is(&mut self, kind: Tok) -> bool {
        self.peek().kind == kind
    }

    fn eat(&mut self, kind: Tok) -> bool {
        let found = self.is(kind);
        if found {
            self.next();
        }
        found
    }

    fn is_kw(&mut self, keyword: &str) -> bool {
        let t = self.peek();
        t.kind == Tok::Ident && self.text(t) == keyword
    }

    fn eat_kw(&mut self, keyword: &str) -> bool {
        let found = self.is_kw(keyword);
        if found {
            self.next();
        }
        found
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Token> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.next())
        } else {
            Err(self.unexpected(t, what))
        }
    }

    fn expect_kw(&mut self, keyword: &str) -> Result<Token> {
        if self.is_kw(keyword) {
            Ok(self.next())
        } else {
            let t = self.peek();
            Err(self.unexpected(t, &format!("`{keyword}`")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(&'a str, Token)> {
        let t = self.expect(Tok::Ident, what)?;
        Ok((self.text(t), t))
    }

    fn unexpected(&self, t: Token, expected: &str) -> FormatError {
        let found = match t.kind {
            Tok::Eof => "the end of the input".to_owned(),
            Tok::Error => match self.at(t.start..t.end).and_then(|s| s.chars().next()) {
                Some('"') => "an unterminated string or a bad escape (strings allow only `\\\\` and `\\\"`)".to_owned(),
                Some(c) => format!("the character `{}`", c.escape_debug()),
                None => "invalid input".to_owned(),
            },
            _ => format!("`{}`", snippet(self.text(t))),
        };
        error("V0001", t.span(), format!("expected {expected}, found {found}"))
    }

    /// `item, item, … close` (a trailing comma is allowed); the opening
    /// delimiter is already consumed.
    fn list<T>(&mut self, close: Tok, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let close_text = match close {
            Tok::RParen => "`,` or `)`",
            Tok::RBracket => "`,` or `]`",
            _ => "`,` or `}`",
        };
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(item(self)?);
            if !self.is(close) {
                self.expect(Tok::Comma, close_text)?;
            }
        }
        Ok(items)
    }

    fn int_of<T: TryFrom<i128>>(&self, t: Token, ty: &str) -> Result<T> {
        let text = self.text(t);
        int_value(text).and_then(|v| T::try_from(v).ok()).ok_or_else(|| {
            error(
                "V0007",
                t.span(),
                format!("integer `{}` out of range for {ty}", snippet(text)),
            )
        })
    }

    fn int<T: TryFrom<i128>>(&mut self, ty: &str) -> Result<T> {
        let t = self.expect(Tok::Int, "an integer")?;
        self.int_of(t, ty)
    }

    /// The number in a sigil (`$N`, `%N`), whose digits the lexer checked.
    fn number(&self, t: Token, digits: &str) -> Result<u32> {
        self.in_range(t, decimal(digits.as_bytes()).unwrap_or(u64::MAX))
    }

    /// `n`, the number token `t` names, if it fits `u32`.
    fn in_range(&self, t: Token, n: u64) -> Result<u32> {
        u32::try_from(n).map_err(|_| {
            error(
                "V0007",
                t.span(),
                format!(
                    "`{}` out of range: numbers go up to {}",
                    snippet(self.text(t)),
                    u32::MAX
                ),
            )
        })
    }

    /// The N of an identifier `PREFIXN` (`v12`, `block3`): `None` unless
    /// `t` is exactly the prefix and a non-empty run of decimal digits; an
    /// error if N does not fit `u32`.
    fn numbered(&self, t: Token, prefix: &str) -> Option<Result<u32>> {
        if t.kind != Tok::Ident {
            return None;
        }
        let digits = self.at(t.span())?.as_bytes().strip_prefix(prefix.as_bytes())?;
        decimal(digits).map(|n| self.in_range(t, n))
    }

    fn arrow(&mut self) -> Result<()> {
        self.expect(Tok::Minus, "`->`")?;
        self.expect(Tok::RAngle, "`->`")?;
        Ok(())
    }

    // Module items.

    /// `module NAME`.
    pub(super) fn header(&mut self) -> Result<()> {
        let keyword = self.expect_kw("module")?;
        let (name, t) = self.ident("the module name")?;
        self.s.module.name = name.to_owned();
        self.s.map.module = keyword.start..t.end;
        Ok(())
    }

    /// The next module item; `false` at the end of the text.
    pub(super) fn item(&mut self) -> Result<bool> {
        let t = self.peek();
        let section = match (t.kind, self.text(t)) {
            (Tok::Eof, _) => return Ok(false),
            (Tok::Ident, "source") => Section::Source,
            (Tok::Ident, "budget") => Section::Budget,
            (Tok::Ident, "class") => Section::Class,
            (Tok::Ident, "event") => Section::Event,
            (Tok::Ident, "struct") => Section::Struct,
            (Tok::Ident, "global") => Section::Global,
            (Tok::Ident, "extern") => Section::Extern,
            (Tok::Ident, "func" | "monitor" | "handler" | "guard") => Section::Func,
            _ => {
                let expected = "a module item (`class`, `event`, `struct`, `global`, `extern`, `func`, …)";
                return Err(self.unexpected(t, expected));
            }
        };
        self.enter(section, t)?;
        match section {
            Section::Source => {
                self.next();
                let s = self.expect(Tok::Str, "a string")?;
                self.s.module.source = Some(self.string(s));
            }
            Section::Budget => {
                self.next();
                self.s.module.budget = Some(self.int("u64")?);
            }
            Section::Class => self.class()?,
            Section::Event => {
                self.next();
                let (name, t) = self.ident("an event name")?;
                declare(&mut self.s.events, "event", name, t.span(), self.s.module.events.len())?;
                self.s.module.events.push(name.to_owned());
            }
            Section::Struct => self.struct_def()?,
            Section::Global => self.global()?,
            Section::Extern => {
                let keyword = self.next();
                let (name, t) = self.ident("an extern name")?;
                declare(
                    &mut self.s.externs,
                    "extern",
                    name,
                    t.span(),
                    self.s.module.externs.len(),
                )?;
                self.s.module.externs.push(name.to_owned());
                self.s.map.externs.push(keyword.start..t.end);
            }
            Section::Func => self.function()?,
        }
        Ok(true)
    }

    /// After the last item: resolves what items named before it was
    /// declared.
    pub(super) fn end(&mut self) -> Result<()> {
        self.resolve_struct_refs()?;
        self.resolve_callees()
    }

    fn enter(&mut self, section: Section, t: Token) -> Result<()> {
        let once = matches!(section, Section::Source | Section::Budget);
        if Some(section) < self.s.section || (once && Some(section) == self.s.section) {
            let message = format!(
                "`{}` out of order: a module is `module`, then at most one `source` and one `budget`, then classes, \
                 events, structs, globals, externs and functions, in that order",
                self.text(t)
            );
            return Err(error("V0001", t.span(), message));
        }
        if section > Section::Struct {
            self.resolve_struct_refs()?;
        }
        self.s.section = Some(section);
        Ok(())
    }

    /// A string literal's contents; the lexer admits only `\\` and `\"`.
    fn string(&self, t: Token) -> String {
        let quoted = self.text(t);
        let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
        let mut out = String::with_capacity(inner.len());
        let mut escaped = false;
        for ch in inner.chars() {
            if ch == '\\' && !escaped {
                escaped = true;
            } else {
                out.push(ch);
                escaped = false;
            }
        }
        out
    }

    fn class(&mut self) -> Result<()> {
        let keyword = self.next();
        let (name, t) = self.ident("a class name")?;
        declare(
            &mut self.s.classes,
            "class",
            name,
            t.span(),
            self.s.module.classes.len(),
        )?;
        self.expect(Tok::LBrace, "`{`")?;
        let mut names = Names::new();
        let mut attrs = Vec::new();
        while !self.is(Tok::RBrace) {
            let (attr, t) = self.ident("an attribute or `}`")?;
            declare(&mut names, "attribute", attr, t.span(), attrs.len())?;
            self.expect(Tok::Colon, "`:`")?;
            let (ty, t) = self.ident("`i64` or `bool`")?;
            let ty = match ty {
                "i64" => AttrType::I64,
                "bool" => AttrType::Bool,
                _ => return Err(self.unexpected(t, "`i64` or `bool`")),
            };
            // `readonly:` and `range:` would start the next attribute instead.
            let readonly = self.is_kw("readonly") && self.lex.peek2().kind != Tok::Colon;
            if readonly {
                self.next();
            }
            let range = if self.is_kw("range") && self.lex.peek2().kind == Tok::LParen {
                self.next();
                self.next();
                let lo = self.int("i64")?;
                self.expect(Tok::Comma, "`,`")?;
                let hi = self.int("i64")?;
                self.expect(Tok::RParen, "`)`")?;
                Some((lo, hi))
            } else {
                None
            };
            attrs.push(AttrDef {
                name: attr.to_owned(),
                ty,
                readonly,
                range,
            });
        }
        let close = self.next();
        self.s.class_attrs.push(names);
        self.s.module.classes.push(ClassDef {
            name: name.to_owned(),
            attrs,
        });
        self.s.map.classes.push(keyword.start..close.end);
        Ok(())
    }

    fn struct_def(&mut self) -> Result<()> {
        let keyword = self.next();
        let (name, t) = self.ident("a struct name")?;
        let id = declare(
            &mut self.s.structs,
            "struct",
            name,
            t.span(),
            self.s.module.structs.len(),
        )? as usize;
        self.expect(Tok::LBrace, "`{`")?;
        let mut names = Names::new();
        let fields = self.list(Tok::RBrace, |p| {
            let (field, t) = p.ident("a field name")?;
            let index = names.len();
            declare(&mut names, "field", field, t.span(), index)?;
            p.expect(Tok::Colon, "`:`")?;
            let ty = p.elem_type(Some((id, index)))?;
            Ok(FieldDef {
                name: field.to_owned(),
                ty,
            })
        })?;
        self.s.struct_fields.push(names);
        self.s.module.structs.push(StructDef {
            name: name.to_owned(),
            fields,
        });
        self.s.map.structs.push(keyword.start..self.lex.last_end);
        Ok(())
    }

    fn resolve_struct_refs(&mut self) -> Result<()> {
        for r in std::mem::take(&mut self.s.struct_refs) {
            let id = *self
                .s
                .structs
                .get(&r.name)
                .ok_or_else(|| unknown("struct", &r.name, r.span))?;
            let field = self
                .s
                .module
                .structs
                .get_mut(r.strukt)
                .and_then(|s| s.fields.get_mut(r.field));
            if let Some(field) = field {
                field.ty = ElemType::Struct(StructId(id));
            }
        }
        Ok(())
    }

    fn global(&mut self) -> Result<()> {
        let keyword = self.next();
        let t = self.expect(Tok::AtName, "a global name (`@name`)")?;
        let name = self.sigil_text(t);
        declare(
            &mut self.s.globals,
            "global",
            name,
            t.span(),
            self.s.module.globals.len(),
        )?;
        self.expect(Tok::Colon, "`:`")?;
        let ty = self.obj_type()?;
        self.expect(Tok::Eq, "`=`")?;
        let t = self.next();
        let init = match (t.kind, self.text(t)) {
            (Tok::Int, _) => GlobalInit::Int(self.int_of(t, "i64")?),
            (Tok::LBracket, _) => GlobalInit::Ints(self.list(Tok::RBracket, |p| p.int("i64"))?),
            (Tok::Ident, "zero") => GlobalInit::Zero,
            (Tok::Ident, "true") => GlobalInit::Bool(true),
            (Tok::Ident, "false") => GlobalInit::Bool(false),
            _ => {
                return Err(self.unexpected(t, "an initializer (`zero`, an integer, `true`, `false` or `[INT, …]`)"));
            }
        };
        self.s.module.globals.push(GlobalDef {
            name: name.to_owned(),
            ty,
            init,
        });
        self.s.map.globals.push(keyword.start..self.lex.last_end);
        Ok(())
    }

    // Types and names.

    fn class_ref(&mut self) -> Result<ClassId> {
        let (name, t) = self.ident("a class name")?;
        let id = *self
            .s
            .classes
            .get(name)
            .ok_or_else(|| unknown("class", name, t.span()))?;
        Ok(ClassId(id))
    }

    fn attr_ref(&self, class: &str, class_span: Range<usize>, attr: &str, attr_span: Range<usize>) -> Result<AttrRef> {
        let id = *self
            .s
            .classes
            .get(class)
            .ok_or_else(|| unknown("class", class, class_span))?;
        let index = self
            .s
            .class_attrs
            .get(id as usize)
            .and_then(|names| names.get(attr))
            .ok_or_else(|| {
                error(
                    "V0003",
                    attr_span,
                    format!("class `{class}` has no attribute `{}`", snippet(attr)),
                )
            })?;
        Ok(AttrRef {
            class: ClassId(id),
            attr: *index,
        })
    }

    /// `class.attr`.
    fn attr_path(&mut self) -> Result<AttrRef> {
        let (class, ct) = self.ident("a class name")?;
        self.expect(Tok::Dot, "`.`")?;
        let (attr, at) = self.ident("an attribute name")?;
        self.attr_ref(class, ct.span(), attr, at.span())
    }

    /// `#class.attr`.
    fn attr_imm(&mut self) -> Result<AttrRef> {
        let t = self.expect(Tok::Attr, "an attribute (`#class.attr`)")?;
        let (class, attr) = self.sigil_text(t).split_once('.').unwrap_or_default();
        self.attr_ref(class, t.span(), attr, t.span())
    }

    fn event_ref(&mut self) -> Result<EventId> {
        let (name, t) = self.ident("an event name")?;
        let id = *self
            .s
            .events
            .get(name)
            .ok_or_else(|| unknown("event", name, t.span()))?;
        Ok(EventId(id))
    }

    fn rights(&mut self) -> Result<Rights> {
        let t = self.next();
        let text = match t.kind {
            Tok::Minus => "-",
            Tok::Ident => self.text(t),
            _ => return Err(self.unexpected(t, "rights (`r`, `w`, `g` in that order, or `-`)")),
        };
        Rights::parse(text).ok_or_else(|| {
            error(
                "V0001",
                t.span(),
                format!(
                    "invalid rights `{}`: letters r, w, g in that order, or `-`",
                    snippet(text)
                ),
            )
        })
    }

    /// `<CLASS, RIGHTS>` after `cap`.
    fn cap_args(&mut self) -> Result<(ClassId, Rights)> {
        self.expect(Tok::LAngle, "`<`")?;
        let class = self.class_ref()?;
        self.expect(Tok::Comma, "`,`")?;
        let rights = self.rights()?;
        self.expect(Tok::RAngle, "`>`")?;
        Ok((class, rights))
    }

    fn value_type(&mut self) -> Result<Type> {
        let (word, t) = self.ident("a type")?;
        Ok(match word {
            "i64" => Type::I64,
            "bool" => Type::Bool,
            "nz" => Type::NonZero,
            "evt" => Type::Event,
            "idx" => {
                self.expect(Tok::LAngle, "`<`")?;
                let root = self.root()?;
                self.expect(Tok::RAngle, "`>`")?;
                Type::Index(root)
            }
            "in" => {
                self.expect(Tok::LAngle, "`<`")?;
                let attr = self.attr_path()?;
                self.expect(Tok::RAngle, "`>`")?;
                Type::InRange(attr)
            }
            "cap" => {
                let nullable = self.eat(Tok::Question);
                let (class, rights) = self.cap_args()?;
                Type::Cap {
                    class,
                    rights,
                    nullable,
                }
            }
            _ => return Err(self.unexpected(t, "a type")),
        })
    }

    /// `field` is where a struct type is being declared, when in a struct
    /// declaration (the struct named may come later).
    fn elem_type(&mut self, field: Option<(usize, usize)>) -> Result<ElemType> {
        let (word, t) = self.ident("a memory type")?;
        Ok(match word {
            "i64" => ElemType::Scalar(ScalarType::I64),
            "bool" => ElemType::Scalar(ScalarType::Bool),
            "cap" => {
                let (class, rights) = self.cap_args()?;
                ElemType::Scalar(ScalarType::Cap { class, rights })
            }
            "struct" => {
                let (name, t) = self.ident("a struct name")?;
                match (self.s.structs.get(name), field) {
                    (Some(&id), _) => ElemType::Struct(StructId(id)),
                    (None, Some((strukt, field))) => {
                        self.s.struct_refs.push(StructRef {
                            strukt,
                            field,
                            name: name.into(),
                            span: t.span(),
                        });
                        ElemType::Struct(StructId(u32::MAX))
                    }
                    (None, None) => return Err(unknown("struct", name, t.span())),
                }
            }
            _ => {
                return Err(self.unexpected(t, "a memory type (`i64`, `bool`, `cap<…>` or `struct NAME`)"));
            }
        })
    }

    fn obj_type(&mut self) -> Result<ObjType> {
        if !self.eat(Tok::LBracket) {
            return Ok(ObjType::Elem(self.elem_type(None)?));
        }
        let elem = self.elem_type(None)?;
        let len = if self.eat(Tok::Semi) {
            Some(self.int("an array length (u32)")?)
        } else {
            None
        };
        self.expect(Tok::RBracket, "`]`")?;
        Ok(ObjType::Array { elem, len })
    }

    fn root(&mut self) -> Result<Root> {
        let t = self.next();
        let text = self.sigil_text(t);
        match t.kind {
            Tok::AtName => {
                let id = *self
                    .s
                    .globals
                    .get(text)
                    .ok_or_else(|| unknown("global", text, t.span()))?;
                Ok(Root::Global(GlobalId(id)))
            }
            Tok::Slot => Ok(Root::Slot(SlotId(self.number(t, text)?))),
            Tok::Param => Ok(Root::Param(self.number(t, text)?)),
            _ => Err(self.unexpected(t, "a root (`@global`, `$N` or `%N`)")),
        }
    }

    fn value(&mut self) -> Result<ValueId> {
        let t = self.peek();
        match self.numbered(t, "v") {
            Some(n) => {
                self.next();
                Ok(ValueId(n?))
            }
            None => Err(self.unexpected(t, "a value (`vN`)")),
        }
    }

    fn is_value(&mut self) -> bool {
        let t = self.peek();
        self.numbered(t, "v").is_some()
    }

    /// A value definition, which must take the next number.
    fn def_value(&mut self, frame: &mut Frame) -> Result<()> {
        let t = self.peek();
        let value = self.value()?;
        self.define(t, value.0, frame)
    }

    /// Value `n`, named by token `t`, is defined: it must be the next.
    fn define(&self, t: Token, n: u32, frame: &mut Frame) -> Result<()> {
        if u64::from(n) != frame.next_value {
            let message = format!("`v{n}` defined out of order: the next value is `v{}`", frame.next_value);
            return Err(error("V0004", t.span(), message));
        }
        frame.next_value += 1;
        Ok(())
    }

    fn block_ref(&mut self, what: &str) -> Result<BlockId> {
        let t = self.peek();
        match self.numbered(t, "block") {
            Some(n) => {
                self.next();
                Ok(BlockId(n?))
            }
            None => Err(self.unexpected(t, what)),
        }
    }

    fn block_call(&mut self) -> Result<BlockCall> {
        let block = self.block_ref("a block (`blockN`)")?;
        let args = if self.eat(Tok::LParen) {
            self.list(Tok::RParen, Self::value)?
        } else {
            Vec::new()
        };
        Ok(BlockCall { block, args })
    }

    fn exc_kind(&mut self) -> Result<ExcKind> {
        let (name, t) = self.ident("an exception kind")?;
        ExcKind::from_name(name).ok_or_else(|| unknown("exception kind", name, t.span()))
    }

    // Functions.

    fn function(&mut self) -> Result<()> {
        let keyword = self.next();
        let t = self.expect(Tok::AtName, "a function name (`@name`)")?;
        let name = self.sigil_text(t);
        if self.s.externs.contains_key(name) {
            return Err(error(
                "V0006",
                t.span(),
                format!("`{name}` is already declared as an extern"),
            ));
        }
        let index = self.s.module.funcs.len();
        declare(&mut self.s.funcs, "function", name, t.span(), index)?;
        self.expect(Tok::LParen, "`(`")?;
        let mut position = 0;
        let params = self.list(Tok::RParen, |p| {
            position += 1;
            p.param(position - 1)
        })?;
        let ret = if self.is(Tok::Minus) {
            self.arrow()?;
            Some(self.value_type()?)
        } else {
            None
        };
        let kind = match self.text(keyword) {
            "handler" => {
                self.expect_kw("on")?;
                FuncKind::Handler {
                    event: self.event_ref()?,
                }
            }
            "guard" => {
                self.expect_kw("for")?;
                FuncKind::Guard {
                    attr: self.attr_path()?,
                }
            }
            "monitor" => FuncKind::Monitor,
            _ => FuncKind::Plain,
        };
        let open = self.expect(Tok::LBrace, "`{`")?;
        let mut frame = Frame {
            params,
            slots: Vec::new(),
            next_value: 0,
        };
        let blocks = match self.mode {
            Mode::Whole => {
                let mut text = FuncText {
                    header: keyword.start..open.end,
                    blocks: Vec::new(),
                };
                let blocks = self.function_body(&mut frame, index, Some(&mut text))?;
                self.s.map.funcs.push(text);
                blocks
            }
            Mode::Outline => {
                self.body_at = Some(open.end);
                Vec::new()
            }
        };
        let Frame { params, slots, .. } = frame;
        self.s.module.funcs.push(Function {
            name: name.to_owned(),
            kind,
            params,
            ret,
            slots,
            blocks,
        });
        Ok(())
    }

    /// Slots and blocks, through the closing `}`, of function `index`.
    fn function_body(
        &mut self,
        frame: &mut Frame,
        index: usize,
        mut text: Option<&mut FuncText>,
    ) -> Result<Vec<Block>> {
        while self.eat_kw("slot") {
            let t = self.expect(Tok::Slot, "a slot (`$N`)")?;
            let n = self.number(t, self.sigil_text(t))?;
            if n as usize != frame.slots.len() {
                let message = format!("slot `${n}` out of order: the next slot is `${}`", frame.slots.len());
                return Err(error("V0008", t.span(), message));
            }
            self.expect(Tok::Colon, "`:`")?;
            frame.slots.push(self.obj_type()?);
        }
        let mut blocks = std::mem::take(&mut self.spare_blocks);
        while !self.eat(Tok::RBrace) {
            let at = InstAt {
                func: index,
                block: blocks.len(),
                inst: 0,
            };
            let mut block_text = text.as_ref().map(|_| BlockText::default());
            blocks.push(self.block(frame, at, block_text.as_mut())?);
            if let (Some(text), Some(block_text)) = (text.as_deref_mut(), block_text) {
                text.blocks.push(block_text);
            }
        }
        Ok(blocks)
    }

    /// The body of function `index`, whose signature the scope holds: the
    /// whole text, from after its `{` through its `}`. Its blocks reuse the
    /// vectors of `spare`'s.
    pub(super) fn body(&mut self, index: usize, spare: Option<Function>) -> Result<Function> {
        let Some(signature) = self.s.module.funcs.get(index) else {
            let at = self.lex.base();
            return Err(error("V0001", at..at, format!("the outline has no function #{index}")));
        };
        let mut frame = Frame {
            params: signature.params.clone(),
            slots: Vec::new(),
            next_value: 0,
        };
        // Vectors that never held anything have nothing to reuse.
        fn keep<T>(spares: &mut Vec<Vec<T>>, v: Vec<T>) {
            if v.capacity() > 0 {
                spares.push(v);
            }
        }
        let mut spare_blocks = spare.map(|f| f.blocks).unwrap_or_default();
        self.spare_insts.reserve(spare_blocks.len());
        self.spare_types.reserve(spare_blocks.len());
        self.spare_values.reserve(2 * spare_blocks.len());
        for block in spare_blocks.drain(..) {
            keep(&mut self.spare_insts, block.insts);
            keep(&mut self.spare_types, block.params);
            match block.term {
                Terminator::Jump(to) => keep(&mut self.spare_values, to.args),
                Terminator::Brif { then_to, else_to, .. } => {
                    keep(&mut self.spare_values, then_to.args);
                    keep(&mut self.spare_values, else_to.args);
                }
                Terminator::Return(_) | Terminator::Raise(_) => {}
            }
        }
        self.spare_blocks = spare_blocks;
        let mut blocks = self.function_body(&mut frame, index, None)?;
        let end = self.lex.base() + self.src.len();
        if self.lex.last_end != end {
            let message = "the function's body does not end at the `}` that closes its braces".to_owned();
            return Err(error("V0001", self.lex.base()..self.lex.last_end, message));
        }
        for r in std::mem::take(&mut self.callee_refs) {
            let callee = match self.known_callee(&r)? {
                Some(callee) => callee,
                None => {
                    let message = format!(
                        "`{}` names no function and no declared extern (an extern declared by its first mention \
                         is numbered only when the whole module is parsed)",
                        snippet(r.name)
                    );
                    return Err(error("V0003", r.span, message));
                }
            };
            if let Some(Inst {
                kind: InstKind::Call { callee: slot, .. },
                ..
            }) = blocks.get_mut(r.at.block).and_then(|b| b.insts.get_mut(r.at.inst))
            {
                *slot = callee;
            }
        }
        let signature = &self.s.module.funcs[index];
        Ok(Function {
            name: signature.name.clone(),
            kind: signature.kind,
            params: frame.params,
            ret: signature.ret,
            slots: frame.slots,
            blocks,
        })
    }

    fn param(&mut self, position: usize) -> Result<ParamType> {
        if !self.is(Tok::Param) {
            return Ok(ParamType::Value(self.value_type()?));
        }
        let t = self.next();
        let n = self.number(t, self.sigil_text(t))?;
        if n as usize != position {
            let message = format!("reference parameter `%{n}` is parameter {position}: write `%{position}`");
            return Err(error("V0008", t.span(), message));
        }
        self.expect(Tok::Colon, "`:`")?;
        self.expect_kw("ref")?;
        Ok(ParamType::Ref(self.obj_type()?))
    }

    /// A block header, token by token: its parameters and loop end.
    fn block_header(
        &mut self,
        frame: &mut Frame,
        at: InstAt,
        text: Option<&mut BlockText>,
    ) -> Result<(Vec<Type>, Option<BlockId>)> {
        let t = self.peek();
        let n = self.block_ref("a block header (`blockN:`) or `}`")?.0;
        if n as usize != at.block {
            let message = format!("`block{n}` out of order: the next block is `block{}`", at.block);
            return Err(error("V0005", t.span(), message));
        }
        let params = if self.eat(Tok::LParen) {
            self.list(Tok::RParen, |p| {
                p.def_value(frame)?;
                p.expect(Tok::Colon, "`:`")?;
                p.value_type()
            })?
        } else {
            Vec::new()
        };
        let loop_end = if self.eat_kw("loop") {
            self.expect(Tok::LParen, "`(`")?;
            let end = self.block_ref("a block (`blockN`)")?;
            self.expect(Tok::RParen, "`)`")?;
            Some(end)
        } else {
            None
        };
        let colon = self.expect(Tok::Colon, "`:`")?;
        if let Some(text) = text {
            text.header = t.start..colon.end;
        }
        Ok((params, loop_end))
    }

    fn block(&mut self, frame: &mut Frame, mut at: InstAt, mut text: Option<&mut BlockText>) -> Result<Block> {
        let (params, loop_end) = match self.fast_header(frame, at.block) {
            Some((params, loop_end, start, end)) => {
                if let Some(text) = text.as_deref_mut() {
                    let base = self.lex.base();
                    text.header = base + start..base + end;
                }
                (params, loop_end)
            }
            None => self.block_header(frame, at, text.as_deref_mut())?,
        };
        let mut insts = self.spare_insts.pop().unwrap_or_default();
        insts.clear();
        // Most blocks fit: fewer vectors grown by one.
        insts.reserve(16);
        loop {
            if let fast::Stop::Term(term, start, end) = self.fast_lines(frame, &mut insts, text.as_deref_mut()) {
                if let Some(text) = text.as_deref_mut() {
                    text.term = start..end;
                }
                return Ok(Block {
                    params,
                    loop_end,
                    insts,
                    term,
                    term_span: None,
                });
            }
            at.inst = insts.len();
            let t = self.peek();
            let defined = self.numbered(t, "v");
            if defined.is_none() && (t.kind != Tok::Ident || self.numbered(t, "block").is_some()) {
                return Err(self.unexpected(t, "an instruction or a terminator"));
            }
            let kind = if let Some(value) = defined {
                self.define(t, value?, frame)?;
                self.next();
                self.expect(Tok::Eq, "`=`")?;
                let mnemonic = self.expect(Tok::Ident, "an instruction")?;
                self.inst(mnemonic, true, frame, at)?
            } else if let word @ ("jump" | "brif" | "ret" | "raise") = self.text(t) {
                self.next();
                let term = self.terminator(word)?;
                let term_span = self.span()?;
                if let Some(text) = text.as_deref_mut() {
                    text.term = t.start..self.lex.last_end;
                }
                return Ok(Block {
                    params,
                    loop_end,
                    insts,
                    term,
                    term_span,
                });
            } else {
                let mnemonic = self.next();
                self.inst(mnemonic, false, frame, at)?
            };
            let catches = if self.eat(Tok::Bang) {
                self.expect_kw("catch")?;
                self.expect(Tok::LParen, "`(`")?;
                self.list(Tok::RParen, |p| {
                    let kind = p.exc_kind()?;
                    p.arrow()?;
                    Ok(Catch {
                        kind,
                        target: p.block_call()?,
                    })
                })?
            } else {
                Vec::new()
            };
            let span = self.span()?;
            insts.push(Inst { kind, catches, span });
            if let Some(text) = text.as_deref_mut() {
                text.insts.push(t.start..self.lex.last_end);
            }
        }
    }

    /// An optional `@LO..HI`.
    fn span(&mut self) -> Result<Option<Span>> {
        if !self.eat(Tok::At) {
            return Ok(None);
        }
        let lo = self.int("a span offset (u32)")?;
        self.expect(Tok::DotDot, "`..`")?;
        let hi = self.int("a span offset (u32)")?;
        Ok(Some(Span { lo, hi }))
    }

    fn terminator(&mut self, word: &str) -> Result<Terminator> {
        Ok(match word {
            "jump" => Terminator::Jump(self.block_call()?),
            "brif" => {
                let cond = self.value()?;
                self.expect(Tok::Comma, "`,`")?;
                let then_to = self.block_call()?;
                self.expect(Tok::Comma, "`,`")?;
                let else_to = self.block_call()?;
                Terminator::Brif { cond, then_to, else_to }
            }
            "ret" if self.is_value() => Terminator::Return(Some(self.value()?)),
            "ret" => Terminator::Return(None),
            _ => Terminator::Raise(self.exc_kind()?),
        })
    }

    /// An instruction after its `vN =`, if any: `mnemonic` is already taken.
    fn inst(&mut self, mnemonic: Token, result: bool, frame: &Frame, at: InstAt) -> Result<InstKind> {
        let mut end = mnemonic.end;
        if self.text(mnemonic) == "check" && self.eat(Tok::Dot) {
            end = self
                .expect(Tok::Ident, "a check (`nonzero`, `bounds`, `range` or `null`)")?
                .end;
        }
        let span = mnemonic.start..end;
        let name = self.at(span.clone()).unwrap_or("");
        let Some(m) = Mnemonic::from_name(name) else {
            return Err(if FORGING.contains(&name) {
                let message = format!(
                    "pointer forging: TAL has no instruction that turns an integer into a pointer or capability (`{name}`)"
                );
                error("V0701", span, message)
            } else if matches!(name, "jump" | "brif" | "ret" | "raise") {
                error(
                    "V0001",
                    span,
                    format!("the terminator `{name}` does not define a value"),
                )
            } else {
                error("V0002", span, format!("unknown instruction `{}`", snippet(name)))
            });
        };
        match (m.defines_value(), result) {
            (Some(false), true) => {
                return Err(error("V0001", span, format!("`{name}` does not define a value")));
            }
            (Some(true), false) => {
                return Err(error(
                    "V0001",
                    span,
                    format!("`{name}` defines a value: write `vN = {name} …`"),
                ));
            }
            _ => {}
        }
        Ok(match m {
            Mnemonic::Fuel => InstKind::Fuel(self.int("u64")?),
            Mnemonic::Iconst => InstKind::Iconst(self.int("i64")?),
            Mnemonic::Bconst => {
                let t = self.next();
                match (t.kind, self.text(t)) {
                    (Tok::Ident, "true") => InstKind::Bconst(true),
                    (Tok::Ident, "false") => InstKind::Bconst(false),
                    _ => return Err(self.unexpected(t, "`true` or `false`")),
                }
            }
            Mnemonic::Event => InstKind::Event(self.event_ref()?),
            Mnemonic::Unary(op) => InstKind::Unary { op, arg: self.value()? },
            Mnemonic::Binary(op) => {
                let (lhs, rhs) = self.two_values()?;
                InstKind::Binary { op, lhs, rhs }
            }
            Mnemonic::Icmp => {
                const CONDITION: &str = "a condition (`eq`, `ne`, `lt`, `le`, `gt` or `ge`)";
                let t = self.next();
                let word = if t.kind == Tok::Ident { self.text(t) } else { "" };
                let Some(&(cond, _)) = CONDS.iter().find(|(_, n)| *n == word) else {
                    return Err(self.unexpected(t, CONDITION));
                };
                let (lhs, rhs) = self.two_values()?;
                InstKind::Icmp { cond, lhs, rhs }
            }
            Mnemonic::CheckNonZero => InstKind::CheckNonZero(self.value()?),
            Mnemonic::CheckBounds => {
                let value = self.value()?;
                self.expect(Tok::Comma, "`,`")?;
                InstKind::CheckBounds {
                    value,
                    root: self.root()?,
                }
            }
            Mnemonic::CheckRange => {
                let value = self.value()?;
                self.expect(Tok::Comma, "`,`")?;
                InstKind::CheckRange {
                    value,
                    attr: self.attr_imm()?,
                }
            }
            Mnemonic::CheckNull => InstKind::CheckNull(self.value()?),
            Mnemonic::Load => InstKind::Load(self.place(frame)?),
            Mnemonic::Store => {
                let place = self.place(frame)?;
                self.expect(Tok::Comma, "`,`")?;
                InstKind::Store {
                    place,
                    value: self.value()?,
                }
            }
            Mnemonic::Init => {
                let t = self.expect(Tok::Slot, "a slot (`$N`)")?;
                InstKind::Init(SlotId(self.number(t, self.sigil_text(t))?))
            }
            Mnemonic::Size => InstKind::Size(self.root()?),
            Mnemonic::Call => self.call(result, at)?,
            Mnemonic::Helper => self.helper(result, at)?,
            Mnemonic::Asm => {
                let t = self.expect(Tok::Str, "a string")?;
                InstKind::InlineAsm(self.string(t))
            }
            Mnemonic::BareAsm(text) => InstKind::InlineAsm(text.to_owned()),
        })
    }

    fn two_values(&mut self) -> Result<(ValueId, ValueId)> {
        let lhs = self.value()?;
        self.expect(Tok::Comma, "`,`")?;
        Ok((lhs, self.value()?))
    }

    /// `ROOT [vI] .field…`, fields resolved through the root's type.
    fn place(&mut self, frame: &Frame) -> Result<Place> {
        let root = self.root()?;
        let index = if self.eat(Tok::LBracket) {
            let index = self.value()?;
            self.expect(Tok::RBracket, "`]`")?;
            Some(index)
        } else {
            None
        };
        let mut fields = Vec::new();
        let mut elem = root_elem(&self.s.module.globals, &frame.params, &frame.slots, root);
        while self.eat(Tok::Dot) {
            let (name, t) = self.ident("a field name")?;
            let Some(ElemType::Struct(s)) = elem else {
                return Err(error(
                    "V0003",
                    t.span(),
                    format!("no field `{name}` here: the place is not a known struct"),
                ));
            };
            let def = self.s.module.structs.get(s.index());
            let field = self
                .s
                .struct_fields
                .get(s.index())
                .and_then(|f| f.get(name))
                .copied()
                .ok_or_else(|| {
                    let strukt = def.map_or("?", |d| &d.name);
                    error("V0003", t.span(), format!("struct `{strukt}` has no field `{name}`"))
                })?;
            fields.push(field);
            elem = def.and_then(|d| d.fields.get(field as usize)).map(|f| f.ty);
        }
        Ok(Place { root, index, fields })
    }

    fn call(&mut self, result: bool, at: InstAt) -> Result<InstKind> {
        let t = self.expect(Tok::AtName, "a callee (`@name`)")?;
        let name = self.sigil_text(t);
        self.expect(Tok::LParen, "`(`")?;
        let args = self.list(Tok::RParen, |p| {
            let t = p.peek();
            match t.kind {
                Tok::Ident => Ok(Arg::Value(p.value()?)),
                Tok::AtName | Tok::Slot | Tok::Param => Ok(Arg::Ref(p.root()?)),
                _ => Err(p.unexpected(t, "a value or a root (`@global`, `$N` or `%N`)")),
            }
        })?;
        let callee = match self.s.funcs.get(name) {
            Some(&f) => Callee::Func(FuncId(f)),
            None => self.defer_callee(at, name, t, false),
        };
        Ok(InstKind::Call { callee, args, result })
    }

    /// `helper NAME(…)`, `helper ID(…)`; a name not in the helper table is an extern.
    fn helper(&mut self, result: bool, at: InstAt) -> Result<InstKind> {
        let t = self.next();
        let id = match t.kind {
            Tok::Int => Some(self.int_of(t, "a helper id (u16)")?),
            Tok::Ident => stdlib::helper_by_name(self.text(t)).map(|h| h.id),
            _ => return Err(self.unexpected(t, "a helper name")),
        };
        self.expect(Tok::LParen, "`(`")?;
        let args = self.list(Tok::RParen, |p| {
            let t = p.peek();
            match t.kind {
                Tok::Ident => Ok(HelperArg::Value(p.value()?)),
                Tok::Attr => Ok(HelperArg::Attr(p.attr_imm()?)),
                _ => Err(p.unexpected(t, "a value or an attribute (`#class.attr`)")),
            }
        })?;
        if let Some(id) = id {
            return Ok(InstKind::Helper { id, args, result });
        }
        let name = self.text(t);
        let args = args
            .into_iter()
            .map(|arg| match arg {
                HelperArg::Value(v) => Ok(Arg::Value(v)),
                HelperArg::Attr(_) => Err(error(
                    "V0003",
                    t.span(),
                    format!("unknown helper `{name}`: an extern cannot take `#class.attr`"),
                )),
            })
            .collect::<Result<_>>()?;
        let callee = self.defer_callee(at, name, t, true);
        Ok(InstKind::Call { callee, args, result })
    }

    /// Records a callee to resolve at the end; returns a placeholder.
    fn defer_callee(&mut self, at: InstAt, name: &'a str, t: Token, helper: bool) -> Callee {
        self.callee_refs.push(CalleeRef {
            at,
            name,
            span: t.span(),
            helper,
        });
        Callee::Extern(ExternId(u32::MAX))
    }

    /// What a deferred callee names once every function is declared: a
    /// function, a declared extern, or (`None`) an extern not declared yet.
    fn known_callee(&self, r: &CalleeRef<'a>) -> Result<Option<Callee>> {
        match self.s.funcs.get(r.name) {
            Some(&f) if !r.helper => Ok(Some(Callee::Func(FuncId(f)))),
            Some(_) => {
                let message = format!(
                    "`{0}` is not a helper, and cannot name an extern because it names a function of this \
                     module: call it with `call @{0}(…)`",
                    r.name
                );
                Err(error("V0006", r.span.clone(), message))
            }
            None => Ok(self.s.externs.get(r.name).map(|&e| Callee::Extern(ExternId(e)))),
        }
    }

    fn resolve_callees(&mut self) -> Result<()> {
        for r in std::mem::take(&mut self.callee_refs) {
            let callee = match self.known_callee(&r)? {
                Some(callee) => callee,
                None => {
                    let id = self.s.module.externs.len() as u32;
                    self.s.externs.insert(r.name.into(), id);
                    self.s.module.externs.push(r.name.to_owned());
                    self.s.map.externs.push(r.span.clone());
                    Callee::Extern(ExternId(id))
                }
            };
            let InstAt { func, block, inst } = r.at;
            let inst = self
                .s
                .module
                .funcs
                .get_mut(func)
                .and_then(|f| f.blocks.get_mut(block)?.insts.get_mut(inst));
            if let Some(Inst {
                kind: InstKind::Call { callee: slot, .. },
                ..
            }) = inst
            {
                *slot = callee;
            }
        }
        Ok(())
    }
}

/// Where a function body that starts at `from` (after its `{`) ends: just
/// after the first `}` outside strings and comments, as the lexer sees
/// them (`;` starts a comment outside brackets); `None` if `bytes` end
/// first. Brackets are counted only up to each `;` or `"`, which bodies
/// seldom have. Only a guess, which [`Parser::body`] confirms by parsing.
pub(super) fn skip_body(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    let mut brackets = 0u32;
    let mut counted = from;
    loop {
        at = find_special(bytes, at)?;
        if bytes[at] == b'}' {
            return Some(at + 1);
        }
        for &b in &bytes[counted..at] {
            match b {
                b'[' => brackets = brackets.saturating_add(1),
                b']' => brackets = brackets.saturating_sub(1),
                _ => {}
            }
        }
        match bytes[at] {
            b';' if brackets == 0 => at = find(bytes, at, b'\n')?,
            b';' => {}
            _ => {
                // A string: through its closing quote.
                at += 1;
                while let Some(&c) = bytes.get(at) {
                    match c {
                        b'"' => break,
                        b'\\' => at += 2,
                        _ => at += 1,
                    }
                }
            }
        }
        at += 1;
        counted = at.min(bytes.len());
    }
}

/// The first `}`, `"` or `;` at or after `from`. Checks 32 bytes at a time
/// without a branch per byte (a byte per byte, non-zero where it is one of
/// these, tested together: the compiler makes it vector compares), as a
/// body is mostly bytes that are none of these.
fn find_special(bytes: &[u8], from: usize) -> Option<usize> {
    let special = |b: u8| (b == b'}') | (b == b'"') | (b == b';');
    let rest = bytes.get(from..)?;
    let mut offset = 0;
    for chunk in rest.chunks_exact(32) {
        let mut hits = [0u8; 32];
        for (hit, &b) in hits.iter_mut().zip(chunk) {
            *hit = u8::from(special(b));
        }
        let (low, high) = hits.split_at(16);
        let hits = u128::from_ne_bytes(low.try_into().ok()?) | u128::from_ne_bytes(high.try_into().ok()?);
        if hits != 0 {
            break;
        }
        offset += 32;
    }
    rest[offset..]
        .iter()
        .position(|&b| special(b))
        .map(|i| from + offset + i)
}

/// The first `byte` at or after `from`.
fn find(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    bytes.get(from..)?.iter().position(|&b| b == byte).map(|i| from + i)
}
