//! The `.safex.meta` section: what a loader needs to know about an object
//! before running any of it, in a fixed little-endian layout that a C kernel
//! module parses with a few byte reads and no serialization library.
//!
//! The layout (specified in `docs/object.md`, "The `.safex.meta` section"):
//!
//! ```text
//! offset  size  field
//!      0     8  magic "SXMETA\0\0"
//!      8     4  u32 ABI version (stdlib::abi::ABI_VERSION)
//!     12     4  u32 flags: bit 0 = built with --no-fuel (every loader refuses it); other bits 0
//!     16     8  u64 fuel budget per invocation (0 = the loader's default)
//!     24    32  SHA-256 of the `.safex.tal` section's bytes
//!     56    32  SHA-256 of the `.text` section's bytes, before relocation
//!     88    32  SHA-256 of the relocations of `.text` (see `relocs_digest`)
//!    120        str compiler fingerprint (`compiler_fingerprint()`: safexc version,
//!               ABI version, Cranelift version)
//!               str extension name
//!               u32 entry point count, then per entry point:
//!                   u32 function index, u8 kind (0 monitor, 1 handler, 2 guard),
//!                   u8 rights bits of the capability parameter, u16 reserved (0),
//!                   u64 entry fuel (the host charges it before each call),
//!                   str function name, str capability class name,
//!                   str target A (handler: event name; guard: class name; monitor: ""),
//!                   str target B (guard: attribute name; otherwise "")
//!               u32 attribute class count, then per class:
//!                   str name, u32 attribute count, then per attribute:
//!                       str name, u8 type (0 i64, 1 bool),
//!                       u8 flags (bit 0 readonly, bit 1 has a range), u16 reserved (0),
//!                       i64 lo, i64 hi (inclusive range; both 0 without a range)
//!               u32 function count (= the module's), then per function, in index order:
//!                   u32 offset in .text, u32 size in bytes
//!               u32 event count, then per event, in module order: str name
//!               u64 data region size in 8-byte cells
//!               u32 initialized cell count, then per cell, by increasing offset:
//!                   u64 cell offset (< the size), i64 value (not 0)
//!     N-32  32  SHA-256 of all the bytes before it
//! ```
//!
//! A `str` is a `u32` byte length followed by that many bytes of UTF-8, with
//! no terminating NUL. There is no padding and nothing after the trailer.
//!
//! The fingerprint is read right after the header and compared first: an
//! object from another compiler is refused as such (`C0058`), before its
//! layout (which another compiler may have changed) is read further, and
//! before re-lowering could only say that its code differs.
//!
//! The events and the data region are there for a loader that does not
//! decode the TAL (the kernel module): compiled code raises an event by its
//! index in the module, which the loader maps to its own by name, and the
//! loader allocates the data region (zeroed) and stores the initial cells.
//!
//! Decoding is strict, so that the encoding is a bijection: unknown flags,
//! kinds, types or rights bits, non-zero reserved fields, strings a kind does
//! not use, bounds without a range, initialized cells out of order, out of
//! the region or zero, invalid UTF-8 and trailing bytes are all errors
//! (codes `C0050`–`C0057`), and decoding never panics.

use sha2::{Digest, Sha256};
use stdlib::Rights;
use tal_ir::layout::GlobalLayout;
use tal_ir::{AttrType, FuncKind, Module, ParamType, Type};

use crate::CodegenError;

/// The first eight bytes of every `.safex.meta` section.
pub const MAGIC: &[u8; 8] = b"SXMETA\0\0";
/// `flags` bit: the code has no fuel checks. Every loader refuses it.
pub const FLAG_NO_FUEL: u32 = 1;
/// What produced an object, written into and required of every
/// `.safex.meta`: re-lowering reproduces an object's bytes only with the
/// same compiler.
pub fn compiler_fingerprint() -> String {
    format!(
        "safexc {} (ABI {}, Cranelift {})",
        env!("CARGO_PKG_VERSION"),
        stdlib::abi::ABI_VERSION,
        crate::CRANELIFT_VERSION
    )
}

/// Length of the fixed header, up to the compiler fingerprint.
pub const HEADER_LEN: usize = 120;
/// Length of the trailing self-digest.
pub const TRAILER_LEN: usize = 32;

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The decoded `.safex.meta` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Always `stdlib::abi::ABI_VERSION` after a successful decode.
    pub abi_version: u32,
    /// Built with `--no-fuel`: no loader may run it.
    pub no_fuel: bool,
    /// Fuel per invocation the extension asks for; 0 means the loader's default.
    pub budget: u64,
    /// SHA-256 of the `.safex.tal` section.
    pub tal_sha256: Digest32,
    /// SHA-256 of the `.text` section, before relocation.
    pub text_sha256: Digest32,
    /// [`relocs_digest`] of the relocations of `.text`.
    pub relocs_sha256: Digest32,
    /// What compiled it: always [`compiler_fingerprint`] after a
    /// successful decode.
    pub compiler: String,
    /// The extension's name.
    pub name: String,
    /// The entry points, in function order.
    pub entries: Vec<EntryPoint>,
    /// The attribute classes the module declares, in module order.
    pub classes: Vec<ClassMeta>,
    /// Where each function's code is in `.text`, by function index.
    pub functions: Vec<FuncRange>,
    /// The module's event names, by event index (the index compiled code
    /// passes to `raise_event`; the loader maps it to its event by name).
    pub events: Vec<String>,
    /// Size of the data region (the globals) in 8-byte cells. The loader
    /// allocates this many cells, zeroed, then stores [`Meta::data_init`].
    pub data_cells: u64,
    /// The data region's cells whose initial value is not zero, as (cell
    /// offset, value): offsets strictly increasing and below
    /// [`Meta::data_cells`], values not 0 (`tal_ir::layout::GlobalLayout`).
    pub data_init: Vec<(u64, i64)>,
}

