//! The extension ABI: what compiled code, the user-space host and the kernel
//! module agree on. Offsets here are the contract; `Ctx` mirrors them for
//! Rust hosts and a test checks they match.
//!
//! - An entry point is `extern "C" fn(ctx: *mut Ctx, args: i64...) -> i64`,
//!   its arguments the TAL function's value parameters (capability handles
//!   and event ids as their numbers, `bool` as 0/1). The host reads how it
//!   ended from `ctx.status` (and the trap location after it).
//! - An internal function takes `ctx`, its value parameters, and for each
//!   reference parameter a pointer and a length in elements. Every
//!   function, entry points included, returns two `i64`s: its value in
//!   `rax` and its status in `rdx` (0 unless it trapped), so that a caller
//!   in the module tests a register, not memory; a host calling an entry
//!   point as above just ignores `rdx`.
//! - Every helper is `extern "C" fn(ctx, a0: i64, a1: i64, a2: i64) -> i64`
//!   at index `id` of the table `ctx.helpers`; unused arguments are 0. An
//!   attribute immediate `#class.attr` is passed as `class << 32 | attr`.
//! - `get_attribute` is not a call ([`crate::HelperLowering::ReadAttribute`]):
//!   compiled code loads `ctx.attrs[class][attr]`, where `class` is the
//!   attribute class's index in the module and `attr` the attribute's.
//!   Before every invocation the host stores in `ctx.attrs` a table with
//!   one pointer per class the module declares, each to the invoking
//!   application's current values of that class (one `i64` per attribute,
//!   in declaration order; a `bool` as 0/1), and writes a value there
//!   before `set_attribute` returns. Nothing else is checked at run time:
//!   the verifier proved that the capability is not null and holds the
//!   read right, the loader that the module's class declarations equal the
//!   host's (so the indexes are in bounds), and the host granted that
//!   capability only for the invoking application. The read happens even
//!   after a helper aborted (it acts on nothing). Slot 0 of the helper
//!   table, `get_attribute`'s id, is never called.
//! - A trap (failed check, uncaught exception, fuel exhausted) writes its
//!   status and location into the context and returns 0 with the status in
//!   `rdx`. Every call of a function of the module tests the `rdx` it
//!   returned: non-zero jumps to a matching `catch` (clearing
//!   `ctx.status`) or returns at once with the same status. So a trap
//!   unwinds with no longjmp and no lock held, and `ctx` keeps the status
//!   and the innermost location for the host.
//! - Helpers never raise an exception the extension could catch, and
//!   compiled code does not test anything after a helper call. A helper
//!   that must end the invocation (a host-detected impossibility) sets
//!   `ctx.status` to `HOST_ABORT` and returns 0; from then on every helper
//!   returns 0 at once without acting. The extension runs on (still bounded
//!   by its fuel) until its entry point returns or until it traps: a trap
//!   finds `ctx.status` set and leaves it, and the location, as they are,
//!   returning `HOST_ABORT` in `rdx`, which no `catch` matches, so every
//!   caller returns at once and nothing clears it. The host reports the
//!   abort, with no location: the location fields are meaningful only for
//!   the statuses compiled code records (a `catch` clears `ctx.status` but
//!   not them, so after an abort they may hold an exception caught before
//!   it). What the extension wrote to its data region after the abort
//!   stays written (as with any trap).
//! - The host sets `status` to `OK` before it calls an entry point;
//!   compiled code stores a status only into a context whose status is
//!   `OK`, and clears only one a `catch` matched.
//! - Fuel: each `fuel N` subtracts N from `ctx.fuel` and traps with
//!   `OUT_OF_FUEL` if the result is negative, or if `ctx.interrupt` is
//!   negative. The host stores a counter of at least 0 and an interrupt of
//!   0 before a call (so the subtraction never overflows: N is at most
//!   `i64::MAX`), and may store -1 into `interrupt` at any moment to end
//!   the invocation at its next fuel check (a deadline). Compiled code
//!   never writes `interrupt`: a host that stored into `fuel` instead could
//!   see its store lost, since the code's own load, subtract and store of
//!   the counter can overwrite it (and a tight loop, reading its own
//!   pending stores, may not see it for a long time).
//! - An entry point's entry `fuel N` (every entry point starts with one) is
//!   the host's to charge, not the code's: compiled entry points do not
//!   check it. Before each call the host subtracts N (the object's
//!   metadata lists it per entry point) from the counter it stores; if the
//!   result is negative it does not call, and reports `OUT_OF_FUEL` at
//!   instruction 0 of the entry block, as the check would have
//!   ([`Ctx::charge_entry`]). Why: a host stores the same budget before
//!   every invocation, so that check's outcome is known when the object is
//!   loaded; it was 7 of the PID monitor's 28 instructions. `interrupt`
//!   is not tested before the first check the code reaches: the entry
//!   region runs at most N instructions, callees its callers pay for
//!   included.

