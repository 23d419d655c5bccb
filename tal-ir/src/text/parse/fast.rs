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
//! [`Parser::fast_lines`] reads a block's lines one after another, each so,
//! without going back to the lexer between them, and stops at the
//! terminator or at the first line it declines (the lexer then rests after
//! the line before). Vectors of a spent function (its blocks' parameters
//! and branch arguments) are reused, and each instruction is pushed where
//! it is made.
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

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

impl<'b> Cursor<'b> {
    /// Skips whitespace and comments (the fast paths read nothing inside
    /// brackets, where `;` is not a comment, but `[vN]`, without them).
    #[inline(always)]
    fn ws(&mut self) {
        // Most tokens are followed by a token, by one space and a token,
        // or by a line's end and the next line's indent and first token.
        let token = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b != b';');
        match self.bytes.get(self.at) {
            Some(&b) if b > b' ' && b != b';' => return,
            Some(b' ') if token(self.bytes.get(self.at + 1)) => {
                self.at += 1;
                return;
            }
            Some(b'\n') => {
                let indent = self.spaces(self.at + 1);
                if token(self.bytes.get(self.at + 1 + indent)) {
                    self.at += 1 + indent;
                    return;
                }
            }
            _ => {}
        }
        self.more_ws();
    }

    /// How many of the (up to 8) bytes from `at` are spaces, at once.
    #[inline(always)]
    fn spaces(&self, at: usize) -> usize {
        match self.bytes.get(at..at + 8) {
            Some(word) => {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                ((word ^ (ONES * u64::from(b' '))).trailing_zeros() / 8) as usize
            }
            None => 0,
        }
    }

    /// [`Cursor::ws`] past a line's end or a run of spaces (the indent).
    #[inline(never)]
    fn more_ws(&mut self) {
        loop {
            match self.bytes.get(self.at) {
                Some(b' ') => self.at += self.spaces(self.at).max(1),
                Some(b'\t' | b'\r' | b'\n' | 0x0c) => self.at += 1,
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
    #[inline(always)]
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
    #[inline(always)]
    fn u32_at(&self, from: usize) -> Option<(u32, usize)> {
        if let Some(word) = self.bytes.get(from..from + 8) {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            if let Some((n, len)) = eight_digits(word) {
                return Some((n, from + len));
            }
        }
        let mut at = from;
        let mut n = 0u64;
        while let Some(&d) = self.bytes.get(at) {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n * 10 + u64::from(d);
            at += 1;
            if at - from > 10 {
                return None;
            }
        }
        if at == from {
            return None;
        }
        Some((u32::try_from(n).ok()?, at))
    }

    /// An identifier `PREFIXN` (`v3`, `block7`) next, without taking it:
    /// N and the identifier's end.
    #[inline(always)]
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
    #[inline(always)]
    fn value(&mut self) -> Option<ValueId> {
        let (n, end) = self.numbered(b"v")?;
        self.at = end;
        self.end = end;
        Some(ValueId(n))
    }

    /// Takes `vA, vB`.
    #[inline(always)]
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
    /// `list`, into `items` (emptied first).
    #[inline]
    fn list_into<T>(&mut self, items: &mut Vec<T>, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<()> {
        self.punct(b'(')?;
        items.clear();
        while !self.eat(b')') {
            items.push(item(self)?);
            if self.peek()? != b')' {
                self.punct(b',')?;
            }
        }
        Some(())
    }

    /// `(item, item, …)` into a new vector.
    #[inline]
    fn list<T>(&mut self, item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut items = Vec::new();
        self.list_into(&mut items, item)?;
        Some(items)
    }

    /// `(vA, vB, …)` into `values` (emptied first), as [`Cursor::list_into`]
    /// with [`Cursor::value`] but shorter.
    #[inline]
    fn values_into(&mut self, values: &mut Vec<ValueId>) -> Option<()> {
        self.punct(b'(')?;
        values.clear();
        loop {
            if self.eat(b')') {
                return Some(());
            }
            values.push(self.value()?);
            self.ws();
            match *self.bytes.get(self.at)? {
                b',' => self.at += 1,
                b')' => {}
                _ => return None,
            }
        }
    }

    /// `blockN` and its arguments, if any, in a vector from `spares` (one
    /// is given back there if the call is declined).
    #[inline]
    fn block_call(&mut self, spares: &mut Vec<Vec<ValueId>>) -> Option<BlockCall> {
        let block = self.block()?;
        let mut args = Vec::new();
        if self.peek() == Some(b'(') {
            args = spares.pop().unwrap_or_default();
            if self.values_into(&mut args).is_none() {
                spares.push(args);
                return None;
            }
        }
        Some(BlockCall { block, args })
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The decimal digits that start 8 bytes (little-endian: the first byte
/// lowest), if fewer than 8 and at least one: their value and how many.
/// Eight bytes at once: the first non-digit is the lowest byte whose value
/// less `'0'` is over 9 (borrows only run to higher bytes, past it), and
/// the digits, moved to the top, are summed in pairs, fours and eights.
#[inline(always)]
fn eight_digits(word: u64) -> Option<(u32, usize)> {
    let values = word.wrapping_sub(ONES * u64::from(b'0'));
    let other = (values.wrapping_add(ONES * (0x80 - 10)) | values) & HIGH_BITS;
    let len = (other.trailing_zeros() / 8) as usize;
    if len == 0 || len == 8 {
        return None;
    }
    let digits = values << (8 * (8 - len));
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let n = ((pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32))
        + ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some((n as u32, len))
}

/// What [`Parser::fast_lines`] stopped at.
pub(super) enum Stop {
    /// The block's terminator, and where it starts and ends in the text.
    Term(Terminator, usize, usize),
    /// A line the fast paths decline: the lexer rests after the lines
    /// before it, for the token-by-token parser to read it.
    Declined,
}

/// A word of 1 to 8 bytes, `bytes[start..start + len]`, as an integer
/// (little-endian, zeros after the word): one comparison tells apart words
/// of at most 8 bytes.
#[inline(always)]
fn word_key(bytes: &[u8], start: usize, len: usize) -> u64 {
    match bytes.get(start..start + 8) {
        Some(word) => u64::from_le_bytes(word.try_into().unwrap_or_default()) & (u64::MAX >> (8 * (8 - len))),
        None => key(bytes.get(start..start + len).unwrap_or_default()),
    }
}

/// [`word_key`] for constants.
const fn key(word: &[u8]) -> u64 {
    let mut key = 0;
    let mut i = 0;
    while i < word.len() && i < 8 {
        key |= (word[i] as u64) << (8 * i);
        i += 1;
    }
    key
}

const IADD: u64 = key(b"iadd");
const ISUB: u64 = key(b"isub");
const IMUL: u64 = key(b"imul");
const SDIV: u64 = key(b"sdiv");
const SREM: u64 = key(b"srem");
const AND: u64 = key(b"and");
const OR: u64 = key(b"or");
const XOR: u64 = key(b"xor");
const ISHL: u64 = key(b"ishl");
const SSHR: u64 = key(b"sshr");
const INEG: u64 = key(b"ineg");
const NOT: u64 = key(b"not");
const ICONST: u64 = key(b"iconst");
const FUEL: u64 = key(b"fuel");
const BCONST: u64 = key(b"bconst");
const ICMP: u64 = key(b"icmp");
const LOAD: u64 = key(b"load");
const STORE: u64 = key(b"store");
const INIT: u64 = key(b"init");
const SIZE: u64 = key(b"size");
const CALL: u64 = key(b"call");
const HELPER: u64 = key(b"helper");
const JUMP: u64 = key(b"jump");
const BRIF: u64 = key(b"brif");
const RET: u64 = key(b"ret");

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
                let last = self.last_global.get();
                let id = match last.and_then(|id| self.s.module.globals.get(id as usize)) {
                    Some(global) if global.name.as_bytes() == name => last?,
                    _ => {
                        let id = *self.s.globals.get(self.name(name)?)?;
                        self.last_global.set(Some(id));
                        id
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
    /// its parameters (in a vector from the spares) and loop end, and where
    /// it starts and ends.
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
        let mut params = Vec::new();
        if c.peek()? == b'(' {
            params = self.spare_types.pop().unwrap_or_default();
            let read = c.list_into(&mut params, |c| {
                if u64::from(c.value()?.0) != next_value {
                    return None;
                }
                next_value += 1;
                c.punct(b':')?;
                // Most are `i64`.
                c.ws();
                if c.bytes.get(c.at..c.at + 3) == Some(b"i64")
                    && !c.bytes.get(c.at + 3).is_some_and(|&b| is_ident_char(b))
                {
                    c.at += 3;
                    c.end = c.at;
                    return Some(Type::I64);
                }
                Some(match c.ident()? {
                    b"i64" => Type::I64,
                    b"bool" => Type::Bool,
                    b"nz" => Type::NonZero,
                    b"evt" => Type::Event,
                    _ => return None,
                })
            });
            if read.is_none() {
                self.spare_types.push(params);
                return None;
            }
        }
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

    /// The instructions of a block, from where the lexer rests, as long as
    /// they are written the common way (without catches or span), pushed
    /// to `insts` (and where each is to `text`); then its terminator, or
    /// the first line declined.
    pub(super) fn fast_lines(
        &mut self,
        frame: &mut Frame,
        insts: &mut Vec<Inst>,
        mut text: Option<&mut BlockText>,
    ) -> Stop {
        let Some(mut c) = self.cursor() else {
            return Stop::Declined;
        };
        let base = self.lex.base();
        c.ws();
        let mut read = None;
        loop {
            let start = c.at;
            match self.fast_line(&mut c, frame, insts) {
                Some(None) => {
                    if let Some(text) = text.as_deref_mut() {
                        text.insts.push(base + start..base + c.end);
                    }
                    read = Some(c.end);
                }
                Some(Some(term)) => {
                    self.lex.skip_to(c.end);
                    return Stop::Term(term, base + start, base + c.end);
                }
                None => {
                    if let Some(end) = read {
                        self.lex.skip_to(end);
                    }
                    return Stop::Declined;
                }
            }
        }
    }

    /// An instruction or terminator without catches or span, from `c`
    /// (after whitespace): `Some(None)` if an instruction, pushed to
    /// `insts`; `c` is left after the whitespace that follows.
    #[inline]
    fn fast_line(
        &mut self,
        c: &mut Cursor<'a>,
        frame: &mut Frame,
        insts: &mut Vec<Inst>,
    ) -> Option<Option<Terminator>> {
        // Each instruction is pushed where it is made, not returned: fewer
        // moves through the stack, where wide loads of what was just
        // written narrow stall.
        macro_rules! push {
            ($kind:expr) => {{
                insts.push(Inst {
                    kind: $kind,
                    catches: Vec::new(),
                    span: None,
                });
                None
            }};
        }
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
        let word = c.ident()?;
        let term = if word.len() > 8 {
            return None;
        } else if word == b"check" {
            // `check.KIND`, written without spaces (with them it is no
            // instruction).
            if !result || c.bytes.get(c.at) != Some(&b'.') || !c.bytes.get(c.at + 1).is_some_and(|&b| is_ident_start(b))
            {
                return None;
            }
            c.at = c.ident_end(c.at + 2);
            c.end = c.at;
            match &c.bytes[word_start..c.at] {
                b"check.nonzero" => push!(InstKind::CheckNonZero(c.value()?)),
                b"check.null" => push!(InstKind::CheckNull(c.value()?)),
                b"check.bounds" => {
                    let value = c.value()?;
                    c.punct(b',')?;
                    let root = self.fast_root(c)?;
                    push!(InstKind::CheckBounds { value, root })
                }
                _ => return None,
            }
        } else if result {
            macro_rules! binary {
                ($op:expr) => {{
                    let (lhs, rhs) = c.two_values()?;
                    push!(InstKind::Binary { op: $op, lhs, rhs })
                }};
            }
            match word_key(c.bytes, word_start, word.len()) {
                IADD => binary!(BinaryOp::Add),
                ISUB => binary!(BinaryOp::Sub),
                IMUL => binary!(BinaryOp::Mul),
                SDIV => binary!(BinaryOp::Div),
                SREM => binary!(BinaryOp::Rem),
                AND => binary!(BinaryOp::And),
                OR => binary!(BinaryOp::Or),
                XOR => binary!(BinaryOp::Xor),
                ISHL => binary!(BinaryOp::Shl),
                SSHR => binary!(BinaryOp::Shr),
                INEG => {
                    let arg = c.value()?;
                    push!(InstKind::Unary { op: UnaryOp::Neg, arg })
                }
                NOT => {
                    let arg = c.value()?;
                    push!(InstKind::Unary { op: UnaryOp::Not, arg })
                }
                ICONST => {
                    let (negative, n) = c.int()?;
                    let n = if negative {
                        0i64.checked_sub_unsigned(n)?
                    } else {
                        i64::try_from(n).ok()?
                    };
                    push!(InstKind::Iconst(n))
                }
                BCONST => {
                    let b = match c.ident()? {
                        b"true" => true,
                        b"false" => false,
                        _ => return None,
                    };
                    push!(InstKind::Bconst(b))
                }
                ICMP => {
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
                    push!(InstKind::Icmp { cond, lhs, rhs })
                }
                LOAD => {
                    let place = self.fast_place(c)?;
                    push!(InstKind::Load(place))
                }
                SIZE => {
                    let root = self.fast_root(c)?;
                    push!(InstKind::Size(root))
                }
                CALL => push!(self.fast_call(c, true)?),
                HELPER => push!(self.fast_helper(c, true)?),
                _ => return None,
            }
        } else {
            match word_key(c.bytes, word_start, word.len()) {
                FUEL => {
                    let n = match c.int()? {
                        (false, n) => n,
                        // `-0` is 0.
                        (true, 0) => 0,
                        (true, _) => return None,
                    };
                    push!(InstKind::Fuel(n))
                }
                STORE => {
                    let place = self.fast_place(c)?;
                    c.punct(b',')?;
                    let value = c.value()?;
                    push!(InstKind::Store { place, value })
                }
                INIT => {
                    let slot = c.sigil_number(b'$')?;
                    push!(InstKind::Init(SlotId(slot)))
                }
                CALL => push!(self.fast_call(c, false)?),
                HELPER => push!(self.fast_helper(c, false)?),
                JUMP => Some(Terminator::Jump(c.block_call(&mut self.spare_values)?)),
                BRIF => {
                    let cond = c.value()?;
                    c.punct(b',')?;
                    let then_to = c.block_call(&mut self.spare_values)?;
                    c.punct(b',')?;
                    let Some(else_to) = c.block_call(&mut self.spare_values) else {
                        self.spare_values.push(then_to.args);
                        return None;
                    };
                    Some(Terminator::Brif { cond, then_to, else_to })
                }
                // Anything from a `v` on is the value's (or the slow path's).
                RET => Some(Terminator::Return(match c.peek() {
                    Some(b'v') => Some(c.value()?),
                    _ => None,
                })),
                _ => return None,
            }
        };
        // Catches (`!catch`) and spans (`@LO..HI`) are the slow path's.
        if matches!(c.peek(), Some(b'!' | b'@')) {
            match term {
                Some(term) => self.give_back(term),
                None => drop(insts.pop()),
            }
            return None;
        }
        if result {
            frame.next_value += 1;
        }
        Some(term)
    }

    /// `call @f(…)` after `call`, `@f` declared.
    #[inline]
    fn fast_call(&self, c: &mut Cursor<'_>, result: bool) -> Option<InstKind> {
        let name = c.at_name()?;
        let callee = Callee::Func(FuncId(*self.s.funcs.get(self.name(name)?)?));
        let args = c.list(|c| match c.peek()? {
            b'@' | b'$' | b'%' => Some(Arg::Ref(self.fast_root(c)?)),
            _ => Some(Arg::Value(c.value()?)),
        })?;
        Some(InstKind::Call { callee, args, result })
    }

    /// `helper NAME(…)` or `helper ID(…)` after `helper`, with values only.
    #[inline]
    fn fast_helper(&self, c: &mut Cursor<'_>, result: bool) -> Option<InstKind> {
        let id = match c.peek()? {
            b'0'..=b'9' => match c.int()? {
                (false, n) => u16::try_from(n).ok()?,
                (true, _) => return None,
            },
            _ => stdlib::helper_by_name(self.name(c.ident()?)?)?.id,
        };
        let args = c.list(|c| Some(HelperArg::Value(c.value()?)))?;
        Some(InstKind::Helper { id, args, result })
    }

    /// Keeps the argument vectors of a terminator that was not used.
    fn give_back(&mut self, term: Terminator) {
        match term {
            Terminator::Jump(to) => self.spare_values.push(to.args),
            Terminator::Brif { then_to, else_to, .. } => {
                self.spare_values.push(then_to.args);
                self.spare_values.push(else_to.args);
            }
            Terminator::Return(_) | Terminator::Raise(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::eight_digits;

    /// The digits 8 bytes start with, a byte at a time.
    fn one_at_a_time(bytes: [u8; 8]) -> Option<(u32, usize)> {
        let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let n = bytes[..len].iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'));
        (1..8).contains(&len).then_some((n, len))
    }

    #[test]
    fn eight_digits_at_once_as_one_at_a_time() {
        // Every length, digits anywhere, and after them each byte around
        // the digits' and anything.
        let mut seed = 1u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        };
        let after = [0, b' ', b',', b')', b'/', b':', b'a', b'_', 0x7f, 0x80, 0xff];
        for _ in 0..20_000 {
            for len in 0..=8 {
                let mut bytes = [0u8; 8];
                for b in &mut bytes {
                    *b = next();
                }
                for b in &mut bytes[..len] {
                    *b = b'0' + next() % 10;
                }
                if len < 8 {
                    bytes[len] = after[usize::from(next()) % after.len()];
                }
                let word = u64::from_le_bytes(bytes);
                assert_eq!(eight_digits(word), one_at_a_time(bytes), "{bytes:?}");
            }
        }
        assert_eq!(eight_digits(u64::from_le_bytes(*b"9999999 ")), Some((9_999_999, 7)));
    }
}
