//! Object reader: arbitrary bytes never panic; whatever is accepted is
//! internally consistent, and writing its parts back gives the same object.
#![no_main]
use codegen::{CompiledFunction, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parts) = codegen::object::read_object(data) else {
        return;
    };
    assert_eq!(parts.functions.len(), parts.module.funcs.len());
    let funcs: Vec<CompiledFunction> = (0..parts.functions.len())
        .map(|i| {
            let (code, relocs) = parts.function(i).expect("every function has its code");
            CompiledFunction {
                code: code.to_vec(),
                relocs,
                frame_size: 0,
            }
        })
        .collect();
    let again = codegen::object::write_object(
        &parts.module,
        &funcs,
        Options {
            no_fuel: parts.meta.no_fuel,
        },
    );
    let reread = codegen::object::read_object(&again).expect("a written object reads back");
    // Same metadata, up to the relocation digest (the writer emits only
    // PLT32; the reader also accepts PC32).
    let meta = codegen::meta::Meta {
        relocs_sha256: parts.meta.relocs_sha256,
        ..reread.meta
    };
    assert_eq!(meta, parts.meta);
    assert_eq!(reread.text, parts.text);
});
