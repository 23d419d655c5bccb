//! The SafeX user-space host.
//!
//! [`load`] makes every check before an object's code may run (object
//! integrity, fuel, verifier, re-lowering), or, for an object signed with a
//! key the host trusts ([`signed`]), the structural checks the kernel
//! module makes, and keeps what it accepted in a cache keyed by content;
//! [`image`] turns the code into
//! executable memory (never writable and executable at once); [`host`] runs
//! applications' extensions over their attribute classes with fuel, a
//! deadline (enforced between slices of fuel, `src/deadline.rs`), counters
//! and quarantine, the SafeX API behind the helper table and `refuel`
//! living in `api`; [`manager`] is the service manager loop
//! that runs monitors each tick and handlers on their events; [`system`]
//! starts a host with the standard library's classes and guards. [`device`]
//! drives the other host, the kernel module, through `/dev/safex` (a safe
//! wrapper of its ioctls).
//!
//! Every `unsafe` block says why it is sound, aliasing and concurrency
//! included; `docs/miri.md` lists the tests Miri can check.

#![deny(clippy::undocumented_unsafe_blocks)]

// Compiled code is x86-64 SysV machine code, and the deadline reads Linux
// thread CPU clocks.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("the SafeX runtime runs x86-64 code on Linux only (target_os = \"linux\", target_arch = \"x86_64\")");

mod api;
pub mod codes;
mod deadline;
pub use deadline::{SMALL_DATA_CELLS, thread_cpu_time};
pub mod device;
pub mod host;
pub mod image;
pub mod load;
pub mod manager;
pub mod refuel;
pub mod rows;
pub mod signed;
pub mod system;

pub use host::{
    AppId, Change, Counters, EXCEPTION_EVENT, EntryRef, ExtId, Host, HostConfig, HostError, TRACES_HELD,
    TRACES_PER_INVOCATION, TraceRecord, Trap, TrapKind, TrapSite, WriteOutcome,
};
