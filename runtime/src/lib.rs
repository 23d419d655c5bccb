//! The SafeX user-space host.
//!
//! [`image`] turns a checked object's code into executable memory (never
//! writable and executable at once) and calls its functions with the
//! ABI's context (`stdlib::abi`).

pub mod image;
