//! Fast paths of the body parser: a block header, an instruction or a
//! terminator written the common way, read straight from the bytes rather
//! than token by token.
//!
//! A fast path reads from where the lexer rests ([`Lexer::resting`]) and
//! either gives exactly what the token-by-token parser would give there —
//! the same item, having consumed the same tokens, the lexer left after
//! the last of them — or `None`, having changed nothing but the lexer's
//! lookahead (which is cut again the same way), so that the token-by-token
//! parser reads the item instead. It declines everything uncommon (hex
//! integers, catches, spans, fields, attributes, types other than `i64`,
//! `bool`, `nz` and `evt`, callees not yet declared, …) and everything
//! the token-by-token parser would refuse, which then reports it. The
//! cuts are the lexer's: a token is the longest match of its pattern, so
//! that `v1x` is not the value `v1`, while `$1x` is the slot `$1` then an
//! identifier. A unit test compares both parsers on every test module and
//! edits of them, and the round-trip tests on random modules.
//!
//! [`Lexer::resting`]: super::super::lexer::Lexer::resting

use super::super::lexer::is_ident_char;
use super::{Frame, Parser};
use crate::*;

/// A cursor over the text: `at` is where the next token's search starts,
/// `end` the end of the last token read.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
    end: usize,
}

/// A line the fast path read: an instruction or a terminator.
pub(super) enum Line {
    Inst(InstKind),
    Term(Terminator),
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

impl<'b> Cursor<'b> {
    /// Skips whitespace and comments (the fast paths read nothing inside
    /// brackets, where `;` is not a comment, but `[vN]`, without them).
    #[inline]
    fn ws(&mut self) {
        loop {
            match self.bytes.get(self.at) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0c) => self.at += 1,
                Some(b';') => {
                    self.at += 1;
                    while self.bytes.get(self.at).is_some_and(|&b| b != b'\n') {
                        self.at += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Skips whitespace only: `None` at a `;` (inside brackets a token).
    #[inline]
    fn ws_plain(&mut self) -> Option<()> {
        loop {
            match self.bytes.get(self.at) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0c) => self.at += 1,
                Some(b';') => return None,
                _ => return Some(()),
            }
        }
    }

    /// The first byte of the next token, after whitespace and comments.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.at).copied()
    }

    /// Takes the one-byte token `b` (not `.` or `-`, which can start
    /// longer tokens).
    #[inline]
    fn punct(&mut self, b: u8) -> Option<()> {
        if self.peek()? != b {
            return None;
        }
        self.at += 1;
        self.end = self.at;
        Some(())
    }

    /// Takes `b` if it is the next token, as [`Cursor::punct`].
    #[inline]
    fn eat(&mut self, b: u8) -> bool {
        self.punct(b).is_some()
    }

    /// The end of the identifier characters from `from`.
    #[inline]
    fn ident_end(&self, from: usize) -> usize {
        let mut at = from;
        while self.bytes.get(at).is_some_and(|&b| is_ident_char(b)) {
            at += 1;
        }
        at
    }

    /// Takes an identifier: `[A-Za-z_][A-Za-z0-9_]*`.
    #[inline]
    fn ident(&mut self) -> Option<&'b [u8]> {
        let first = self.peek()?;
        if !is_ident_start(first) {
            return None;
        }
        let start = self.at;
        self.at = self.ident_end(start + 1);
        self.end = self.at;
        Some(&self.bytes[start..self.at])
    }

    /// Decimal digits from `from` as a `u32`: `None` if there are none or
    /// more than 10 (a longer run of leading zeros is the slow path's), or
    /// the value does not fit. Returns the value and the digits' end.
    #[inline]
    fn u32_at(&self, from: usize) -> Option<(u32, usize)> {
        let digits = self.bytes.get(from..)?;
        let mut n = 0u64;
        let mut len = 0;
        for &d in digits.iter().take(11) {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n * 10 + u64::from(d);
            len += 1;
        }
        if len == 0 || len > 10 {
            return None;
        }
        Some((u32::try_from(n).ok()?, from + len))
    }

