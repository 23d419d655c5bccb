//! The SafeX API behind the helper table: what compiled code reaches
//! through `ctx.helpers` (`stdlib::HELPERS`, by id).
//!
//! A helper receives the context of the running invocation. The context is
//! the head of a [`Frame`], whose other part, a [`FrameInfo`], says what
//! the host needs to act for that invocation: the host, the extension and
//! the application it runs for. Every helper re-checks what the verifier
//! proved of its caller (capability class and rights, read-only
//! attributes, ranges) so that a host never trusts a handle's number: a
//! failed check ends the invocation with `HOST_ABORT` and says why.
//!
//! A helper never raises an exception the extension could catch, so
//! compiled code does not test the status after a helper call (ABI 2). An
//! abort is sticky instead: once the status is set, every helper returns 0
//! without acting, the extension runs on (fuel still bounds it) until it
//! returns, and the host reports the abort.
//!
//! `refuel` (ABI 6), which an exhausted fuel check calls, is here too: it
//! hands out the invocation's budget slice by slice and stops the
//! invocation when the budget is spent or the deadline passed
//! ([`crate::deadline`]).
//!
//! Aliasing. While compiled code runs in a frame, it reads and writes the
//! context through the pointer it was called with, and helpers and
//! `refuel` through the pointer they are passed; only the invoking thread
//! touches a frame. So nothing here ever takes a reference to a whole
//! frame or a unique reference to a context: frames are prepared and read
//! field by field through pointers, and a helper gets `&mut` only to the
//! host part of its frame ([`FrameInfo`], which compiled code never
//! touches) and to the host, which the invoking code does not use while
//! the extension runs.

use crate::host::{AppId, Change, EntryRef, ExtId, Host, NO_SITE, WriteOutcome};
use std::ptr::NonNull;
use stdlib::Rights;
use stdlib::abi::{self, Ctx, HelperFn, status};
use tal_ir::AttrType;

/// The host's part of a frame: whom the invocation running in it acts for.
pub(crate) struct FrameInfo {
    /// The host, as `prepare` was given it for this invocation.
    host: *mut Host,
    ext: ExtId,
    /// The entry point the invocation started at (for reports).
    entry: usize,
    app: usize,
    /// The frame's index in the host's frames: 0 for an invocation, one
    /// more for each guard nested in it (a guard run from a helper call in
    /// this frame runs in frame `depth + 1`).
    depth: usize,
    /// A guard run in this frame called `block`.
    pub(crate) blocked: bool,
    /// The invocation's fuel not yet handed out in `ctx.fuel`.
    pub(crate) reserve: u64,
    /// The most `refuel` hands out at a time (`Invocation::slice`).
    slice: u64,
    /// `trace` calls the invocation in this frame made.
    traced: u32,
}

/// A context and whom it runs for: a `*mut Ctx` a helper receives is the
/// head of one ([`abi::Frame::ctx_ptr`]).
pub(crate) type Frame = abi::Frame<FrameInfo>;

/// The frame for nesting depth `depth`, prepared for no invocation yet.
pub(crate) fn new_frame(depth: usize) -> Frame {
    Frame {
        ctx: Ctx::new(
            0,
            HELPER_TABLE.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null(),
            crate::refuel::host(),
        ),
        info: FrameInfo {
            host: std::ptr::null_mut(),
            ext: ExtId::NONE,
            entry: 0,
            app: 0,
            depth,
            blocked: false,
            reserve: 0,
            slice: 0,
            traced: 0,
        },
    }
}

/// What an invocation puts in its frame ([`prepare`]).
pub(crate) struct Invocation {
    pub(crate) ext: ExtId,
    pub(crate) entry: usize,
    pub(crate) app: usize,
    /// The invocation's budget.
    pub(crate) fuel: u64,
    /// The most fuel `ctx.fuel` holds at a time (the rest is handed out by
    /// `refuel`): `deadline::slice_for` the data region under a deadline (0
    /// once it has passed), else all.
    pub(crate) slice: u64,
    /// The entry point's function and its entry `fuel`, which the host
    /// charges before the call (ABI 4).
    pub(crate) func: u32,
    pub(crate) entry_fuel: u64,
    pub(crate) data: *mut i64,
    pub(crate) attrs: *const *const i64,
}

