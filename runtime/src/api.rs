//! The SafeX API behind the helper table: what compiled code reaches
//! through `ctx.helpers` (`stdlib::HELPERS`, by id).
//!
//! A helper receives the context of the running invocation. The context is
//! the first field of a [`Frame`], which adds what the host needs to act for
//! that invocation: the host, the extension and the application it runs
//! for. Every helper re-checks what the verifier proved of its caller
//! (capability class and rights, read-only attributes, ranges) so that a
//! host never trusts a handle's number: a failed check ends the invocation
//! with `HOST_ABORT` and says why.
//!
//! A helper never raises an exception the extension could catch, so
//! compiled code does not test the status after a helper call (ABI 2). An
//! abort is sticky instead: once the status is set, every helper returns 0
//! without acting, the extension runs on (fuel still bounds it) until it
//! returns, and the host reports the abort.

use crate::host::{AppId, Change, EntryRef, ExtId, Host, NO_SITE, WriteOutcome};
use stdlib::Rights;
use stdlib::abi::{Ctx, HelperFn, status};
use tal_ir::AttrType;

/// A context and who it runs for. `#[repr(C)]` with the context first, so a
/// `*mut Ctx` a helper receives is a `*mut Frame`.
#[repr(C)]
pub(crate) struct Frame {
    pub(crate) ctx: Ctx,
    host: *mut Host,
    ext: ExtId,
    /// The entry point the invocation started at (for reports).
    entry: usize,
    app: usize,
    /// A guard run in this frame called `block`.
    pub(crate) blocked: bool,
}

impl Frame {
    pub(crate) fn empty() -> Frame {
        Frame {
            ctx: Ctx::new(0, HELPER_TABLE.as_ptr(), std::ptr::null_mut(), std::ptr::null()),
            host: std::ptr::null_mut(),
            ext: ExtId::NONE,
            entry: 0,
            app: 0,
            blocked: false,
        }
    }

    /// Prepares the frame for an invocation of `ext` for `app`; the caller
    /// then sets `ctx.data` and `ctx.attrs`.
    #[inline]
    pub(crate) fn reset(&mut self, host: *mut Host, ext: ExtId, entry: usize, app: usize, fuel: u64) {
        // Fuel budgets are at most `HostConfig::max_fuel`, far below i64::MAX.
        self.ctx.fuel = fuel.min(i64::MAX as u64) as i64;
        self.ctx.status = status::OK;
        self.ctx.interrupt = 0;
        self.ctx.trap_func = NO_SITE;
        self.host = host;
        self.ext = ext;
        self.entry = entry;
        self.app = app;
        self.blocked = false;
    }
}

/// The helper table, in `stdlib::HELPERS` order.
pub(crate) static HELPER_TABLE: [HelperFn; 5] = [attribute_read_slot, set_attribute, raise_event, now_us, block];

/// Calls an entry point: `(ctx, cap)` for a monitor, `(ctx, cap, value)`
/// for a handler or guard.
///
/// # Safety
/// `code` is a linked entry point of that shape and `frame` a prepared frame.
#[inline]
pub(crate) unsafe fn call_entry(code: *const u8, frame: *mut Frame, cap: i64, value: Option<i64>) -> i64 {
    type Monitor = unsafe extern "C" fn(*mut Ctx, i64) -> i64;
    type WithValue = unsafe extern "C" fn(*mut Ctx, i64, i64) -> i64;
    let ctx = frame.cast::<Ctx>();
    // SAFETY: see the function's contract.
    unsafe {
        match value {
            None => std::mem::transmute::<*const u8, Monitor>(code)(ctx, cap),
            Some(v) => std::mem::transmute::<*const u8, WithValue>(code)(ctx, cap, v),
        }
    }
}

/// Ends the invocation: the extension broke a rule only the host can see.
fn abort(frame: &mut Frame, host: &mut Host, why: String) -> i64 {
    frame.ctx.status = status::HOST_ABORT;
    host.abort_reason = Some(why);
    0
}