    /// An identifier `PREFIXN` (`v3`, `block7`) next, without taking it:
    /// N and the identifier's end.
    #[inline]
    fn numbered(&mut self, prefix: &[u8]) -> Option<(u32, usize)> {
        self.ws();
        let from = self.at + prefix.len();
        let found = self.bytes.get(self.at..from)?;
        // Byte by byte: shorter than a call to `memcmp`.
        if found.iter().zip(prefix).any(|(a, b)| a != b) {
            return None;
        }
        let (n, end) = self.u32_at(from)?;
        if self.bytes.get(end).is_some_and(|&b| is_ident_char(b)) {
            return None;
        }
        Some((n, end))
    }

    /// Takes a value `vN`.
    #[inline]
    fn value(&mut self) -> Option<ValueId> {
        let (n, end) = self.numbered(b"v")?;
        self.at = end;
        self.end = end;
        Some(ValueId(n))
    }

    /// Takes `vA, vB`.
    #[inline]
    fn two_values(&mut self) -> Option<(ValueId, ValueId)> {
        let lhs = self.value()?;
        self.punct(b',')?;
        Some((lhs, self.value()?))
    }

    /// Takes a block `blockN`.
    #[inline]
    fn block(&mut self) -> Option<BlockId> {
        let (n, end) = self.numbered(b"block")?;
        self.at = end;
        self.end = end;
        Some(BlockId(n))
    }

    /// Takes a sigil (`$`, `%`) and its number.
    #[inline]
    fn sigil_number(&mut self, sigil: u8) -> Option<u32> {
        if self.peek()? != sigil {
            return None;
        }
        let (n, end) = self.u32_at(self.at + 1)?;
        self.at = end;
        self.end = end;
        Some(n)
    }

    /// Takes `@name`: the name.
    #[inline]
    fn at_name(&mut self) -> Option<&'b [u8]> {
        if self.peek()? != b'@' || !self.bytes.get(self.at + 1).is_some_and(|&b| is_ident_start(b)) {
            return None;
        }
        let start = self.at + 1;
        self.at = self.ident_end(start + 1);
        self.end = self.at;
        Some(&self.bytes[start..self.at])
    }

    /// Takes a decimal integer (`-?[0-9]+`, not `0x…`), if its magnitude
    /// fits 64 bits: `(negative, magnitude)`.
    #[inline]
    fn int(&mut self) -> Option<(bool, u64)> {
        let first = self.peek()?;
        let negative = first == b'-';
        let from = self.at + usize::from(negative);
        let mut at = from;
        let mut n = 0u64;
        while let Some(&d) = self.bytes.get(at) {
            if !d.is_ascii_digit() {
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            at += 1;
        }
        if at == from || (self.bytes[from] == b'0' && self.bytes.get(from + 1) == Some(&b'x')) {
            return None;
        }
        self.at = at;
        self.end = at;
        Some((negative, n))
    }

    /// `(item, item, …)` with a trailing comma allowed, as the parser's
    /// `list`.
    #[inline]
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.punct(b'(')?;
        let mut items = Vec::new();
        while !self.eat(b')') {
            items.push(item(self)?);
            if self.peek()? != b')' {
                self.punct(b',')?;
            }
        }
        Some(items)
    }

    /// `blockN` and its arguments, if any.
    #[inline]
    fn block_call(&mut self) -> Option<BlockCall> {
        let block = self.block()?;
        let args = if self.peek() == Some(b'(') {
            self.list(Self::value)?
        } else {
            Vec::new()
        };
        Some(BlockCall { block, args })
    }
}

