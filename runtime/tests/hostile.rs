//! Objects a hostile author would craft, each refused by `runtime::load`
//! with the exact code that names what is wrong.
//!
//! `codegen/tests/object.rs` already corrupts the bytes of a written object
//! (flips, wrong magic, missing sections, hash mismatches); the reader
//! catches those. The objects here are the ones an attacker would write
//! instead: well-formed ELF with every digest recomputed (the digests are
//! not a signature), so that only the loader's later checks — the verifier
//! and the re-lowering comparison — or a structural rule stand in the way.
//! [`Forge`] writes them with the same ELF writer `write_object` uses.

#![forbid(unsafe_code)]
// Loading maps code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use codegen::meta::{self, FuncRange, Meta, RelocRecord};
use codegen::object::{ObjectParts, RelocKind, read_object, write_object};
use codegen::{CompiledFunction, Options};
use object::elf;
use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};
use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use runtime::image::CodeImage;
use runtime::load::{LoadError, load};
use tal_ir::Module;

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

/// Calls between functions, so that the object has relocations.
const CALLS: &str = "extension calls;\nimport cpu;\nint r = 0;\n\
    int twice(int a) { return a + a; }\n\
    int thrice(int a) { return twice(a) + a; }\n\
    monitor void m(cap<cpu_qos> app) { r = thrice(r) + twice(1); }\n\
    handler void h(cap<cpu_qos> app, int e) on \"Error\" { r = twice(e); }\n";

fn compile(source: &str) -> Module {
    popcorn_front::compile(source, &popcorn_front::Options::default())
        .module
        .expect("the test extension compiles")
}

fn object_with(source: &str, options: Options) -> Vec<u8> {
    codegen::object::compile(&compile(source), options).unwrap()
}

fn object(source: &str) -> Vec<u8> {
    object_with(source, Options::default())
}

/// The PID extension with other gains: the same functions, code of the same
/// size, other constants.
fn pid_variant() -> String {
    let variant = PID.replace("KP = 500", "KP = 600");
    assert_ne!(variant, PID);
    variant
}

fn refused(bytes: &[u8]) -> LoadError {
    match load(bytes, &verifier::Config::default()) {
        Ok(_) => panic!("a hostile object was loaded"),
        Err(e) => e,
    }
}

fn code(bytes: &[u8]) -> &'static str {
    refused(bytes).code
}

// ------------------------------------------------------------------ Forge

/// Where a forged relocation points.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// Function `i`'s symbol.
    Func(usize),
    /// The `i`th of [`Forge::extra_symbols`].
    Extra(usize),
    /// The section symbol of `.text`.
    TextSection,
}

#[derive(Clone, Debug)]
struct Rel {
    offset: u64,
    target: Target,
    r_type: elf::RelocationType,
    addend: i64,
}

#[derive(Clone, Debug)]
struct Sym {
    name: String,
    value: u64,
    size: u64,
    kind: SymbolKind,
    global: bool,
    /// In `.text`, or undefined.
    defined: bool,
    /// `st_info` and `st_other` written as they are.
    raw: Option<(elf::SymbolInfo, elf::SymbolOther)>,
}

/// An object as an attacker writes it: any TAL, any code, any symbols and
/// relocations, with `.safex.meta` (and every digest in it) computed from
/// what is actually there.
#[derive(Clone, Debug)]
struct Forge {
    module: Module,
    text: Vec<u8>,
    /// Function symbols, in function order.
    funcs: Vec<Sym>,
    /// The metadata's function table.
    table: Vec<FuncRange>,
    relocs: Vec<Rel>,
    extra_symbols: Vec<Sym>,
    /// Extra sections: name, kind, contents.
    extra_sections: Vec<(&'static str, SectionKind, Vec<u8>)>,
    no_fuel: bool,
}

impl Forge {
    /// The forge of a valid object: building it gives the object back.
    fn of(bytes: &[u8]) -> Forge {
        let parts = read_object(bytes).expect("a valid object");
        Forge {
            module: parts.module,
            text: parts.text,
            funcs: parts
                .functions
                .iter()
                .map(|f| Sym {
                    name: f.name.clone(),
                    value: f.offset.into(),
                    size: f.size.into(),
                    kind: SymbolKind::Text,
                    global: f.global,
                    defined: true,
                    raw: None,
                })
                .collect(),
            table: parts.meta.functions,
            relocs: parts
                .relocs
                .iter()
                .map(|r| Rel {
                    offset: r.offset.into(),
                    target: Target::Func(r.target as usize),
                    r_type: match r.kind {
                        RelocKind::Plt32 => elf::R_X86_64_PLT32,
                        RelocKind::Pc32 => elf::R_X86_64_PC32,
                    },
                    addend: r.addend,
                })
                .collect(),
            extra_symbols: Vec::new(),
            extra_sections: Vec::new(),
            no_fuel: parts.meta.no_fuel,
        }
    }

