//! The object format: writing, reading back, determinism, what binutils
//! think of it, and every way a reader must refuse a malformed object.
//!
//! The code is hand-made `CompiledFunction`s (what lowering produces, minus
//! the lowering), so these tests pin the container, not the code generator.

#![forbid(unsafe_code)]

use std::process::Command;

use codegen::meta::{self, EntryKind};
use codegen::object::{RelocKind, read_object, symbol_names, write_object};
use codegen::{CallReloc, CompiledFunction, Options};
use proptest::prelude::*;
use stdlib::Rights;
use tal_ir::Module;

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

const CALLS: &str = r#"
module calls
budget 500

class cpu_qos {
    period: i64 readonly
    share: i64 range(0, 100)
}

event Error

func @answer() -> i64 {
block0:
    fuel 2
    v0 = iconst 42
    ret v0
}

monitor @tick(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 3
    v1 = call @answer()
    ret
}

handler @on_error(cap<cpu_qos, rw>, i64) on Error {
block0(v0: cap<cpu_qos, rw>, v1: i64):
    fuel 3
    v2 = call @answer()
    ret
}
"#;

fn parse(text: &str) -> Module {
    let (module, _) = tal_ir::text::parse(text).expect("test TAL parses");
    verifier::verify(&module, &verifier::Config::default()).expect("test TAL verifies");
    module
}

/// `endbr64; mov eax, 42; ret`
fn answer() -> CompiledFunction {
    let mut code = ENDBR64.to_vec();
    code.extend_from_slice(&[0xb8, 42, 0, 0, 0, 0xc3]);
    CompiledFunction {
        code,
        relocs: vec![],
        frame_size: 0,
    }
}

/// `endbr64; sub rsp, 8; call <callee>; add rsp, 8; xor eax, eax; ret`
fn caller(callee: u32) -> CompiledFunction {
    let mut code = ENDBR64.to_vec();
    code.extend_from_slice(&[
        0x48, 0x83, 0xec, 0x08, 0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08, 0x31, 0xc0, 0xc3,
    ]);
    CompiledFunction {
        code,
        relocs: vec![CallReloc {
            offset: 9,
            callee,
            addend: -4,
        }],
        frame_size: 8,
    }
}

/// `endbr64; xor eax, eax; ret` for every function.
fn trivial(module: &Module) -> Vec<CompiledFunction> {
    let mut code = ENDBR64.to_vec();
    code.extend_from_slice(&[0x31, 0xc0, 0xc3]);
    let f = CompiledFunction {
        code,
        relocs: vec![],
        frame_size: 0,
    };
    vec![f; module.funcs.len()]
}

fn calls() -> (Module, Vec<CompiledFunction>) {
    (parse(CALLS), vec![answer(), caller(0), caller(0)])
}

fn calls_object() -> Vec<u8> {
    let (m, f) = calls();
    write_object(&m, &f, Options::default())
}

// ------------------------------------------------------------ ELF patching

/// Just enough of an ELF64 reader to find what to corrupt.
#[derive(Clone)]
struct Elf {
    bytes: Vec<u8>,
}

struct Shdr {
    /// File offset of the section header.
    at: usize,
    name: String,
    offset: usize,
    size: usize,
}

