//! The binary encoding of a module, as stored in an object's `.safex.tal`.
//!
//! Layout: the magic `SXTAL`, a little-endian `u16` format version, then the
//! module in postcard's varint encoding (a stable, documented wire format) of
//! the `ir` types. Decoding never panics: truncated, corrupt, non-canonical
//! or trailing input is a [`FormatError`] (for the first problem in byte
//! order). The encoding is a bijection — the same module always gives the
//! same bytes, and only those bytes decode to it — which objects rely on
//! for hashing.
//!
//! Encoding is postcard's own (serde). Decoding is written out here, type by
//! type in the `ir` types' field and variant order, for two reasons: it
//! checks canonicity as it goes (postcard's only freedom is a varint's
//! length, so a decoder that refuses redundant varint bytes accepts one byte
//! string per module, instead of re-encoding to compare, which halved
//! throughput), and it can stop between functions: [`Reader`] hands over the
//! declarations, then one function at a time, so that a verifier need not
//! hold the whole module. The unit tests hold this decoder to postcard's on
//! every module and every corruption of them they try.

use crate::*;

pub const MAGIC: &[u8; 5] = b"SXTAL";
/// Bump on any change to the `ir` types' shape.
pub const VERSION: u16 = 1;
const HEADER_LEN: usize = MAGIC.len() + 2;

/// Encodes a module.
pub fn encode(module: &Module) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + module.funcs.len() * 256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    // Serializing plain data into a Vec cannot fail.
    postcard::to_io(module, &mut out).expect("encoding into memory");
    out
}

/// Decodes a module, rejecting anything but exactly one well-formed module.
pub fn decode(bytes: &[u8]) -> Result<Module, FormatError> {
    let mut reader = Reader::new(bytes)?;
    // Each function takes bytes: a corrupt count reserves nothing huge.
    let mut funcs = Vec::with_capacity(reader.functions().min(bytes.len()));
    while let Some(function) = reader.next_function()? {
        funcs.push(function);
    }
    Ok(Module {
        funcs,
        ..reader.declarations
    })
}

/// Binary TAL read one function at a time ([`ModuleReader`]): [`Reader::new`]
/// decodes everything before the functions, then each function is decoded
/// as it is asked for (and, after the last, the input is checked to end).
pub struct Reader<'a> {
    bytes: &'a [u8],
    declarations: Module,
    functions: usize,
    /// Where each function read so far starts.
    starts: Vec<usize>,
    /// Where the next function (or the end) is.
    at: usize,
}

impl<'a> Reader<'a> {
    /// Checks the header and decodes the declarations.
    pub fn new(bytes: &'a [u8]) -> Result<Reader<'a>, FormatError> {
        if bytes.len() < HEADER_LEN {
            let message = format!("truncated header: {} bytes, need {HEADER_LEN}", bytes.len());
            return Err(format_error("V0052", message, 0, bytes));
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(format_error(
                "V0050",
                "not binary TAL: bad magic (expected `SXTAL`)".into(),
                0,
                bytes,
            ));
        }
        let version = u16::from_le_bytes([bytes[5], bytes[6]]);
        if version != VERSION {
            let message = format!("unsupported binary TAL version {version} (this build reads {VERSION})");
            return Err(format_error("V0051", message, 5, bytes));
        }
        let mut d = Decoder { bytes, at: HEADER_LEN };
        let (declarations, functions) = d.declarations().map_err(|f| f.error(bytes))?;
        Ok(Reader {
            bytes,
            declarations,
            functions,
            starts: Vec::with_capacity(functions.min(bytes.len())),
            at: d.at,
        })
    }
}

impl ModuleReader for Reader<'_> {
    fn declarations(&self) -> &Module {
        &self.declarations
    }

    /// As the encoding says: a truncated input has fewer.
    fn functions(&self) -> usize {
        self.functions
    }

    fn next_function(&mut self) -> Result<Option<Function>, FormatError> {
        self.next_function_reusing(None)
    }