/// Prepares `frame` for an invocation acting through `host`: a fresh
/// context (the first slice of the invocation's fuel less the entry fuel,
/// no trap, its data region and attribute rows; `refuel` stays) and the
/// host part (the rest of the fuel in reserve). Returns whether the entry
/// fuel was paid and the entry point is to be called; if not, the context
/// records `OUT_OF_FUEL` at its entry.
///
/// # Safety
/// `frame` points to a live frame in which no compiled code is running or
/// suspended, and to which no reference is live.
#[inline]
pub(crate) unsafe fn prepare(frame: NonNull<Frame>, host: *mut Host, inv: &Invocation) -> bool {
    // Budgets are at most `HostConfig::max_fuel`, far below i64::MAX.
    let budget = inv.fuel.min(i64::MAX as u64) as i64;
    let mut fresh = Ctx::new(
        budget,
        HELPER_TABLE.as_ptr(),
        inv.data,
        inv.attrs,
        crate::refuel::host(),
    );
    fresh.trap_func = NO_SITE;
    let runs = fresh.charge_entry(inv.entry_fuel, inv.func);
    // What the entry charge left, the first slice of it in the counter.
    let left = fresh.fuel.max(0) as u64;
    let first = left.min(inv.slice);
    // Every field by name, so that a field added to `Ctx` is decided on here.
    let Ctx {
        fuel,
        status,
        trap_func,
        trap_block,
        trap_inst,
        helpers,
        data,
        attrs,
        refuel: _,
    } = fresh;
    let fuel = if runs { first as i64 } else { fuel };
    let frame = frame.as_ptr();
    // SAFETY: the frame is live, and by the contract nothing else accesses
    // it: its fields are written one by one through the frame pointer,
    // never through a reference to the whole frame or context. The host
    // part is a `&mut` of its own, disjoint from the context.
    unsafe {
        let ctx = &raw mut (*frame).ctx;
        (*ctx).fuel = fuel;
        (*ctx).status = status;
        (*ctx).trap_func = trap_func;
        (*ctx).trap_block = trap_block;
        (*ctx).trap_inst = trap_inst;
        (*ctx).helpers = helpers;
        (*ctx).data = data;
        (*ctx).attrs = attrs;
        let info = &mut (*frame).info;
        info.host = host;
        info.ext = inv.ext;
        info.entry = inv.entry;
        info.app = inv.app;
        info.blocked = false;
        info.reserve = left - first;
        info.slice = inv.slice;
        info.traced = 0;
    }
    runs
}

/// The fuel an invocation in `frame` used of its `budget`, once it has
/// returned: what is neither in the counter nor in reserve.
///
/// # Safety
/// `frame` points to a live frame in which no compiled code is running or
/// suspended, and to which no unique reference is live.
#[inline]
pub(crate) unsafe fn fuel_used(frame: NonNull<Frame>, budget: u64) -> u64 {
    // SAFETY: the contract: nothing accesses the frame meanwhile.
    let (counter, reserve) = unsafe { ((*frame.as_ptr()).ctx.fuel, (*frame.as_ptr()).info.reserve) };
    budget.saturating_sub(counter.max(0) as u64).saturating_sub(reserve)
}