impl Elf {
    fn u16(&self, at: usize) -> usize {
        u16::from_le_bytes(self.bytes[at..at + 2].try_into().unwrap()) as usize
    }
    fn u32(&self, at: usize) -> usize {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap()) as usize
    }
    fn u64(&self, at: usize) -> usize {
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap()) as usize
    }
    fn put(&mut self, at: usize, v: &[u8]) {
        self.bytes[at..at + v.len()].copy_from_slice(v);
    }
    fn sections(&self) -> Vec<Shdr> {
        let (shoff, shnum, shstrndx) = (self.u64(0x28), self.u16(0x3c), self.u16(0x3e));
        let strtab = self.u64(shoff + shstrndx * 64 + 24);
        (0..shnum)
            .map(|i| {
                let at = shoff + i * 64;
                let name_at = strtab + self.u32(at);
                let len = self.bytes[name_at..].iter().position(|&b| b == 0).unwrap();
                Shdr {
                    at,
                    name: String::from_utf8(self.bytes[name_at..name_at + len].to_vec()).unwrap(),
                    offset: self.u64(at + 24),
                    size: self.u64(at + 32),
                }
            })
            .collect()
    }
    fn index(&self, name: &str) -> usize {
        self.sections().iter().position(|s| s.name == name).unwrap()
    }
    fn section(&self, name: &str) -> Shdr {
        self.sections().into_iter().find(|s| s.name == name).unwrap()
    }
    /// File offset of the symbol table entry named `name`.
    fn symbol(&self, name: &str) -> usize {
        let symtab = self.section(".symtab");
        let strtab = self.section(".strtab");
        (0..symtab.size / 24)
            .map(|i| symtab.offset + i * 24)
            .find(|&at| {
                let s = strtab.offset + self.u32(at);
                self.bytes[s..].starts_with(name.as_bytes()) && self.bytes[s + name.len()] == 0
            })
            .unwrap()
    }
    /// Index in the symbol table of the symbol named `name`.
    fn symbol_index(&self, name: &str) -> usize {
        (self.symbol(name) - self.section(".symtab").offset) / 24
    }
    /// File offset of the `i`th entry of `.rela.text`.
    fn rela(&self, i: usize) -> usize {
        self.section(".rela.text").offset + i * 24
    }
    fn code(self) -> &'static str {
        read_object(&self.bytes)
            .expect_err("the corrupted object is refused")
            .code
    }
}

fn elf() -> Elf {
    Elf { bytes: calls_object() }
}

/// Re-seals `.safex.meta` after an edit (its last 32 bytes are the SHA-256
/// of the rest), so that the reader's later checks are reached.
fn reseal_meta(e: &mut Elf) {
    let m = e.section(".safex.meta");
    let end = m.offset + m.size;
    let digest = meta::sha256(&e.bytes[m.offset..end - 32]);
    e.put(end - 32, &digest);
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).unwrap()
}

// ------------------------------------------------------------ round trip

#[test]
fn write_read_round_trip() {
    let (module, funcs) = calls();
    let bytes = write_object(&module, &funcs, Options::default());
    let parts = read_object(&bytes).unwrap();
    assert_eq!(parts.module, module);
    assert!(parts.rodata.is_empty());

    let names: Vec<&str> = parts.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["answer", "tick", "on_error"]);
    let offsets: Vec<u32> = parts.functions.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 16, 48]);
    let globals: Vec<bool> = parts.functions.iter().map(|f| f.global).collect();
    assert_eq!(globals, [false, true, true]);
    for (i, f) in funcs.iter().enumerate() {
        assert_eq!(parts.functions[i].index as usize, i);
        assert_eq!(parts.functions[i].size as usize, f.code.len());
        let (code, relocs) = parts.function(i).unwrap();
        assert_eq!(code, &f.code[..]);
        assert_eq!(relocs, f.relocs);
    }
    // Padding is int3.
    assert!(parts.text[10..16].iter().all(|&b| b == 0xcc));

    assert_eq!(parts.relocs.len(), 2);
    assert_eq!(parts.relocs[0].offset, 16 + 9);
    assert_eq!(parts.relocs[0].kind, RelocKind::Plt32);
    assert_eq!((parts.relocs[0].func, parts.relocs[0].target), (1, 0));
    assert_eq!(parts.relocs[0].addend, -4);
    assert_eq!(parts.relocs[1].offset, 48 + 9);

    let m = &parts.meta;
    assert_eq!(m.abi_version, stdlib::abi::ABI_VERSION);
    assert!(!m.no_fuel);
    assert_eq!(m.budget, 500);
    assert_eq!(m.name, "calls");
    assert_eq!(m.tal_sha256, meta::sha256(&tal_ir::binary::encode(&module)));
    assert_eq!(m.text_sha256, meta::sha256(&parts.text));
    assert_eq!(m.entries.len(), 2);
    assert_eq!(
        (m.entries[0].name.as_str(), m.entries[0].func, &m.entries[0].kind),
        ("tick", 1, &EntryKind::Monitor)
    );
    assert_eq!(
        (m.entries[0].cap_class.as_str(), m.entries[0].cap_rights),
        ("cpu_qos", Rights::READ)
    );
    assert_eq!(m.entries[1].kind, EntryKind::Handler { event: "Error".into() });
    assert_eq!(m.entries[1].cap_rights, Rights::READ.union(Rights::WRITE));
    assert_eq!(m.classes.len(), 1);
    assert_eq!(m.classes[0].attrs[1].range, Some((0, 100)));
    assert!(m.classes[0].attrs[0].readonly);
    assert_eq!(m.events, ["Error"]);
    assert_eq!((m.data_cells, m.data_init.as_slice()), (0, &[][..]));
}