/// A function's code: `.text[offset..offset + size]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncRange {
    pub offset: u32,
    pub size: u32,
}

/// An entry point: a function the host or kernel calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// The function's name in the TAL module (and its symbol, see `docs/object.md`).
    pub name: String,
    /// The function's index in the TAL module.
    pub func: u32,
    pub kind: EntryKind,
    /// The class of the function's capability parameter; empty if it has none.
    pub cap_class: String,
    /// The rights of that capability (none if it has none).
    pub cap_rights: Rights,
    /// The N of the entry block's `fuel N`, which the host charges before
    /// each call (`stdlib::abi`, ABI 4); 0 if there is none.
    pub entry_fuel: u64,
}

/// What an entry point is run for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Run periodically by a service manager.
    Monitor,
    /// Run when the named event is raised.
    Handler { event: String },
    /// Run on every write to the attribute `class.attr`.
    Guard { class: String, attr: String },
}

impl EntryKind {
    /// The kind's byte in the layout.
    pub fn code(&self) -> u8 {
        match self {
            EntryKind::Monitor => 0,
            EntryKind::Handler { .. } => 1,
            EntryKind::Guard { .. } => 2,
        }
    }
}

/// An attribute class as the module declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassMeta {
    pub name: String,
    pub attrs: Vec<AttrMeta>,
}

/// An attribute of a class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrMeta {
    pub name: String,
    pub ty: AttrType,
    pub readonly: bool,
    /// Inclusive bounds.
    pub range: Option<(i64, i64)>,
}

/// One relocation of `.text` as the relocation digest sees it: exactly the
/// fields of an `Elf64_Rela` a loader uses, with the target as the offset
/// in `.text` of the symbol it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocRecord {
    /// `r_offset`: where in `.text` the 32-bit field is.
    pub offset: u64,
    /// `ELF64_R_TYPE(r_info)`: `R_X86_64_PLT32` (4) or `R_X86_64_PC32` (2).
    pub r_type: u32,
    /// `st_value` of the target symbol: its offset in `.text`.
    pub target: u64,
    /// `r_addend`.
    pub addend: i64,
}

/// SHA-256 over the relocations of `.text` in file order, each as 28 bytes:
/// `u64 offset, u32 type, u64 target, i64 addend`, little-endian. (With no
/// relocations, the SHA-256 of nothing.)
pub fn relocs_digest(relocs: &[RelocRecord]) -> Digest32 {
    let mut h = Sha256::new();
    for r in relocs {
        h.update(r.offset.to_le_bytes());
        h.update(r.r_type.to_le_bytes());
        h.update(r.target.to_le_bytes());
        h.update(r.addend.to_le_bytes());
    }
    h.finalize().into()
}

/// SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

impl Meta {
    /// The metadata of a module whose binary TAL is `tal_bytes`, compiled
    /// to `text_bytes` with its functions at `functions` and these
    /// relocations. The module is trusted to be verified; on one that is
    /// not, names that do not resolve come out empty, and a data region
    /// without a layout as 0 cells (this never panics).
    pub fn from_module(
        module: &Module,
        budget: u64,
        no_fuel: bool,
        tal_bytes: &[u8],
        text_bytes: &[u8],
        functions: &[FuncRange],
        relocs: &[RelocRecord],
    ) -> Meta {
        let class_name = |c: tal_ir::ClassId| module.class(c).map_or(String::new(), |c| c.name.clone());
        let entries = module
            .funcs
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let kind = match f.kind {
                    FuncKind::Plain => return None,
                    FuncKind::Monitor => EntryKind::Monitor,
                    FuncKind::Handler { event } => EntryKind::Handler {
                        event: module.events.get(event.index()).cloned().unwrap_or_default(),
                    },
                    FuncKind::Guard { attr } => EntryKind::Guard {
                        class: class_name(attr.class),
                        attr: module.attr(attr).map_or(String::new(), |a| a.name.clone()),
                    },
                };
                let cap = f.params.iter().find_map(|p| match p {
                    ParamType::Value(Type::Cap { class, rights, .. }) => Some((*class, *rights)),
                    _ => None,
                });
                let (cap_class, cap_rights) = match cap {
                    Some((class, rights)) => (class_name(class), rights),
                    None => (String::new(), Rights::NONE),
                };
                Some(EntryPoint {
                    name: f.name.clone(),
                    func: i as u32,
                    kind,
                    cap_class,
                    cap_rights,
                    entry_fuel: f.entry_fuel().unwrap_or(0),
                })
            })
            .collect();
        let classes = module
            .classes
            .iter()
            .map(|c| ClassMeta {
                name: c.name.clone(),
                attrs: c
                    .attrs
                    .iter()
                    .map(|a| AttrMeta {
                        name: a.name.clone(),
                        ty: a.ty,
                        readonly: a.readonly,
                        range: a.range,
                    })
                    .collect(),
            })
            .collect();
        let (data_cells, data_init) = GlobalLayout::new(module).map_or((0, Vec::new()), |l| (l.cells, l.init));
        Meta {
            abi_version: stdlib::abi::ABI_VERSION,
            no_fuel,
            budget,
            tal_sha256: sha256(tal_bytes),
            text_sha256: sha256(text_bytes),
            relocs_sha256: relocs_digest(relocs),
            compiler: compiler_fingerprint(),
            name: module.name.clone(),
            entries,
            classes,
            functions: functions.to_vec(),
            events: module.events.clone(),
            data_cells,
            data_init,
        }
    }
}