/// What `ctx.refuel` of every frame does (ABI 6; `crate::refuel` calls it
/// from the `preserve_all` trampoline): called by a fuel check that left
/// `ctx.fuel` negative, it stores the next slice of the invocation's fuel,
/// or leaves the counter negative (stop, `OUT_OF_FUEL`) when what is left
/// does not cover the check or the host's deadline has passed
/// ([`crate::deadline`]).
///
/// # Safety
/// Called by compiled code with the context pointer of a frame it runs in
/// (`call_entry`), as a helper is.
pub(crate) unsafe extern "C" fn refuel_from_host(ctx: *mut Ctx) {
    // SAFETY: `ctx` is `Frame::ctx_ptr` of a live frame whose code is
    // suspended in this call, so the counter and the host part (which only
    // this thread's host code touches, never compiled code) are ours to
    // access for the call.
    let (counter, info) = unsafe { ((*ctx).fuel, &mut *Frame::info_ptr(ctx)) };
    // The check left `counter` at least -i64::MAX; reserves are below
    // i64::MAX (`max_fuel`).
    let left = i128::from(counter) + i128::from(info.reserve);
    if left < 0 {
        info.reserve = 0;
        return;
    }
    // SAFETY: as in `HelperCall::begin`: the host pointer was derived from
    // the invoking code's unique access to the host, which it does not use
    // until the call returns; a helper that ran a guard (whose refuel this
    // may be) has dropped its own reference to the host first. Only the
    // deadline is touched.
    if let Some(deadline) = unsafe { &mut (*info.host).deadline }
        && deadline.passed()
    {
        return;
    }
    let left = left as u64;
    let slice = left.min(info.slice);
    info.reserve = left - slice;
    // SAFETY: as above; compiled code is suspended in this call.
    unsafe { (*ctx).fuel = slice as i64 };
}

/// The helper table, in `stdlib::HELPERS` order.
pub(crate) static HELPER_TABLE: [HelperFn; 6] = [attribute_read_slot, set_attribute, raise_event, now_us, block, trace];

/// Calls an entry point in `frame`: `(ctx, cap)` for a monitor, `(ctx,
/// cap, value)` for a handler or guard.
///
/// # Safety
/// - `code` is a linked entry point of that shape (an extra argument is
///   ignored, a missing one is an arbitrary value), of the extension
///   `frame` was prepared for (`prepare`), whose image stays mapped until
///   the call returns (helpers cannot unload extensions).
/// - `frame` is one of the host's frames, no reference to it is live, and
///   no compiled code is running or suspended in it.
/// - The host pointer `frame` was prepared with is valid and derived from
///   the caller's unique access to the host, and until this returns the
///   caller accesses the host through nothing else: helpers turn it into
///   `&mut Host` while the code runs.
#[inline]
pub(crate) unsafe fn call_entry(code: *const u8, frame: NonNull<Frame>, cap: i64, value: Option<i64>) -> i64 {
    type Monitor = unsafe extern "C" fn(*mut Ctx, i64) -> i64;
    type WithValue = unsafe extern "C" fn(*mut Ctx, i64, i64) -> i64;
    let ctx = Frame::ctx_ptr(frame.as_ptr());
    // SAFETY: `code` has this signature (the contract). Verified code
    // accesses the context, its data region and its attribute rows through
    // `ctx` only (the host holds no reference to any of them meanwhile:
    // `prepare`, `Host::invoke`), and reaches the host only through the
    // helpers, passing them `ctx`, whose provenance covers the whole frame
    // and so the host part `HelperCall::begin` reads. Its stack use is
    // bounded by the verifier's stack limit.
    unsafe {
        match value {
            None => std::mem::transmute::<*const u8, Monitor>(code)(ctx, cap),
            Some(v) => std::mem::transmute::<*const u8, WithValue>(code)(ctx, cap, v),
        }
    }
}

/// A helper call in progress: the context of the invocation it serves,
/// the host part of its frame, and the host. Made by [`HelperCall::begin`]
/// only, and used only within the helper.
struct HelperCall<'a> {
    /// The context, accessed field by field: compiled code is suspended in
    /// this helper call.
    ctx: *mut Ctx,
    frame: &'a mut FrameInfo,
    host: &'a mut Host,
}

