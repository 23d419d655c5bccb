//! The loader: whatever the bytes, `runtime::load::load` refuses them with
//! a code or loads them; it never panics, and what it loads is exactly a
//! verified, fuel-checked object as the compiler writes it.
//!
//! Two kinds of input:
//!
//! - Raw: the bytes are the object (seed the corpus with real objects,
//!   `fuzz/seed_load.sh`, and libFuzzer mutates them).
//! - Structured, when the first byte is 0: `[0, seed, flags, edits...]`.
//!   `seed` picks one of a few objects compiled at start-up; each edit is
//!   5 bytes, a `u32` position (modulo the object's length) and a byte to
//!   XOR there. With `flags & 1`, the three digests in `.safex.meta` and its
//!   trailing digest are then recomputed from the edited sections, as an
//!   attacker would: that gets edits of `.text`, `.safex.tal` and the
//!   relocations past the digest checks, to the verifier and re-lowering.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SOURCES: &[&str] = &[
    include_str!("../../examples/pop/cpu_pid.pop"),
    include_str!("../../examples/pop/cpu_avg.pop"),
    include_str!("../../examples/pop/robust_pid.pop"),
    "extension calls;\nimport cpu;\nint r = 0;\nint twice(int a) { return a + a; }\n\
     int thrice(int a) { return twice(a) + a; }\n\
     monitor void m(cap<cpu_qos> app) { r = thrice(r) + twice(1); }\n\
     handler void h(cap<cpu_qos> app, int e) on \"Error\" { r = twice(e); }\n",
];

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        SOURCES
            .iter()
            .map(|source| {
                let module = popcorn_front::compile(source, &popcorn_front::Options::default())
                    .module
                    .expect("seed compiles");
                let options = codegen::Options::default();
                let funcs = codegen::lower::lower_module(&module, options).expect("seed lowers");
                codegen::object::write_object(&module, &funcs, options)
            })
            .collect()
    })
}

/// Bytes `at..at + n` of `b`, if they are there.
fn get(b: &[u8], at: u64, n: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(n).ok()?)?;
    b.get(start..end)
}

fn u64_at(b: &[u8], at: u64, n: u64) -> Option<u64> {
    let bytes = get(b, at, n)?;
    let mut v = [0u8; 8];
    v[..bytes.len()].copy_from_slice(bytes);
    Some(u64::from_le_bytes(v))
}

/// `(offset, size)` of the first section named `name`.
fn section(b: &[u8], name: &[u8]) -> Option<(u64, u64)> {
    let shoff = u64_at(b, 0x28, 8)?;
    let shnum = u64_at(b, 0x3c, 2)?;
    let shstrndx = u64_at(b, 0x3e, 2)?;
    let header = |i: u64| shoff.checked_add(i.checked_mul(64)?);
    let strtab = u64_at(b, header(shstrndx)?.checked_add(24)?, 8)?;
    for i in 0..shnum {
        let h = header(i)?;
        let name_at = strtab.checked_add(u64_at(b, h, 4)?)?;
        let here = get(b, name_at, name.len() as u64 + 1)?;
        if &here[..name.len()] == name && here[name.len()] == 0 {
            return Some((u64_at(b, h.checked_add(24)?, 8)?, u64_at(b, h.checked_add(32)?, 8)?));
        }
    }
    None
}

/// Recomputes `.safex.meta`'s digests from the sections as they are.
fn reseal(b: &mut [u8]) -> Option<()> {
    let (text_at, text_len) = section(b, b".text")?;
    let (tal_at, tal_len) = section(b, b".safex.tal")?;
    let (meta_at, meta_len) = section(b, b".safex.meta")?;
    let text = codegen::meta::sha256(get(b, text_at, text_len)?);
    let tal = codegen::meta::sha256(get(b, tal_at, tal_len)?);
    let mut records = Vec::new();
    if let Some((rela_at, rela_len)) = section(b, b".rela.text") {
        let (sym_at, _) = section(b, b".symtab")?;
        for i in 0..rela_len / 24 {
            let at = rela_at.checked_add(i * 24)?;
            let info = u64_at(b, at + 8, 8)?;
            let sym = (info >> 32).checked_mul(24)?.checked_add(sym_at)?;
            records.push(codegen::meta::RelocRecord {
                offset: u64_at(b, at, 8)?,
                r_type: info as u32,
                target: u64_at(b, sym.checked_add(8)?, 8).unwrap_or(0),
                addend: u64_at(b, at + 16, 8)? as i64,
            });
        }
    }
    let relocs = codegen::meta::relocs_digest(&records);
    if meta_len < 152 {
        return None;
    }
    let meta_at = usize::try_from(meta_at).ok()?;
    let meta_len = usize::try_from(meta_len).ok()?;
    let meta = b.get_mut(meta_at..meta_at.checked_add(meta_len)?)?;
    meta[24..56].copy_from_slice(&tal);
    meta[56..88].copy_from_slice(&text);
    meta[88..120].copy_from_slice(&relocs);
    let digest = codegen::meta::sha256(&meta[..meta_len - 32]);
    meta[meta_len - 32..].copy_from_slice(&digest);
    Some(())
}

fn check(bytes: &[u8]) {
    let config = verifier::Config::default();
    match runtime::load::load(bytes, &config) {
        Ok(loaded) => {
            // Only a verified, fuel-checked object as the compiler writes it.
            assert!(!loaded.parts.meta.no_fuel);
            assert!(verifier::verify(&loaded.parts.module, &config).is_ok());
            let funcs = codegen::lower::lower_module(&loaded.parts.module, codegen::Options::default()).unwrap();
            let again = codegen::object::write_object(&loaded.parts.module, &funcs, codegen::Options::default());
            assert!(again == bytes, "a loaded object is not the one its TAL compiles to");
        }
        Err(e) => {
            let known = [
                runtime::codes::explain(e.code).is_some(),
                codegen::codes::explain(e.code).is_some(),
                verifier::codes::explain(e.code).is_some(),
            ];
            assert!(known.contains(&true), "undocumented code: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data {
        [0, seed, flags, edits @ ..] => {
            let seeds = seeds();
            let mut bytes = seeds[usize::from(*seed) % seeds.len()].clone();
            for edit in edits.chunks_exact(5) {
                let at = u32::from_le_bytes([edit[0], edit[1], edit[2], edit[3]]) as usize % bytes.len();
                bytes[at] ^= edit[4];
            }
            if flags & 1 != 0 {
                let _ = reseal(&mut bytes);
            }
            check(&bytes);
        }
        _ => check(data),
    }
});
