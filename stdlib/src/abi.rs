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
//! - Fuel: each `fuel N` subtracts N from `ctx.fuel` and, if the result is
//!   negative, calls `ctx.refuel` with `ctx` (in `rdi`), then reads
//!   `ctx.fuel` again and traps with `OUT_OF_FUEL` if it is still
//!   negative. `refuel` is the host's: it stores a counter of at least 0
//!   (the next slice of the invocation's budget) to let the code run on,
//!   or leaves it negative to end the invocation there (and the host,
//!   which knows why it said stop, may report a deadline instead). It is
//!   called with Cranelift's `preserve_all` convention: it returns nothing
//!   and preserves every register (in C, GCC's
//!   `no_caller_saved_registers`; in Rust, an assembly trampoline), so
//!   that the call, on a cold path, costs the hot path no register. It
//!   writes nothing but `ctx.fuel` (and the host's own state), so a value
//!   the code loaded from its data region stays valid across it. A helper
//!   may store 0 into `ctx.fuel` too, to end the invocation at its next
//!   check (the user-space host does after a guard met the deadline):
//!   compiled code loads the counter afresh at every check. The host
//!   stores a counter of at least 0 before a call (so the subtraction
//!   never overflows: N is at most `i64::MAX`). A host that hands out the
//!   whole budget at once gives a `refuel` that does nothing; one that
//!   enforces a deadline hands the budget out in slices and looks at its
//!   clock in `refuel`, which the code reaches within a slice plus
//!   `tal_ir::cost::MAX_UNCHECKED` units (the verifier's V0409 bounds the
//!   units between two fuel checks). So no other thread or timer ever
//!   writes the context while code runs.
//! - An entry point's entry `fuel N` (every entry point starts with one) is
//!   the host's to charge, not the code's: compiled entry points do not
//!   check it. Before each call the host subtracts N (the object's
//!   metadata lists it per entry point) from the counter it stores; if the
//!   result is negative it does not call, and reports `OUT_OF_FUEL` at
//!   instruction 0 of the entry block, as the check would have
//!   ([`Ctx::charge_entry`]). Why: a host stores the same budget before
//!   every invocation, so that check's outcome is known when the object is
//!   loaded; it was 7 of the PID monitor's 28 instructions. The entry
//!   region runs at most N units, callees its callers pay for included,
//!   and at most `tal_ir::cost::MAX_UNCHECKED` before the first check the
//!   code reaches (the verifier's V0409).
//!
//! `stdlib::c_header` renders this contract as C (`kmod/safex_abi.h`).

/// Version of this ABI, recorded in every object; loaders refuse others.
///
/// 2: helpers only abort (stickily) and are not followed by a status
/// test; traps keep a status already set; functions return their status
/// in `rdx` as well as in `ctx.status`; fuel checks also test
/// `ctx.interrupt`.
/// 3: `get_attribute` loads from the rows the host publishes in
/// `ctx.attrs` instead of calling helper 0.
/// 4: the host charges each entry point's entry `fuel` before the call.
/// 5: `.safex.meta` lists the module's events and its data region (size
/// and initial cells), so that a loader that cannot decode the TAL (the
/// kernel module) can run the object.
/// 6: an exhausted fuel check calls `ctx.refuel` (`preserve_all`)
/// instead of trapping at once, and `ctx.interrupt` is gone: hosts
/// enforce deadlines in `refuel`, on the invoking thread, between slices
/// of the budget.
/// 7: helper 5, `trace(value, site)`.
pub const ABI_VERSION: u32 = 7;

/// Byte offsets of the context's fields.
pub mod offset {
    pub const FUEL: i32 = 0;
    pub const STATUS: i32 = 8;
    pub const TRAP_FUNC: i32 = 16;
    pub const TRAP_BLOCK: i32 = 20;
    pub const TRAP_INST: i32 = 24;
    pub const HELPERS: i32 = 32;
    pub const DATA: i32 = 40;
    pub const ATTRS: i32 = 48;
    pub const REFUEL: i32 = 56;
    pub const SIZE: usize = 64;
}

