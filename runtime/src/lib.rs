//! The SafeX user-space host.
//!
//! [`load`] makes every check before an object's code may run (object
//! integrity, fuel, verifier, re-lowering); [`image`] turns the code into
//! executable memory (never writable and executable at once) and calls its
//! functions with the ABI's context (`stdlib::abi`).

pub mod codes;
pub mod image;
pub mod load;