    fn build(&self) -> Vec<u8> {
        self.build_with(|_| {})
    }

    /// Builds the object, letting `edit` change the metadata (after its
    /// digests are computed, before it is sealed).
    fn build_with(&self, edit: impl FnOnce(&mut Meta)) -> Vec<u8> {
        let tal = tal_ir::binary::encode(&self.module);
        let value = |t: Target| match t {
            Target::Func(i) => self.funcs[i].value,
            Target::Extra(i) => self.extra_symbols[i].value,
            Target::TextSection => 0,
        };
        let records: Vec<RelocRecord> = self
            .relocs
            .iter()
            .map(|r| RelocRecord {
                offset: r.offset,
                r_type: r.r_type.0,
                target: value(r.target),
                addend: r.addend,
            })
            .collect();
        let budget = self.module.budget.unwrap_or(0);
        let mut m = Meta::from_module(
            &self.module,
            budget,
            self.no_fuel,
            &tal,
            &self.text,
            &self.table,
            &records,
        );
        edit(&mut m);
        let meta_bytes = meta::encode(&m);

        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let mut section = |name: &str, kind, data: Vec<u8>, align| {
            let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
            obj.set_section_data(id, data, align);
            id
        };
        let text = section(".text", SectionKind::Text, self.text.clone(), 16);
        section(".rodata", SectionKind::ReadOnlyData, Vec::new(), 16);
        section(".safex.tal", SectionKind::Other, tal, 1);
        section(".safex.meta", SectionKind::Other, meta_bytes, 8);
        section(".note.GNU-stack", SectionKind::Other, Vec::new(), 1);
        for (name, kind, data) in &self.extra_sections {
            section(name, *kind, data.clone(), 8);
        }
        let add = |obj: &mut Object, s: &Sym| {
            obj.add_symbol(Symbol {
                name: s.name.as_bytes().to_vec(),
                value: s.value,
                size: s.size,
                kind: s.kind,
                scope: if s.global {
                    SymbolScope::Dynamic
                } else {
                    SymbolScope::Compilation
                },
                weak: false,
                section: if s.defined {
                    SymbolSection::Section(text)
                } else {
                    SymbolSection::Undefined
                },
                flags: match s.raw {
                    None => SymbolFlags::None,
                    Some((info, other)) => SymbolFlags::Elf {
                        st_info: info,
                        st_other: other,
                    },
                },
            })
        };
        let funcs: Vec<_> = self.funcs.iter().map(|s| add(&mut obj, s)).collect();
        let extras: Vec<_> = self.extra_symbols.iter().map(|s| add(&mut obj, s)).collect();
        for r in &self.relocs {
            let symbol = match r.target {
                Target::Func(i) => funcs[i],
                Target::Extra(i) => extras[i],
                Target::TextSection => obj.section_symbol(text),
            };
            obj.add_relocation(
                text,
                Relocation {
                    offset: r.offset,
                    symbol,
                    addend: r.addend,
                    flags: RelocationFlags::Elf { r_type: r.r_type },
                },
            )
            .unwrap();
        }
        obj.write().unwrap()
    }
}

/// `load`'s checks up to (not including) the re-lowering comparison: what
/// an object must get past for only re-lowering to be left to catch it.
fn passes_reader_and_verifier(bytes: &[u8]) -> ObjectParts {
    let parts = read_object(bytes).expect("the object reader accepts the forgery");
    assert!(!parts.meta.no_fuel);
    verifier::verify(&parts.module, &verifier::Config::default()).expect("the verifier accepts its TAL");
    parts
}

#[test]
fn the_forge_reproduces_valid_objects() {
    // So that every refusal below is caused by the one thing each test changes.
    for source in [PID, CALLS] {
        let bytes = object(source);
        assert_eq!(Forge::of(&bytes).build(), bytes);
        load(&bytes, &verifier::Config::default()).expect("a valid object loads");
    }
    assert!(!read_object(&object(CALLS)).unwrap().relocs.is_empty());
}

// ------------------------------------------------------------ relocations

/// Makes the object's first call a call of `system`, a symbol it does not
/// define.
fn call_system_first(f: &mut Forge) {
    f.extra_symbols.push(Sym {
        name: "system".into(),
        value: 0,
        size: 0,
        kind: SymbolKind::Text,
        global: true,
        defined: false,
        raw: None,
    });
    f.relocs[0].target = Target::Extra(0);
}

#[test]
fn a_relocation_against_an_external_symbol_is_refused() {
    // `call system` instead of the first call: SafeX objects link against nothing.
    let mut f = Forge::of(&object(CALLS));
    call_system_first(&mut f);
    let e = refused(&f.build());
    assert_eq!(e.code, "C0068");
    assert!(e.message.contains("`system` is undefined"), "{e}");
    // Declaring it is enough to be refused, whether or not anything calls it.
    f.relocs = Forge::of(&object(CALLS)).relocs;
    assert_eq!(code(&f.build()), "C0068");
}

#[test]
fn relocations_of_other_types_are_refused() {
    let f = Forge::of(&object(CALLS));
    for r_type in [
        elf::R_X86_64_NONE,
        elf::R_X86_64_64,
        elf::R_X86_64_GOT32,
        elf::R_X86_64_COPY,
        elf::R_X86_64_GLOB_DAT,
        elf::R_X86_64_JUMP_SLOT,
        elf::R_X86_64_RELATIVE,
        elf::R_X86_64_GOTPCREL,
        elf::R_X86_64_32,
        elf::R_X86_64_32S,
        elf::R_X86_64_TPOFF32,
        elf::R_X86_64_PC64,
        elf::R_X86_64_GOTPCRELX,
        elf::R_X86_64_REX_GOTPCRELX,
        elf::R_X86_64_IRELATIVE,
    ] {
        let mut f = f.clone();
        f.relocs[0].r_type = r_type;
        let e = refused(&f.build());
        assert_eq!(e.code, "C0070", "type {}: {e}", r_type.0);
        assert!(e.message.contains(&format!("relocation type {} at", r_type.0)), "{e}");
    }
}

#[test]
fn a_pc32_relocation_passes_the_reader_but_not_re_lowering() {
    // R_X86_64_PC32 computes the same as PLT32 and the reader accepts it, but
    // the compiler never writes it: the object is not the one its TAL gives.
    let mut f = Forge::of(&object(CALLS));
    f.relocs[0].r_type = elf::R_X86_64_PC32;
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    assert_eq!(code(&bytes), "C0081");
}

#[test]
fn relocations_outside_the_code_or_overlapping_are_refused() {
    let base = Forge::of(&object(CALLS));
    let len = base.text.len() as u64;
    let first = base.relocs[0].offset;
    let owner = base
        .funcs
        .iter()
        .find(|s| s.value <= first && first < s.value + s.size)
        .unwrap();
    let padding = owner.value + owner.size; // the int3 bytes after its function
    assert!(!padding.is_multiple_of(16), "the function is followed by padding");
    for offset in [
        len - 2,
        len,
        len + 4096,
        u64::from(u32::MAX) + 1,
        u64::MAX - 2,
        padding,
        owner.value + owner.size - 3,
    ] {
        let mut f = base.clone();
        f.relocs[0].offset = offset;
        f.relocs.sort_by_key(|r| r.offset);
        let e = refused(&f.build());
        assert_eq!(e.code, "C0072", "offset {offset:#x}: {e}");
    }
    // A second relocation in the middle of another's field, or on top of it.
    for delta in [0, 1, 2, 3] {
        let mut f = base.clone();
        let mut r = f.relocs[0].clone();
        r.offset += delta;
        f.relocs.insert(1, r);
        let e = refused(&f.build());
        assert_eq!(e.code, "C0072", "+{delta}: {e}");
        assert!(e.message.contains("overlaps or precedes"), "{e}");
    }
}

#[test]
fn a_relocation_must_name_the_start_of_a_function() {
    let base = Forge::of(&object(CALLS));
    let mid = base.funcs[1].value + 4; // just after function 1's endbr64
    // A local untyped label the reader tolerates, in the middle of a function.
    let mut f = base.clone();
    f.extra_symbols.push(Sym {
        name: "gadget".into(),
        value: mid,
        size: 0,
        kind: SymbolKind::Label,
        global: false,
        defined: true,
        raw: None,
    });
    f.relocs[0].target = Target::Extra(0);
    let e = refused(&f.build());
    assert_eq!(e.code, "C0071");
    assert!(e.message.contains("not a function of this object"), "{e}");
    // `.text`'s section symbol plus an addend reaching the middle of a function.
    let mut f = base.clone();
    f.relocs[0].target = Target::TextSection;
    f.relocs[0].addend = mid as i64 - 4;
    assert_eq!(code(&f.build()), "C0071");
    // A function symbol of its own in the middle of another function.
    let mut f = base.clone();
    f.extra_symbols.push(Sym {
        name: "gadget".into(),
        value: mid,
        size: 4,
        kind: SymbolKind::Text,
        global: true,
        defined: true,
        raw: None,
    });
    f.relocs[0].target = Target::Extra(0);
    let e = refused(&f.build());
    assert_eq!(e.code, "C0069");
    assert!(e.message.contains("names no function"), "{e}");
}

#[test]
fn a_call_that_leaves_the_code_is_refused() {
    let base = Forge::of(&object(CALLS));
    // A relocation whose addend sends the call 256 MiB away: a consistent
    // digest, a valid target symbol; only re-lowering notices.
    let mut f = base.clone();
    f.relocs[0].addend += 0x1000_0000;
    let bytes = f.build();
    let parts = passes_reader_and_verifier(&bytes);
    let e = refused(&bytes);
    assert_eq!(e.code, "C0080");
    let caller = &parts.module.funcs[parts.relocs[0].func as usize].name;
    assert!(e.message.contains(&format!("`{caller}`")), "{e}");
    // The linker alone, handed these parts, would not patch that call in.
    let e = CodeImage::link(&parts).err().expect("the linker refuses the call");
    assert_eq!(e.code, "L0030");
    // Nor a call one byte into its callee, past its endbr64.
    let mut f = base.clone();
    f.relocs[0].addend += 1;
    let parts = passes_reader_and_verifier(&f.build());
    assert_eq!(CodeImage::link(&parts).err().expect("refused").code, "L0030");

    // The call's relocation dropped and its displacement written by hand,
    // pointing before the code.
    let mut f = base.clone();
    let r = f.relocs.remove(0);
    f.text[r.offset as usize..r.offset as usize + 4].copy_from_slice(&(-0x10_0000i32).to_le_bytes());
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    assert_eq!(code(&bytes), "C0080");
}

#[test]
fn the_linker_checks_every_function_offset_and_size_itself() {
    // `ObjectParts` is plain data: whoever builds it, the linker computes
    // no code address it has not checked (L0013).
    let base = read_object(&object(CALLS)).unwrap();
    assert!(base.functions.len() >= 3);
    assert!(CodeImage::link(&base).is_ok());
    /// What is wrong, and the edit that makes it so.
    type Edit = (&'static str, fn(&mut ObjectParts));
    let edits: [Edit; 7] = [
        ("a function runs past the code", |p| {
            p.functions.last_mut().unwrap().size += 1
        }),
        ("a function starts at the end of the code", |p| {
            p.functions[0].offset = p.text.len() as u32
        }),
        ("a function far outside", |p| {
            (p.functions[0].offset, p.functions[0].size) = (u32::MAX, u32::MAX)
        }),
        ("an empty function", |p| p.functions[1].size = 0),
        ("functions out of module order", |p| p.functions.swap(0, 1)),
        ("a function missing", |p| {
            p.functions.pop();
        }),
        ("an entry point naming no function", |p| p.meta.entries[0].func = 99),
    ];
    for (what, edit) in edits {
        let mut parts = base.clone();
        edit(&mut parts);
        let e = CodeImage::link(&parts)
            .err()
            .unwrap_or_else(|| panic!("{what}: linked"));
        assert_eq!(e.code, "L0013", "{what}: {}", e.message);
    }
}

#[test]
fn a_second_relocation_section_is_refused() {
    // Make `.note.GNU-stack` another `SHT_RELA` for `.text`, over the same
    // entries as `.rela.text`: every call would be relocated twice.
    let mut e = Elf::new(object(CALLS));
    let rela = e.section(".rela.text");
    let note = e.section(".note.GNU-stack").at;
    let rela_header = e.bytes[rela.at + 4..rela.at + 64].to_vec();
    e.put(note + 4, &rela_header);
    let err = refused(&e.bytes);
    assert_eq!(err.code, "C0072", "{err}");
}

#[test]
fn symbols_a_dynamic_linker_would_treat_specially_are_refused() {
    let base = Forge::of(&object(CALLS));
    let entry = base.funcs.iter().position(|s| s.global).unwrap();
    let internal = base.funcs.iter().position(|s| !s.global).unwrap();
    let (func, local, global, weak) = (elf::STT_FUNC, elf::STB_LOCAL, elf::STB_GLOBAL, elf::STB_WEAK);
    for (index, info, what) in [
        (
            internal,
            local | elf::STT_GNU_IFUNC,
            "an internal function as an ifunc resolver",
        ),
        (
            entry,
            global | elf::STT_GNU_IFUNC,
            "an entry point as an ifunc resolver",
        ),
        (entry, weak | func, "a weak entry point"),
        (entry, elf::STB_GNU_UNIQUE | func, "a unique entry point"),
        (internal, global | func, "an internal function exported"),
        (entry, global | elf::STT_TLS, "an entry point in thread-local storage"),
        (entry, global | elf::STT_OBJECT, "an entry point as data"),
    ] {
        let mut f = base.clone();
        f.funcs[index].raw = Some((info, elf::STV_DEFAULT.into()));
        let e = refused(&f.build());
        assert_eq!(e.code, "C0069", "{what}: {e}");
    }
    // Visibility is not something the reader looks at; re-lowering is.
    let mut f = base.clone();
    f.funcs[entry].raw = Some((global | func, elf::STV_PROTECTED.into()));
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    let e = refused(&bytes);
    assert_eq!(e.code, "C0081");
    assert!(e.message.contains("(section `.symtab` + "), "{e}");
}

// ------------------------------------------------------------ code and padding

#[test]
fn code_hidden_in_the_padding_is_refused() {
    // The reader checks the layout, not what lies between functions:
    // `.text`'s digest is recomputed, so only re-lowering sees the gadget.
    let mut f = Forge::of(&object(CALLS));
    let padded = (f.funcs.iter())
        .position(|g| !(g.value + g.size).is_multiple_of(16))
        .expect("a function followed by padding");
    let end = (f.funcs[padded].value + f.funcs[padded].size) as usize;
    f.text[end] = 0xc3; // ret
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    let e = refused(&bytes);
    assert_eq!(e.code, "C0081");
    assert!(e.message.contains(&format!("(section `.text` + {end:#x})")), "{e}");
    // A function that claims the padding after it as its own.
    let mut f = Forge::of(&object(CALLS));
    let grown = f.funcs[padded].size.next_multiple_of(16);
    f.funcs[padded].size = grown;
    f.table[padded].size = grown as u32;
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    assert_eq!(code(&bytes), "C0080");
}

#[test]
fn code_from_another_object_is_refused() {
    let pid = object(PID);
    let other = object(&pid_variant());
    let (mut f, g) = (Forge::of(&pid), Forge::of(&other));
    assert_eq!(f.table, g.table, "the variant's functions have the same sizes");
    assert_ne!(f.text, g.text);
    // Swapped in place: the digest gives it away.
    f.text = g.text;
    let digest = meta::sha256(&Forge::of(&pid).text);
    let e = refused(&f.build_with(|m| m.text_sha256 = digest));
    assert_eq!(e.code, "C0065");
    // With the digest recomputed, it takes re-lowering.
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    let e = refused(&bytes);
    assert_eq!(e.code, "C0080");
    assert!(e.message.contains("is not what its TAL compiles to"), "{e}");
}

#[test]
fn tal_from_another_verified_module_is_refused() {
    // The code of the PID with the other gains' TAL: every digest, name and
    // entry point agrees, and the TAL verifies. Only re-lowering sees that
    // the code is not that TAL's.
    let mut f = Forge::of(&object(PID));
    f.module = read_object(&object(&pid_variant())).unwrap().module;
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    assert_eq!(code(&bytes), "C0080");
}

/// Adds a local label symbol inside the code: not what the compiler writes.
fn add_label(f: &mut Forge) {
    f.extra_symbols.push(Sym {
        name: "label".into(),
        value: 8,
        size: 0,
        kind: SymbolKind::Label,
        global: false,
        defined: true,
        raw: None,
    });
}

#[test]
fn extra_sections_and_symbols_the_reader_tolerates_are_refused() {
    // Writable data and an initializer array: never mapped, but not what
    // the compiler writes either.
    for (name, kind) in [(".data", SectionKind::Data), (".init_array", SectionKind::Data)] {
        let mut f = Forge::of(&object(PID));
        f.extra_sections.push((name, kind, vec![0x41; 64]));
        let bytes = f.build();
        passes_reader_and_verifier(&bytes);
        let e = refused(&bytes);
        assert_eq!(e.code, "C0081", "{name}: {e}");
    }
    let mut f = Forge::of(&object(PID));
    add_label(&mut f);
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    let e = refused(&bytes);
    assert_eq!(e.code, "C0081");
    // The file grew: its layout differs from the header on.
    assert!(e.message.contains("from byte 0x28 (the ELF header)"), "{e}");
}

// ------------------------------------------------------------ TAL and metadata

/// A forgery of `tal` (a hostile module) with code that does nothing.
fn forge_tal(tal: &str) -> Vec<u8> {
    let (module, _) = tal_ir::text::parse(tal).expect("the test TAL parses");
    let code = vec![0xf3, 0x0f, 0x1e, 0xfa, 0x31, 0xc0, 0xc3]; // endbr64; xor eax, eax; ret
    let funcs = vec![
        CompiledFunction {
            code,
            relocs: vec![],
            frame_size: 0,
        };
        module.funcs.len()
    ];
    let bytes = write_object(&module, &funcs, Options::default());
    read_object(&bytes).expect("the object reader accepts it: it does not verify");
    bytes
}

#[test]
fn tal_that_fails_the_verifier_is_refused() {
    for (tal, want) in [
        (
            include_str!("../../verifier/tests/reject/forge_cap_via_call_argument.tal"),
            "V0701",
        ),
        (include_str!("../../verifier/tests/reject/lock_spin_lock.tal"), "V0720"),
        (
            include_str!("../../verifier/tests/reject/amplify_rights_via_block_param.tal"),
            "V0603",
        ),
    ] {
        let e = refused(&forge_tal(tal));
        assert_eq!(e.code, want, "{e}");
        assert!(e.message.starts_with("the object's TAL is rejected"), "{e}");
    }
}

#[test]
fn code_without_fuel_checks_is_refused_whatever_the_flag_says() {
    // Built with --no-fuel, the flag cleared and the metadata resealed: the
    // flag no longer warns the loader, but the code is not what the TAL
    // compiles to with fuel. (A loop, so that there is a check to leave
    // out: loop-free code has none, its entry points' fuel is the host's.)
    let looping = "extension looping;\nimport cpu;\nint r = 0;\n\
        monitor void m(cap<cpu_qos> app) { for (int i = 0; i < 9; i++) { r = r + i; } }\n";
    let mut f = Forge::of(&object_with(looping, Options { no_fuel: true }));
    assert!(f.no_fuel);
    f.no_fuel = false;
    let bytes = f.build();
    passes_reader_and_verifier(&bytes);
    assert_eq!(code(&bytes), "C0080");
    // Code with fuel checks, flagged --no-fuel: refused on the flag alone.
    let mut f = Forge::of(&object(CALLS));
    f.no_fuel = true;
    assert_eq!(code(&f.build()), "L0020");
}

#[test]
fn another_abi_version_is_refused() {
    let f = Forge::of(&object(PID));
    for version in [0, stdlib::abi::ABI_VERSION + 1, u32::MAX] {
        let e = refused(&f.build_with(|m| m.abi_version = version));
        assert_eq!(e.code, "C0052", "{e}");
        assert!(e.message.contains(&format!("ABI version {version}")), "{e}");
    }
}

// ------------------------------------------------------------ damaged files

/// Just enough of an ELF64 reader to find what to damage.
struct Elf {
    bytes: Vec<u8>,
}

struct Shdr {
    /// File offset of the section header.
    at: usize,
}

impl Elf {
    fn new(bytes: Vec<u8>) -> Elf {
        Elf { bytes }
    }
    fn uint(&self, at: usize, n: usize) -> usize {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&self.bytes[at..at + n]);
        u64::from_le_bytes(b) as usize
    }
    fn put(&mut self, at: usize, v: &[u8]) {
        self.bytes[at..at + v.len()].copy_from_slice(v);
    }
    fn headers(&self) -> Vec<usize> {
        let (shoff, shnum) = (self.uint(0x28, 8), self.uint(0x3c, 2));
        (0..shnum).map(|i| shoff + i * 64).collect()
    }
    fn name(&self, at: usize) -> String {
        let strtab = self.uint(self.headers()[self.uint(0x3e, 2)] + 24, 8);
        let start = strtab + self.uint(at, 4);
        let len = self.bytes[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(self.bytes[start..start + len].to_vec()).unwrap()
    }
    fn section(&self, name: &str) -> Shdr {
        let at = self.headers().into_iter().find(|&at| self.name(at) == name).unwrap();
        Shdr { at }
    }
}

#[test]
fn every_truncation_is_refused() {
    for source in [PID, CALLS] {
        let bytes = object(source);
        for len in 0..bytes.len() {
            let e = refused(&bytes[..len]);
            // The section table is at the end of the file: every prefix has
            // a header that points past its end, or no header at all.
            assert_eq!(e.code, "C0060", "{len} of {} bytes: {e}", bytes.len());
        }
    }
}

#[test]
fn random_bit_flips_are_refused() {
    // Re-lowering compares the whole file, so no byte is unchecked: every
    // flip anywhere, in any number, is refused.
    // Seeded, so that failures replay.
    let mut rng = XorShiftRng::seed_from_u64(0x5afe_c0de);
    for source in [PID, CALLS] {
        let bytes = object(source);
        for round in 0..1500 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.random_range(0..4) {
                let at = rng.random_range(0..b.len());
                b[at] ^= 1 << rng.random_range(0..8);
            }
            if b == bytes {
                continue;
            }
            let e = refused(&b);
            assert!(
                e.code.starts_with('C') && (e.code < "C0080" || e.code == "C0081"),
                "round {round}: {e}"
            );
        }
    }
}

#[test]
fn huge_section_sizes_and_offsets_are_refused() {
    let base = Elf::new(object(CALLS));
    let len = base.bytes.len() as u64;
    for name in [
        ".text",
        ".safex.tal",
        ".safex.meta",
        ".symtab",
        ".strtab",
        ".rela.text",
        ".shstrtab",
    ] {
        for (field, what) in [(24, "sh_offset"), (32, "sh_size")] {
            for value in [len, len + 1, 1 << 32, 1 << 62, u64::MAX - 7, u64::MAX] {
                let mut e = Elf::new(base.bytes.clone());
                let at = e.section(name).at + field;
                e.put(at, &value.to_le_bytes());
                let err = refused(&e.bytes);
                assert_eq!(err.code, "C0060", "{name}.{what} = {value:#x}: {err}");
            }
        }
    }
    // The header's view of the section table.
    for (at, value) in [
        (0x28, &u64::MAX.to_le_bytes()[..]), // e_shoff
        (0x28, &len.to_le_bytes()),
        (0x3a, &1u16.to_le_bytes()),      // e_shentsize
        (0x3c, &0xffffu16.to_le_bytes()), // e_shnum
        (0x3e, &0xfffeu16.to_le_bytes()), // e_shstrndx
    ] {
        let mut e = Elf::new(base.bytes.clone());
        e.put(at, value);
        let err = refused(&e.bytes);
        assert_eq!(err.code, "C0060", "e_* at {at:#x}: {err}");
    }
    // Symbol and relocation entries of another size: a loader stepping by
    // `sh_entsize` would read other entries than the ones checked.
    for name in [".rela.text", ".symtab"] {
        for size in [0u64, 1, 23, 25, 48, u64::MAX] {
            let mut e = Elf::new(base.bytes.clone());
            let at = e.section(name).at + 56; // sh_entsize
            e.put(at, &size.to_le_bytes());
            let err = refused(&e.bytes);
            assert_eq!(err.code, "C0060", "{name}.sh_entsize = {size}: {err}");
            assert!(err.message.contains("not 24"), "{err}");
        }
    }
}

// ------------------------------------------------------------ signed objects

/// The key `safexc sign` would hold, whose public half the loader trusts.
fn signing_key() -> &'static (runtime::signed::PrivateKey, runtime::signed::PublicKey) {
    static KEY: std::sync::OnceLock<(runtime::signed::PrivateKey, runtime::signed::PublicKey)> =
        std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let key = runtime::signed::generate(&mut rand::rngs::StdRng::seed_from_u64(0x5afe_5167)).unwrap();
        let public = runtime::signed::public_key_der(&key).unwrap();
        (key, runtime::signed::PublicKey::from_der(&public).unwrap())
    })
}

