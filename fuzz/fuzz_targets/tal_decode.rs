//! Binary TAL decoder: arbitrary bytes never panic; whatever decodes is
//! verified, and re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(module) = tal_ir::binary::decode(data) {
        let _ = verifier::verify(&module, &verifier::Config::default());
        assert_eq!(tal_ir::binary::encode(&module), data, "decode/encode is not the identity");
    }
});