/// Frames an invocation may use: its own, and one for a guard run by a
/// `set_attribute` in it. A guard's own write of a guarded attribute
/// would need a third: the helper ends the invocation with `HOST_ABORT`
/// instead, so that the stack an invocation uses is bounded (each frame's
/// compiled code by the verifier's stack limit), as the kernel's must be.
pub const FRAMES: usize = 2;

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

/// What an exhausted fuel check calls (`ctx.refuel`, see the module doc):
/// the address of a routine of Cranelift's `preserve_all` convention that
/// takes the context in `rdi`, returns nothing and preserves every
/// register. Rust has no such convention: never call it as the `extern
/// "C"` function its type says; hosts define it in assembly (the runtime's
/// `refuel` module).
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct Refuel(pub unsafe extern "C" fn());

/// The context, as Rust hosts see it.
///
/// Compiled code reads and writes it through the pointer it is called
/// with, and helpers and `refuel` through the pointer they are passed; so
/// while compiled code runs, a host holds no reference to the context and
/// accesses its fields through that pointer, one field at a time. Only the
/// invoking thread ever touches it.
#[repr(C)]
#[derive(Debug)]
pub struct Ctx {
    pub fuel: i64,
    pub status: u64,
    pub trap_func: u32,
    pub trap_block: u32,
    pub trap_inst: u32,
    pub helpers: *const HelperFn,
    /// The extension's data region: its globals, 8 bytes per scalar cell.
    /// It starts as the module's initial data (zero, then the initializers
    /// `.safex.meta` lists) and afterwards only the extension's own code
    /// writes it: code generation relies on that (`codegen::ranges`: the
    /// values a global can hold are those its initializer and the module's
    /// stores put there), so a host never writes an extension's globals.
    pub data: *mut i64,
    /// The invoking application's attribute rows, one per class of the
    /// module, in the module's class order (see the module doc).
    pub attrs: *const *const i64,
    /// Called by a fuel check that leaves `fuel` negative (see the module
    /// doc).
    pub refuel: Refuel,
}

impl Ctx {
    /// A context with `fuel`, no trap, and the given helper table, data
    /// region, attribute rows and `refuel`.
    #[inline]
    pub fn new(fuel: i64, helpers: *const HelperFn, data: *mut i64, attrs: *const *const i64, refuel: Refuel) -> Ctx {
        Ctx {
            fuel,
            status: status::OK,
            trap_func: 0,
            trap_block: 0,
            trap_inst: 0,
            helpers,
            data,
            attrs,
            refuel,
        }
    }

    /// Charges entry point `func`'s entry `fuel N` (`entry_fuel`) before a
    /// call, as its check would have: subtracts N from `fuel` and, if the
    /// result is negative, records `OUT_OF_FUEL` at instruction 0 of the
    /// entry block. Returns whether to call the entry point. Call on a
    /// fresh context (status `OK`, `fuel` at least 0).
    #[inline]
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

/// A context followed by what a Rust host keeps beside it for its helpers
/// (`info`: the host, the invocation). A helper receives only the context
/// pointer compiled code was called with; when that is
/// [`Frame::ctx_ptr`], [`Frame::info_ptr`] finds the host's part past it.
///
/// The pointer must be made from the whole frame: one made from the
/// context field alone (`&mut frame.ctx`) may only reach the context, and
/// reading `info` through it is undefined behavior even though the bytes
/// are there.
#[repr(C)]
#[derive(Debug)]
pub struct Frame<T> {
    pub ctx: Ctx,
    pub info: T,
}

impl<T> Frame<T> {
    /// The context pointer to call compiled code with: the head of the
    /// frame (`#[repr(C)]`, context first), with the frame's provenance,
    /// so that helpers may reach `info` through it. Takes a pointer, not
    /// `&mut self`: a host must not hold a unique reference to a frame
    /// whose context compiled code and helpers access through pointers.
    pub fn ctx_ptr(frame: *mut Frame<T>) -> *mut Ctx {
        frame.cast()
    }

