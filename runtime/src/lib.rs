//! The SafeX user-space host.
//!
//! [`load`] makes every check before an object's code may run (object
//! integrity, fuel, verifier, re-lowering); [`image`] turns the code into
//! executable memory (never writable and executable at once); [`host`] runs
//! applications' extensions over their attribute classes with fuel, a
//! deadline ([`watchdog`]), counters and quarantine, the SafeX API behind the
//! helper table living in `api`; [`manager`] is the service manager loop
//! that runs monitors each tick and handlers on their events; [`system`]
//! starts a host with the standard library's classes and guards.

mod api;
pub mod codes;
pub mod host;
pub mod image;
pub mod load;
pub mod manager;
pub mod rows;
pub mod system;
mod watchdog;

pub use host::{
    AppId, Change, Counters, EXCEPTION_EVENT, EntryRef, ExtId, Host, HostConfig, HostError, Trap, TrapKind, TrapSite,
    WriteOutcome,
};
