//! Verifier on structured input: any `Module` value — dangling indices,
//! hostile types, absurd sizes — is accepted or rejected, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|module: tal_ir::Module| {
    let config = verifier::Config { stack_limit: 4096, max_errors: 1000 };
    let _ = verifier::verify(&module, &config);
});