impl HelperCall<'_> {
    /// The call a helper serves; `None` once the invocation has been
    /// aborted (the helper must then do nothing).
    ///
    /// # Safety
    /// `ctx` is the context pointer compiled code running in a frame passed
    /// this helper (`call_entry`), and the helper drops the result before it
    /// runs compiled code again (a guard).
    unsafe fn begin<'a>(ctx: *mut Ctx) -> Option<HelperCall<'a>> {
        // SAFETY: `ctx` points to a live context (the contract). Compiled
        // code is suspended in this call, so reading `status` races with
        // nothing.
        if unsafe { (*ctx).status } != status::OK {
            return None;
        }
        // SAFETY: `ctx` is `Frame::ctx_ptr` of a live frame, so the host
        // part is in bounds of its provenance. Nothing else refers to the
        // host part while the code runs: compiled code never accesses it, the host prepared it before the call and reads
        // it after, and a nested guard uses a frame of its own.
        let frame = unsafe { &mut *Frame::info_ptr(ctx) };
        // SAFETY: `frame.host` was derived from the invoking code's unique
        // access to the host, which it does not use until the call returns
        // (`call_entry`); frames are allocations of their own, so this
        // reference does not overlap `frame`. The helper drops it before it
        // runs a guard, which re-borrows the host.
        let host = unsafe { &mut *frame.host };
        Some(HelperCall { ctx, frame, host })
    }

    /// Ends the invocation: the extension broke a rule only the host can see.
    fn abort(self, why: String) -> i64 {
        // SAFETY: as in `begin`: `ctx` is live, and compiled code is
        // suspended in this call, so nothing else accesses `status`.
        unsafe { (*self.ctx).status = status::HOST_ABORT };
        self.host.abort_reason = Some(why);
        0
    }

    /// The host class and attribute an `(capability, attribute immediate)`
    /// pair names, if the invoked extension holds `right` on it.
    fn resolve(&self, cap: i64, attr: i64, right: Rights) -> Result<(usize, usize), String> {
        let host = &*self.host;
        let ext = host.ext(self.frame.ext).ok_or("the extension is not loaded")?;
        let module_class = (attr >> 32) as usize;
        let index = (attr & 0xffff_ffff) as usize;
        let &class = ext
            .class_map
            .get(module_class)
            .ok_or_else(|| format!("attribute immediate {attr:#x} names no class of the extension"))?;
        if cap != class as i64 + 1 {
            return Err(format!(
                "capability {cap} is not the extension's capability to `{}`",
                host.classes[class].name
            ));
        }
        if !ext.rights.contains(right) {
            return Err(format!(
                "the extension lacks the right `{right}` on `{}`",
                host.classes[class].name
            ));
        }
        if index >= host.classes[class].attrs.len() {
            return Err(format!("`{}` has no attribute #{index}", host.classes[class].name));
        }
        Ok((class, index))
    }
}

/// Slot 0, `get_attribute`'s id: compiled code reads attributes from
/// `ctx.attrs` and never calls it (`stdlib::abi`). Were it called, the
/// invocation ends.
unsafe extern "C" fn attribute_read_slot(ctx: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    call.abort("get_attribute: slot 0 of the helper table is not a call".into())
}