/// The host class and attribute an `(capability, attribute immediate)`
/// pair names, if the invoked extension holds `right` on it.
fn resolve(frame: &Frame, host: &Host, cap: i64, attr: i64, right: Rights) -> Result<(usize, usize), String> {
    let ext = host.ext(frame.ext).ok_or("the extension is not loaded")?;
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

/// Splits a helper's context into its frame and host; `None` once the
/// invocation has been aborted (the helper must then do nothing).
///
/// # Safety
/// `ctx` is the context of a frame prepared by the host, in a running
/// invocation, and the caller keeps both references only until it calls
/// back into extension code.
unsafe fn active<'a>(ctx: *mut Ctx) -> Option<(&'a mut Frame, &'a mut Host)> {
    let frame = ctx.cast::<Frame>();
    // SAFETY: see the contract; the frame is not part of the host.
    let (frame, host) = unsafe { (&mut *frame, &mut *(*frame).host) };
    (frame.ctx.status == status::OK).then_some((frame, host))
}

/// Slot 0, `get_attribute`'s id: compiled code reads attributes from
/// `ctx.attrs` and never calls it (`stdlib::abi`). Were it called, the
/// invocation ends.
unsafe extern "C" fn attribute_read_slot(ctx: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    // SAFETY: called by compiled code with its invocation's context.
    let Some((frame, host)) = (unsafe { active(ctx) }) else {
        return 0;
    };
    abort(
        frame,
        host,
        "get_attribute: slot 0 of the helper table is not a call".into(),
    )
}