const GLOBALS: &str = r#"
module globals

event Ping
event Pong

struct pair { a: i64, b: bool }

global @x: i64 = 7
global @p: [struct pair; 2] = zero
global @on: bool = true
global @w: [i64; 4] = [0, -3, 0, 5]
global @z: i64 = 0

func @f() -> i64 {
block0:
    fuel 2
    v0 = iconst 1
    ret v0
}
"#;

#[test]
fn events_and_the_data_region_are_recorded() {
    let module = parse(GLOBALS);
    let parts = read_object(&write_object(&module, &trivial(&module), Options::default())).unwrap();
    assert_eq!(parts.meta.events, ["Ping", "Pong"]);
    // x at 0, p at 1..5, on at 5, w at 6..10, z at 10.
    assert_eq!(parts.meta.data_cells, 11);
    assert_eq!(parts.meta.data_init, [(0, 7), (5, 1), (7, -3), (9, 5)]);
    let layout = tal_ir::layout::GlobalLayout::new(&module).unwrap();
    assert_eq!(
        (parts.meta.data_cells, &parts.meta.data_init),
        (layout.cells, &layout.init)
    );
}

#[test]
fn examples_round_trip_with_their_entry_kinds() {
    for text in [
        include_str!("../../examples/tal/cpu_pid.tal"),
        include_str!("../../examples/tal/timeslice_guard.tal"),
        include_str!("../../examples/tal/cpu_avg.tal"),
    ] {
        let module = parse(text);
        let bytes = write_object(&module, &trivial(&module), Options::default());
        let parts = read_object(&bytes).unwrap();
        assert_eq!(parts.module, module);
        assert_eq!(parts.meta.budget, module.budget.unwrap_or(0));
    }
    let guard = parse(include_str!("../../examples/tal/timeslice_guard.tal"));
    let parts = read_object(&write_object(&guard, &trivial(&guard), Options::default())).unwrap();
    assert_eq!(
        parts.meta.entries[0].kind,
        EntryKind::Guard {
            class: "cpu_qos".into(),
            attr: "timeslice_adjustment".into()
        }
    );
    assert_eq!(parts.meta.entries[0].cap_rights, Rights::READ.union(Rights::GUARD));
}

#[test]
fn no_fuel_is_recorded() {
    let (module, funcs) = calls();
    let bytes = write_object(&module, &funcs, Options { no_fuel: true });
    assert!(read_object(&bytes).unwrap().meta.no_fuel);
    assert_ne!(bytes, calls_object());
}

#[test]
fn empty_module() {
    let module = Module {
        name: "empty".into(),
        ..Module::default()
    };
    let bytes = write_object(&module, &[], Options::default());
    let parts = read_object(&bytes).unwrap();
    assert!(parts.text.is_empty() && parts.functions.is_empty() && parts.relocs.is_empty());
    binutils_accept(&bytes, "empty");
}

#[test]
fn odd_function_names_get_safe_symbols() {
    let (mut module, funcs) = calls();
    module.funcs[0].name = ".text".into();
    module.funcs[2].name = "tick".into(); // a duplicate, only possible unverified
    assert_eq!(symbol_names(&module), ["safex.fn.0", "tick", "safex.fn.2"]);
    let bytes = write_object(&module, &funcs, Options::default());
    let parts = read_object(&bytes).unwrap();
    assert_eq!(parts.functions[0].name, "safex.fn.0");
    assert_eq!(parts.relocs[0].target, 0);
}

#[test]
fn deterministic() {
    let a = calls_object();
    let b = calls_object();
    assert_eq!(a, b);
    // Relocations given out of order come out the same.
    let (module, mut funcs) = calls();
    let mut two = caller(0);
    two.code.extend_from_slice(&[0xe8, 0, 0, 0, 0]);
    two.relocs.insert(
        0,
        CallReloc {
            offset: 21,
            callee: 0,
            addend: -4,
        },
    );
    funcs[1] = two.clone();
    let x = write_object(&module, &funcs, Options::default());
    two.relocs.reverse();
    funcs[1] = two;
    assert_eq!(x, write_object(&module, &funcs, Options::default()));
}

// ------------------------------------------------------------ binutils