unsafe extern "C" fn set_attribute(ctx: *mut Ctx, cap: i64, attr: i64, value: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    let (class, index) = match call.resolve(cap, attr, Rights::WRITE) {
        Ok(found) => found,
        Err(why) => return call.abort(format!("set_attribute: {why}")),
    };
    let def = &call.host.classes[class].attrs[index];
    if def.readonly {
        let why = format!(
            "set_attribute: `{}` is read-only",
            call.host.attribute_name(class, index as u32)
        );
        return call.abort(why);
    }
    if def.ty == AttrType::Bool && !(0..=1).contains(&value) {
        return call.abort(format!("set_attribute: {value} is not a bool"));
    }
    if let Some((lo, hi)) = def.range
        && !(lo..=hi).contains(&value)
    {
        // Verified code passes `check.range` (a catchable `RangeError`)
        // before it gets here.
        let why = format!(
            "set_attribute: {value} is outside the range {lo}..={hi} of `{}`",
            call.host.attribute_name(class, index as u32)
        );
        return call.abort(why);
    }
    let guard = call.host.guards.get(&(class, index as u32)).copied();
    if guard.is_some() && call.frame.depth + 1 >= abi::FRAMES {
        // Each guard runs in a frame of its own on the invocation's stack:
        // bounded, as the kernel's 16 KiB stack must be.
        let why = format!(
            "set_attribute: a guard wrote `{}`, which has a guard: guards may not nest",
            call.host.attribute_name(class, index as u32)
        );
        return call.abort(why);
    }
    // From here on the host is reached through `frame.host` only: a guard
    // re-borrows it.
    let HelperCall { ctx, frame, .. } = call;
    let by = EntryRef::new(frame.ext, frame.entry);
    let app = frame.app;
    let outcome = match guard {
        None => WriteOutcome::Written { applied: None },
        // SAFETY: `frame.host` is the running invocation's host, and this
        // helper holds no reference into it across the guard.
        Some(guard) => match unsafe { Host::run_guard(frame.host, frame.depth + 1, guard, app, value) } {
            Ok((_, true)) => WriteOutcome::Blocked,
            Ok((applied, false)) => WriteOutcome::Written { applied: Some(applied) },
            Err(trap) => WriteOutcome::GuardTrapped(trap),
        },
    };
    // SAFETY: the guard has returned: as in `HelperCall::begin`, this
    // helper is the host's only user until it returns.
    let host = unsafe { &mut *frame.host };
    if host.deadline.as_ref().is_some_and(|d| d.was_passed()) {
        // The deadline passed in the guard: the invocation stops at its
        // next fuel check, not a slice later (where a loop of writes could
        // start a guard per helper call).
        frame.reserve = 0;
        // SAFETY: compiled code is suspended in this helper call, and reads
        // the counter again at its next check.
        unsafe { (*ctx).fuel = 0 };
    }
    let a = &mut host.apps[app];
    let row = &a.values[class];
    let old = row[index].get();
    match outcome {
        WriteOutcome::Written { applied } => {
            row[index].set(value);
            if applied.is_some() {
                a.applied[class][index] = applied;
            }
        }
        WriteOutcome::Blocked => a.blocked = true,
        WriteOutcome::GuardTrapped(_) => {}
    }
    host.changes.push(Change {
        app: AppId(app as u32),
        class,
        attr: index as u32,
        old,
        new: value,
        by,
        outcome,
    });
    0
}

unsafe extern "C" fn raise_event(ctx: *mut Ctx, event: i64, value: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    // One lookup: the event is checked and counted through it.
    let Some(ext) = call.host.ext_mut(call.frame.ext) else {
        return call.abort("raise_event: the extension is not loaded".into());
    };
    let Some(&id) = usize::try_from(event).ok().and_then(|e| ext.event_map.get(e)) else {
        let why = format!("raise_event: event #{event} is not one of the extension's");
        return call.abort(why);
    };
    ext.counters.events_raised += 1;
    call.host.raise(call.frame.app, id, value);
    0
}

unsafe extern "C" fn now_us(ctx: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    call.host.now_us()
}

/// `trace(value, site)`: kept for the operator ([`Host::take_traces`]),
/// at most [`crate::host::TRACES_PER_INVOCATION`] per invocation and
/// [`crate::host::TRACES_HELD`] until taken; the rest are counted as
/// dropped. Never aborts: tracing cannot change what an extension does.
unsafe extern "C" fn trace(ctx: *mut Ctx, value: i64, site: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    call.frame.traced = call.frame.traced.saturating_add(1);
    let entry = EntryRef::new(call.frame.ext, call.frame.entry);
    call.host.trace(entry, value, site, call.frame.traced);
    0
}

unsafe extern "C" fn block(ctx: *mut Ctx, cap: i64, _: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls helpers with its frame's context.
    let Some(call) = (unsafe { HelperCall::begin(ctx) }) else {
        return 0;
    };
    let granted = call
        .host
        .ext(call.frame.ext)
        .is_some_and(|e| e.rights.contains(Rights::GUARD));
    let class_ok = usize::try_from(cap - 1).is_ok_and(|c| c < call.host.classes.len());
    if !granted || !class_ok {
        return call.abort(format!("block: capability {cap} does not carry the guard right"));
    }
    call.frame.blocked = true;
    0
}