impl<'a> Parser<'a> {
    fn cursor(&mut self) -> Option<Cursor<'a>> {
        if !self.fast {
            return None;
        }
        let at = self.lex.resting()?;
        Some(Cursor {
            bytes: self.src.as_bytes(),
            at,
            end: at,
        })
    }

    /// A name's text (the fast paths read only ASCII names).
    fn name<'n>(&self, bytes: &'n [u8]) -> Option<&'n str> {
        std::str::from_utf8(bytes).ok()
    }

    /// A root: `@global`, `$N` or `%N`.
    fn fast_root(&self, c: &mut Cursor<'_>) -> Option<Root> {
        match c.peek()? {
            b'@' => {
                let name = c.at_name()?;
                // Most places name the global the one before named.
                let id = match self.last_global.get() {
                    Some((last, id)) if last.as_bytes() == name => id,
                    _ => {
                        let (name, id) = self.globals.get_key_value(self.name(name)?)?;
                        self.last_global.set(Some((name, *id)));
                        *id
                    }
                };
                Some(Root::Global(GlobalId(id)))
            }
            b'$' => Some(Root::Slot(SlotId(c.sigil_number(b'$')?))),
            b'%' => Some(Root::Param(c.sigil_number(b'%')?)),
            _ => None,
        }
    }

    /// A place without fields: `ROOT` or `ROOT[vI]`.
    fn fast_place(&self, c: &mut Cursor<'_>) -> Option<Place> {
        let root = self.fast_root(c)?;
        let index = if c.peek()? == b'[' {
            c.at += 1;
            c.ws_plain()?;
            let (n, end) = c.numbered(b"v")?;
            c.at = end;
            c.ws_plain()?;
            if c.bytes.get(c.at) != Some(&b']') {
                return None;
            }
            c.at += 1;
            c.end = c.at;
            Some(ValueId(n))
        } else {
            None
        };
        if c.peek() == Some(b'.') {
            return None;
        }
        Some(Place {
            root,
            index,
            fields: Vec::new(),
        })
    }

    /// A block header `blockN(vA: T, …) loop(blockM):` for block `block`:
    /// its parameters and loop end, and where it starts and ends.
    pub(super) fn fast_header(
        &mut self,
        frame: &mut Frame,
        block: usize,
    ) -> Option<(Vec<Type>, Option<BlockId>, usize, usize)> {
        let mut c = self.cursor()?;
        c.ws();
        let start = c.at;
        if c.block()?.index() != block {
            return None;
        }
        let mut next_value = frame.next_value;
        let params = if c.peek()? == b'(' {
            c.list(|c| {
                if u64::from(c.value()?.0) != next_value {
                    return None;
                }
                next_value += 1;
                c.punct(b':')?;
                Some(match c.ident()? {
                    b"i64" => Type::I64,
                    b"bool" => Type::Bool,
                    b"nz" => Type::NonZero,
                    b"evt" => Type::Event,
                    _ => return None,
                })
            })?
        } else {
            Vec::new()
        };
        let mut loop_end = None;
        if c.peek()? == b'l' {
            if c.ident()? != b"loop" {
                return None;
            }
            c.punct(b'(')?;
            loop_end = Some(c.block()?);
            c.punct(b')')?;
        }
        c.punct(b':')?;
        let end = c.end;
        frame.next_value = next_value;
        self.lex.skip_to(end);
        Some((params, loop_end, start, end))
    }

    /// An instruction or terminator without catches or span; where it
    /// starts and ends.
    pub(super) fn fast_line(&mut self, frame: &mut Frame) -> Option<(Line, usize, usize)> {
        let mut c = self.cursor()?;
        c.ws();
        let start = c.at;
        let result = match c.numbered(b"v") {
            Some((n, end)) => {
                if u64::from(n) != frame.next_value {
                    return None;
                }
                c.at = end;
                c.end = end;
                c.punct(b'=')?;
                true
            }
            None => false,
        };
        c.ws();
        let word_start = c.at;
        let mut word = c.ident()?;
        if word == b"check" {
            // `check.KIND`, written without spaces (with them it is no
            // instruction).
            if c.bytes.get(c.at) != Some(&b'.') || !c.bytes.get(c.at + 1).is_some_and(|&b| is_ident_start(b)) {
                return None;
            }
            c.at = c.ident_end(c.at + 2);
            c.end = c.at;
            word = &c.bytes[word_start..c.at];
        }
        let value = |c: &mut Cursor<'_>| c.value();
        let line = match (word, result) {
            (b"iadd", true) => binary(&mut c, BinaryOp::Add)?,
            (b"isub", true) => binary(&mut c, BinaryOp::Sub)?,
            (b"imul", true) => binary(&mut c, BinaryOp::Mul)?,
            (b"sdiv", true) => binary(&mut c, BinaryOp::Div)?,
            (b"srem", true) => binary(&mut c, BinaryOp::Rem)?,
            (b"and", true) => binary(&mut c, BinaryOp::And)?,
            (b"or", true) => binary(&mut c, BinaryOp::Or)?,
            (b"xor", true) => binary(&mut c, BinaryOp::Xor)?,
            (b"ishl", true) => binary(&mut c, BinaryOp::Shl)?,
            (b"sshr", true) => binary(&mut c, BinaryOp::Shr)?,
            (b"ineg", true) => Line::Inst(InstKind::Unary {
                op: UnaryOp::Neg,
                arg: value(&mut c)?,
            }),
            (b"not", true) => Line::Inst(InstKind::Unary {
                op: UnaryOp::Not,
                arg: value(&mut c)?,
            }),
            (b"iconst", true) => {
                let (negative, n) = c.int()?;
                let n = if negative {
                    0i64.checked_sub_unsigned(n)?
                } else {
                    i64::try_from(n).ok()?
                };
                Line::Inst(InstKind::Iconst(n))
            }
            (b"fuel", false) => match c.int()? {
                (false, n) => Line::Inst(InstKind::Fuel(n)),
                // `-0` is 0.
                (true, 0) => Line::Inst(InstKind::Fuel(0)),
                (true, _) => return None,
            },
            (b"bconst", true) => Line::Inst(InstKind::Bconst(match c.ident()? {
                b"true" => true,
                b"false" => false,
                _ => return None,
            })),
            (b"icmp", true) => {
                let cond = match c.ident()? {
                    b"eq" => Cond::Eq,
                    b"ne" => Cond::Ne,
                    b"lt" => Cond::Lt,
                    b"le" => Cond::Le,
                    b"gt" => Cond::Gt,
                    b"ge" => Cond::Ge,
                    _ => return None,
                };
                let (lhs, rhs) = c.two_values()?;
                Line::Inst(InstKind::Icmp { cond, lhs, rhs })
            }
            (b"check.nonzero", true) => Line::Inst(InstKind::CheckNonZero(c.value()?)),
            (b"check.null", true) => Line::Inst(InstKind::CheckNull(c.value()?)),
            (b"check.bounds", true) => {
                let value = c.value()?;
                c.punct(b',')?;
                Line::Inst(InstKind::CheckBounds {
                    value,
                    root: self.fast_root(&mut c)?,
                })
            }
            (b"load", true) => Line::Inst(InstKind::Load(self.fast_place(&mut c)?)),
            (b"store", false) => {
                let place = self.fast_place(&mut c)?;
                c.punct(b',')?;
                Line::Inst(InstKind::Store {
                    place,
                    value: c.value()?,
                })
            }
            (b"init", false) => Line::Inst(InstKind::Init(SlotId(c.sigil_number(b'$')?))),
            (b"size", true) => Line::Inst(InstKind::Size(self.fast_root(&mut c)?)),
            (b"call", _) => {
                let name = c.at_name()?;
                let callee = Callee::Func(FuncId(*self.funcs.get(self.name(name)?)?));
                let args = c.list(|c| match c.peek()? {
                    b'@' | b'$' | b'%' => Some(Arg::Ref(self.fast_root(c)?)),
                    _ => Some(Arg::Value(c.value()?)),
                })?;
                Line::Inst(InstKind::Call { callee, args, result })
            }
            (b"helper", _) => {
                let id = match c.peek()? {
                    b'0'..=b'9' => match c.int()? {
                        (false, n) => u16::try_from(n).ok()?,
                        (true, _) => return None,
                    },
                    _ => stdlib::helper_by_name(self.name(c.ident()?)?)?.id,
                };
                let args = c.list(|c| Some(HelperArg::Value(c.value()?)))?;
                Line::Inst(InstKind::Helper { id, args, result })
            }
            (b"jump", false) => Line::Term(Terminator::Jump(c.block_call()?)),
            (b"brif", false) => {
                let cond = c.value()?;
                c.punct(b',')?;
                let then_to = c.block_call()?;
                c.punct(b',')?;
                let else_to = c.block_call()?;
                Line::Term(Terminator::Brif { cond, then_to, else_to })
            }
            // Anything from a `v` on is the value's (or the slow path's).
            (b"ret", false) => Line::Term(Terminator::Return(match c.peek() {
                Some(b'v') => Some(c.value()?),
                _ => None,
            })),
            _ => return None,
        };
        // Catches (`!catch`) and spans (`@LO..HI`) are the slow path's.
        if matches!(c.peek(), Some(b'!' | b'@')) {
            return None;
        }
        if result {
            frame.next_value += 1;
        }
        let end = c.end;
        self.lex.skip_to(end);
        Some((line, start, end))
    }
}

fn binary(c: &mut Cursor<'_>, op: BinaryOp) -> Option<Line> {
    let (lhs, rhs) = c.two_values()?;
    Some(Line::Inst(InstKind::Binary { op, lhs, rhs }))
}