/// Signs `object` with the trusted key (as a key holder who signs without
/// `safexc sign`'s checks would) and loads it on that signature: no
/// verifier, no re-lowering, only the structural checks.
fn signed_load(object: &[u8]) -> Result<runtime::load::Loaded, LoadError> {
    let (key, public) = signing_key();
    let signed = runtime::signed::sign(object, key).unwrap();
    runtime::load::load_signed(&signed, std::slice::from_ref(public))
}

fn signed_code(object: &[u8]) -> &'static str {
    match signed_load(object) {
        Ok(_) => panic!("a hostile signed object was loaded"),
        Err(e) => e.code,
    }
}

#[test]
fn behind_a_trusted_signature_the_structure_is_still_checked() {
    for source in [PID, CALLS] {
        let loaded = signed_load(&object(source)).expect("a compiled object loads on its signature");
        assert_eq!(loaded.accepted, runtime::load::Accepted::Signed);
        assert_eq!(signed_load(&Forge::of(&object(source)).build()).err(), None);
    }
    let base = Forge::of(&object(CALLS));
    let forged = |edit: &dyn Fn(&mut Forge)| {
        let mut f = base.clone();
        edit(&mut f);
        f.build()
    };
    // Relocations: a kind the reader tolerates but the compiler never
    // writes; other kinds; a symbol outside the object; a field outside the
    // code; a call past the code, or past its callee's first byte.
    let pc32 = forged(&|f| f.relocs[0].r_type = elf::R_X86_64_PC32);
    passes_reader_and_verifier(&pc32);
    assert_eq!(signed_code(&pc32), "L0048");
    assert_eq!(
        signed_code(&forged(&|f| f.relocs[0].r_type = elf::R_X86_64_64)),
        "C0070"
    );
    let external = forged(&call_system_first);
    assert_eq!(signed_code(&external), "C0068");
    let len = base.text.len() as u64;
    assert_eq!(signed_code(&forged(&|f| f.relocs[1].offset = len)), "C0072");
    for addend in [0x1000_0000, 1, -0x1000] {
        let bytes = forged(&|f| f.relocs[0].addend += addend);
        passes_reader_and_verifier(&bytes);
        assert_eq!(signed_code(&bytes), "L0030", "addend {addend:+#x}");
    }
    // Sections and symbols the reader tolerates.
    for (name, kind) in [(".data", SectionKind::Data), (".init_array", SectionKind::Data)] {
        let bytes = forged(&|f| f.extra_sections.push((name, kind, vec![0x41; 64])));
        passes_reader_and_verifier(&bytes);
        let e = signed_load(&bytes).err().unwrap();
        assert_eq!(e.code, "L0048", "{name}");
        assert!(e.message.contains(&format!("a section `{name}`")), "{e}");
    }
    // A second relocation section over the same calls.
    let mut e = Elf::new(object(CALLS));
    let rela = e.section(".rela.text");
    let note = e.section(".note.GNU-stack").at;
    let rela_header = e.bytes[rela.at + 4..rela.at + 64].to_vec();
    e.put(note + 4, &rela_header);
    assert_eq!(signed_code(&e.bytes), "C0072");
    let label = forged(&add_label);
    passes_reader_and_verifier(&label);
    let e = signed_load(&label).err().unwrap();
    assert_eq!(e.code, "L0048");
    assert!(e.message.contains("one per function"), "{e}");
    // The fuel flag: an object that says it has no fuel checks.
    assert_eq!(signed_code(&forged(&|f| f.no_fuel = true)), "L0020");
    // A function without `endbr64` (the digest of `.text` recomputed).
    for func in [0, 2] {
        let bytes = forged(&|f| {
            let at = f.funcs[func].value as usize;
            f.text[at] = 0x90;
        });
        let e = signed_load(&bytes).err().unwrap();
        assert_eq!(e.code, "L0048", "function {func}: {e}");
        assert!(e.message.contains("endbr64"), "{e}");
    }
    // The metadata: another ABI.
    let abi = base.build_with(|m| m.abi_version += 1);
    assert_eq!(signed_code(&abi), "C0052");
    // Padding between functions is `int3`, as written.
    let mut f = base.clone();
    let owner = &f.funcs[0];
    let padding = (owner.value + owner.size) as usize;
    f.text[padding] = 0xc3;
    assert_eq!(signed_code(&f.build()), "L0048");
}