#[cfg(test)]
mod tests {
    //! The checks no verified extension can reach: helpers called with
    //! handles and immediates a hostile (unverified) caller would pass.
    //! And the frame protocol alone, which Miri can check (docs/miri.md);
    //! the tests that load an extension map code, which Miri cannot.
    use super::*;
    use crate::HostConfig;

    fn host_with_pid() -> (Host, ExtId) {
        host_with_pid_and(false)
    }

    /// With the standard guards installed (`guards`), or none.
    fn host_with_pid_and(guards: bool) -> (Host, ExtId) {
        let mut host = crate::system::host(HostConfig::default(), guards).unwrap();
        let app = host.create_app("a").unwrap();
        let source = include_str!("../../examples/pop/cpu_pid.pop");
        let ext = host
            .load(app, &bench::compile_object("pid.pop", source, false).unwrap())
            .unwrap();
        host.write_attribute(app, "target_cpu", 77).unwrap();
        (host, ext)
    }

    /// Prepares `frame` for an invocation of `ext` for application 0 acting
    /// through `host`, as `Host::invoke` does; returns the context pointer
    /// compiled code would pass its helpers.
    fn prepare_for(frame: &mut Frame, host: &mut Host, ext: ExtId) -> *mut Ctx {
        let frame = NonNull::from(frame);
        let invocation = Invocation {
            ext,
            entry: 0,
            app: 0,
            fuel: 1_000,
            slice: u64::MAX,
            func: 0,
            entry_fuel: 0,
            data: std::ptr::null_mut(),
            attrs: std::ptr::null(),
        };
        // SAFETY: the frame is the caller's: no code runs in it, no other
        // thread sees it, and no reference to it is live.
        unsafe { prepare(frame, host, &invocation) };
        Frame::ctx_ptr(frame.as_ptr())
    }

    /// Calls helper `id` as extension `ext` of application 0 would.
    fn call(host: &mut Host, ext: ExtId, id: usize, args: [i64; 3]) -> (i64, u64, Option<String>) {
        let mut frame = new_frame(0);
        let ctx = prepare_for(&mut frame, host, ext);
        // SAFETY: `ctx` heads a frame prepared for this host and extension,
        // and neither the frame nor the host is used until the helper
        // returns.
        let ret = unsafe { HELPER_TABLE[id](ctx, args[0], args[1], args[2]) };
        (ret, frame.ctx.status, host.abort_reason.take())
    }

