//! `safexc inspect FILE.o`: what an object holds, for people. The object is
//! read and checked by `codegen::object::read_object` first; a malformed one
//! is refused with its `Cxxxx` code and nothing else is printed. A signed
//! object is shown with its signature's length.

use crate::files;
use crate::out::{Out, OutputError};
use codegen::object::{ObjectParts, RelocKind};
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, OpKind, SymbolResolver, SymbolResult};
use runtime::load::LoadError;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The object to read; `-` reads standard input.
    file: PathBuf,
    /// Print one JSON object (with a `schema` version) instead of text.
    #[arg(long)]
    json: bool,
    /// Show only this function's disassembly (and relocations).
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// Interleave the source lines the code was compiled from (bpftool's
    /// `linum`): the TAL is lowered again to find where each instruction
    /// came from, and the source file the object names is read from the
    /// object's directory or the current one.
    #[arg(long)]
    source: bool,
}

/// The version of `--json`'s shape.
const SCHEMA: u32 = 1;

pub fn inspect(out: &mut Out, args: InspectArgs) -> Result<ExitCode, OutputError> {
    let name = files::display_name(&args.file);
    let Some(bytes) = files::read_input(&args.file) else {
        return Ok(ExitCode::from(1));
    };
    let (parts, signature, object_len) = match read(&bytes) {
        Ok(read) => read,
        Err(e) => {
            crate::diag::plain_error(e.code, &format!("{name}: {}", e.message));
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(f) = &args.function
        && !parts.functions.iter().any(|g| &g.name == f)
    {
        let names: Vec<&str> = parts.functions.iter().map(|g| g.name.as_str()).collect();
        crate::diag::plain_error(
            "L0003",
            &format!("{name} has no function `{f}`; its functions: {}", names.join(", ")),
        );
        return Ok(ExitCode::from(crate::USAGE));
    }
    let mut listings = disassemble(&parts, args.function.as_deref());
    if args.source
        && let Err(why) = annotate(&parts, &mut listings, &args.file)
    {
        errln!("warning: {name}: no source lines: {why}");
    }
    if args.json {
        writeln!(out, "{}", json(&name, &parts, &listings, signature, object_len))?;
    } else {
        write!(out, "{}", render(&parts, &listings, args.function.is_some()))?;
        if let Some(len) = signature {
            writeln!(
                out,
                "\n== signature (trailer `SXSIG01`)\n  {len} bytes, RSA-2048 PKCS#1 v1.5 SHA-256 over the first {} \
                 bytes (not checked here: `safexc verify --pubkey`)",
                object_len
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The object in `bytes` (a signed one's, whose signature is not checked
/// here), its signature's length if signed, and the object's length; or
/// why it is not one.
fn read(bytes: &[u8]) -> Result<(ObjectParts, Option<usize>, usize), LoadError> {
    let (object, signature) = match runtime::signed::split(bytes)? {
        Some((object, signature)) => (object, Some(signature.len())),
        None => (bytes, None),
    };
    Ok((runtime::load::read(object)?, signature, object.len()))
}

/// The whole report: metadata, TAL, disassembly, relocations; with one
/// function asked for, its disassembly and relocations only. A signed
/// object is shown as the object inside; the signature is not checked
/// (`safexc verify --pubkey` does).
fn render(parts: &ObjectParts, listings: &[Listing], one: bool) -> String {
    let mut out = String::new();
    if !one {
        out.push_str("== metadata (.safex.meta)\n");
        out.push_str(&parts.meta.to_string());
        out.push_str("\n== TAL (.safex.tal)\n");
        out.push_str(&tal_ir::text::print(&parts.module));
    }
    out.push_str("\n== disassembly (.text, relocations applied at address 0)\n");
    for l in listings {
        let kind = if l.global { "global" } else { "local" };
        let _ = writeln!(
            out,
            "\n{} (fn{}, {kind}, {} bytes at .text+{:#x}):",
            l.name, l.index, l.size, l.offset
        );
        for i in &l.lines {
            match &i.source {
                Some(SourceLine {
                    file,
                    line: Some(line),
                    text,
                    ..
                }) => {
                    let _ = writeln!(out, "  ; {file}:{line}: {}", text.as_deref().unwrap_or(""));
                }
                Some(src) => {
                    let _ = writeln!(out, "  ; {}, byte {}", src.file, src.byte);
                }
                None => {}
            }
            let reloc = i.reloc.as_ref().map(|r| format!("    ; {r}")).unwrap_or_default();
            let _ = writeln!(out, "  {:6x}:  {:<30} {}{reloc}", i.at, i.bytes, i.asm);
        }
        if !l.constants.is_empty() {
            out.push_str(
                "  constant pool (data, read by the code above):
",
            );
        }
        for c in &l.constants {
            let _ = writeln!(out, "  {:6x}:  {:<30} {}", c.at, c.hex(), c.asm());
        }
    }
    out.push_str("\n== relocations (.rela.text)\n");
    if parts.relocs.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in parts
        .relocs
        .iter()
        .filter(|r| listings.iter().any(|l| l.index == r.func))
    {
        let _ = writeln!(
            out,
            "  .text+{:#06x}  {:<15} {}{}  (in {})",
            r.offset,
            kind_name(r.kind),
            parts.functions[r.target as usize].name,
            signed_hex(r.addend),
            parts.functions[r.func as usize].name
        );
    }
    out
}

/// `-0x4`, `+0x10`, as objdump writes addends.
fn signed_hex(n: i64) -> String {
    if n < 0 {
        format!("-{:#x}", n.unsigned_abs())
    } else {
        format!("+{n:#x}")
    }
}

fn kind_name(kind: RelocKind) -> &'static str {
    match kind {
        RelocKind::Plt32 => "R_X86_64_PLT32",
        RelocKind::Pc32 => "R_X86_64_PC32",
    }
}

/// Names branch targets and RIP-relative data after the function that holds them.
struct Symbols {
    /// (offset, size, name), sorted by offset.
    funcs: Vec<(u64, u64, String)>,
}

impl SymbolResolver for Symbols {
    fn symbol(
        &mut self,
        instruction: &Instruction,
        _operand: u32,
        instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        // Only branch targets and RIP-relative operands (constants placed
        // after a function's code): an immediate that happens to equal an
        // offset is not an address.
        let is_address = match instruction_operand.map(|o| instruction.op_kind(o)) {
            Some(OpKind::NearBranch64) => true,
            Some(OpKind::Memory) => instruction.is_ip_rel_memory_operand(),
            _ => false,
        };
        if !is_address {
            return None;
        }
        let i = self.funcs.partition_point(|f| f.0 <= address).checked_sub(1)?;
        let (start, size, name) = &self.funcs[i];
        if address == *start {
            Some(SymbolResult::with_str(address, name))
        } else if address < start + size {
            Some(SymbolResult::with_string(
                address,
                format!("{name}+{:#x}", address - start),
            ))
        } else {
            None
        }
    }
}

/// A function's disassembly.
struct Listing {
    index: u32,
    name: String,
    global: bool,
    offset: u32,
    size: u32,
    lines: Vec<Line>,
    /// The constant pool after the code, if any.
    constants: Vec<Constant>,
}

/// One instruction: where, its bytes (hex), Intel syntax, and the
/// relocation in it (`R_X86_64_PLT32 callee-0x4`); with `--source`, the
/// source line that begins at it.
struct Line {
    at: usize,
    bytes: String,
    asm: String,
    reloc: Option<String>,
    source: Option<SourceLine>,
}

/// Where in the extension's source an instruction's code comes from: the
/// file, the byte offset, and (when the file could be read) the line's
/// number and text.
struct SourceLine {
    file: String,
    byte: u32,
    line: Option<usize>,
    text: Option<String>,
}

/// Marks, for `--source`, the first instruction of each run of
/// instructions lowered from one source line. The TAL is verified and
/// lowered again (`codegen::lower::source_map`), and each function's code
/// must be the object's, byte for byte: another code generator's object
/// gets no lines rather than wrong ones.
fn annotate(parts: &ObjectParts, listings: &mut [Listing], object: &std::path::Path) -> Result<(), String> {
    let module = &parts.module;
    let file = module.source.clone().ok_or("the TAL names no source file")?;
    verifier::verify(module, &verifier::Config::default()).map_err(|e| format!("its TAL does not verify ({e:?})"))?;
    let maps = codegen::lower::source_map(
        module,
        codegen::Options {
            no_fuel: parts.meta.no_fuel,
        },
    )
    .map_err(|e| format!("{}: {}", e.code, e.message))?;
    let dirs = [object.parent().map(std::path::Path::to_path_buf), Some(PathBuf::new())];
    let text = if files::is_stdio(object) {
        std::fs::read_to_string(&file).ok()
    } else {
        dirs.iter()
            .flatten()
            .find_map(|d| std::fs::read_to_string(d.join(&file)).ok())
    };
    let line_starts: Vec<usize> = text
        .as_deref()
        .map(|t| {
            std::iter::once(0)
                .chain(t.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
        .unwrap_or_default();
    for l in listings.iter_mut() {
        let f = &parts.functions[l.index as usize];
        let (compiled, spans) = maps.get(l.index as usize).ok_or("a function the TAL does not have")?;
        let object_code = parts.text.get(f.offset as usize..(f.offset + f.size) as usize);
        if object_code != Some(compiled.code.as_slice()) {
            return Err(format!(
                "`{}` lowers to other code than the object's (built by another code generator)",
                l.name
            ));
        }
        // Each TAL item's span, in layout order.
        let func = &module.funcs[l.index as usize];
        let items: Vec<Option<tal_ir::Span>> = func
            .blocks
            .iter()
            .flat_map(|b| b.insts.iter().map(|i| i.span).chain(std::iter::once(b.term_span)))
            .collect();
        let mut last = None;
        for line in &mut l.lines {
            let at = (line.at - f.offset as usize) as u32;
            let Some(span) = spans
                .iter()
                .find(|s| (s.start..s.end).contains(&at))
                .and_then(|s| items.get(s.item as usize).copied().flatten())
            else {
                continue;
            };
            // Without the file, lines cannot be numbered: byte offsets.
            let number = (!line_starts.is_empty()).then(|| match line_starts.binary_search(&(span.lo as usize)) {
                Ok(i) => i + 1,
                Err(i) => i,
            });
            let key = number.unwrap_or(span.lo as usize);
            if last == Some(key) {
                continue;
            }
            last = Some(key);
            let source = text.as_deref().zip(number).and_then(|(t, n)| {
                let start = *line_starts.get(n.checked_sub(1)?)?;
                let end = line_starts.get(n).map_or(t.len(), |&e| e.saturating_sub(1));
                Some(t.get(start..end)?.trim().to_string())
            });
            line.source = Some(SourceLine {
                file: file.clone(),
                byte: span.lo,
                line: number,
                text: source,
            });
        }
    }
    Ok(())
}

/// Up to 8 bytes of a function's constant pool, as data.
struct Constant {
    at: usize,
    bytes: Vec<u8>,
}

impl Constant {
    /// `.quad` for a whole 8-byte constant, else `.byte`s.
    fn asm(&self) -> String {
        match <[u8; 8]>::try_from(self.bytes.as_slice()) {
            Ok(q) => format!(".quad   {:#x}", u64::from_le_bytes(q)),
            Err(_) => {
                let bytes: Vec<String> = self.bytes.iter().map(|b| format!("{b:#04x}")).collect();
                format!(".byte   {}", bytes.join(", "))
            }
        }
    }

    fn hex(&self) -> String {
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        hex.join(" ")
    }
}

/// `--json`: metadata, TAL, functions with their instructions, relocations.
fn json(
    name: &str,
    parts: &ObjectParts,
    listings: &[Listing],
    signature: Option<usize>,
    signed_len: usize,
) -> serde_json::Value {
    let hex = |d: &[u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let m = &parts.meta;
    let entries: Vec<serde_json::Value> = m
        .entries
        .iter()
        .map(|e| {
            let (kind, event, attribute) = match &e.kind {
                codegen::meta::EntryKind::Monitor => ("monitor", None, None),
                codegen::meta::EntryKind::Handler { event } => ("handler", Some(event.clone()), None),
                codegen::meta::EntryKind::Guard { class, attr } => ("guard", None, Some(format!("{class}.{attr}"))),
            };
            serde_json::json!({
                "name": e.name, "function": e.func, "kind": kind, "event": event, "attribute": attribute,
                "capability_class": e.cap_class, "entry_fuel": e.entry_fuel,
            })
        })
        .collect();
    let functions: Vec<serde_json::Value> = listings
        .iter()
        .map(|l| {
            let code: Vec<serde_json::Value> = l
                .lines
                .iter()
                .map(|i| {
                    let source = i
                        .source
                        .as_ref()
                        .map(|s| serde_json::json!({ "file": s.file, "byte": s.byte, "line": s.line, "text": s.text }));
                    serde_json::json!({ "offset": i.at, "bytes": i.bytes.replace(' ', ""), "asm": i.asm, "reloc": i.reloc, "source": source })
                })
                .collect();
            let constants: Vec<serde_json::Value> = l
                .constants
                .iter()
                .map(|c| serde_json::json!({ "offset": c.at, "bytes": c.hex().replace(' ', ""), "asm": c.asm() }))
                .collect();
            serde_json::json!({
                "index": l.index, "name": l.name, "global": l.global, "offset": l.offset, "size": l.size,
                "instructions": code, "constants": constants,
            })
        })
        .collect();
    let relocations: Vec<serde_json::Value> = parts
        .relocs
        .iter()
        .filter(|r| listings.iter().any(|l| l.index == r.func))
        .map(|r| {
            serde_json::json!({
                "offset": r.offset, "kind": kind_name(r.kind), "target": parts.functions[r.target as usize].name,
                "addend": r.addend, "in": parts.functions[r.func as usize].name,
            })
        })
        .collect();
    serde_json::json!({
        "schema": SCHEMA,
        "file": name,
        "signature": signature.map(|len| serde_json::json!({ "bytes": len, "covers": signed_len, "checked": false })),
        "meta": {
            "name": m.name, "abi_version": m.abi_version, "compiler": m.compiler, "no_fuel": m.no_fuel,
            "budget": m.budget, "tal_sha256": hex(&m.tal_sha256), "text_sha256": hex(&m.text_sha256),
            "relocs_sha256": hex(&m.relocs_sha256), "events": m.events, "data_cells": m.data_cells,
            "entries": entries,
        },
        "tal": tal_ir::text::print(&parts.module),
        "functions": functions,
        "relocations": relocations,
    })
}

/// Where a function's constant pool starts (its end if it has none): the
/// lowest address a RIP-relative operand of its code reads. Cranelift
/// places its constants after all the code, so the code is decoded up to
/// there and no further (`codegen::peephole` does the same).
fn constant_pool(code: &[u8], at: usize) -> usize {
    let end = at + code.len();
    let mut pool = end as u64;
    let mut decoder = Decoder::with_ip(64, code, at as u64, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    while decoder.can_decode() && decoder.ip() < pool {
        decoder.decode_out(&mut instruction);
        if instruction.is_ip_rel_memory_operand() {
            let address = instruction.ip_rel_memory_address();
            if address >= decoder.ip() {
                pool = pool.min(address);
            }
        }
    }
    pool as usize
}

/// The disassembly of every function, or of the one named `only`.
fn disassemble(parts: &ObjectParts, only: Option<&str>) -> Vec<Listing> {
    // Link `.text` at address 0, so that call targets are the callees'
    // offsets and the resolver can name them.
    let mut text = parts.text.clone();
    for r in &parts.relocs {
        let target = i64::from(parts.functions[r.target as usize].offset);
        let value = target.wrapping_add(r.addend).wrapping_sub(i64::from(r.offset)) as i32;
        if let Some(field) = text.get_mut(r.offset as usize..r.offset as usize + 4) {
            field.copy_from_slice(&value.to_le_bytes());
        }
    }
    let symbols = Symbols {
        funcs: parts
            .functions
            .iter()
            .map(|f| (u64::from(f.offset), u64::from(f.size), f.name.clone()))
            .collect(),
    };
    let mut formatter = IntelFormatter::with_options(Some(Box::new(symbols)), None);
    let options = formatter.options_mut();
    options.set_first_operand_char_index(8);
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_space_after_operand_separator(true);
    options.set_show_branch_size(false);
    let mut listings = Vec::new();
    for f in parts.functions.iter().filter(|f| only.is_none_or(|n| f.name == n)) {
        let mut lines = Vec::new();
        let (start, end) = (f.offset as usize, (f.offset + f.size) as usize);
        let pool = constant_pool(&text[start..end], start);
        let code = &text[start..pool];
        let mut decoder = Decoder::with_ip(64, code, u64::from(f.offset), DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        let mut asm = String::new();
        while decoder.can_decode() {
            decoder.decode_out(&mut instruction);
            asm.clear();
            formatter.format(&instruction, &mut asm);
            let at = instruction.ip() as usize;
            let raw = &parts.text[at..at + instruction.len()];
            let hex: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
            let reloc = parts
                .relocs
                .iter()
                .find(|r| (at..at + instruction.len()).contains(&(r.offset as usize)))
                .map(|r| {
                    format!(
                        "{} {}{}",
                        kind_name(r.kind),
                        parts.functions[r.target as usize].name,
                        signed_hex(r.addend)
                    )
                });
            lines.push(Line {
                at,
                bytes: hex.join(" "),
                asm: asm.clone(),
                reloc,
                source: None,
            });
        }
        // Zero bytes that align the pool are not instructions (`00 00`
        // decodes as `add [rax], al`, which code generation never emits).
        let mut padding = pool;
        while pool < end
            && lines
                .last()
                .is_some_and(|l: &Line| text[l.at..padding].iter().all(|&b| b == 0))
        {
            padding = lines.pop().map_or(padding, |l| l.at);
        }
        let constants = (padding..pool)
            .map(|at| Constant {
                at,
                bytes: text[at..pool].to_vec(),
            })
            .take(1)
            .chain((pool..end).step_by(8).map(|at| Constant {
                at,
                bytes: text[at..(at + 8).min(end)].to_vec(),
            }))
            .collect();
        listings.push(Listing {
            index: f.index,
            name: f.name.clone(),
            global: f.global,
            offset: f.offset,
            size: f.size,
            lines,
            constants,
        });
    }
    listings
}

#[cfg(test)]
mod tests {
    use super::*;
    use codegen::{CallReloc, CompiledFunction, Options};

    const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

    const TAL: &str = r#"
module calls
budget 500

class cpu_qos {
    period: i64 readonly
}

func @answer() -> i64 {
block0:
    fuel 3
    v0 = iconst 42
    ret v0
}

monitor @tick(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 3
    v1 = call @answer()
    ret
}
"#;

    fn object() -> Vec<u8> {
        let (module, _) = tal_ir::text::parse(TAL).unwrap();
        // `endbr64; mov eax, 42; ret`
        let mut answer = ENDBR64.to_vec();
        answer.extend_from_slice(&[0xb8, 42, 0, 0, 0, 0xc3]);
        // `endbr64; call answer; jmp +0; ret`
        let mut tick = ENDBR64.to_vec();
        tick.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0xeb, 0x00, 0xc3]);
        let funcs = [
            CompiledFunction {
                code: answer,
                relocs: vec![],
                frame_size: 0,
            },
            CompiledFunction {
                code: tick,
                relocs: vec![CallReloc {
                    offset: 5,
                    callee: 0,
                    addend: -4,
                }],
                frame_size: 0,
            },
        ];
        codegen::object::write_object(&module, &funcs, Options::default())
    }

    #[test]
    fn renders_everything() {
        let parts = runtime::load::read(&object()).unwrap();
        let text = render(&parts, &disassemble(&parts, None), false);
        for want in [
            "extension   calls",
            "budget      500",
            "fn1    tick",
            "monitor, cap<cpu_qos, r>",
            "monitor @tick(cap<cpu_qos, r>)",
            "answer (fn0, local, 10 bytes at .text+0x0):",
            "tick (fn1, global, 12 bytes at .text+0x10):",
            "endbr64",
            "call    answer    ; R_X86_64_PLT32 answer-0x4",
            "jmp     tick+0xb",
            "mov     eax, 0x2a",
            "  .text+0x0015  R_X86_64_PLT32  answer-0x4  (in tick)",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    #[test]
    fn malformed_and_foreign_files_are_refused_with_their_code() {
        assert!(read(&object()).is_ok());
        assert_eq!(read(b"not an object").map(drop).map_err(|e| e.code), Err("C0060"));
        // An ELF relocatable without SafeX's sections.
        let mut foreign = object();
        for section in [&b".safex.tal"[..], b".safex.meta"] {
            let at = foreign.windows(section.len()).position(|w| w == section).unwrap();
            foreign[at + 1] = b'X';
        }
        let Err(e) = read(&foreign) else {
            panic!("a foreign object was read")
        };
        assert!(e.message.starts_with("not a SafeX object"), "{e}");
    }
}