    /// Decodes into `spare`'s allocations.
    fn next_function_reusing(&mut self, spare: Option<Function>) -> Result<Option<Function>, FormatError> {
        if self.starts.len() == self.functions {
            return match self.bytes.len() - self.at {
                0 => Ok(None),
                rest => Err(format_error(
                    "V0054",
                    format!("{rest} trailing bytes after the module"),
                    self.at,
                    self.bytes,
                )),
            };
        }
        let mut d = Decoder {
            bytes: self.bytes,
            at: self.at,
        };
        let mut function = spare.unwrap_or_else(|| Function {
            name: String::new(),
            kind: FuncKind::Plain,
            params: Vec::new(),
            ret: None,
            slots: Vec::new(),
            blocks: Vec::new(),
        });
        d.function_into(&mut function).map_err(|f| f.error(self.bytes))?;
        self.starts.push(self.at);
        self.at = d.at;
        Ok(Some(function))
    }

    fn function_again(&mut self, id: FuncId) -> Result<Function, FormatError> {
        let Some(&at) = self.starts.get(id.index()) else {
            let message = format!("function #{} has not been read", id.0);
            return Err(format_error("V0052", message, self.at, self.bytes));
        };
        Decoder { bytes: self.bytes, at }
            .function()
            .map_err(|f| f.error(self.bytes))
    }
}

fn format_error(code: &'static str, message: String, at: usize, bytes: &[u8]) -> FormatError {
    FormatError {
        code,
        message,
        span: at..bytes.len(),
    }
}

/// Why decoding stopped, and where.
#[derive(Clone, Copy, Debug)]
struct Fault {
    kind: FaultKind,
    at: usize,
}

/// Stops decoding: `kind` at byte `at`.
fn fail<T>(kind: FaultKind, at: usize) -> Decoded<T> {
    Err(Fault { kind, at })
}

#[derive(Clone, Copy, Debug)]
enum FaultKind {
    End,
    /// A varint longer than its type allows, or overflowing it.
    BadVarint,
    /// A varint with redundant bytes: decodable, but not the encoding.
    NonCanonical,
    BadBool(u8),
    BadOption(u8),
    BadVariant(&'static str, u32),
    BadUtf8,
}

impl Fault {
    fn error(self, bytes: &[u8]) -> FormatError {
        let corrupt = |why: String| format_error("V0053", format!("corrupt binary TAL: {why}"), self.at, bytes);
        match self.kind {
            FaultKind::End => format_error(
                "V0052",
                "truncated: the input ends inside the module".into(),
                bytes.len(),
                bytes,
            ),
            FaultKind::BadVarint => corrupt("a varint overflows its type".into()),
            FaultKind::NonCanonical => corrupt("non-canonical encoding (a varint with redundant bytes)".into()),
            FaultKind::BadBool(b) => corrupt(format!("a bool is {b}, not 0 or 1")),
            FaultKind::BadOption(b) => corrupt(format!("an option tag is {b}, not 0 or 1")),
            FaultKind::BadVariant(what, v) => corrupt(format!("{v} is not a variant of {what}")),
            FaultKind::BadUtf8 => corrupt("a string is not UTF-8".into()),
        }
    }
}

type Decoded<T> = Result<T, Fault>;

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn fault<T>(&self, kind: FaultKind) -> Decoded<T> {
        fail(kind, self.at)
    }

    #[inline]
    fn byte(&mut self) -> Decoded<u8> {
        match self.bytes.get(self.at) {
            Some(&b) => {
                self.at += 1;
                Ok(b)
            }
            None => self.fault(FaultKind::End),
        }
    }

