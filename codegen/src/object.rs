//! The relocatable ELF object SafeX extensions ship in, and reading it back.
//!
//! Sections (specified in `docs/object.md`):
//!
//! - `.text`: every function's code in function order, each at a 16-byte
//!   boundary, the gaps filled with `int3`. Each function has an `STT_FUNC`
//!   symbol with its size: global for entry points, local otherwise.
//! - `.rela.text`: the calls between functions, `R_X86_64_PLT32` against the
//!   callee's symbol, sorted by offset. There are no other relocations and no
//!   undefined symbols: helpers are reached through the context.
//! - `.rodata`: read-only data (empty for now).
//! - `.safex.tal`: the module in binary TAL (`tal_ir::binary`).
//! - `.safex.meta`: the metadata (`crate::meta`), which holds the SHA-256 of
//!   `.safex.tal`, of `.text` and of the relocations.
//! - `.note.GNU-stack`: empty, so that linkers do not ask for an executable stack.
//!
//! [`write_object`] is deterministic: the same module and code give the same
//! bytes. [`read_object`] accepts only what the writer produces (give or take
//! extra non-executable sections), and refuses everything else with a `C00xx`
//! code; it never panics.

use std::collections::{HashMap, HashSet};

use ::object::elf;
use ::object::read::elf::{FileHeader as _, Rela as _, SectionHeader as _, Sym as _};
use ::object::write::{Object, Relocation, Symbol, SymbolSection};
use ::object::{
    Architecture, BinaryFormat, Endianness, LittleEndian, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};
use tal_ir::{FuncKind, Module};

use crate::meta::{self, FuncRange, Meta, RelocRecord};
use crate::{CallReloc, CodegenError, CompiledFunction, Options};

/// Alignment of every function in `.text`.
pub const FUNC_ALIGN: usize = 16;
/// The byte between functions: `int3`.
pub const PAD_BYTE: u8 = 0xcc;

pub const TEXT: &str = ".text";
pub const RODATA: &str = ".rodata";
pub const TAL: &str = ".safex.tal";
pub const META: &str = ".safex.meta";

/// The symbol names of a module's functions, by function index.
///
/// A function's symbol is its TAL name when that is an identifier
/// (`[A-Za-z_][A-Za-z0-9_]*`) no earlier function already has, and
/// `safex.fn.N` (N its index) otherwise. Identifiers contain no `.`, so no
/// symbol can be mistaken for a section name (which all start with `.`), for
/// another function's fallback name, or be empty.
pub fn symbol_names(module: &Module) -> Vec<String> {
    let mut seen = HashSet::new();
    module
        .funcs
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if is_identifier(&f.name) && seen.insert(f.name.as_str()) {
                f.name.clone()
            } else {
                format!("safex.fn.{i}")
            }
        })
        .collect()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_entry(kind: FuncKind) -> bool {
    !matches!(kind, FuncKind::Plain)
}

fn align_up(n: usize) -> usize {
    n.div_ceil(FUNC_ALIGN) * FUNC_ALIGN
}

/// Lowers a verified module and writes its object: what `safexc compile -o`
/// produces.
pub fn compile(module: &Module, options: Options) -> Result<Vec<u8>, crate::CodegenError> {
    let funcs = crate::lower::lower_module(module, options)?;
    Ok(write_object(module, &funcs, options))
}