    const TARGET_CPU: i64 = 1;
    const TIMESLICE: i64 = 5;

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn helpers_accept_the_handle_the_host_gave() {
        let (mut host, ext) = host_with_pid();
        assert_eq!(call(&mut host, ext, 1, [1, TIMESLICE, 42]), (0, status::OK, None));
        let app = host.app_by_name("a").unwrap();
        assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 42);
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn the_attribute_read_slot_is_not_a_call() {
        let (mut host, ext) = host_with_pid();
        let (ret, st, why) = call(&mut host, ext, 0, [1, TARGET_CPU, 0]);
        assert_eq!((ret, st), (0, status::HOST_ABORT));
        assert!(why.unwrap().contains("not a call"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn a_forged_capability_number_aborts_the_invocation() {
        let (mut host, ext) = host_with_pid();
        for cap in [0, 2, -1, i64::MAX] {
            let (_, st, why) = call(&mut host, ext, 1, [cap, TIMESLICE, 0]);
            assert_eq!(st, status::HOST_ABORT, "cap {cap}");
            assert!(why.unwrap().contains("is not the extension's capability"));
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn forged_immediates_and_events_abort_the_invocation() {
        let (mut host, ext) = host_with_pid();
        let cases = [
            (1, [1, 7 << 32 | 1, 0], "names no class"),
            (1, [1, 99, 0], "has no attribute #99"),
            (1, [1, TARGET_CPU, 5], "is read-only"),
            (2, [42, 1, 0], "is not one of the extension's"),
            (4, [1, 0, 0], "guard right"),
        ];
        for (id, args, expected) in cases {
            let (_, st, why) = call(&mut host, ext, id, args);
            assert_eq!(st, status::HOST_ABORT, "{expected}");
            let why = why.unwrap();
            assert!(why.contains(expected), "{why}");
        }
        let (_, st, why) = call(&mut host, ext, 1, [1, TIMESLICE, 2_000_000]);
        assert_eq!(st, status::HOST_ABORT);
        assert!(why.unwrap().contains("outside the range"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn a_guarded_write_from_a_guards_frame_aborts() {
        // The verifier refuses a guard with the write right (V0301), so no
        // verified guard gets here; a write from the last frame would need
        // another, on a stack that must stay bounded.
        let (mut host, ext) = host_with_pid_and(true);
        let mut frame = new_frame(abi::FRAMES - 1);
        let ctx = prepare_for(&mut frame, &mut host, ext);
        // SAFETY: `ctx` heads a frame prepared for this host and extension,
        // and neither is used until the helper returns.
        let ret = unsafe { HELPER_TABLE[1](ctx, 1, TIMESLICE, 42) };
        assert_eq!((ret, frame.ctx.status), (0, status::HOST_ABORT));
        assert!(host.abort_reason.take().unwrap().contains("guards may not nest"));
        let app = host.app_by_name("a").unwrap();
        assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 0, "no write");
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads an extension: maps code")]
    fn after_an_abort_every_helper_refuses_to_act() {
        let (mut host, ext) = host_with_pid();
        let mut frame = new_frame(0);
        let ctx = prepare_for(&mut frame, &mut host, ext);
        // SAFETY: `ctx` heads a frame prepared for this host and extension,
        // and neither the frame nor the host is used until the helpers
        // return; the status is read through `ctx` between calls.
        unsafe {
            HELPER_TABLE[1](ctx, 9, TIMESLICE, 0);
            assert_eq!((*ctx).status, status::HOST_ABORT);
            HELPER_TABLE[1](ctx, 1, TIMESLICE, 42);
            HELPER_TABLE[2](ctx, 0, 1, 0);
        }
        let app = host.app_by_name("a").unwrap();
        assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 0, "no write");
        assert!(host.take_changes().is_empty());
        assert!(host.apps[0].queue.is_empty(), "no event");
    }

    /// No code mapped: under Miri, this checks that helpers reach the host
    /// part of their frame through the context pointer, and take no
    /// reference to the context.
    #[test]
    fn helpers_use_their_frame_through_the_context_pointer() {
        let mut host = Host::new(HostConfig {
            deadline: None,
            ..HostConfig::default()
        })
        .unwrap();
        host.set_clock_us(1234);
        let mut frame = new_frame(0);
        let ctx = prepare_for(&mut frame, &mut host, ExtId::NONE);
        // SAFETY: `ctx` heads a frame prepared for this host, and neither
        // the frame nor the host is used until the helpers return.
        let returned = unsafe {
            [
                HELPER_TABLE[3](ctx, 0, 0, 0),
                // No extension is loaded: the write aborts.
                HELPER_TABLE[1](ctx, 1, TIMESLICE, 42),
                HELPER_TABLE[3](ctx, 0, 0, 0),
            ]
        };
        assert_eq!(returned, [1234, 0, 0], "after the abort, now_us does nothing");
        assert_eq!(frame.ctx.status, status::HOST_ABORT);
        assert!(host.abort_reason.take().unwrap().contains("not loaded"));
        assert!(host.take_changes().is_empty());
    }

    /// A fuel check as compiled code makes it: subtracts `n` and, if that
    /// leaves the counter negative, refuels (what the trampoline calls).
    /// Whether the code runs on.
    fn check(ctx: *mut Ctx, n: i64) -> bool {
        // SAFETY: `ctx` heads a frame prepared for a live host, used by
        // nothing else meanwhile, as compiled code would use it.
        unsafe {
            (*ctx).fuel -= n;
            if (*ctx).fuel < 0 {
                refuel_from_host(ctx);
            }
            (*ctx).fuel >= 0
        }
    }

    /// Prepares `frame` for an invocation of `budget` fuel (entry fuel 10)
    /// handed out in slices of `slice`.
    fn prepare_sliced(frame: &mut Frame, host: &mut Host, budget: u64, slice: u64) -> *mut Ctx {
        let frame = NonNull::from(frame);
        let invocation = Invocation {
            ext: ExtId::NONE,
            entry: 0,
            app: 0,
            fuel: budget,
            slice,
            func: 0,
            entry_fuel: 10,
            data: std::ptr::null_mut(),
            attrs: std::ptr::null(),
        };
        // SAFETY: the frame is the caller's: no code runs in it, no other
        // thread sees it, and no reference to it is live.
        assert!(unsafe { prepare(frame, host, &invocation) });
        Frame::ctx_ptr(frame.as_ptr())
    }

    #[test]
    fn refuel_hands_out_the_budget_in_slices_and_stops_where_the_whole_budget_would() {
        let mut host = Host::new(HostConfig {
            deadline: Some(std::time::Duration::from_secs(3600)),
            ..HostConfig::default()
        })
        .unwrap();
        let mut frame = new_frame(0);
        let budget = 3 * crate::deadline::SLICE + 100;
        let ctx = prepare_sliced(&mut frame, &mut host, budget, crate::deadline::SLICE);
        assert_eq!(frame.ctx.fuel, crate::deadline::SLICE as i64);
        assert_eq!(frame.info.reserve, budget - 10 - crate::deadline::SLICE);
        // Checks of 1,000 units: the budget less the entry charge covers
        // exactly this many, as with the whole budget in the counter.
        let covered = (budget - 10) / 1_000;
        for k in 0..covered {
            assert!(check(ctx, 1_000), "check {k} of {covered} stopped");
        }
        // SAFETY: no code runs in the frame.
        let used = unsafe { fuel_used(NonNull::from(&mut frame), budget) };
        assert_eq!(used, 10 + covered * 1_000);
        assert!(!check(ctx, 1_000), "ran past the budget");
        assert_eq!(frame.info.reserve, 0);
        assert!(frame.ctx.fuel < 0);
        // SAFETY: no code runs in the frame.
        assert_eq!(unsafe { fuel_used(NonNull::from(&mut frame), budget) }, budget);
        assert!(!host.deadline.as_ref().unwrap().was_passed());
    }

    #[test]
    fn without_a_deadline_the_whole_budget_is_in_the_counter() {
        let mut host = Host::new(HostConfig {
            deadline: None,
            ..HostConfig::default()
        })
        .unwrap();
        let mut frame = new_frame(0);
        let ctx = prepare_sliced(&mut frame, &mut host, 100_000, u64::MAX);
        assert_eq!((frame.ctx.fuel, frame.info.reserve), (99_990, 0));
        assert!(check(ctx, 99_990));
        assert!(!check(ctx, 1));
    }

    #[test]
    fn refuel_stops_an_invocation_past_its_deadline_and_the_stop_holds() {
        let mut host = Host::new(HostConfig {
            deadline: Some(std::time::Duration::from_millis(2)),
            ..HostConfig::default()
        })
        .unwrap();
        let mut frame = new_frame(0);
        let ctx = prepare_sliced(&mut frame, &mut host, u64::MAX >> 8, crate::deadline::SLICE);
        host.deadline.as_mut().unwrap().start();
        let t0 = std::time::Instant::now();
        let mut slices = 0u64;
        while check(ctx, crate::deadline::SLICE as i64) {
            slices += 1;
            assert!(t0.elapsed() < std::time::Duration::from_secs(10), "never stopped");
        }
        assert!(slices > 1, "stopped at once");
        assert!(host.deadline.as_ref().unwrap().was_passed());
        // The invocation a guard returns to stops at its next refuel too.
        assert!(!check(ctx, crate::deadline::SLICE as i64 + 1));
    }

    #[test]
    fn the_table_is_the_stdlib_helper_table() {
        assert_eq!(HELPER_TABLE.len(), stdlib::HELPERS.len());
    }
}