/// `readelf -a` and `objdump -d` read the object without a word on stderr.
/// Returns objdump's output, or `None` if binutils are not installed.
fn binutils_accept(bytes: &[u8], tag: &str) -> Option<String> {
    let path = std::env::temp_dir().join(format!("safex-object-{}-{tag}.o", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let mut outputs = Vec::new();
    for (tool, args) in [("readelf", &["-a", "-W"][..]), ("objdump", &["-d", "-r"][..])] {
        let out = match Command::new(format!("/usr/bin/{tool}")).args(args).arg(&path).output() {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipping the {tool} check: {e}");
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{tool} failed: {stderr}");
        assert!(stderr.trim().is_empty(), "{tool} complained: {stderr}");
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let _ = std::fs::remove_file(&path);
    let readelf = &outputs[0];
    assert!(!readelf.to_lowercase().contains("warning"), "{readelf}");
    Some(outputs.pop().unwrap())
}

#[test]
fn binutils_read_the_object_cleanly() {
    let Some(objdump) = binutils_accept(&calls_object(), "calls") else {
        return;
    };
    assert!(objdump.contains("<answer>:"), "{objdump}");
    assert!(objdump.contains("<tick>:"), "{objdump}");
    assert!(objdump.contains("endbr64"), "{objdump}");
    assert!(objdump.contains("R_X86_64_PLT32\tanswer-0x4"), "{objdump}");
    let guard = parse(include_str!("../../examples/tal/timeslice_guard.tal"));
    binutils_accept(&write_object(&guard, &trivial(&guard), Options::default()), "guard");
}

// ------------------------------------------------------------ malformed objects

#[test]
fn not_elf_is_refused() {
    for bytes in [&b""[..], b"\x7fEL", b"hello, world", &calls_object()[..40]] {
        assert_eq!(read_object(bytes).unwrap_err().code, "C0060");
    }
    let mut e = elf();
    e.put(0x28, &u64::MAX.to_le_bytes()); // e_shoff
    assert_eq!(e.code(), "C0060");
}

#[test]
fn wrong_machine_class_or_type_is_refused() {
    let mut e = elf();
    e.put(18, &183u16.to_le_bytes()); // EM_AARCH64
    assert_eq!(e.code(), "C0061");
    let mut e = elf();
    e.put(4, &[1]); // ELFCLASS32
    assert_eq!(e.code(), "C0061");
    let mut e = elf();
    e.put(5, &[2]); // big-endian
    assert_eq!(e.code(), "C0061");
    let mut e = elf();
    e.put(16, &2u16.to_le_bytes()); // ET_EXEC
    assert_eq!(e.code(), "C0061");
}

#[test]
fn missing_duplicate_or_executable_sections_are_refused() {
    for name in [".text", ".rodata", ".safex.tal", ".safex.meta"] {
        // Point the section's name at another section's.
        let mut e = elf();
        let other = e.u32(e.section(".note.GNU-stack").at);
        let at = e.section(name).at;
        e.put(at, &(other as u32).to_le_bytes());
        assert_eq!(e.code(), "C0062", "{name}");
    }
    let mut e = elf();
    let rodata = e.u32(e.section(".rodata").at);
    let at = e.section(".note.GNU-stack").at;
    e.put(at, &(rodata as u32).to_le_bytes());
    assert_eq!(e.code(), "C0062");
    let mut e = elf();
    let at = e.section(".note.GNU-stack").at;
    e.put(at + 8, &4u64.to_le_bytes()); // SHF_EXECINSTR
    assert_eq!(e.code(), "C0062");
    let mut e = elf();
    let at = e.section(".safex.tal").at;
    e.put(at + 4, &8u32.to_le_bytes()); // SHT_NOBITS
    assert_eq!(e.code(), "C0062");
    // `.rodata` with contents no digest covers.
    let mut e = elf();
    let at = e.section(".rodata").at;
    e.put(at + 32, &4u64.to_le_bytes()); // sh_size
    assert_eq!(e.code(), "C0062");
}

#[test]
fn corrupt_tal_is_refused() {
    let mut e = elf();
    let at = e.section(".safex.tal").offset;
    e.put(at, b"X");
    assert_eq!(e.code(), "C0063");
}

#[test]
fn tal_hash_mismatch_is_refused() {
    // Still valid TAL, just not the TAL the metadata describes.
    let mut e = elf();
    let tal = e.section(".safex.tal");
    let at = tal.offset + find(&e.bytes[tal.offset..tal.offset + tal.size], b"calls");
    e.put(at, b"callz");
    assert_eq!(e.code(), "C0064");
}

#[test]
fn text_hash_mismatch_is_refused() {
    let mut e = elf();
    let at = e.section(".text").offset + 5;
    e.bytes[at] ^= 0xff;
    assert_eq!(e.code(), "C0065");
}

#[test]
fn relocation_digest_mismatch_is_refused() {
    let mut e = elf();
    let at = e.rela(0) + 16;
    e.put(at, &(-5i64).to_le_bytes()); // r_addend
    assert_eq!(e.code(), "C0066");
}

#[test]
fn metadata_disagreeing_with_the_tal_is_refused() {
    let mut e = elf();
    let m = e.section(".safex.meta");
    let at = m.offset + find(&e.bytes[m.offset..m.offset + m.size], b"calls");
    e.put(at, b"callz");
    reseal_meta(&mut e);
    assert_eq!(e.code(), "C0067");
    let mut e = elf();
    let at = e.section(".safex.meta").offset + 16;
    e.put(at, &501u64.to_le_bytes()); // the budget
    reseal_meta(&mut e);
    assert_eq!(e.code(), "C0067");
    let mut e = elf();
    let m = e.section(".safex.meta");
    // The name's length is 4 bytes before it, the entry's fixed part 16.
    let entry = m.offset + find(&e.bytes[m.offset..m.offset + m.size], b"tick") - 20;
    let mut rights = e.clone();
    rights.put(entry + 5, &[Rights::ALL.bits()]); // tick's rights
    reseal_meta(&mut rights);
    assert_eq!(rights.code(), "C0067");
    // An entry fuel lower than the TAL's: the host would undercharge.
    let fuel = u64::from_le_bytes(e.bytes[entry + 8..entry + 16].try_into().unwrap());
    assert!(fuel > 0);
    e.put(entry + 8, &(fuel - 1).to_le_bytes());
    reseal_meta(&mut e);
    assert_eq!(e.code(), "C0067");
}

/// Reads `elf`'s `.safex.meta` bytes.
fn meta_bytes(e: &Elf) -> &[u8] {
    let m = e.section(".safex.meta");
    &e.bytes[m.offset..m.offset + m.size]
}

/// The reader's error on `e` after its metadata's events and data region
/// (the bytes from the event count to the trailer, `tail` bytes long) are
/// edited in place and the metadata resealed.
fn edit_meta_tail(e: &Elf, tail: usize, edit: impl FnOnce(&mut [u8])) -> codegen::CodegenError {
    let mut e = e.clone();
    let m = e.section(".safex.meta");
    let end = m.offset + m.size - 32;
    edit(&mut e.bytes[end - tail..end]);
    reseal_meta(&mut e);
    read_object(&e.bytes).expect_err("the edited object is refused")
}

#[test]
fn metadata_events_or_data_disagreeing_with_the_tal_are_refused() {
    // Only the event names and the data region differ from the TAL; the
    // metadata is otherwise well formed and sealed, so only C0067 can fire.
    let module = parse(GLOBALS);
    let e = Elf {
        bytes: write_object(&module, &trivial(&module), Options::default()),
    };
    // u32 2, "Ping", "Pong", u64 11, u32 4, four (u64, i64).
    let tail = 4 + 2 * (4 + 4) + 8 + 4 + 4 * 16;
    let before = meta_bytes(&e)[meta_bytes(&e).len() - 32 - tail..][..tail].to_vec();
    assert_eq!(&before[..16], b"\x02\0\0\0\x04\0\0\0Ping\x04\0\0\0");
    let cells = 4 + 2 * 8;
    let init = cells + 8 + 4;
    // (what differs, offset in the tail, the bytes written there)
    let cases: [(&str, usize, Vec<u8>); 5] = [
        ("the events differ", 8, b"Pinh".to_vec()),
        ("the events differ", 8, b"Pong".to_vec()),
        ("the data region differs", cells, 12u64.to_le_bytes().to_vec()),
        ("the data region differs", init + 8, 8i64.to_le_bytes().to_vec()),
        ("the data region differs", init, 1u64.to_le_bytes().to_vec()),
    ];
    for (what, at, bytes) in cases {
        let error = edit_meta_tail(&e, tail, |t| t[at..at + bytes.len()].copy_from_slice(&bytes));
        assert_eq!(error.code, "C0067", "{what}: {error}");
        assert!(error.message.contains(what), "{what}: {error}");
    }
    // The calls module: its one event renamed.
    let e = elf();
    let error = edit_meta_tail(&e, 4 + 4 + 5 + 8 + 4, |t| t[8..13].copy_from_slice(b"Errox"));
    assert_eq!(error.code, "C0067");
    assert!(error.message.contains("the events differ"), "{error}");
}

#[test]
fn metadata_abi_version_mismatch_is_refused() {
    // Version 1 objects test the status after helper calls; version 2
    // code calls helper slot 0 for attribute reads, which later hosts fill
    // with a function that aborts; version 3 code checks its entry points'
    // entry fuel, which version 4 hosts charge before the call (twice);
    // version 4 metadata has no events or data region; version 5 code
    // traps at an exhausted fuel check instead of calling `ctx.refuel`, so
    // it would stop at the first slice of a deadline host's budget; a
    // version 7 object may call helper 5 (`trace`), past a version 6
    // host's table, and a loader accepts exactly its own version.
    assert_eq!(stdlib::abi::ABI_VERSION, 7);
    for version in [1, 2, 3, 4, 5, 6, stdlib::abi::ABI_VERSION + 1] {
        let mut e = elf();
        let at = e.section(".safex.meta").offset + 8;
        e.put(at, &u32::to_le_bytes(version));
        reseal_meta(&mut e);
        assert_eq!(e.code(), "C0052", "version {version}");
    }
    let mut e = elf();
    let at = e.section(".safex.meta").offset + 40;
    e.bytes[at] ^= 1;
    assert_eq!(e.code(), "C0057");
    let mut e = elf();
    let at = e.section(".safex.meta").offset;
    e.put(at, b"SXMETB");
    assert_eq!(e.code(), "C0051");
}

#[test]
fn undefined_symbols_are_refused() {
    let mut e = elf();
    let at = e.symbol("answer") + 6;
    e.put(at, &0u16.to_le_bytes()); // SHN_UNDEF
    assert_eq!(e.code(), "C0068");
    let mut e = elf();
    let at = e.symbol("tick") + 6;
    e.put(at, &0xfff2u16.to_le_bytes()); // SHN_COMMON
    assert_eq!(e.code(), "C0068");
}

#[test]
fn wrong_function_symbols_are_refused() {
    // An internal function made global.
    let mut e = elf();
    let at = e.symbol("answer") + 4;
    e.put(at, &[0x12]); // STB_GLOBAL, STT_FUNC
    assert_eq!(e.code(), "C0069");
    // An entry point made an object.
    let mut e = elf();
    let at = e.symbol("tick") + 4;
    e.put(at, &[0x11]); // STB_GLOBAL, STT_OBJECT
    assert_eq!(e.code(), "C0069");
    // Moved, grown, renamed.
    let mut e = elf();
    let at = e.symbol("tick") + 8;
    e.put(at, &17u64.to_le_bytes());
    assert_eq!(e.code(), "C0069");
    let mut e = elf();
    let at = e.symbol("on_error") + 16;
    e.put(at, &100u64.to_le_bytes());
    assert_eq!(e.code(), "C0069");
    let mut e = elf();
    let strtab = e.section(".strtab");
    let at = strtab.offset + find(&e.bytes[strtab.offset..strtab.offset + strtab.size], b"answer\0");
    e.put(at, b"answex");
    assert_eq!(e.code(), "C0069");
    // In another section.
    let mut e = elf();
    let rodata = e.index(".rodata") as u16;
    let at = e.symbol("tick") + 6;
    e.put(at, &rodata.to_le_bytes());
    assert_eq!(e.code(), "C0069");
}

#[test]
fn other_relocation_kinds_are_refused() {
    let mut e = elf();
    let answer = e.symbol_index("answer") as u64;
    let at = e.rela(0) + 8;
    e.put(at, &(answer << 32 | 1).to_le_bytes()); // R_X86_64_64
    assert_eq!(e.code(), "C0070");
    let mut e = elf();
    let at = e.section(".rela.text").at + 4;
    e.put(at, &9u32.to_le_bytes()); // SHT_REL
    assert_eq!(e.code(), "C0070");
    // PC32 is as good as PLT32, but changes the relocation digest.
    let mut e = elf();
    let at = e.rela(0) + 8;
    e.put(at, &(answer << 32 | 2).to_le_bytes());
    assert_eq!(e.code(), "C0066");
}

#[test]
fn relocations_against_non_functions_are_refused() {
    let mut e = elf();
    let at = e.rela(0) + 8;
    e.put(at, &4u64.to_le_bytes()); // symbol 0, PLT32
    assert_eq!(e.code(), "C0071");
    let mut e = elf();
    let at = e.rela(0) + 8;
    e.put(at, &(1000u64 << 32 | 4).to_le_bytes());
    assert_eq!(e.code(), "C0071");
    let mut e = elf();
    let symtab = e.index(".symtab") as u32;
    let at = e.section(".rela.text").at + 40;
    e.put(at, &(symtab + 1).to_le_bytes()); // sh_link
    assert_eq!(e.code(), "C0071");
}

#[test]
fn relocations_outside_text_are_refused() {
    for offset in [12u64, 14, 16 + 28, 1 << 40] {
        // In the padding, straddling a function's end, past `.text`.
        let mut e = elf();
        let at = e.rela(0);
        e.put(at, &offset.to_le_bytes());
        assert_eq!(e.code(), "C0072", "{offset}");
    }
    // Out of order.
    let mut e = elf();
    let at = e.rela(1);
    e.put(at, &(16u64 + 10).to_le_bytes());
    assert_eq!(e.code(), "C0072");
    // Applied to another section.
    let mut e = elf();
    let rodata = e.index(".rodata") as u32;
    let at = e.section(".rela.text").at + 44;
    e.put(at, &rodata.to_le_bytes()); // sh_info
    assert_eq!(e.code(), "C0072");
}

// ------------------------------------------------------------ corruption

fn assert_every_byte_flip_detected(section: &str, allowed: &[&str]) {
    let base = elf();
    let s = base.section(section);
    assert!(s.size > 0);
    for i in s.offset..s.offset + s.size {
        for mask in [0x01, 0x80, 0xff] {
            let mut bytes = base.bytes.clone();
            bytes[i] ^= mask;
            let e = read_object(&bytes).expect_err("a flipped byte is detected");
            assert!(allowed.contains(&e.code), "{section}+{} ^ {mask:#x}: {e}", i - s.offset);
        }
    }
}

#[test]
fn a_flipped_byte_in_text_is_detected() {
    assert_every_byte_flip_detected(".text", &["C0065"]);
}

#[test]
fn a_flipped_byte_in_tal_is_detected() {
    assert_every_byte_flip_detected(".safex.tal", &["C0063", "C0064"]);
}

#[test]
fn a_flipped_byte_in_meta_is_detected() {
    assert_every_byte_flip_detected(".safex.meta", &["C0050", "C0051", "C0052", "C0053", "C0057"]);
}

#[test]
fn a_flipped_byte_in_the_relocations_is_detected() {
    let codes = ["C0060", "C0066", "C0070", "C0071", "C0072"];
    assert_every_byte_flip_detected(".rela.text", &codes);
}

#[test]
fn every_truncation_is_refused() {
    let bytes = calls_object();
    for len in 0..bytes.len() {
        assert!(read_object(&bytes[..len]).is_err(), "{len}");
    }
}

#[test]
fn every_byte_flip_of_the_whole_object_is_harmless() {
    // Anything may happen to the object's bytes; the reader either refuses
    // or returns parts that are consistent with the object as written.
    let bytes = calls_object();
    let good = read_object(&bytes).unwrap();
    for i in 0..bytes.len() {
        for mask in [0x01, 0x10, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            if let Ok(parts) = read_object(&b) {
                assert_eq!(parts.text, good.text, "byte {i} ^ {mask:#x}");
                assert_eq!(parts.module, good.module);
                assert_eq!(parts.functions, good.functions);
                assert_eq!(parts.relocs, good.relocs);
                assert_eq!(parts.meta, good.meta);
            }
        }
    }
}

proptest! {
    #[test]
    fn random_flips_and_truncations_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = calls_object();
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = read_object(&bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), elf in any::<bool>()) {
        let mut bytes = bytes;
        if elf && bytes.len() >= 64 {
            let good = calls_object();
            bytes[..20].copy_from_slice(&good[..20]);
        }
        let _ = read_object(&bytes);
    }
}