/// Writes the object of a module compiled to `funcs` (one per function of
/// the module, in order).
///
/// # Panics
///
/// On inputs code generation never produces: a different number of
/// functions than the module has, a relocation naming no function or not
/// inside its function's code, or code larger than 4 GiB.
pub fn write_object(module: &Module, funcs: &[CompiledFunction], options: Options) -> Vec<u8> {
    assert_eq!(
        funcs.len(),
        module.funcs.len(),
        "one compiled function per TAL function"
    );
    let names = symbol_names(module);

    // `.text`, laid out by hand so that the digests can be computed before
    // the object is assembled.
    let mut text = Vec::new();
    let mut offsets = Vec::with_capacity(funcs.len());
    for f in funcs {
        text.resize(align_up(text.len()), PAD_BYTE);
        offsets.push(text.len());
        text.extend_from_slice(&f.code);
    }
    assert!(u32::try_from(text.len()).is_ok(), ".text larger than 4 GiB");
    let mut relocs = Vec::new();
    for (i, f) in funcs.iter().enumerate() {
        let mut rs = f.relocs.clone();
        rs.sort_by_key(|r| r.offset);
        for r in rs {
            assert!(
                (r.callee as usize) < funcs.len() && r.offset as usize + 4 <= f.code.len(),
                "relocation {r:?} of function {i} is out of range"
            );
            let record = RelocRecord {
                offset: (offsets[i] + r.offset as usize) as u64,
                r_type: elf::R_X86_64_PLT32.0,
                target: offsets[r.callee as usize] as u64,
                addend: r.addend,
            };
            relocs.push((record, r.callee as usize));
        }
    }
    let tal = tal_ir::binary::encode(module);
    let records: Vec<RelocRecord> = relocs.iter().map(|(r, _)| *r).collect();
    let ranges: Vec<FuncRange> = funcs
        .iter()
        .zip(&offsets)
        .map(|(f, &offset)| FuncRange {
            offset: offset as u32,
            size: f.code.len() as u32,
        })
        .collect();
    let meta = Meta::from_module(
        module,
        module.budget.unwrap_or(0),
        options.no_fuel,
        &tal,
        &text,
        &ranges,
        &records,
    );
    let meta = meta::encode(&meta);

    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let section = |obj: &mut Object, name: &str, kind| obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
    let text_id = section(&mut obj, TEXT, SectionKind::Text);
    obj.set_section_data(text_id, text, FUNC_ALIGN as u64);
    let rodata_id = section(&mut obj, RODATA, SectionKind::ReadOnlyData);
    obj.set_section_data(rodata_id, Vec::new(), 16);
    let tal_id = section(&mut obj, TAL, SectionKind::Other);
    obj.set_section_data(tal_id, tal, 1);
    let meta_id = section(&mut obj, META, SectionKind::Other);
    obj.set_section_data(meta_id, meta, 8);
    section(&mut obj, ".note.GNU-stack", SectionKind::Other);

    let symbols: Vec<_> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let entry = is_entry(module.funcs[i].kind);
            obj.add_symbol(Symbol {
                name: names[i].as_bytes().to_vec(),
                value: offsets[i] as u64,
                size: f.code.len() as u64,
                kind: SymbolKind::Text,
                scope: if entry {
                    SymbolScope::Dynamic
                } else {
                    SymbolScope::Compilation
                },
                weak: false,
                section: SymbolSection::Section(text_id),
                flags: SymbolFlags::None,
            })
        })
        .collect();
    for (r, callee) in relocs {
        obj.add_relocation(
            text_id,
            Relocation {
                offset: r.offset,
                symbol: symbols[callee],
                addend: r.addend,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_X86_64_PLT32,
                },
            },
        )
        .expect("a PLT32 relocation in .text");
    }
    obj.write().expect("writing an ELF object into memory")
}

/// The kind of a relocation of `.text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// `R_X86_64_PLT32`, what the writer produces.
    Plt32,
    /// `R_X86_64_PC32`, the same computation for a local target.
    Pc32,
}

/// A function's symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncSymbol {
    pub name: String,
    /// Index of the function in the module.
    pub index: u32,
    /// Offset in `.text`.
    pub offset: u32,
    /// Size of the code in bytes.
    pub size: u32,
    /// Global (an entry point) or local.
    pub global: bool,
}

/// A relocation of `.text`: at `offset`, write the 32-bit
/// `address of target + addend - address of the field`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjReloc {
    /// Offset of the 32-bit field in `.text`.
    pub offset: u32,
    pub kind: RelocKind,
    /// Index of the function whose code holds the field.
    pub func: u32,
    /// Index of the called function.
    pub target: u32,
    pub addend: i64,
}

