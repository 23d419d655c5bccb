//! The C functions called as C calls them, from a thread outside any
//! runtime: what they refuse before the daemon sees anything (NULL
//! pointers, names that are not UTF-8, NULL out-pointers, oversize
//! objects, bad rights), the daemon's refusals as errno-like values and
//! codes, the notices of a subscription, its end, and panics caught at the
//! boundary.

mod common;

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use common::{CPU_PID, Daemon};
use safex::*;

/// `client`'s last error (the thread's if NULL): code and message.
fn last(client: *const safex_client) -> (String, String) {
    // SAFETY: NULL or a live client of this thread; the strings are read
    // before its next call.
    unsafe {
        (
            CStr::from_ptr(safex_client_errcode(client))
                .to_string_lossy()
                .into_owned(),
            CStr::from_ptr(safex_client_last_error(client))
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Asserts that `result` is `-errno` with `code` as `client`'s last error;
/// returns its message.
#[track_caller]
fn refused(client: *const safex_client, result: c_int, errno: c_int, code: &str) -> String {
    let (got, message) = last(client);
    assert_eq!((result, got.as_str()), (-errno, code), "{message}");
    assert!(!message.is_empty());
    message
}

#[track_caller]
fn ok(client: *const safex_client, result: c_int) {
    let (code, message) = last(client);
    assert_eq!(result, 0, "error[{code}]: {message}");
    assert_eq!((code.as_str(), message.as_str()), ("", ""));
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL")
}

/// A client of `socket`, freed when dropped.
struct Client(*mut safex_client);

impl Client {
    fn connect(socket: &Path) -> Client {
        let mut out = ptr::null_mut();
        // SAFETY: a NUL-terminated path and a writable out-pointer.
        let r = unsafe { safex_client_connect(path(socket).as_ptr(), &mut out) };
        ok(ptr::null(), r);
        assert!(!out.is_null());
        Client(out)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: made by `safex_client_connect`, freed once.
        unsafe { safex_client_free(self.0) };
    }
}

const NOT_UTF8: &[u8] = b"vid\xffeo\0";

fn not_utf8() -> *const c_char {
    NOT_UTF8.as_ptr().cast()
}

#[test]
fn calls_without_a_daemon_or_a_client_are_refused_with_the_thread_s_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let none = dir.path().join("none.sock");
    let sentinel = 0x10 as *mut safex_client;
    let mut out = sentinel;
    // SAFETY: valid strings and out-pointer.
    let r = unsafe { safex_client_connect(path(&none).as_ptr(), &mut out) };
    let message = refused(ptr::null(), r, libc::ECONNREFUSED, "D0012");
    assert!(message.contains("none.sock"), "{message}");
    assert_eq!(out, sentinel, "*out is left alone on failure");
    // SAFETY: NULL out-pointer, which the library refuses.
    let r = unsafe { safex_client_connect(path(&none).as_ptr(), ptr::null_mut()) };
    refused(ptr::null(), r, libc::EINVAL, "D0200");
    // The default socket: nothing listens there on a test machine, or
    // something does; either way no crash, and a failure is D0012.
    // SAFETY: NULL socket (the default) and a writable out-pointer.
    let r = unsafe { safex_client_connect(ptr::null(), &mut out) };
    if r == 0 {
        // SAFETY: just made.
        unsafe { safex_client_free(out) };
    } else {
        refused(ptr::null(), r, libc::ECONNREFUSED, "D0012");
    }

    // Every call on a NULL client: EINVAL, D0200, on the thread.
    let app = c("video");
    let mut id = 0u64;
    let mut value = 0i64;
    let mut sub = ptr::null_mut();
    let mut notice = safex_notice::default();
    let null = ptr::null_mut();
    // SAFETY: NULL clients are refused before anything else is read.
    let results = unsafe {
        [
            safex_app_create(null, app.as_ptr()),
            safex_deploy(null, app.as_ptr(), ptr::null(), 0, &mut id),
            safex_undeploy(null, 1),
            safex_attr_read(null, app.as_ptr(), app.as_ptr(), &mut value),
            safex_attr_write(null, app.as_ptr(), app.as_ptr(), 1),
            safex_grant(null, app.as_ptr(), 1001, SAFEX_RIGHT_READ),
            safex_revoke(null, app.as_ptr(), 1001),
            safex_subscribe(null, app.as_ptr(), 0, &mut sub),
            safex_subscription_next(null, ptr::null_mut(), 0, &mut notice),
        ]
    };
    for r in results {
        let message = refused(ptr::null(), r, libc::EINVAL, "D0200");
        assert_eq!(message, "the client is NULL");
    }
    // Freeing NULL does nothing.
    // SAFETY: NULL is allowed.
    unsafe {
        safex_client_free(ptr::null_mut());
        safex_subscription_free(ptr::null_mut());
    }
    // Another thread has its own error: none yet.
    let other = std::thread::spawn(|| last(ptr::null())).join().expect("joins");
    assert_eq!(other, (String::new(), String::new()));
}

#[test]
fn arguments_are_checked_before_the_daemon_sees_them() {
    let daemon = Daemon::start();
    let client = Client::connect(daemon.socket());
    let cl = client.0;
    let app = c("video");
    // SAFETY (every call below): a live client of this thread, strings
    // NUL-terminated, out-pointers writable, or NULL where refused.
    ok(cl, unsafe { safex_app_create(cl, app.as_ptr()) });

    let r = unsafe { safex_app_create(cl, ptr::null()) };
    assert_eq!(refused(cl, r, libc::EINVAL, "D0200"), "the application name is NULL");
    let r = unsafe { safex_app_create(cl, not_utf8()) };
    assert_eq!(
        refused(cl, r, libc::EINVAL, "D0200"),
        "the application name is not UTF-8 (byte 3)"
    );
    // A success clears the error.
    let other = c("other");
    ok(cl, unsafe { safex_app_create(cl, other.as_ptr()) });

    let object = std::fs::read(CPU_PID).expect("the object");
    let mut id = 0u64;
    let r = unsafe { safex_deploy(cl, app.as_ptr(), object.as_ptr().cast(), object.len(), ptr::null_mut()) };
    refused(cl, r, libc::EINVAL, "D0200");
    let r = unsafe { safex_deploy(cl, not_utf8(), object.as_ptr().cast(), object.len(), &mut id) };
    refused(cl, r, libc::EINVAL, "D0200");
    let r = unsafe { safex_deploy(cl, app.as_ptr(), ptr::null(), 5, &mut id) };
    refused(cl, r, libc::EINVAL, "D0200");
    // Over the limit: refused on its length alone (the one byte behind the
    // pointer is never read past).
    let byte = 0u8;
    let r = unsafe {
        safex_deploy(
            cl,
            app.as_ptr(),
            (&raw const byte).cast::<c_void>(),
            SAFEX_MAX_OBJECT_BYTES + 1,
            &mut id,
        )
    };
    assert!(refused(cl, r, libc::E2BIG, "D0004").contains("16777217"));
    let r = unsafe { safex_deploy(cl, app.as_ptr(), (&raw const byte).cast(), usize::MAX, &mut id) };
    refused(cl, r, libc::E2BIG, "D0004");
    assert_eq!(id, 0, "*id_out is left alone on failure");
    // None of those reached the daemon.
    let rust = daemon.rust_client();
    assert!(
        rust.list(Some("video")).expect("lists").applications[0]
            .extensions
            .is_empty()
    );

    let attr = c("target_cpu");
    let mut value = -1i64;
    let r = unsafe { safex_attr_read(cl, app.as_ptr(), attr.as_ptr(), ptr::null_mut()) };
    refused(cl, r, libc::EINVAL, "D0200");
    let r = unsafe { safex_attr_read(cl, app.as_ptr(), not_utf8(), &mut value) };
    assert_eq!(
        refused(cl, r, libc::EINVAL, "D0200"),
        "the attribute name is not UTF-8 (byte 3)"
    );
    let r = unsafe { safex_attr_write(cl, app.as_ptr(), ptr::null(), 5) };
    refused(cl, r, libc::EINVAL, "D0200");
    let r = unsafe { safex_attr_write(cl, ptr::null(), attr.as_ptr(), 5) };
    refused(cl, r, libc::EINVAL, "D0200");
    assert_eq!(value, -1);

    for rights in [0, 4, 7, u32::MAX] {
        let r = unsafe { safex_grant(cl, app.as_ptr(), 1001, rights) };
        refused(cl, r, libc::EINVAL, "D0016");
    }
    let r = unsafe { safex_revoke(cl, not_utf8(), 1001) };
    refused(cl, r, libc::EINVAL, "D0200");
    assert!(
        rust.list(Some("video")).expect("lists").applications[0]
            .grants
            .is_empty()
    );

    let mut sub = ptr::null_mut();
    let r = unsafe { safex_subscribe(cl, app.as_ptr(), 0, ptr::null_mut()) };
    refused(cl, r, libc::EINVAL, "D0200");
    let r = unsafe { safex_subscribe(cl, ptr::null(), 0, &mut sub) };
    refused(cl, r, libc::EINVAL, "D0200");
    assert!(sub.is_null());
    ok(cl, unsafe { safex_subscribe(cl, app.as_ptr(), 0, &mut sub) });
    let mut notice = safex_notice::default();
    let r = unsafe { safex_subscription_next(cl, ptr::null_mut(), 0, &mut notice) };
    assert_eq!(refused(cl, r, libc::EINVAL, "D0200"), "the subscription is NULL");
    let r = unsafe { safex_subscription_next(cl, sub, 0, ptr::null_mut()) };
    refused(cl, r, libc::EINVAL, "D0200");
    // A subscription is read with the client that made it.
    let other_client = Client::connect(daemon.socket());
    let r = unsafe { safex_subscription_next(other_client.0, sub, 0, &mut notice) };
    assert_eq!(
        refused(other_client.0, r, libc::EINVAL, "D0200"),
        "the subscription was made by another client"
    );
    // SAFETY: made by `safex_subscribe`, freed once.
    unsafe { safex_subscription_free(sub) };
}

#[test]
fn the_daemon_s_refusals_carry_their_codes_and_errno_values() {
    let daemon = Daemon::start();
    let client = Client::connect(daemon.socket());
    let cl = client.0;
    let app = c("video");
    let nowhere = c("nowhere");
    // SAFETY (every call below): a live client of this thread, strings
    // NUL-terminated, out-pointers writable.
    ok(cl, unsafe { safex_app_create(cl, app.as_ptr()) });
    let r = unsafe { safex_app_create(cl, app.as_ptr()) };
    refused(cl, r, libc::EEXIST, "L0104");
    let r = unsafe { safex_app_create(cl, c("no spaces").as_ptr()) };
    refused(cl, r, libc::EINVAL, "D0005");

    let object = std::fs::read(CPU_PID).expect("the object");
    let mut id = 0u64;
    let r = unsafe { safex_deploy(cl, nowhere.as_ptr(), object.as_ptr().cast(), object.len(), &mut id) };
    refused(cl, r, libc::ENOENT, "D0002");
    let garbage = b"not an object";
    let r = unsafe { safex_deploy(cl, app.as_ptr(), garbage.as_ptr().cast(), garbage.len(), &mut id) };
    let (code, _) = last(cl);
    assert_eq!(r, -libc::EINVAL);
    assert!(
        code.starts_with(['L', 'C', 'V']) && code.len() == 5,
        "the host's code: {code}"
    );
    let r = unsafe { safex_deploy(cl, app.as_ptr(), ptr::null(), 0, &mut id) };
    assert_eq!(r, -libc::EINVAL, "an empty object: {:?}", last(cl));
    ok(cl, unsafe {
        safex_deploy(cl, app.as_ptr(), object.as_ptr().cast(), object.len(), &mut id)
    });
    assert!(id > 0);

    let target = c("target_cpu");
    ok(cl, unsafe { safex_attr_write(cl, app.as_ptr(), target.as_ptr(), 3000) });
    let mut value = 0i64;
    ok(cl, unsafe {
        safex_attr_read(cl, app.as_ptr(), target.as_ptr(), &mut value)
    });
    assert_eq!(value, 3000);
    let qualified = c("cpu_qos.target_cpu");
    ok(cl, unsafe {
        safex_attr_read(cl, app.as_ptr(), qualified.as_ptr(), &mut value)
    });
    assert_eq!(value, 3000);
    let guarded = c("timeslice_adjustment");
    let r = unsafe { safex_attr_write(cl, app.as_ptr(), guarded.as_ptr(), 1) };
    refused(cl, r, libc::EPERM, "D0015");
    let unknown = c("no_such_attribute");
    let r = unsafe { safex_attr_read(cl, app.as_ptr(), unknown.as_ptr(), &mut value) };
    assert_eq!(r, -libc::EINVAL, "{:?}", last(cl));
    let r = unsafe { safex_attr_read(cl, nowhere.as_ptr(), target.as_ptr(), &mut value) };
    refused(cl, r, libc::ENOENT, "D0002");

    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    let r = unsafe { safex_grant(cl, app.as_ptr(), me, SAFEX_RIGHT_READ) };
    refused(cl, r, libc::EINVAL, "D0016");
    ok(cl, unsafe {
        safex_grant(
            cl,
            app.as_ptr(),
            me.wrapping_add(1),
            SAFEX_RIGHT_READ | SAFEX_RIGHT_WRITE,
        )
    });
    let rust = daemon.rust_client();
    let listed = rust.list(Some("video")).expect("lists");
    let grant = &listed.applications[0].grants[0];
    assert_eq!((grant.principal_uid, grant.rights.as_str()), (me.wrapping_add(1), "rw"));
    ok(cl, unsafe { safex_revoke(cl, app.as_ptr(), me.wrapping_add(1)) });
    let r = unsafe { safex_revoke(cl, app.as_ptr(), me.wrapping_add(1)) };
    refused(cl, r, libc::ENOENT, "D0017");

    let mut sub = ptr::null_mut();
    let r = unsafe { safex_subscribe(cl, app.as_ptr(), 3_600_001, &mut sub) };
    refused(cl, r, libc::EINVAL, "D0018");
    let r = unsafe { safex_subscribe(cl, nowhere.as_ptr(), 0, &mut sub) };
    refused(cl, r, libc::ENOENT, "D0002");
    assert!(sub.is_null());

    ok(cl, unsafe { safex_undeploy(cl, id) });
    let r = unsafe { safex_undeploy(cl, id) };
    refused(cl, r, libc::ENOENT, "D0003");

    // The daemon stops: calls fail with a code, and do not crash.
    drop(rust);
    let stopping = daemon.stop_in_background();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = unsafe { safex_attr_read(cl, app.as_ptr(), target.as_ptr(), &mut value) };
        if r < 0 {
            let (code, message) = last(cl);
            assert!(
                ["D0008", "D0012", "D0013"].contains(&code.as_str()),
                "error[{code}]: {message}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the daemon still answers");
    }
    stopping.join().expect("stopped");
}

/// Reads notices until `want` holds of one (10 s at most), copying each.
fn until(cl: *mut safex_client, sub: *mut safex_subscription, what: &str, want: impl Fn(&Seen) -> bool) -> Vec<Seen> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        let mut n = safex_notice::default();
        // SAFETY: a live client and its subscription, on this thread.
        let r = unsafe { safex_subscription_next(cl, sub, 100, &mut n) };
        if r == -libc::EAGAIN {
            assert_eq!(last(cl).0, "D0020");
            continue;
        }
        ok(cl, r);
        let s = Seen::of(&n);
        let done = want(&s);
        seen.push(s);
        if done {
            return seen;
        }
    }
    panic!("no {what} in 10 s; saw {seen:?}");
}