/// Version of this ABI, recorded in every object; loaders refuse others.
///
/// 2: helpers only abort (stickily) and are not followed by a status
/// test; traps keep a status already set; functions return their status
/// in `rdx` as well as in `ctx.status`; fuel checks also test
/// `ctx.interrupt`.
/// 3: `get_attribute` loads from the rows the host publishes in
/// `ctx.attrs` instead of calling helper 0.
/// 4: the host charges each entry point's entry `fuel` before the call.
pub const ABI_VERSION: u32 = 4;

/// Byte offsets of the context's fields.
pub mod offset {
    pub const FUEL: i32 = 0;
    pub const STATUS: i32 = 8;
    pub const TRAP_FUNC: i32 = 16;
    pub const TRAP_BLOCK: i32 = 20;
    pub const TRAP_INST: i32 = 24;
    pub const INTERRUPT: i32 = 28;
    pub const HELPERS: i32 = 32;
    pub const DATA: i32 = 40;
    pub const ATTRS: i32 = 48;
    pub const SIZE: usize = 56;
}

/// `Ctx::status` values. 0 means no trap.
pub mod status {
    pub const OK: u64 = 0;
    pub const DIVIDE_BY_ZERO: u64 = 1;
    pub const OUT_OF_BOUNDS: u64 = 2;
    pub const OVERFLOW: u64 = 3;
    pub const RANGE_ERROR: u64 = 4;
    pub const NULL_CAPABILITY: u64 = 5;
    pub const OUT_OF_FUEL: u64 = 6;
    /// A helper ended the invocation (e.g. a host failure); not catchable,
    /// and sticky: once set, helpers do nothing and traps keep it.
    pub const HOST_ABORT: u64 = 7;
}

/// `Ctx::trap_inst` when the trap is at a block's terminator.
pub const TRAP_AT_TERMINATOR: u32 = u32::MAX;

/// What every compiled function returns, in `rax` and `rdx` (the SysV
/// return of a 16-byte `#[repr(C)]` struct of two integers). On a trap
/// `status` equals `ctx.status`. After a helper's abort, though, the code
/// runs on and may return normally with `status` 0 while `ctx.status` is
/// `HOST_ABORT`: only a host whose helpers never abort may test `status`
/// instead of reading the context.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    pub value: i64,
    pub status: u64,
}

/// A helper's calling convention.
pub type HelperFn = unsafe extern "C" fn(ctx: *mut Ctx, a0: i64, a1: i64, a2: i64) -> i64;

/// The context, as Rust hosts see it.
#[repr(C)]
#[derive(Debug)]
pub struct Ctx {
    pub fuel: i64,
    pub status: u64,
    pub trap_func: u32,
    pub trap_block: u32,
    pub trap_inst: u32,
    /// Negative: end the invocation at its next fuel check. Written only
    /// by the host.
    pub interrupt: i32,
    pub helpers: *const HelperFn,
    /// The extension's data region: its globals, 8 bytes per scalar cell.
    pub data: *mut i64,
    /// The invoking application's attribute rows, one per class of the
    /// module, in the module's class order (see the module doc).
    pub attrs: *const *const i64,
}

impl Ctx {
    /// A context with `fuel`, no trap, and the given helper table, data
    /// region and attribute rows.
    pub fn new(fuel: i64, helpers: *const HelperFn, data: *mut i64, attrs: *const *const i64) -> Ctx {
        Ctx {
            fuel,
            status: status::OK,
            trap_func: 0,
            trap_block: 0,
            trap_inst: 0,
            interrupt: 0,
            helpers,
            data,
            attrs,
        }
    }

    /// Charges entry point `func`'s entry `fuel N` (`entry_fuel`) before a
    /// call, as its check would have: subtracts N from `fuel` and, if the
    /// result is negative, records `OUT_OF_FUEL` at instruction 0 of the
    /// entry block. Returns whether to call the entry point. Call on a
    /// fresh context (status `OK`, `fuel` at least 0).
    pub fn charge_entry(&mut self, entry_fuel: u64, func: u32) -> bool {
        let left = i128::from(self.fuel) - i128::from(entry_fuel);
        self.fuel = i64::try_from(left).unwrap_or(i64::MIN);
        if left >= 0 {
            return true;
        }
        self.status = status::OUT_OF_FUEL;
        (self.trap_func, self.trap_block, self.trap_inst) = (func, 0, 0);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn ctx_matches_the_offsets() {
        assert_eq!(offset_of!(Ctx, fuel), offset::FUEL as usize);
        assert_eq!(offset_of!(Ctx, status), offset::STATUS as usize);
        assert_eq!(offset_of!(Ctx, trap_func), offset::TRAP_FUNC as usize);
        assert_eq!(offset_of!(Ctx, trap_block), offset::TRAP_BLOCK as usize);
        assert_eq!(offset_of!(Ctx, trap_inst), offset::TRAP_INST as usize);
        assert_eq!(offset_of!(Ctx, interrupt), offset::INTERRUPT as usize);
        assert_eq!(offset_of!(Ctx, helpers), offset::HELPERS as usize);
        assert_eq!(offset_of!(Ctx, data), offset::DATA as usize);
        assert_eq!(offset_of!(Ctx, attrs), offset::ATTRS as usize);
        assert_eq!(size_of::<Ctx>(), offset::SIZE);
    }
}