/// Encodes the metadata in the layout of the module documentation.
pub fn encode(meta: &Meta) -> Vec<u8> {
    fn str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&meta.abi_version.to_le_bytes());
    let flags = if meta.no_fuel { FLAG_NO_FUEL } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&meta.budget.to_le_bytes());
    out.extend_from_slice(&meta.tal_sha256);
    out.extend_from_slice(&meta.text_sha256);
    out.extend_from_slice(&meta.relocs_sha256);
    debug_assert_eq!(out.len(), HEADER_LEN);
    str(&mut out, &meta.compiler);
    str(&mut out, &meta.name);
    out.extend_from_slice(&(meta.entries.len() as u32).to_le_bytes());
    for e in &meta.entries {
        out.extend_from_slice(&e.func.to_le_bytes());
        out.push(e.kind.code());
        out.push(e.cap_rights.bits());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&e.entry_fuel.to_le_bytes());
        str(&mut out, &e.name);
        str(&mut out, &e.cap_class);
        let (a, b) = match &e.kind {
            EntryKind::Monitor => ("", ""),
            EntryKind::Handler { event } => (event.as_str(), ""),
            EntryKind::Guard { class, attr } => (class.as_str(), attr.as_str()),
        };
        str(&mut out, a);
        str(&mut out, b);
    }
    out.extend_from_slice(&(meta.classes.len() as u32).to_le_bytes());
    for c in &meta.classes {
        str(&mut out, &c.name);
        out.extend_from_slice(&(c.attrs.len() as u32).to_le_bytes());
        for a in &c.attrs {
            str(&mut out, &a.name);
            out.push(match a.ty {
                AttrType::I64 => 0,
                AttrType::Bool => 1,
            });
            out.push(u8::from(a.readonly) | (u8::from(a.range.is_some()) << 1));
            out.extend_from_slice(&[0, 0]);
            let (lo, hi) = a.range.unwrap_or((0, 0));
            out.extend_from_slice(&lo.to_le_bytes());
            out.extend_from_slice(&hi.to_le_bytes());
        }
    }
    out.extend_from_slice(&(meta.functions.len() as u32).to_le_bytes());
    for f in &meta.functions {
        out.extend_from_slice(&f.offset.to_le_bytes());
        out.extend_from_slice(&f.size.to_le_bytes());
    }
    out.extend_from_slice(&(meta.events.len() as u32).to_le_bytes());
    for e in &meta.events {
        str(&mut out, e);
    }
    out.extend_from_slice(&meta.data_cells.to_le_bytes());
    out.extend_from_slice(&(meta.data_init.len() as u32).to_le_bytes());
    for &(offset, value) in &meta.data_init {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    let digest = sha256(&out);
    out.extend_from_slice(&digest);
    out
}

fn error(code: &'static str, message: impl Into<String>) -> CodegenError {
    CodegenError {
        code,
        message: message.into(),
    }
}

