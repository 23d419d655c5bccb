//! TAL text parser: arbitrary text never panics; whatever parses is verified
//! and survives a print/parse round trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((module, _)) = tal_ir::text::parse(&text) {
        let _ = verifier::verify(&module, &verifier::Config::default());
        let printed = tal_ir::text::print(&module);
        let (again, _) = tal_ir::text::parse(&printed).expect("printed module parses");
        assert_eq!(again, module, "print/parse round trip changed the module");
    }
});