unsafe extern "C" fn set_attribute(ctx: *mut Ctx, cap: i64, attr: i64, value: i64) -> i64 {
    // SAFETY: called by compiled code with its invocation's context.
    let Some((frame, host)) = (unsafe { active(ctx) }) else {
        return 0;
    };
    let (class, index) = match resolve(frame, host, cap, attr, Rights::WRITE) {
        Ok(found) => found,
        Err(why) => return abort(frame, host, format!("set_attribute: {why}")),
    };
    let def = &host.classes[class].attrs[index];
    if def.readonly {
        let why = format!(
            "set_attribute: `{}` is read-only",
            host.attribute_name(class, index as u32)
        );
        return abort(frame, host, why);
    }
    if def.ty == AttrType::Bool && !(0..=1).contains(&value) {
        let why = format!("set_attribute: {value} is not a bool");
        return abort(frame, host, why);
    }
    if let Some((lo, hi)) = def.range
        && !(lo..=hi).contains(&value)
    {
        // Verified code passes `check.range` (a catchable `RangeError`)
        // before it gets here.
        let why = format!(
            "set_attribute: {value} is outside the range {lo}..={hi} of `{}`",
            host.attribute_name(class, index as u32)
        );
        return abort(frame, host, why);
    }
    let by = EntryRef::new(frame.ext, frame.entry);
    let app = frame.app;
    let outcome = match host.guards.get(&(class, index as u32)).copied() {
        None => WriteOutcome::Written { applied: None },
        Some(guard) => {
            let host_ptr: *mut Host = host;
            // SAFETY: no reference into the host is used across the guard.
            match unsafe { Host::run_guard(host_ptr, guard, app, value) } {
                Ok((_, true)) => WriteOutcome::Blocked,
                Ok((applied, false)) => WriteOutcome::Written { applied: Some(applied) },
                Err(trap) => WriteOutcome::GuardTrapped(trap),
            }
        }
    };
    // SAFETY: the guard has returned: re-borrow the host.
    let host = unsafe { &mut *frame.host };
    let a = &mut host.apps[app];
    let old = a.values[class][index];
    match outcome {
        WriteOutcome::Written { applied } => {
            a.values[class][index] = value;
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
    // SAFETY: called by compiled code with its invocation's context.
    let Some((frame, host)) = (unsafe { active(ctx) }) else {
        return 0;
    };
    let Some(ext) = host.ext(frame.ext) else {
        return abort(frame, host, "raise_event: the extension is not loaded".into());
    };
    let Some(&id) = usize::try_from(event).ok().and_then(|e| ext.event_map.get(e)) else {
        let why = format!("raise_event: event #{event} is not one of the extension's");
        return abort(frame, host, why);
    };
    host.raise(frame.app, id, value);
    if let Some(ext) = host.ext_mut(frame.ext) {
        ext.counters.events_raised += 1;
    }
    0
}

unsafe extern "C" fn now_us(ctx: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    // SAFETY: called by compiled code with its invocation's context.
    let Some((_, host)) = (unsafe { active(ctx) }) else {
        return 0;
    };
    host.now_us()
}

unsafe extern "C" fn block(ctx: *mut Ctx, cap: i64, _: i64, _: i64) -> i64 {
    // SAFETY: called by compiled code with its invocation's context.
    let Some((frame, host)) = (unsafe { active(ctx) }) else {
        return 0;
    };
    let granted = host.ext(frame.ext).is_some_and(|e| e.rights.contains(Rights::GUARD));
    let class_ok = usize::try_from(cap - 1).is_ok_and(|c| c < host.classes.len());
    if !granted || !class_ok {
        return abort(
            frame,
            host,
            format!("block: capability {cap} does not carry the guard right"),
        );
    }
    frame.blocked = true;
    0
}

#[cfg(test)]
mod tests {
    //! The checks no verified extension can reach: helpers called with
    //! handles and immediates a hostile (unverified) caller would pass.
    use super::*;
    use crate::HostConfig;

    fn host_with_pid() -> (Host, ExtId) {
        let mut host = crate::system::host(HostConfig::default(), false).unwrap();
        let app = host.create_app("a").unwrap();
        let source = include_str!("../../examples/pop/cpu_pid.pop");
        let ext = host
            .load(app, &crate::system::compile_object("pid.pop", source, false).unwrap())
            .unwrap();
        host.write_attribute(app, "target_cpu", 77).unwrap();
        (host, ext)
    }

    /// Calls helper `id` as extension `ext` of application 0 would.
    fn call(host: &mut Host, ext: ExtId, id: usize, args: [i64; 3]) -> (i64, u64, Option<String>) {
        let mut frame = Frame::empty();
        frame.reset(host, ext, 0, 0, 1_000);
        // SAFETY: the frame is prepared for this host and extension.
        let ret = unsafe { HELPER_TABLE[id](&mut frame.ctx, args[0], args[1], args[2]) };
        (ret, frame.ctx.status, host.abort_reason.take())
    }

    const TARGET_CPU: i64 = 1;
    const TIMESLICE: i64 = 5;

    #[test]
    fn helpers_accept_the_handle_the_host_gave() {
        let (mut host, ext) = host_with_pid();
        assert_eq!(call(&mut host, ext, 1, [1, TIMESLICE, 42]), (0, status::OK, None));
        let app = host.app_by_name("a").unwrap();
        assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 42);
    }

    #[test]
    fn the_attribute_read_slot_is_not_a_call() {
        let (mut host, ext) = host_with_pid();
        let (ret, st, why) = call(&mut host, ext, 0, [1, TARGET_CPU, 0]);
        assert_eq!((ret, st), (0, status::HOST_ABORT));
        assert!(why.unwrap().contains("not a call"));
    }

    #[test]
    fn a_forged_capability_number_aborts_the_invocation() {
        let (mut host, ext) = host_with_pid();
        for cap in [0, 2, -1, i64::MAX] {
            let (_, st, why) = call(&mut host, ext, 1, [cap, TIMESLICE, 0]);
            assert_eq!(st, status::HOST_ABORT, "cap {cap}");
            assert!(why.unwrap().contains("is not the extension's capability"));
        }
    }

    #[test]
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
    fn after_an_abort_every_helper_refuses_to_act() {
        let (mut host, ext) = host_with_pid();
        let mut frame = Frame::empty();
        frame.reset(&mut host, ext, 0, 0, 1_000);
        let ctx = &raw mut frame.ctx;
        // SAFETY: the frame is prepared for this host and extension.
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

    #[test]
    fn the_table_is_the_stdlib_helper_table() {
        assert_eq!(HELPER_TABLE.len(), stdlib::HELPERS.len());
    }
}