/// A notice copied out of the subscription's storage.
#[derive(Debug)]
enum Seen {
    Event(String, i64, u32),
    Change {
        attribute: String,
        old: i64,
        new: i64,
        extension_id: u64,
        entry: String,
        outcome: String,
        applied: Option<i64>,
    },
    Counters(Vec<(u64, String, u64, String)>),
    Other(#[allow(dead_code, reason = "shown when a test fails")] safex_notice_kind),
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the subscription's string, valid until its next call.
    unsafe { CStr::from_ptr(p) }.to_str().expect("UTF-8").to_string()
}

impl Seen {
    fn of(n: &safex_notice) -> Seen {
        match n.kind {
            safex_notice_kind::SAFEX_NOTICE_EVENT => {
                assert!(n.change.attribute.is_null() && n.counters.extensions.is_null());
                Seen::Event(text(n.event.name), n.event.value, n.event.handlers)
            }
            safex_notice_kind::SAFEX_NOTICE_CHANGE => {
                assert!(n.event.name.is_null());
                let c = &n.change;
                Seen::Change {
                    attribute: text(c.attribute),
                    old: c.old_value,
                    new: c.new_value,
                    extension_id: c.extension_id,
                    entry: text(c.entry),
                    outcome: text(c.outcome),
                    applied: c.has_applied.then_some(c.applied),
                }
            }
            safex_notice_kind::SAFEX_NOTICE_COUNTERS => {
                let c = &n.counters;
                let extensions = if c.count == 0 {
                    assert!(c.extensions.is_null());
                    &[][..]
                } else {
                    // SAFETY: `count` elements, the subscription's until its
                    // next call.
                    unsafe { std::slice::from_raw_parts(c.extensions, c.count) }
                };
                Seen::Counters(
                    extensions
                        .iter()
                        .map(|e| (e.id, text(e.name), e.invocations, text(e.error)))
                        .collect(),
                )
            }
            other => Seen::Other(other),
        }
    }
}

#[test]
fn a_subscription_fills_notices_and_ends_when_the_daemon_stops() {
    let daemon = Daemon::start();
    let client = Client::connect(daemon.socket());
    let cl = client.0;
    let app = c("video");
    let mut sub = ptr::null_mut();
    // SAFETY (every call below): a live client of this thread, its
    // subscription, strings NUL-terminated, out-pointers writable.
    ok(cl, unsafe { safex_app_create(cl, app.as_ptr()) });
    ok(cl, unsafe { safex_subscribe(cl, app.as_ptr(), 0, &mut sub) });
    // Nothing happens yet: a short wait times out, and so does a poll; the
    // subscription goes on.
    let mut n = safex_notice::default();
    let r = unsafe { safex_subscription_next(cl, sub, 30, &mut n) };
    refused(cl, r, libc::EAGAIN, "D0020");
    let r = unsafe { safex_subscription_next(cl, sub, 0, &mut n) };
    refused(cl, r, libc::EAGAIN, "D0020");
    assert_eq!(n.kind, safex_notice_kind::SAFEX_NOTICE_UNKNOWN, "*out left alone");

    let period = c("period");
    ok(cl, unsafe {
        safex_attr_write(cl, app.as_ptr(), period.as_ptr(), 10_000)
    });
    // A poll (timeout 0) sees it once it has arrived.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = unsafe { safex_subscription_next(cl, sub, 0, &mut n) };
        if r == 0 {
            break;
        }
        refused(cl, r, libc::EAGAIN, "D0020");
        assert!(std::time::Instant::now() < deadline, "a poll never saw the write");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    match Seen::of(&n) {
        Seen::Change {
            attribute,
            old: 0,
            new: 10_000,
            extension_id: 0,
            entry,
            outcome,
            applied: None,
        } => assert_eq!(
            (attribute.as_str(), entry.as_str(), outcome.as_str()),
            ("cpu_qos.period", "", "written")
        ),
        other => panic!("not the API's write: {other:?}"),
    }
    let target = c("target_cpu");
    ok(cl, unsafe { safex_attr_write(cl, app.as_ptr(), target.as_ptr(), 3000) });
    let object = std::fs::read(CPU_PID).expect("the object");
    let mut id = 0;
    ok(cl, unsafe {
        safex_deploy(cl, app.as_ptr(), object.as_ptr().cast(), object.len(), &mut id)
    });
    until(
        cl,
        sub,
        "the event",
        |s| matches!(s, Seen::Event(name, 3000, 1) if name == "Error"),
    );
    until(cl, sub, "the handler's write", |s| {
        matches!(s, Seen::Change { attribute, extension_id, entry, outcome, applied: Some(_), .. }
            if attribute == "cpu_qos.timeslice_adjustment" && *extension_id == id
                && entry == "cpu_pid.cpu_pid" && outcome == "written")
    });
    // A second subscription, with counters every 20 ms.
    let mut counted = ptr::null_mut();
    ok(cl, unsafe { safex_subscribe(cl, app.as_ptr(), 20, &mut counted) });
    until(cl, counted, "counters", |s| {
        matches!(s, Seen::Counters(c) if c.iter().any(|(e, name, invocations, error)|
            *e == id && name == "cpu_pid" && *invocations > 0 && error.is_empty()))
    });

    // The daemon stops: the stream ends, and stays ended.
    let stopping = daemon.stop_in_background();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = unsafe { safex_subscription_next(cl, sub, 1000, &mut n) };
        if r == 0 || r == -libc::EAGAIN {
            assert!(std::time::Instant::now() < deadline, "the stream never ended");
            continue;
        }
        refused(cl, r, libc::ESHUTDOWN, "D0008");
        break;
    }
    let r = unsafe { safex_subscription_next(cl, sub, -1, &mut n) };
    refused(cl, r, libc::ESHUTDOWN, "D0008");
    stopping.join().expect("stopped");
    // SAFETY: made by `safex_subscribe`, freed once.
    unsafe { safex_subscription_free(counted) };
    // A subscription may be freed after its client.
    drop(client);
    // SAFETY: made by `safex_subscribe`, freed once.
    unsafe { safex_subscription_free(sub) };
}

#[test]
fn a_panic_is_caught_at_the_boundary() {
    // Inside a runtime, the blocking client cannot block: it panics, and the
    // library reports it instead of unwinding into its caller.
    let daemon = Daemon::start();
    let socket = path(daemon.socket());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (r, code, out) = runtime.block_on(async {
        let mut out = ptr::null_mut();
        // SAFETY: a NUL-terminated path and a writable out-pointer.
        let r = unsafe { safex_client_connect(socket.as_ptr(), &mut out) };
        let (code, _) = last(ptr::null());
        (r, code, out)
    });
    assert_eq!((r, code.as_str()), (-libc::EIO, "D0201"), "{:?}", last(ptr::null()));
    assert!(out.is_null());
    assert!(last(ptr::null()).1.contains("internal error in libsafex"));

    // A client freed inside a runtime is leaked, not a panic into C.
    let client = Client::connect(daemon.socket());
    let raw = client.0;
    std::mem::forget(client);
    runtime.block_on(async {
        // SAFETY: made by `safex_client_connect`, freed once.
        unsafe { safex_client_free(raw) };
    });
}