/// A checked object, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectParts {
    pub meta: Meta,
    /// The decoded `.safex.tal`.
    pub module: Module,
    /// `.text`, before relocation.
    pub text: Vec<u8>,
    pub rodata: Vec<u8>,
    /// One per function of the module, in function order (so
    /// `functions[i].index == i`), tiling `.text`.
    pub functions: Vec<FuncSymbol>,
    /// Sorted by offset, each inside its function's code.
    pub relocs: Vec<ObjReloc>,
}

impl ObjectParts {
    /// The code of function `index` and its calls, as code generation
    /// produced them (`safexc verify` compares these).
    pub fn function(&self, index: usize) -> Option<(&[u8], Vec<CallReloc>)> {
        let s = self.functions.get(index)?;
        let code = self.text.get(s.offset as usize..s.offset as usize + s.size as usize)?;
        let relocs = self
            .relocs
            .iter()
            .filter(|r| r.func as usize == index && r.offset >= s.offset)
            .map(|r| CallReloc {
                offset: r.offset - s.offset,
                callee: r.target,
                addend: r.addend,
            })
            .collect();
        Some((code, relocs))
    }
}

fn err<T>(code: &'static str, message: impl Into<String>) -> Result<T, CodegenError> {
    Err(CodegenError {
        code,
        message: message.into(),
    })
}

type Header = elf::FileHeader64<LittleEndian>;

