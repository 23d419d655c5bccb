//! The verifier's reasons for refusing what a module can only ask for.
//!
//! TAL has no instruction for locks, interrupt control or allocation; a
//! module can only *ask* for them by calling a symbol it does not define, or
//! by inline assembly. Both are always rejected; this module only decides
//! which reason to give (`stdlib::forbidden` classifies the names).

use stdlib::forbidden::{Forbidden, asm_masks_interrupts, classify_symbol};

/// The code and message for a call to a symbol the module does not define.
pub(crate) fn symbol(symbol: &str) -> (&'static str, String) {
    match classify_symbol(symbol) {
        Some(Forbidden::InterruptMasking) => (
            "V0710",
            format!(
                "interrupt masking: `{symbol}` disables interrupts or preemption; the timer that enforces the \
                 extension's time limit could no longer stop it"
            ),
        ),
        Some(Forbidden::Lock) => (
            "V0720",
            format!(
                "lock use: `{symbol}` is a synchronization primitive; an extension aborted while holding it would \
                 leave it held. Shared state is reached only through the SafeX API"
            ),
        ),
        Some(Forbidden::Allocation) => (
            "V0721",
            format!(
                "memory allocation: `{symbol}` is not available; extensions use globals and stack slots of static size"
            ),
        ),
        None => (
            "V0730",
            format!(
                "call to unknown external symbol `{symbol}`: an extension can call only its own functions and SafeX helpers"
            ),
        ),
    }
}

/// The code and message for inline assembly.
pub(crate) fn asm(text: &str) -> (&'static str, String) {
    if asm_masks_interrupts(text) {
        (
            "V0710",
            format!(
                "interrupt masking: inline assembly `{text}` changes the interrupt flag; the timer that enforces \
                 the extension's time limit could no longer stop it"
            ),
        )
    } else {
        (
            "V0711",
            format!("inline assembly `{text}`: it cannot be type-checked, so it is never allowed"),
        )
    }
}