    /// An unsigned LEB128 varint of at most `bits` bits, in its shortest
    /// form (postcard's encoding of every integer wider than a byte).
    #[inline]
    fn varint(&mut self, bits: u32) -> Decoded<u64> {
        let start = self.at;
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let mut value = u64::from(first & 0x7f);
        let mut shift = 7;
        loop {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                // The last byte may only hold the bits the type has left.
                if shift + 7 > bits && u32::from(b) >> (bits - shift) != 0 {
                    return fail(FaultKind::BadVarint, start);
                }
                if b == 0 {
                    return fail(FaultKind::NonCanonical, start);
                }
                return Ok(value);
            }
            shift += 7;
            if shift >= bits {
                return fail(FaultKind::BadVarint, start);
            }
        }
    }

    fn u16(&mut self) -> Decoded<u16> {
        Ok(self.varint(16)? as u16)
    }

    #[inline]
    fn u32(&mut self) -> Decoded<u32> {
        Ok(self.varint(32)? as u32)
    }

    fn u64(&mut self) -> Decoded<u64> {
        self.varint(64)
    }

    /// Zigzag: 0, -1, 1, -2, … as 0, 1, 2, 3, ….
    fn i64(&mut self) -> Decoded<i64> {
        let n = self.varint(64)?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// A sequence length, bounded by the input left (every element takes
    /// at least one byte) so that a corrupt length reserves nothing huge.
    #[inline]
    fn len(&mut self) -> Decoded<(usize, usize)> {
        let len = self.varint(64)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        Ok((len, len.min(self.bytes.len() - self.at)))
    }

    fn vec<T>(&mut self, mut item: impl FnMut(&mut Self) -> Decoded<T>) -> Decoded<Vec<T>> {
        let (len, capacity) = self.len()?;
        let mut items = Vec::with_capacity(capacity);
        for _ in 0..len {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn bool(&mut self) -> Decoded<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => fail(FaultKind::BadBool(b), self.at - 1),
        }
    }

    #[inline]
    fn option<T>(&mut self, some: impl FnOnce(&mut Self) -> Decoded<T>) -> Decoded<Option<T>> {
        match self.byte()? {
            0 => Ok(None),
            1 => some(self).map(Some),
            b => fail(FaultKind::BadOption(b), self.at - 1),
        }
    }

    /// An enum's variant index, below `count`.
    #[inline]
    fn variant(&mut self, what: &'static str, count: u32) -> Decoded<u32> {
        let at = self.at;
        let v = self.u32()?;
        if v < count {
            Ok(v)
        } else {
            fail(FaultKind::BadVariant(what, v), at)
        }
    }

    fn string(&mut self) -> Decoded<String> {
        let (len, _) = self.len()?;
        let start = self.at;
        let end = start.checked_add(len).filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return self.fault(FaultKind::End);
        };
        let text = std::str::from_utf8(&self.bytes[start..end]).or_else(|_| self.fault(FaultKind::BadUtf8))?;
        self.at = end;
        Ok(text.to_owned())
    }

    // Declarations.

    /// Everything before the functions, and how many functions follow.
    fn declarations(&mut self) -> Decoded<(Module, usize)> {
        let name = self.string()?;
        let source = self.option(Self::string)?;
        let budget = self.option(Self::u64)?;
        let classes = self.vec(|d| {
            Ok(ClassDef {
                name: d.string()?,
                attrs: d.vec(|d| {
                    Ok(AttrDef {
                        name: d.string()?,
                        ty: match d.variant("AttrType", 2)? {
                            0 => AttrType::I64,
                            _ => AttrType::Bool,
                        },
                        readonly: d.bool()?,
                        range: d.option(|d| Ok((d.i64()?, d.i64()?)))?,
                    })
                })?,
            })
        })?;
        let events = self.vec(Self::string)?;
        let structs = self.vec(|d| {
            Ok(StructDef {
                name: d.string()?,
                fields: d.vec(|d| {
                    Ok(FieldDef {
                        name: d.string()?,
                        ty: d.elem_type()?,
                    })
                })?,
            })
        })?;
        let globals = self.vec(|d| {
            Ok(GlobalDef {
                name: d.string()?,
                ty: d.obj_type()?,
                init: match d.variant("GlobalInit", 4)? {
                    0 => GlobalInit::Zero,
                    1 => GlobalInit::Int(d.i64()?),
                    2 => GlobalInit::Bool(d.bool()?),
                    _ => GlobalInit::Ints(d.vec(Self::i64)?),
                },
            })
        })?;
        let externs = self.vec(Self::string)?;
        let (functions, _) = self.len()?;
        let module = Module {
            name,
            source,
            budget,
            classes,
            events,
            structs,
            globals,
            externs,
            funcs: Vec::new(),
        };
        Ok((module, functions))
    }

    // Types.

    fn rights(&mut self) -> Decoded<Rights> {
        let at = self.at;
        let byte = self.byte()?;
        // `Rights` keeps its bits private; postcard reads any byte as it
        // (a bit the verifier does not know is never a right it grants).
        postcard::from_bytes(&[byte]).or_else(|_| fail(FaultKind::BadVariant("Rights", u32::from(byte)), at))
    }

    fn attr_ref(&mut self) -> Decoded<AttrRef> {
        Ok(AttrRef {
            class: ClassId(self.u32()?),
            attr: self.u32()?,
        })
    }

    fn root(&mut self) -> Decoded<Root> {
        Ok(match self.variant("Root", 3)? {
            0 => Root::Global(GlobalId(self.u32()?)),
            1 => Root::Slot(SlotId(self.u32()?)),
            _ => Root::Param(self.u32()?),
        })
    }

    fn value_type(&mut self) -> Decoded<Type> {
        Ok(match self.variant("Type", 7)? {
            0 => Type::I64,
            1 => Type::Bool,
            2 => Type::NonZero,
            3 => Type::Index(self.root()?),
            4 => Type::InRange(self.attr_ref()?),
            5 => Type::Cap {
                class: ClassId(self.u32()?),
                rights: self.rights()?,
                nullable: self.bool()?,
            },
            _ => Type::Event,
        })
    }

    fn elem_type(&mut self) -> Decoded<ElemType> {
        Ok(match self.variant("ElemType", 2)? {
            0 => ElemType::Scalar(match self.variant("ScalarType", 3)? {
                0 => ScalarType::I64,
                1 => ScalarType::Bool,
                _ => ScalarType::Cap {
                    class: ClassId(self.u32()?),
                    rights: self.rights()?,
                },
            }),
            _ => ElemType::Struct(StructId(self.u32()?)),
        })
    }

    fn obj_type(&mut self) -> Decoded<ObjType> {
        Ok(match self.variant("ObjType", 2)? {
            0 => ObjType::Elem(self.elem_type()?),
            _ => ObjType::Array {
                elem: self.elem_type()?,
                len: self.option(Self::u32)?,
            },
        })
    }

    // Functions.

    fn function(&mut self) -> Decoded<Function> {
        let mut f = Function {
            name: String::new(),
            kind: FuncKind::Plain,
            params: Vec::new(),
            ret: None,
            slots: Vec::new(),
            blocks: Vec::new(),
        };
        self.function_into(&mut f)?;
        Ok(f)
    }

    /// Decodes a function into `f`, overwriting all of it but reusing its
    /// allocations (its blocks' included).
    fn function_into(&mut self, f: &mut Function) -> Decoded<()> {
        f.name = self.string()?;
        f.kind = match self.variant("FuncKind", 4)? {
            0 => FuncKind::Plain,
            1 => FuncKind::Monitor,
            2 => FuncKind::Handler {
                event: EventId(self.u32()?),
            },
            _ => FuncKind::Guard { attr: self.attr_ref()? },
        };
        self.vec_into(&mut f.params, |d| {
            Ok(match d.variant("ParamType", 2)? {
                0 => ParamType::Value(d.value_type()?),
                _ => ParamType::Ref(d.obj_type()?),
            })
        })?;
        f.ret = self.option(Self::value_type)?;
        self.vec_into(&mut f.slots, Self::obj_type)?;
        let (len, capacity) = self.len()?;
        f.blocks.truncate(len);
        f.blocks.reserve(capacity.saturating_sub(f.blocks.len()));
        for i in 0..len {
            match f.blocks.get_mut(i) {
                Some(block) => self.block_into(block)?,
                None => {
                    let mut block = Block {
                        params: Vec::new(),
                        loop_end: None,
                        insts: Vec::new(),
                        term: Terminator::Return(None),
                        term_span: None,
                    };
                    self.block_into(&mut block)?;
                    f.blocks.push(block);
                }
            }
        }
        Ok(())
    }

    /// A sequence decoded into `items`, overwriting it but reusing its
    /// allocation.
    #[inline]
    fn vec_into<T>(&mut self, items: &mut Vec<T>, mut item: impl FnMut(&mut Self) -> Decoded<T>) -> Decoded<()> {
        let (len, capacity) = self.len()?;
        items.clear();
        items.reserve(capacity);
        for _ in 0..len {
            items.push(item(self)?);
        }
        Ok(())
    }

    /// As [`Decoder::function_into`], a block.
    fn block_into(&mut self, b: &mut Block) -> Decoded<()> {
        self.vec_into(&mut b.params, Self::value_type)?;
        b.loop_end = self.option(|d| Ok(BlockId(d.u32()?)))?;
        self.vec_into(&mut b.insts, Self::inst)?;
        // The old terminator's argument vectors, for the new one's.
        let (mut first, mut second) = match std::mem::replace(&mut b.term, Terminator::Return(None)) {
            Terminator::Jump(call) => (call.args, Vec::new()),
            Terminator::Brif { then_to, else_to, .. } => (then_to.args, else_to.args),
            Terminator::Return(_) | Terminator::Raise(_) => (Vec::new(), Vec::new()),
        };
        b.term = match self.variant("Terminator", 4)? {
            0 => Terminator::Jump(self.block_call_into(&mut first)?),
            1 => Terminator::Brif {
                cond: self.value()?,
                then_to: self.block_call_into(&mut first)?,
                else_to: self.block_call_into(&mut second)?,
            },
            2 => Terminator::Return(self.option(Self::value)?),
            _ => Terminator::Raise(self.exc_kind()?),
        };
        b.term_span = self.option(Self::span)?;
        Ok(())
    }

    /// A block call whose arguments go to `args` (taken).
    fn block_call_into(&mut self, args: &mut Vec<ValueId>) -> Decoded<BlockCall> {
        let block = BlockId(self.u32()?);
        self.vec_into(args, Self::value)?;
        Ok(BlockCall {
            block,
            args: std::mem::take(args),
        })
    }

    fn span(&mut self) -> Decoded<Span> {
        Ok(Span {
            lo: self.u32()?,
            hi: self.u32()?,
        })
    }

    #[inline]
    fn value(&mut self) -> Decoded<ValueId> {
        Ok(ValueId(self.u32()?))
    }

    fn block_call(&mut self) -> Decoded<BlockCall> {
        Ok(BlockCall {
            block: BlockId(self.u32()?),
            args: self.vec(Self::value)?,
        })
    }

    fn exc_kind(&mut self) -> Decoded<ExcKind> {
        let v = self.variant("ExcKind", ExcKind::ALL.len() as u32)?;
        Ok(ExcKind::ALL[v as usize])
    }

    fn inst(&mut self) -> Decoded<Inst> {
        let kind = self.inst_kind()?;
        // Most instructions: no catches (length 0) and no span (`None`),
        // one zero byte each.
        if self.bytes.get(self.at..self.at + 2) == Some(&[0, 0]) {
            self.at += 2;
            return Ok(Inst {
                kind,
                catches: Vec::new(),
                span: None,
            });
        }
        Ok(Inst {
            kind,
            catches: self.vec(|d| {
                Ok(Catch {
                    kind: d.exc_kind()?,
                    target: d.block_call()?,
                })
            })?,
            span: self.option(Self::span)?,
        })
    }

    fn place(&mut self) -> Decoded<Place> {
        Ok(Place {
            root: self.root()?,
            index: self.option(Self::value)?,
            fields: self.vec(Self::u32)?,
        })
    }

    fn inst_kind(&mut self) -> Decoded<InstKind> {
        const UNARY: [UnaryOp; 2] = [UnaryOp::Neg, UnaryOp::Not];
        const BINARY: [BinaryOp; 10] = [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Rem,
            BinaryOp::And,
            BinaryOp::Or,
            BinaryOp::Xor,
            BinaryOp::Shl,
            BinaryOp::Shr,
        ];
        const CONDS: [Cond; 6] = [Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge];
        Ok(match self.variant("InstKind", 18)? {
            0 => InstKind::Fuel(self.u64()?),
            1 => InstKind::Iconst(self.i64()?),
            2 => InstKind::Bconst(self.bool()?),
            3 => InstKind::Event(EventId(self.u32()?)),
            4 => InstKind::Unary {
                op: UNARY[self.variant("UnaryOp", UNARY.len() as u32)? as usize],
                arg: self.value()?,
            },
            5 => InstKind::Binary {
                op: BINARY[self.variant("BinaryOp", BINARY.len() as u32)? as usize],
                lhs: self.value()?,
                rhs: self.value()?,
            },
            6 => InstKind::Icmp {
                cond: CONDS[self.variant("Cond", CONDS.len() as u32)? as usize],
                lhs: self.value()?,
                rhs: self.value()?,
            },
            7 => InstKind::CheckNonZero(self.value()?),
            8 => InstKind::CheckBounds {
                value: self.value()?,
                root: self.root()?,
            },
            9 => InstKind::CheckRange {
                value: self.value()?,
                attr: self.attr_ref()?,
            },
            10 => InstKind::CheckNull(self.value()?),
            11 => InstKind::Load(self.place()?),
            12 => InstKind::Store {
                place: self.place()?,
                value: self.value()?,
            },
            13 => InstKind::Init(SlotId(self.u32()?)),
            14 => InstKind::Size(self.root()?),
            15 => InstKind::Call {
                callee: match self.variant("Callee", 2)? {
                    0 => Callee::Func(FuncId(self.u32()?)),
                    _ => Callee::Extern(ExternId(self.u32()?)),
                },
                args: self.vec(|d| {
                    Ok(match d.variant("Arg", 2)? {
                        0 => Arg::Value(d.value()?),
                        _ => Arg::Ref(d.root()?),
                    })
                })?,
                result: self.bool()?,
            },
            16 => InstKind::Helper {
                id: self.u16()?,
                args: self.vec(|d| {
                    Ok(match d.variant("HelperArg", 2)? {
                        0 => HelperArg::Value(d.value()?),
                        _ => HelperArg::Attr(d.attr_ref()?),
                    })
                })?,
                result: self.bool()?,
            },
            _ => InstKind::InlineAsm(self.string()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleReader;

    fn sample() -> Module {
        Module {
            name: "m".into(),
            budget: Some(100),
            events: vec!["Error".into()],
            funcs: vec![Function {
                name: "f".into(),
                kind: FuncKind::Plain,
                params: vec![ParamType::Value(Type::I64)],
                ret: Some(Type::I64),
                slots: vec![],
                blocks: vec![Block {
                    params: vec![Type::I64],
                    loop_end: None,
                    insts: vec![Inst {
                        kind: InstKind::Fuel(1),
                        catches: vec![],
                        span: Some(Span { lo: 1, hi: 2 }),
                    }],
                    term: Terminator::Return(Some(ValueId(0))),
                    term_span: None,
                }],
            }],
            ..Module::default()
        }
    }

    /// Every item, type, instruction and terminator the text can write (it
    /// need not verify), plus what only binary holds: an unknown helper id,
    /// a call of an extern by id, huge numbers.
    fn everything() -> Module {
        const TEXT: &str = r#"module everything
source "a \"b\" \\ c.pop"
budget 18446744073709551615
class c {
    a: i64 readonly range(-9223372036854775808, 9223372036854775807)
    b: bool
    d: i64
}
event E
event F
struct s { x: i64, inner: struct t, owner: cap<c, rw> }
struct t { y: bool }
global @zero: [i64; 3] = zero
global @int: i64 = -7
global @flag: bool = true
global @ints: [i64; 4] = [1, -2, 300000, -9223372036854775808]
global @structs: [struct s; 2] = zero
extern spin_lock
monitor @m(cap<c, r>) {
block0(v0: cap<c, r>):
    fuel 18446744073709551615
    v1 = call @f(v0, @ints) !catch(Overflow -> block1(v0), DivideByZero -> block1(v0)) @1..4294967295
    ret
block1(v2: cap<c, r>) loop(block1):
    fuel 1
    jump block1(v2) @5..6
}
handler @h(cap<c, rw>, i64) on F {
block0(v0: cap<c, rw>, v1: i64):
    fuel 3
    v2 = helper get_attribute(v0, #c.d)
    helper set_attribute(v0, #c.d, v1)
    v3 = event E
    raise OutOfBounds
}
guard @g(cap<c, rg>, i64) -> i64 for c.a {
block0(v0: cap<c, rg>, v1: i64):
    fuel 2
    ret v1
}
func @f(cap<c, r>, %1: ref [i64], idx<@ints>, in<c.a>, nz, evt, bool, cap?<c, ->) -> i64 {
    slot $0: [struct s; 4]
    slot $1: i64
    slot $2: [cap<c, rwg>; 2]
block0(v0: cap<c, r>, v1: idx<@ints>, v2: in<c.a>, v3: nz, v4: evt, v5: bool, v6: cap?<c, ->):
    init $0
    init $1
    v7 = iconst -9223372036854775808
    v8 = bconst false
    v9 = ineg v7
    v10 = not v8
    v11 = iadd v7, v9
    v12 = isub v7, v9
    v13 = imul v7, v9
    v14 = sdiv v7, v3
    v15 = srem v7, v3
    v16 = and v7, v9
    v17 = or v7, v9
    v18 = xor v7, v9
    v19 = ishl v7, v9
    v20 = sshr v7, v9
    v21 = icmp eq v7, v9
    v22 = icmp ne v7, v9
    v23 = icmp lt v7, v9
    v24 = icmp le v7, v9
    v25 = icmp gt v7, v9
    v26 = icmp ge v7, v9
    v27 = check.nonzero v7
    v28 = check.bounds v7, $0
    v29 = check.range v7, #c.a
    v30 = check.null v6
    v31 = load $0[v28].inner.y
    store $0[v28].x, v7
    store @int, v7
    v32 = size %1
    v33 = load %1[v28]
    v34 = call @f(v0, %1, v1, v2, v3, v4, v5, v6) !catch(NullCapability -> block2, RangeError -> block2)
    call @spin_lock()
    asm "cli \"x\""
    sti
    brif v21, block1(v7, v8), block2
block1(v35: i64, v36: bool):
    ret v35
block2:
    ret v7 @0..0
}
"#;
        let (mut m, _) = text::parse(TEXT).unwrap_or_else(|e| panic!("{}", e[0]));
        let insts = &mut m.funcs[3].blocks[0].insts;
        insts.push(Inst {
            kind: InstKind::Helper {
                id: u16::MAX,
                args: vec![
                    HelperArg::Value(ValueId(u32::MAX)),
                    HelperArg::Attr(AttrRef {
                        class: ClassId(u32::MAX),
                        attr: 9,
                    }),
                ],
                result: true,
            },
            catches: vec![Catch {
                kind: ExcKind::OutOfFuel,
                target: BlockCall {
                    block: BlockId(u32::MAX),
                    args: vec![ValueId(128), ValueId(16384)],
                },
            }],
            span: None,
        });
        insts.push(Inst {
            kind: InstKind::Call {
                callee: Callee::Extern(ExternId(7)),
                args: vec![Arg::Ref(Root::Param(u32::MAX)), Arg::Ref(Root::Slot(SlotId(2)))],
                result: false,
            },
            catches: vec![],
            span: Some(Span { lo: 127, hi: 128 }),
        });
        m
    }

    /// The decoder this module replaced: postcard's, then a re-encoding
    /// compared with the input. The oracle the hand-written one must match.
    fn postcard_decode(bytes: &[u8]) -> Option<Module> {
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC || bytes[5..HEADER_LEN] != VERSION.to_le_bytes() {
            return None;
        }
        match postcard::take_from_bytes::<Module>(&bytes[HEADER_LEN..]) {
            Ok((module, [])) if encode(&module) == bytes => Some(module),
            _ => None,
        }
    }

    /// Whole-module and function-at-a-time decoding agree with the oracle
    /// on `bytes`.
    fn agrees(bytes: &[u8]) -> Result<(), String> {
        let ours = decode(bytes);
        let oracle = postcard_decode(bytes);
        if ours.as_ref().ok() != oracle.as_ref() {
            return Err(format!("decode gives {ours:?}, postcard {oracle:?}"));
        }
        Ok(())
    }

    #[test]
    fn round_trips() {
        for m in [sample(), everything(), Module::default()] {
            let bytes = encode(&m);
            assert_eq!(decode(&bytes).unwrap(), m);
            agrees(&bytes).unwrap();
        }
    }

    #[test]
    fn agrees_with_postcard_on_every_truncation_and_corruption() {
        let bytes = encode(&everything());
        let mut failures = Vec::new();
        let mut check = |b: &[u8], what: String| {
            if let Err(e) = agrees(b) {
                failures.push(format!("{what}: {e}"));
            }
        };
        for len in 0..bytes.len() {
            check(&bytes[..len], format!("truncated to {len}"));
        }
        for i in HEADER_LEN..bytes.len() {
            for replacement in [
                0x00,
                0x01,
                0x02,
                0x7f,
                0x80,
                0xff,
                bytes[i] ^ 0x80,
                bytes[i].wrapping_add(1),
            ] {
                let mut b = bytes.clone();
                b[i] = replacement;
                check(&b, format!("byte {i} = {replacement:#x}"));
            }
            let mut inserted = bytes.clone();
            inserted.insert(i, 0x80);
            check(&inserted, format!("0x80 inserted at {i}"));
            let mut removed = bytes.clone();
            removed.remove(i);
            check(&removed, format!("byte {i} removed"));
        }
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            let e = decode(&bytes[..len]).unwrap_err();
            assert!(["V0052", "V0053"].contains(&e.code), "len {len}: {e}");
        }
    }

    #[test]
    fn header_and_trailing_bytes_are_checked() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(decode(&bytes).unwrap_err().code, "V0054");
        let mut bad_magic = encode(&sample());
        bad_magic[0] = b'X';
        assert_eq!(decode(&bad_magic).unwrap_err().code, "V0050");
        let mut bad_version = encode(&sample());
        bad_version[5] = 9;
        assert_eq!(decode(&bad_version).unwrap_err().code, "V0051");
    }

    #[test]
    fn non_canonical_varints_are_refused() {
        let bytes = encode(&Module {
            name: "m".into(),
            ..Module::default()
        });
        // The name's length, 1, re-encoded as a two-byte varint.
        let mut long = bytes[..HEADER_LEN].to_vec();
        long.extend_from_slice(&[0x81, 0x00]);
        long.extend_from_slice(&bytes[HEADER_LEN + 1..]);
        let e = decode(&long).unwrap_err();
        assert_eq!((e.code, e.span.start), ("V0053", HEADER_LEN), "{e}");
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let bytes = encode(&everything());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let _ = decode(&b);
            }
        }
    }

    #[test]
    fn reader_gives_each_function_once_then_checks_the_end() {
        let m = everything();
        let mut bytes = encode(&m);
        let mut reader = Reader::new(&bytes).unwrap();
        assert_eq!(reader.functions(), m.funcs.len());
        assert_eq!(
            Module {
                funcs: m.funcs.clone(),
                ..reader.declarations().clone()
            },
            m
        );
        for f in &m.funcs {
            assert_eq!(reader.next_function().unwrap().as_ref(), Some(f));
        }
        assert_eq!(reader.next_function().unwrap(), None);
        for (i, f) in m.funcs.iter().enumerate() {
            assert_eq!(&reader.function_again(FuncId(i as u32)).unwrap(), f);
        }
        assert!(reader.function_again(FuncId(m.funcs.len() as u32)).is_err());

        bytes.push(7);
        let mut reader = Reader::new(&bytes).unwrap();
        for _ in &m.funcs {
            reader.next_function().unwrap();
        }
        assert_eq!(reader.next_function().unwrap_err().code, "V0054");
    }

    /// Decoding into another function's allocations gives what decoding
    /// afresh gives, whatever that function was (more or fewer blocks,
    /// instructions, arguments, other terminators).
    #[test]
    fn decoding_into_a_spare_function_decodes_the_same() {
        let mut m = everything();
        let mut big = m.funcs[0].clone();
        for f in &m.funcs {
            big.blocks.extend(f.blocks.iter().cloned());
        }
        let one_block = |term| Function {
            blocks: vec![Block {
                params: vec![Type::I64; 5],
                loop_end: Some(BlockId(0)),
                insts: m.funcs[0].blocks[0].insts.clone(),
                term,
                term_span: Some(Span { lo: 1, hi: 2 }),
            }],
            ..m.funcs[0].clone()
        };
        let call = |n| BlockCall {
            block: BlockId(0),
            args: vec![ValueId(9); n],
        };
        let mut spares = vec![
            big,
            one_block(Terminator::Jump(call(7))),
            one_block(Terminator::Brif {
                cond: ValueId(1),
                then_to: call(0),
                else_to: call(6),
            }),
            one_block(Terminator::Raise(ExcKind::Overflow)),
        ];
        spares.extend(m.funcs.iter().cloned());
        m.funcs.extend(spares.iter().cloned());
        let bytes = encode(&m);
        for spare in &spares {
            let mut reader = Reader::new(&bytes).unwrap();
            for f in &m.funcs {
                assert_eq!(
                    reader.next_function_reusing(Some(spare.clone())).unwrap().as_ref(),
                    Some(f)
                );
            }
            assert_eq!(reader.next_function_reusing(Some(spare.clone())).unwrap(), None);
        }
        // Each function decoded into the one before it, as `safexc verify`
        // does.
        let mut reader = Reader::new(&bytes).unwrap();
        let mut last = None;
        for f in &m.funcs {
            let next = reader.next_function_reusing(last.take()).unwrap();
            assert_eq!(next.as_ref(), Some(f));
            last = next;
        }
    }
}