/// A cursor over the section's bytes; every read checks the length.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CodegenError> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(error(
                "C0050",
                format!(
                    ".safex.meta is truncated: {what} at byte {} needs {n} bytes, {} left",
                    self.pos,
                    self.bytes.len().saturating_sub(self.pos)
                ),
            )),
        }
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], CodegenError> {
        let b = self.take(N, what)?;
        let mut a = [0; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8, CodegenError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, CodegenError> {
        self.array(what).map(u16::from_le_bytes)
    }
    fn u32(&mut self, what: &str) -> Result<u32, CodegenError> {
        self.array(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: &str) -> Result<u64, CodegenError> {
        self.array(what).map(u64::from_le_bytes)
    }
    fn i64(&mut self, what: &str) -> Result<i64, CodegenError> {
        self.array(what).map(i64::from_le_bytes)
    }
    fn str(&mut self, what: &str) -> Result<String, CodegenError> {
        let at = self.pos;
        let len = self.u32(what)?;
        let bytes = self.take(len as usize, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| error("C0055", format!(".safex.meta: {what} at byte {at} is not UTF-8")))
    }
    fn reserved(&mut self, what: &str) -> Result<(), CodegenError> {
        let at = self.pos;
        match self.u16(what)? {
            0 => Ok(()),
            v => Err(error(
                "C0053",
                format!(".safex.meta: reserved field of {what} at byte {at} is {v:#x}, must be 0"),
            )),
        }
    }
}

fn invalid(what: String) -> CodegenError {
    error("C0054", format!(".safex.meta: {what}"))
}

/// Decodes a `.safex.meta` section, refusing anything [`encode`] would not
/// have produced. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Meta, CodegenError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(error(
            "C0051",
            ".safex.meta does not start with the magic `SXMETA\\0\\0`",
        ));
    }
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(error(
            "C0050",
            format!(
                ".safex.meta is truncated: {} bytes, the header and trailer alone take {}",
                bytes.len(),
                HEADER_LEN + TRAILER_LEN
            ),
        ));
    }
    let mut r = Reader {
        bytes,
        pos: MAGIC.len(),
    };
    let abi_version = r.u32("the ABI version")?;
    if abi_version != stdlib::abi::ABI_VERSION {
        return Err(error(
            "C0052",
            format!(
                "the object was built for SafeX ABI version {abi_version}; this build supports version {}",
                stdlib::abi::ABI_VERSION
            ),
        ));
    }
    let flags = r.u32("the flags")?;
    if flags & !FLAG_NO_FUEL != 0 {
        return Err(error(
            "C0053",
            format!(".safex.meta: unknown flags {:#x}", flags & !FLAG_NO_FUEL),
        ));
    }
    // The self-digest: anything after the flags, corrupted by accident, is
    // caught here with one clear message rather than whatever decoding
    // stumbles on first.
    let (body, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    if sha256(body) != trailer {
        return Err(error(
            "C0057",
            ".safex.meta is corrupt: its trailing SHA-256 does not match its contents",
        ));
    }
    let mut r = Reader {
        bytes: body,
        pos: r.pos,
    };
    let budget = r.u64("the fuel budget")?;
    let tal_sha256 = r.array("the .safex.tal digest")?;
    let text_sha256 = r.array("the .text digest")?;
    let relocs_sha256 = r.array("the relocation digest")?;
    let compiler = r.str("the compiler fingerprint")?;
    if compiler != compiler_fingerprint() {
        return Err(error(
            "C0058",
            format!(
                "the object was built by `{compiler}`; this build is `{}` and can check only its own objects: \
                 compile the extension again with it",
                compiler_fingerprint()
            ),
        ));
    }
    let name = r.str("the extension name")?;
    let n_entries = r.u32("the entry point count")?;
    let mut entries = Vec::new();
    for i in 0..n_entries {
        let func = r.u32("an entry point's function index")?;
        let kind = r.u8("an entry point's kind")?;
        let rights = r.u8("an entry point's rights")?;
        r.reserved("an entry point")?;
        let entry_fuel = r.u64("an entry point's entry fuel")?;
        let name = r.str("an entry point's name")?;
        let cap_class = r.str("an entry point's capability class")?;
        let a = r.str("an entry point's first target name")?;
        let b = r.str("an entry point's second target name")?;
        let Some(cap_rights) = Rights::from_bits(rights) else {
            return Err(invalid(format!("entry point {i} has unknown rights bits {rights:#x}")));
        };
        if cap_class.is_empty() && cap_rights != Rights::NONE {
            return Err(invalid(format!(
                "entry point {i} has rights {cap_rights} without a capability class"
            )));
        }
        let kind = match (kind, a.is_empty(), b.is_empty()) {
            (0, true, true) => EntryKind::Monitor,
            (1, _, true) => EntryKind::Handler { event: a },
            (2, _, _) => EntryKind::Guard { class: a, attr: b },
            (0..=2, _, _) => return Err(invalid(format!("entry point {i} names targets its kind does not use"))),
            (k, _, _) => return Err(invalid(format!("entry point {i} has unknown kind {k}"))),
        };
        entries.push(EntryPoint {
            name,
            func,
            kind,
            cap_class,
            cap_rights,
            entry_fuel,
        });
    }
    let n_classes = r.u32("the class count")?;
    let mut classes = Vec::new();
    for ci in 0..n_classes {
        let name = r.str("a class name")?;
        let n_attrs = r.u32("an attribute count")?;
        let mut attrs = Vec::new();
        for ai in 0..n_attrs {
            let name = r.str("an attribute name")?;
            let ty = match r.u8("an attribute type")? {
                0 => AttrType::I64,
                1 => AttrType::Bool,
                t => return Err(invalid(format!("attribute {ai} of class {ci} has unknown type {t}"))),
            };
            let flags = r.u8("attribute flags")?;
            r.reserved("an attribute")?;
            let lo = r.i64("an attribute's lower bound")?;
            let hi = r.i64("an attribute's upper bound")?;
            if flags & !3 != 0 {
                return Err(invalid(format!(
                    "attribute {ai} of class {ci} has unknown flags {:#x}",
                    flags & !3
                )));
            }
            let range = if flags & 2 != 0 {
                Some((lo, hi))
            } else if (lo, hi) == (0, 0) {
                None
            } else {
                return Err(invalid(format!("attribute {ai} of class {ci} has bounds but no range")));
            };
            attrs.push(AttrMeta {
                name,
                ty,
                readonly: flags & 1 != 0,
                range,
            });
        }
        classes.push(ClassMeta { name, attrs });
    }
    let n_functions = r.u32("the function count")?;
    let mut functions = Vec::new();
    for _ in 0..n_functions {
        let offset = r.u32("a function's offset")?;
        let size = r.u32("a function's size")?;
        functions.push(FuncRange { offset, size });
    }
    let n_events = r.u32("the event count")?;
    let mut events = Vec::new();
    for _ in 0..n_events {
        events.push(r.str("an event name")?);
    }
    let data_cells = r.u64("the data region size")?;
    let n_init = r.u32("the initialized cell count")?;
    let mut data_init: Vec<(u64, i64)> = Vec::new();
    for i in 0..n_init {
        let offset = r.u64("an initialized cell's offset")?;
        let value = r.i64("an initialized cell's value")?;
        if let Some(&(prev, _)) = data_init.last()
            && offset <= prev
        {
            return Err(invalid(format!(
                "initialized cell {i} is at offset {offset}, not after the previous one's {prev}"
            )));
        }
        if offset >= data_cells {
            return Err(invalid(format!(
                "initialized cell {i} is at offset {offset}, outside the data region's {data_cells} cells"
            )));
        }
        if value == 0 {
            return Err(invalid(format!(
                "initialized cell {i} (offset {offset}) is 0; only non-zero cells are listed"
            )));
        }
        data_init.push((offset, value));
    }
    if r.pos != body.len() {
        return Err(error(
            "C0056",
            format!(
                ".safex.meta has {} unexpected bytes before its trailer",
                body.len() - r.pos
            ),
        ));
    }
    Ok(Meta {
        abi_version,
        no_fuel: flags & FLAG_NO_FUEL != 0,
        budget,
        tal_sha256,
        text_sha256,
        relocs_sha256,
        compiler,
        name,
        entries,
        classes,
        functions,
        events,
        data_cells,
        data_init,
    })
}