/// Reads and checks an object written by [`write_object`]. Never panics.
///
/// Checks, in order: the ELF header (`C0060`, `C0061`), the sections
/// (`C0062`), the metadata (`C0050`–`C0057`), the TAL (`C0063`, `C0064`), the
/// metadata against the TAL (`C0067`), `.text` and the function table
/// (`C0065`, `C0069`), the symbols (`C0068`, `C0069`), the relocations
/// (`C0070`–`C0072`) and their digest (`C0066`). `docs/object.md` explains
/// each code.
pub fn read_object(bytes: &[u8]) -> Result<ObjectParts, CodegenError> {
    // --- ELF header.
    if bytes.len() < 4 || bytes[..4] != elf::ELFMAG {
        return err("C0060", "not an ELF file: the file does not start with `\\x7fELF`");
    }
    if bytes.len() < std::mem::size_of::<Header>() {
        return err(
            "C0060",
            format!("not an ELF file: the header is truncated ({} bytes)", bytes.len()),
        );
    }
    if bytes[4] != elf::ELFCLASS64.0 || bytes[5] != elf::ELFDATA2LSB.0 {
        return err(
            "C0061",
            "not a SafeX object: the ELF file is not 64-bit little-endian (SafeX objects are x86-64)",
        );
    }
    let malformed = |what: &str, e: ::object::read::Error| CodegenError {
        code: "C0060",
        message: format!("malformed ELF file: {what}: {e}"),
    };
    let header = Header::parse(bytes).map_err(|e| malformed("header", e))?;
    let endian = LittleEndian;
    let machine = header.e_machine(endian);
    if machine != elf::EM_X86_64 {
        return err(
            "C0061",
            format!("not a SafeX object: the ELF machine is {}, not x86-64 (62)", machine.0),
        );
    }
    let file_type = header.e_type(endian);
    if file_type != elf::ET_REL {
        return err(
            "C0061",
            format!(
                "not a SafeX object: the ELF file type is {}, not a relocatable object (1)",
                file_type.0
            ),
        );
    }

    // --- Sections.
    let sections = header
        .sections(endian, bytes)
        .map_err(|e| malformed("section table", e))?;
    let mut found: HashMap<&str, usize> = HashMap::new();
    for (index, s) in sections.enumerate() {
        let name = sections
            .section_name(endian, s)
            .map_err(|e| malformed("section name", e))?;
        let name = String::from_utf8_lossy(name);
        if let Some(wanted) = [TEXT, RODATA, TAL, META].into_iter().find(|w| *w == name) {
            if found.insert(wanted, index.0).is_some() {
                return err("C0062", format!("the object has two `{wanted}` sections"));
            }
        } else if s.sh_flags(endian).0 & elf::SHF_EXECINSTR.0 != 0 {
            return err(
                "C0062",
                format!("section `{name}` is executable; SafeX objects have code only in `.text`"),
            );
        }
    }
    let data_of = |name: &'static str| -> Result<(usize, &[u8]), CodegenError> {
        let Some(&index) = found.get(name) else {
            return err("C0062", format!("the object has no `{name}` section"));
        };
        let s = sections
            .section(::object::SectionIndex(index))
            .map_err(|e| malformed(name, e))?;
        if s.sh_type(endian) != elf::SHT_PROGBITS {
            return err(
                "C0062",
                format!(
                    "section `{name}` has type {}, not SHT_PROGBITS (1)",
                    s.sh_type(endian).0
                ),
            );
        }
        let exec = s.sh_flags(endian).0 & elf::SHF_EXECINSTR.0 != 0;
        if exec != (name == TEXT) {
            return err(
                "C0062",
                format!("section `{name}` is {}executable", if exec { "" } else { "not " }),
            );
        }
        let data = s.data(endian, bytes).map_err(|e| malformed(name, e))?;
        Ok((index, data))
    };
    let (text_index, text) = data_of(TEXT)?;
    let (_, rodata) = data_of(RODATA)?;
    let (_, tal) = data_of(TAL)?;
    let (_, meta_bytes) = data_of(META)?;
    if u32::try_from(text.len()).is_err() {
        return err("C0062", "`.text` is larger than 4 GiB");
    }
    if !rodata.is_empty() {
        // Nothing may refer to it (relocations target functions only), and
        // no digest covers it: it must be empty.
        return err(
            "C0062",
            "`.rodata` is not empty; this version of the format does not use it",
        );
    }

    // --- Metadata and TAL.
    let meta = meta::decode(meta_bytes)?;
    let module = tal_ir::binary::decode(tal).map_err(|e| CodegenError {
        code: "C0063",
        message: format!("`.safex.tal` is not valid binary TAL: {e}"),
    })?;
    if meta::sha256(tal) != meta.tal_sha256 {
        return err(
            "C0064",
            "`.safex.tal` does not match the SHA-256 recorded in `.safex.meta`",
        );
    }
    let expected = Meta::from_module(&module, module.budget.unwrap_or(0), meta.no_fuel, &[], &[], &[], &[]);
    let disagreement = if expected.name != meta.name {
        Some(format!(
            "the extension is `{}` in the TAL, `{}` in the metadata",
            expected.name, meta.name
        ))
    } else if expected.budget != meta.budget {
        Some(format!(
            "the fuel budget is {} in the TAL, {} in the metadata",
            expected.budget, meta.budget
        ))
    } else if expected.entries != meta.entries {
        Some("the entry points differ".to_string())
    } else if expected.classes != meta.classes {
        Some("the attribute classes differ".to_string())
    } else if expected.events != meta.events {
        Some("the events differ".to_string())
    } else if (expected.data_cells, &expected.data_init) != (meta.data_cells, &meta.data_init) {
        Some(format!(
            "the data region differs: {} cells, {} initialized in the TAL; {} cells, {} initialized in the metadata",
            expected.data_cells,
            expected.data_init.len(),
            meta.data_cells,
            meta.data_init.len()
        ))
    } else if meta.functions.len() != module.funcs.len() {
        Some(format!(
            "the TAL has {} functions, the metadata's function table {}",
            module.funcs.len(),
            meta.functions.len()
        ))
    } else {
        None
    };
    if let Some(what) = disagreement {
        return err("C0067", format!("`.safex.meta` disagrees with `.safex.tal`: {what}"));
    }
    if meta::sha256(text) != meta.text_sha256 {
        return err("C0065", "`.text` does not match the SHA-256 recorded in `.safex.meta`");
    }
    // The function table must tile `.text`: each function at the next
    // 16-byte boundary after the previous one, the last ending `.text`.
    let mut end = 0u64;
    for (i, f) in meta.functions.iter().enumerate() {
        let start = align_up(end as usize) as u64;
        if u64::from(f.offset) != start {
            return err(
                "C0069",
                format!(
                    "the function table puts function {i} at {:#x}, not at {start:#x}: the functions must tile `.text`",
                    f.offset
                ),
            );
        }
        end = start + u64::from(f.size);
    }
    if end != text.len() as u64 {
        return err(
            "C0069",
            format!("`.text` is {:#x} bytes, but its functions end at {end:#x}", text.len()),
        );
    }

    // --- Symbols.
    let symtab = sections
        .symbols(endian, bytes, elf::SHT_SYMTAB)
        .map_err(|e| malformed("symbol table", e))?;
    // The entry size a C loader steps by must be the one read here.
    let entsize = |index: ::object::SectionIndex, what: &str| -> Result<(), CodegenError> {
        let s = sections.section(index).map_err(|e| malformed(what, e))?;
        match s.sh_entsize(endian) {
            24 => Ok(()),
            n => err(
                "C0060",
                format!(
                    "malformed ELF file: {what} section {} has entries of {n} bytes, not 24",
                    index.0
                ),
            ),
        }
    };
    if symtab.section().0 != 0 {
        entsize(symtab.section(), "symbol table")?;
    }
    let names = symbol_names(&module);
    let by_name: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut functions: Vec<Option<FuncSymbol>> = vec![None; module.funcs.len()];
    // Symbol table index -> function index.
    let mut func_of_symbol: HashMap<usize, u32> = HashMap::new();
    for (index, sym) in symtab.enumerate() {
        if index.0 == 0 {
            continue;
        }
        let name = symtab
            .symbol_name(endian, sym)
            .map_err(|e| malformed("symbol name", e))?;
        let name = String::from_utf8_lossy(name).into_owned();
        let shndx = sym.st_shndx(endian);
        if shndx == elf::SHN_UNDEF || shndx == elf::SHN_COMMON {
            return err(
                "C0068",
                format!(
                    "symbol `{name}` is {}; SafeX objects link against nothing",
                    if shndx == elf::SHN_UNDEF {
                        "undefined"
                    } else {
                        "a common symbol"
                    }
                ),
            );
        }
        let ty = sym.st_type();
        if ty == elf::STT_SECTION || ty == elf::STT_FILE || ty == elf::STT_NOTYPE && sym.st_bind() == elf::STB_LOCAL {
            continue;
        }
        let bad = |why: String| err::<()>("C0069", format!("symbol `{name}`: {why}"));
        if ty != elf::STT_FUNC {
            bad(format!("unexpected symbol type {}; only functions are defined", ty.0))?;
        }
        let Some(&fi) = by_name.get(name.as_str()) else {
            return err("C0069", format!("symbol `{name}` names no function of the module"));
        };
        let section = symtab
            .symbol_section(endian, sym, index)
            .map_err(|e| malformed("symbol section", e))?;
        if section.map(|s| s.0) != Some(text_index) {
            bad("is not in `.text`".into())?;
        }
        let entry = is_entry(module.funcs[fi].kind);
        let bind = sym.st_bind();
        if bind != if entry { elf::STB_GLOBAL } else { elf::STB_LOCAL } {
            bad(format!(
                "has binding {}, but {} must be {}",
                bind.0,
                if entry {
                    "an entry point"
                } else {
                    "an internal function"
                },
                if entry { "global" } else { "local" }
            ))?;
        }
        let (value, size) = (sym.st_value(endian), sym.st_size(endian));
        let end = value.checked_add(size).filter(|&end| end <= text.len() as u64);
        if end.is_none() {
            bad(format!("its code {value:#x}+{size:#x} lies outside `.text`"))?;
        }
        if functions[fi].is_some() {
            bad("is defined twice".into())?;
        }
        functions[fi] = Some(FuncSymbol {
            name,
            index: fi as u32,
            offset: value as u32,
            size: size as u32,
            global: entry,
        });
        func_of_symbol.insert(index.0, fi as u32);
    }
    let mut checked = Vec::with_capacity(functions.len());
    for (i, f) in functions.into_iter().enumerate() {
        let Some(f) = f else {
            return err("C0069", format!("function {i} (`{}`) has no symbol", names[i]));
        };
        let want = meta.functions[i];
        if (f.offset, f.size) != (want.offset, want.size) {
            return err(
                "C0069",
                format!(
                    "symbol `{}` says {:#x}+{:#x}, the metadata's function table {:#x}+{:#x}",
                    f.name, f.offset, f.size, want.offset, want.size
                ),
            );
        }
        checked.push(f);
    }
    let functions = checked;

    // --- Relocations.
    let mut relocs = Vec::new();
    let mut records = Vec::new();
    for (index, s) in sections.enumerate() {
        let sh_type = s.sh_type(endian);
        if sh_type == elf::SHT_REL || sh_type == elf::SHT_RELR {
            return err(
                "C0070",
                format!(
                    "relocation section of type {}: SafeX objects have only SHT_RELA relocations",
                    sh_type.0
                ),
            );
        }
        let Some((rela, link)) = s.rela(endian, bytes).map_err(|e| malformed("relocation section", e))? else {
            continue;
        };
        entsize(index, "relocation")?;
        let target = s.info_link(endian);
        if target.0 != text_index {
            return err(
                "C0072",
                format!(
                    "relocation section {} applies to section {}, not `.text`: only calls in `.text` are relocated",
                    index.0, target.0
                ),
            );
        }
        if link != symtab.section() {
            return err(
                "C0071",
                format!(
                    "relocation section {} refers to section {} as its symbols, not the symbol table",
                    index.0, link.0
                ),
            );
        }
        for r in rela {
            let r_type = r.r_type(endian, false);
            let kind = match r_type {
                elf::R_X86_64_PLT32 => RelocKind::Plt32,
                elf::R_X86_64_PC32 => RelocKind::Pc32,
                other => {
                    return err(
                        "C0070",
                        format!(
                            "relocation type {} at {:#x}: only R_X86_64_PLT32 (4) and R_X86_64_PC32 (2) are allowed",
                            other.0,
                            r.r_offset(endian)
                        ),
                    );
                }
            };
            let offset = r.r_offset(endian);
            let sym = r.r_sym(endian, false) as usize;
            let Some(&callee) = func_of_symbol.get(&sym) else {
                return err(
                    "C0071",
                    format!(
                        "the relocation at {offset:#x} targets symbol {sym}, which is not a function of this object"
                    ),
                );
            };
            let outside = || {
                err(
                    "C0072",
                    format!("the relocation at {offset:#x} is not inside the code of a function in `.text`"),
                )
            };
            let Ok(offset32) = u32::try_from(offset) else {
                return outside();
            };
            // The function holding the field: the last one starting at or before it.
            let holder = functions.partition_point(|f| f.offset <= offset32);
            let Some(func) = holder.checked_sub(1).map(|h| &functions[h]) else {
                return outside();
            };
            if u64::from(func.offset) + u64::from(func.size) < offset + 4 {
                return outside();
            }
            if let Some(prev) = relocs.last().map(|p: &ObjReloc| p.offset)
                && offset < u64::from(prev) + 4
            {
                return err(
                    "C0072",
                    format!("the relocation at {offset:#x} overlaps or precedes the one at {prev:#x}"),
                );
            }
            let addend = r.r_addend(endian);
            relocs.push(ObjReloc {
                offset: offset32,
                kind,
                func: func.index,
                target: callee,
                addend,
            });
            records.push(RelocRecord {
                offset,
                r_type: r_type.0,
                target: u64::from(functions[callee as usize].offset),
                addend,
            });
        }
    }
    if meta::relocs_digest(&records) != meta.relocs_sha256 {
        return err(
            "C0066",
            "the relocations of `.text` do not match the SHA-256 recorded in `.safex.meta`",
        );
    }

    Ok(ObjectParts {
        meta,
        module,
        text: text.to_vec(),
        rodata: rodata.to_vec(),
        functions,
        relocs,
    })
}