    /// The host's part of the frame whose context pointer is `ctx`. Safe
    /// to compute; dereferencing it is valid only if `ctx` came from
    /// [`Frame::ctx_ptr`] of a live `Frame<T>`.
    pub fn info_ptr(ctx: *mut Ctx) -> *mut T {
        ctx.wrapping_byte_add(std::mem::offset_of!(Frame<T>, info)).cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn ctx_matches_the_offsets() {
        assert_eq!(offset_of!(Ctx, fuel), offset::FUEL as usize);
        assert_eq!(offset_of!(Ctx, status), offset::STATUS as usize);
        assert_eq!(offset_of!(Ctx, trap_func), offset::TRAP_FUNC as usize);
        assert_eq!(offset_of!(Ctx, trap_block), offset::TRAP_BLOCK as usize);
        assert_eq!(offset_of!(Ctx, trap_inst), offset::TRAP_INST as usize);
        assert_eq!(offset_of!(Ctx, helpers), offset::HELPERS as usize);
        assert_eq!(offset_of!(Ctx, data), offset::DATA as usize);
        assert_eq!(offset_of!(Ctx, attrs), offset::ATTRS as usize);
        assert_eq!(offset_of!(Ctx, refuel), offset::REFUEL as usize);
        assert_eq!(size_of::<Ctx>(), offset::SIZE);
        assert_eq!(align_of::<Ctx>(), 8);
    }

    #[test]
    fn every_field_has_the_size_compiled_code_accesses() {
        // Compiled code loads and stores each field with an access of this
        // width; `trap_inst` is followed by 4 bytes of padding.
        let fields = [
            (size_of::<i64>(), offset::STATUS - offset::FUEL),
            (size_of::<u64>(), offset::TRAP_FUNC - offset::STATUS),
            (size_of::<u32>(), offset::TRAP_BLOCK - offset::TRAP_FUNC),
            (size_of::<u32>(), offset::TRAP_INST - offset::TRAP_BLOCK),
            (size_of::<u32>() + 4, offset::HELPERS - offset::TRAP_INST),
            (size_of::<*const HelperFn>(), offset::DATA - offset::HELPERS),
            (size_of::<*mut i64>(), offset::ATTRS - offset::DATA),
            (size_of::<*const *const i64>(), offset::REFUEL - offset::ATTRS),
            (size_of::<Refuel>(), offset::SIZE as i32 - offset::REFUEL),
        ];
        for (size, span) in fields {
            assert_eq!(size, span as usize);
        }
    }

    #[test]
    fn a_frame_starts_with_its_context() {
        assert_eq!(offset_of!(Frame<u64>, ctx), 0);
        assert_eq!(offset_of!(Frame<[u8; 3]>, ctx), 0);
        assert_eq!(offset_of!(Frame<u64>, info), offset::SIZE);
    }

    /// A `refuel` for a context no code runs with.
    extern "C" fn never_called() {
        unreachable!("no code runs with this context")
    }

    /// What a helper does with the pointer compiled code passes it.
    fn helper(ctx: *mut Ctx) -> u64 {
        let info = Frame::<u64>::info_ptr(ctx);
        // SAFETY: `ctx` is `Frame::ctx_ptr` of a live `Frame<u64>` (the
        // caller's), so `info` is in bounds of it and carries its
        // provenance; nothing else accesses `info` or `status` during the
        // call.
        unsafe {
            (*ctx).status = status::HOST_ABORT;
            *info += 1;
            *info
        }
    }

    /// Under Miri, this checks the frame protocol: helpers reach `info`
    /// through the context pointer, with no reference to the frame in
    /// between.
    #[test]
    fn helpers_reach_the_host_part_through_the_context_pointer() {
        let mut frame = Frame {
            ctx: Ctx::new(
                10,
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null(),
                Refuel(never_called),
            ),
            info: 41,
        };
        let ctx = Frame::ctx_ptr(&mut frame);
        assert_eq!(helper(ctx), 42);
        assert_eq!(helper(ctx), 43);
        assert_eq!(frame.info, 43);
        assert_eq!(frame.ctx.status, status::HOST_ABORT);
    }
}
