//! SafeX code generation: verified TAL to native code in an ELF object.
//!
//! - `lower`: TAL to Cranelift IR to machine code, one function at a time,
//!   with fuel checks, a shared trap path per function and a test of the
//!   status (returned in `rdx`) after every call of a module function (the
//!   ABI is `stdlib::abi`; helpers only abort, and are not followed by
//!   one); `ranges` finds the checks
//!   that cannot fail.
//! - `object`: the relocatable ELF file: `.text`, `.rodata`, `.safex.tal`
//!   (the binary TAL), `.safex.meta`; and reading it back.
//!
//! Code generation trusts its input to be verified: callers run the
//! verifier first. Output is deterministic: the same module gives the same
//! bytes, which is what lets `safexc verify FILE.o` re-lower the embedded
//! TAL and compare.

#![forbid(unsafe_code)]

pub mod check;
pub mod codes;
mod loads;
pub mod lower;
pub mod meta;
pub mod object;
mod peephole;
mod ranges;

/// The version of Cranelift that generates the code (`safexc --version`).
/// Re-lowering reproduces an object's code only with the same code
/// generator. Cranelift's crates are released together, at one version.
pub const CRANELIFT_VERSION: &str = cranelift_frontend::VERSION;

/// Machine code for one TAL function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledFunction {
    /// The code, starting with `endbr64` so that kernels with indirect
    /// branch tracking can call it.
    pub code: Vec<u8>,
    /// Calls to other functions of the module.
    pub relocs: Vec<CallReloc>,
    /// Stack frame size Cranelift chose, for checking against the
    /// verifier's frame model.
    pub frame_size: u32,
}

/// A 32-bit PC-relative call to another function of the same module
/// (`R_X86_64_PLT32` in the object): at `offset` in the function's code,
/// write `target - (address of the field) + addend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallReloc {
    pub offset: u32,
    /// Index of the called function in the module.
    pub callee: u32,
    pub addend: i64,
}

/// How to generate code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Leave out fuel checks. Only for measuring their overhead: the object
    /// is marked and every loader refuses it.
    pub no_fuel: bool,
}

/// A failure to generate code for a (verified) module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodegenError {
    /// Stable code, `Cxxxx`.
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for CodegenError {}