#[test]
fn damage_a_key_holder_signs_is_refused_by_the_structural_checks() {
    // Every truncation, and random flips, of a compiled object, as if the
    // key holder signed the damaged bytes: the signature checks out, and
    // the structural checks refuse the object, or the flips changed
    // nothing the host uses (an alignment field, a gap between sections,
    // a symbol's visibility: the digests in `.safex.meta` cover the code,
    // TAL and relocations, and the checks the rest of what is read).
    let check = runtime::load::check_signed_object;
    let mut rng = XorShiftRng::seed_from_u64(0x5afe_516e);
    let mut harmless = 0;
    for source in [PID, CALLS] {
        let bytes = object(source);
        assert!(check(&bytes).is_ok());
        for len in 0..bytes.len() {
            assert_eq!(check(&bytes[..len]).unwrap_err().code, "C0060", "{len}");
        }
        for round in 0..1500 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.random_range(0..4) {
                let at = rng.random_range(0..b.len());
                b[at] ^= 1 << rng.random_range(0..8);
            }
            if b == bytes {
                continue;
            }
            match check(&b) {
                Ok(parts) => {
                    assert_eq!(parts, read_object(&bytes).unwrap(), "round {round}");
                    harmless += 1;
                }
                Err(e) => {
                    assert!(
                        (e.code.starts_with('C') && e.code < "C0080") || e.code == "L0048",
                        "round {round}: {e}"
                    );
                    if round % 100 == 0 {
                        assert_eq!(signed_code(&b), e.code, "round {round}");
                    }
                }
            }
        }
    }
    // Most flips land in a digest's bytes or what they cover.
    assert!(harmless < 300, "{harmless} of 3000 flips changed nothing the host uses");
}

#[test]
fn a_trusted_signature_stands_for_the_verifier_and_re_lowering() {
    // What the structural checks cannot see, the signer vouches for: code
    // that is not what its TAL compiles to (the PID variant's TAL over the
    // PID's code, every digest recomputed) is refused by every check
    // (`C0080`) but loads on a trusted signature. `safexc sign` runs those
    // checks before it signs; a key is trusted to sign nothing else.
    let mut f = Forge::of(&object(PID));
    f.module = read_object(&object(&pid_variant())).unwrap().module;
    let bytes = f.build();
    assert_eq!(code(&bytes), "C0080");
    let loaded = signed_load(&bytes).expect("the signer's word");
    assert_eq!(loaded.accepted, runtime::load::Accepted::Signed);
}