impl std::fmt::Display for Meta {
    /// The human-readable form `safexc inspect` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = |d: &Digest32| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        writeln!(f, "extension   {}", self.name)?;
        writeln!(f, "abi         {}", self.abi_version)?;
        writeln!(
            f,
            "fuel        {}",
            if self.no_fuel {
                "NONE (built with --no-fuel: loaders refuse this object)"
            } else {
                "checked"
            }
        )?;
        match self.budget {
            0 => writeln!(f, "budget      loader default")?,
            b => writeln!(f, "budget      {b}")?,
        }
        writeln!(f, "sha256 tal  {}", hex(&self.tal_sha256))?;
        writeln!(f, "sha256 text {}", hex(&self.text_sha256))?;
        writeln!(f, "sha256 rel  {}", hex(&self.relocs_sha256))?;
        writeln!(f, "compiler    {}", self.compiler)?;
        let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        writeln!(
            f,
            "data        {} {}, {} initialized",
            self.data_cells,
            plural(self.data_cells, "cell", "cells"),
            self.data_init.len()
        )?;
        writeln!(f, "entry points ({}):", self.entries.len())?;
        for e in &self.entries {
            let kind = match &e.kind {
                EntryKind::Monitor => "monitor".to_string(),
                EntryKind::Handler { event } => format!("handler of event {event}"),
                EntryKind::Guard { class, attr } => format!("guard of {class}.{attr}"),
            };
            let cap = if e.cap_class.is_empty() {
                "no capability".to_string()
            } else {
                format!("cap<{}, {}>", e.cap_class, e.cap_rights)
            };
            writeln!(
                f,
                "  fn{:<4} {:<24} {kind}, {cap}, entry fuel {} (the host charges it)",
                e.func, e.name, e.entry_fuel
            )?;
        }
        writeln!(f, "functions ({}):", self.functions.len())?;
        for (i, r) in self.functions.iter().enumerate() {
            writeln!(f, "  fn{i:<4} .text+{:#06x}, {} bytes", r.offset, r.size)?;
        }
        writeln!(f, "attribute classes ({}):", self.classes.len())?;
        for c in &self.classes {
            writeln!(f, "  {}", c.name)?;
            for a in &c.attrs {
                let ty = match a.ty {
                    AttrType::I64 => "i64",
                    AttrType::Bool => "bool",
                };
                let ro = if a.readonly { " readonly" } else { "" };
                let range = a.range.map_or(String::new(), |(lo, hi)| format!(" in {lo}..={hi}"));
                writeln!(f, "    {}: {ty}{ro}{range}", a.name)?;
            }
        }
        writeln!(f, "events ({}):", self.events.len())?;
        for (i, e) in self.events.iter().enumerate() {
            writeln!(f, "  ev{i:<4} {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Meta {
        Meta {
            abi_version: stdlib::abi::ABI_VERSION,
            no_fuel: false,
            budget: 10_000,
            tal_sha256: [1; 32],
            text_sha256: [2; 32],
            relocs_sha256: [3; 32],
            compiler: compiler_fingerprint(),
            name: "pid".into(),
            entries: vec![
                EntryPoint {
                    name: "tick".into(),
                    func: 0,
                    kind: EntryKind::Monitor,
                    cap_class: "cpu_qos".into(),
                    cap_rights: Rights::READ.union(Rights::WRITE),
                    entry_fuel: 12,
                },
                EntryPoint {
                    name: "on_err".into(),
                    func: 2,
                    kind: EntryKind::Handler { event: "Error".into() },
                    cap_class: "cpu_qos".into(),
                    cap_rights: Rights::READ,
                    entry_fuel: 0,
                },
                EntryPoint {
                    name: "g".into(),
                    func: 3,
                    kind: EntryKind::Guard {
                        class: "cpu_qos".into(),
                        attr: "share".into(),
                    },
                    cap_class: "cpu_qos".into(),
                    cap_rights: Rights::ALL,
                    entry_fuel: u64::MAX,
                },
            ],
            classes: vec![ClassMeta {
                name: "cpu_qos".into(),
                attrs: vec![
                    AttrMeta {
                        name: "share".into(),
                        ty: AttrType::I64,
                        readonly: false,
                        range: Some((0, 100)),
                    },
                    AttrMeta {
                        name: "on".into(),
                        ty: AttrType::Bool,
                        readonly: true,
                        range: None,
                    },
                ],
            }],
            functions: vec![FuncRange { offset: 0, size: 10 }, FuncRange { offset: 16, size: 7 }],
            events: vec!["Error".into(), "Overload".into()],
            data_cells: 5,
            data_init: vec![(0, -1), (3, i64::MAX)],
        }
    }

    /// Bytes from the start of the events to the trailer.
    fn tail_len(m: &Meta) -> usize {
        4 + m.events.iter().map(|e| 4 + e.len()).sum::<usize>() + 8 + 4 + 16 * m.data_init.len()
    }

    /// Encodes `m`, then applies `edit` to the bytes from the events on
    /// (before the trailer) and reseals.
    fn edit_tail(m: &Meta, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let bytes = encode(m);
        let at = bytes.len() - TRAILER_LEN - tail_len(m);
        let mut tail = bytes[at..bytes.len() - TRAILER_LEN].to_vec();
        edit(&mut tail);
        let mut b = bytes[..at].to_vec();
        b.extend_from_slice(&tail);
        b.extend_from_slice(&[0; TRAILER_LEN]);
        reseal(b)
    }

    /// Re-seals a hand-edited section with a correct trailer, so that the
    /// decoder's other checks are reached.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let n = bytes.len() - TRAILER_LEN;
        let d = sha256(&bytes[..n]);
        bytes[n..].copy_from_slice(&d);
        bytes
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let bytes = encode(&m);
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            let e = decode(&bytes[..len]).unwrap_err();
            assert!(["C0050", "C0051", "C0057"].contains(&e.code), "len {len}: {e}");
        }
    }

    #[test]
    fn every_flipped_bit_is_an_error() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode(&b).is_err(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn header_fields_are_checked() {
        let bytes = encode(&sample());
        let mut b = bytes.clone();
        b[0] = b'X';
        assert_eq!(decode(&b).unwrap_err().code, "C0051");
        let mut b = bytes.clone();
        b[8] = 9;
        assert_eq!(decode(&b).unwrap_err().code, "C0052");
        let mut b = bytes.clone();
        b[12] = 2;
        assert_eq!(decode(&b).unwrap_err().code, "C0053");
        let mut b = bytes.clone();
        b[100] ^= 1;
        assert_eq!(decode(&b).unwrap_err().code, "C0057");
        let mut b = bytes.clone();
        b.insert(bytes.len() - TRAILER_LEN, 0);
        assert_eq!(decode(&reseal(b)).unwrap_err().code, "C0056");
    }

    #[test]
    fn an_object_of_another_compiler_is_refused_as_such() {
        let mut other = sample();
        other.compiler = other.compiler.replace("Cranelift ", "Cranelift 9");
        let error = decode(&encode(&other)).unwrap_err();
        assert_eq!(error.code, "C0058");
        assert!(error.message.contains(&other.compiler), "{}", error.message);
        // Even when the rest of its layout is one this build cannot read.
        let mut b = encode(&other);
        b.truncate(HEADER_LEN + 4 + other.compiler.len() + 2);
        b.extend_from_slice(&[0; TRAILER_LEN]);
        assert_eq!(decode(&reseal(b)).unwrap_err().code, "C0058");
    }

    #[test]
    fn body_fields_are_checked() {
        let m = sample();
        let bytes = encode(&m);
        // The first entry's fixed part follows the fingerprint, the name
        // and the count.
        let e0 = HEADER_LEN + 4 + m.compiler.len() + 4 + m.name.len() + 4;
        let edit = |at: usize, v: u8| {
            let mut b = bytes.clone();
            b[at] = v;
            decode(&reseal(b)).unwrap_err().code
        };
        assert_eq!(edit(e0 + 4, 7), "C0054"); // kind
        assert_eq!(edit(e0 + 5, 8), "C0054"); // rights
        assert_eq!(edit(e0 + 6, 1), "C0053"); // reserved
        assert_eq!(edit(e0 + 20, 0xff), "C0055"); // first byte of the name
        // A monitor naming a target.
        let mut odd = m.clone();
        odd.entries[0].kind = EntryKind::Handler { event: "x".into() };
        let mut b = encode(&odd);
        b[e0 + 4] = 0;
        assert_eq!(decode(&reseal(b)).unwrap_err().code, "C0054");
        // Bounds without a range.
        let mut odd = m.clone();
        odd.classes[0].attrs[1].range = Some((0, 1));
        let mut b = encode(&odd);
        let flags_at = b.len() - TRAILER_LEN - tail_len(&odd) - 4 - 8 * odd.functions.len() - 16 - 4 + 1;
        b[flags_at] &= !2;
        assert_eq!(decode(&reseal(b)).unwrap_err().code, "C0054");
        // A huge count is a truncation, not an allocation.
        let mut b = bytes.clone();
        b[e0 - 4..e0].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&reseal(b)).unwrap_err().code, "C0050");
    }

    #[test]
    fn events_and_data_round_trip() {
        let m = sample();
        let bytes = encode(&m);
        assert_eq!(bytes.len() - TRAILER_LEN - tail_len(&m), {
            let mut without = m.clone();
            without.events.clear();
            without.data_cells = 0;
            without.data_init.clear();
            encode(&without).len() - TRAILER_LEN - 16
        });
        let tail = &bytes[bytes.len() - TRAILER_LEN - tail_len(&m)..bytes.len() - TRAILER_LEN];
        let mut expected = 2u32.to_le_bytes().to_vec();
        for e in ["Error", "Overload"] {
            expected.extend_from_slice(&(e.len() as u32).to_le_bytes());
            expected.extend_from_slice(e.as_bytes());
        }
        expected.extend_from_slice(&5u64.to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        for (offset, value) in [(0u64, -1i64), (3, i64::MAX)] {
            expected.extend_from_slice(&offset.to_le_bytes());
            expected.extend_from_slice(&value.to_le_bytes());
        }
        assert_eq!(tail, expected);
        assert_eq!(decode(&bytes).unwrap(), m);
        // No events, an empty region; and a region with no initial cells.
        for (events, cells, init) in [(vec![], 0, vec![]), (vec![String::new()], u64::MAX, vec![])] {
            let m = Meta {
                events,
                data_cells: cells,
                data_init: init,
                ..sample()
            };
            assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
        let m = Meta {
            data_cells: u64::MAX,
            data_init: vec![(u64::MAX - 1, 1)],
            ..sample()
        };
        assert_eq!(decode(&encode(&m)).unwrap(), m);
        let shown = sample().to_string();
        assert!(shown.contains("data        5 cells, 2 initialized\n"), "{shown}");
        assert!(
            shown.contains("events (2):\n  ev0    Error\n  ev1    Overload\n"),
            "{shown}"
        );
    }

    #[test]
    fn data_init_is_checked() {
        let code = |data_cells: u64, data_init: Vec<(u64, i64)>| {
            let m = Meta {
                data_cells,
                data_init,
                ..sample()
            };
            decode(&encode(&m)).map(|_| ()).map_err(|e| e.code)
        };
        assert_eq!(code(5, vec![(0, 1), (4, 2)]), Ok(()));
        assert_eq!(code(5, vec![(3, 1), (3, 2)]), Err("C0054")); // repeated
        assert_eq!(code(5, vec![(3, 1), (1, 2)]), Err("C0054")); // decreasing
        assert_eq!(code(5, vec![(0, 1), (5, 2)]), Err("C0054")); // at the end
        assert_eq!(code(0, vec![(0, 1)]), Err("C0054")); // no region
        assert_eq!(code(u64::MAX, vec![(u64::MAX, 1)]), Err("C0054"));
        assert_eq!(code(5, vec![(0, 1), (2, 0)]), Err("C0054")); // zero
        assert_eq!(code(5, vec![(0, 0)]), Err("C0054"));
    }

    #[test]
    fn events_and_data_are_decoded_strictly() {
        let m = sample();
        // An event name that is not UTF-8: its first byte follows the
        // count and its length.
        let b = edit_tail(&m, |t| t[8] = 0xff);
        assert_eq!(decode(&b).unwrap_err().code, "C0055");
        // A huge event count, initialized cell count or event length is a
        // truncation, not an allocation.
        let b = edit_tail(&m, |t| t[..4].copy_from_slice(&u32::MAX.to_le_bytes()));
        assert_eq!(decode(&b).unwrap_err().code, "C0050");
        let b = edit_tail(&m, |t| t[4..8].copy_from_slice(&u32::MAX.to_le_bytes()));
        assert_eq!(decode(&b).unwrap_err().code, "C0050");
        let count_at = tail_len(&m) - 4 - 16 * m.data_init.len();
        let b = edit_tail(&m, |t| {
            t[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes())
        });
        assert_eq!(decode(&b).unwrap_err().code, "C0050");
        // One more initialized cell than there are.
        let b = edit_tail(&m, |t| t[count_at..count_at + 4].copy_from_slice(&3u32.to_le_bytes()));
        assert_eq!(decode(&b).unwrap_err().code, "C0050");
        // Truncated anywhere inside the new part (and resealed).
        for cut in 0..tail_len(&m) {
            let b = edit_tail(&m, |t| t.truncate(cut));
            assert_eq!(decode(&b).unwrap_err().code, "C0050", "cut at {cut}");
        }
        // One initialized cell fewer than there are: its bytes are extra.
        let b = edit_tail(&m, |t| t[count_at..count_at + 4].copy_from_slice(&1u32.to_le_bytes()));
        assert_eq!(decode(&b).unwrap_err().code, "C0056");
        // Extra bytes after the initialized cells.
        for extra in [1, 8, 16] {
            let b = edit_tail(&m, |t| t.extend(std::iter::repeat_n(1, extra)));
            assert_eq!(decode(&b).unwrap_err().code, "C0056", "{extra} extra bytes");
        }
        // An edited data size or value is a valid, different section.
        let size_at = count_at - 8;
        let b = edit_tail(&m, |t| t[size_at..size_at + 8].copy_from_slice(&4u64.to_le_bytes()));
        assert_eq!(decode(&b).unwrap().data_cells, 4);
        let b = edit_tail(&m, |t| t[size_at..size_at + 8].copy_from_slice(&3u64.to_le_bytes()));
        assert_eq!(decode(&b).unwrap_err().code, "C0054"); // cell 3 is now outside
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof!["", "[a-z_]{1,12}", "\\PC{0,6}"]
    }

    fn arb_entry() -> impl Strategy<Value = EntryPoint> {
        let kind = prop_oneof![
            Just(EntryKind::Monitor),
            arb_name().prop_map(|event| EntryKind::Handler { event }),
            (arb_name(), arb_name()).prop_map(|(class, attr)| EntryKind::Guard { class, attr }),
        ];
        let cap = prop_oneof![
            Just((String::new(), Rights::NONE)),
            ("[a-z_]{1,12}", 0u8..8).prop_map(|(c, r)| (c, Rights::from_bits(r).unwrap())),
        ];
        (arb_name(), any::<u32>(), kind, cap, any::<u64>()).prop_map(
            |(name, func, kind, (cap_class, cap_rights), entry_fuel)| EntryPoint {
                name,
                func,
                kind,
                cap_class,
                cap_rights,
                entry_fuel,
            },
        )
    }

    fn arb_class() -> impl Strategy<Value = ClassMeta> {
        let ty = prop_oneof![Just(AttrType::I64), Just(AttrType::Bool)];
        let attr = (arb_name(), ty, any::<bool>(), proptest::option::of(any::<(i64, i64)>())).prop_map(
            |(name, ty, readonly, range)| AttrMeta {
                name,
                ty,
                readonly,
                range,
            },
        );
        (arb_name(), proptest::collection::vec(attr, 0..4)).prop_map(|(name, attrs)| ClassMeta { name, attrs })
    }

    /// A data region: its size and its initialized cells, by increasing
    /// offset inside it, none zero.
    fn arb_data() -> impl Strategy<Value = (u64, Vec<(u64, i64)>)> {
        let offset = prop_oneof![0u64..16, any::<u64>().prop_map(|o| o.min(u64::MAX - 1))];
        let value = any::<i64>().prop_filter("non-zero", |&v| v != 0);
        (
            proptest::collection::btree_map(offset, value, 0..6),
            prop_oneof![Just(0u64), 0u64..8, any::<u64>()],
        )
            .prop_map(|(init, extra)| {
                let end = init.keys().next_back().map_or(0, |&last| last + 1);
                (end.saturating_add(extra), init.into_iter().collect())
            })
    }

    fn arb_meta() -> impl Strategy<Value = Meta> {
        (
            any::<bool>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            arb_name(),
            proptest::collection::vec(arb_entry(), 0..5),
            proptest::collection::vec(arb_class(), 0..4),
            proptest::collection::vec(any::<(u32, u32)>(), 0..4),
            proptest::collection::vec(arb_name(), 0..4),
            arb_data(),
        )
            .prop_map(
                |(
                    no_fuel,
                    budget,
                    tal_sha256,
                    text_sha256,
                    relocs_sha256,
                    name,
                    entries,
                    classes,
                    functions,
                    events,
                    (data_cells, data_init),
                )| Meta {
                    abi_version: stdlib::abi::ABI_VERSION,
                    no_fuel,
                    budget,
                    tal_sha256,
                    text_sha256,
                    relocs_sha256,
                    compiler: compiler_fingerprint(),
                    name,
                    entries,
                    classes,
                    functions: functions
                        .into_iter()
                        .map(|(offset, size)| FuncRange { offset, size })
                        .collect(),
                    events,
                    data_cells,
                    data_init,
                },
            )
    }

    proptest! {
        #[test]
        fn prop_round_trips(m in arb_meta()) {
            let bytes = encode(&m);
            prop_assert_eq!(decode(&bytes).unwrap(), m);
        }

        #[test]
        fn prop_garbage_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..400), seal in any::<bool>()) {
            if bytes.len() >= 8 {
                bytes[..8].copy_from_slice(MAGIC);
            }
            if seal && bytes.len() >= HEADER_LEN + TRAILER_LEN {
                bytes[8..12].copy_from_slice(&stdlib::abi::ABI_VERSION.to_le_bytes());
                bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
                bytes = reseal(bytes);
            }
            if let Ok(m) = decode(&bytes) {
                // Only canonical bytes decode.
                prop_assert_eq!(encode(&m), bytes);
            }
        }
    }
}
