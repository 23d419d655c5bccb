//! The C library of the SafeX daemon (`docs/c-library.md`): `libsafex.so`
//! and `libsafex.a`, whose functions `include/safex.h` declares (generated
//! from this file by cbindgen; `tests/header.rs` keeps it up to date). Every
//! function wraps a call of the Rust client, [`safex_rs::BlockingClient`],
//! in libbpf's manner: `0` or a negative errno-like value, the project's
//! code and message of the last failure kept on the client, out-parameters
//! written only on success.
//!
//! The boundary is defensive: a NULL pointer where one is required, a name
//! that is not UTF-8, an object over the daemon's limit, rights out of range
//! are refused with an error, and a panic (a bug) is caught before it could
//! unwind into C and reported as `D0201`. What the boundary cannot check is
//! the C caller's side of the contract, in the header's words: pointers to
//! live objects of the right type, strings NUL-terminated, a client and its
//! subscriptions used by one thread at a time, nothing used after its free.
//!
//! The Rust types are named as C names them (`struct safex_client`, …).
#![allow(non_camel_case_types, reason = "the types are named as the C header names them")]

use std::cell::RefCell;
use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use safex_rs::notice::Kind;
use safex_rs::{BlockingClient, Subscription, codes};

/// Right to read an application's attributes, list it and subscribe to it
/// (`safex_grant`).
pub const SAFEX_RIGHT_READ: u32 = 1;

/// Right to write an application's attributes (`safex_grant`).
pub const SAFEX_RIGHT_WRITE: u32 = 2;

/// The largest object `safex_deploy` takes, in bytes (16 MiB): the daemon's
/// limit. A larger one is refused before anything is sent (`D0004`,
/// `-E2BIG`).
pub const SAFEX_MAX_OBJECT_BYTES: usize = 16_777_216;

const _: () = assert!(SAFEX_MAX_OBJECT_BYTES == safex_rs::MAX_OBJECT_BYTES);

/// The code of an argument the C library refuses before calling the daemon:
/// a NULL pointer where one is required, a name that is not UTF-8, a
/// subscription read with another client than the one that made it.
pub const BAD_ARGUMENT: &str = safex_rs::codes::BAD_ARGUMENT;

/// The code of a failure inside the C library itself: a panic (a bug),
/// caught at the boundary so that it never unwinds into C.
pub const INTERNAL: &str = safex_rs::codes::INTERNAL;

/// A connection to the SafeX daemon (opaque).
///
/// Made by `safex_client_connect`, released by `safex_client_free`. It
/// keeps the error of its last call (`safex_client_errcode`,
/// `safex_client_last_error`). Not thread-safe: a client and its
/// subscriptions may move between threads, but only one thread may use
/// them at a time; use one client per thread, or a lock.
pub struct safex_client {
    inner: Arc<BlockingClient>,
    last: LastError,
}

/// A stream of an application's notices (opaque).
///
/// Made by `safex_subscribe`, read with `safex_subscription_next` (given
/// the client that made it), released by `safex_subscription_free`. It
/// owns the strings and arrays of the last notice it returned.
pub struct safex_subscription {
    client: Arc<BlockingClient>,
    stream: Subscription,
    /// Set once the stream has ended: what every later call returns.
    ended: Option<Failure>,
    /// The last notice's strings, and its extensions' counters.
    strings: Vec<CString>,
    extensions: Vec<safex_extension_counters>,
}

/// What a notice is (`struct safex_notice`'s `kind`). A program should
/// ignore kinds it does not know: later versions may add some.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum safex_notice_kind {
    /// A notice of a kind this library does not know (from a newer
    /// daemon): only `tick` is set.
    SAFEX_NOTICE_UNKNOWN = 0,
    /// An event delivered on the application's channel: `event`.
    SAFEX_NOTICE_EVENT = 1,
    /// A write of one of the application's attributes: `change`.
    SAFEX_NOTICE_CHANGE = 2,
    /// An invocation that trapped: `trap`.
    SAFEX_NOTICE_TRAP = 3,
    /// An extension's `trace(value)`: `trace`.
    SAFEX_NOTICE_TRACE = 4,
    /// The application's extensions and their counters, every
    /// `counters_interval_ms`: `counters`.
    SAFEX_NOTICE_COUNTERS = 5,
    /// Notices this subscriber lost because it did not keep up: `lagged`.
    SAFEX_NOTICE_LAGGED = 6,
}

/// An event delivered on the application's channel.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_event_notice {
    /// The event's name.
    pub name: *const c_char,
    pub value: i64,
    /// Handlers it ran.
    pub handlers: u32,
}

/// A write of one of the application's attributes, by an extension or
/// through the API (`safex_attr_write`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_change_notice {
    /// `class.attr`.
    pub attribute: *const c_char,
    pub old_value: i64,
    pub new_value: i64,
    /// The deployment id of the extension that wrote it; 0 for a write
    /// through the API.
    pub extension_id: u64,
    /// `extension.entry` that wrote it; "" for a write through the API.
    pub entry: *const c_char,
    /// `written`, `blocked` (the guard blocked the application; not
    /// written) or `guard trapped: …` (not written).
    pub outcome: *const c_char,
    /// Whether `applied` is set: the attribute has a guard and the value
    /// was written.
    pub has_applied: bool,
    /// What the guard returned.
    pub applied: i64,
}

/// An invocation that trapped.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_trap_notice {
    pub extension_id: u64,
    /// `extension.entry`.
    pub entry: *const c_char,
    /// The trap as the host describes it (`out of fuel`, `deadline`, an
    /// exception's name, …, with its site when known).
    pub trap: *const c_char,
    /// The trap took the extension to quarantine.
    pub quarantined: bool,
}

/// An extension's `trace(value)`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_trace_notice {
    pub extension_id: u64,
    /// `extension.entry`.
    pub entry: *const c_char,
    pub value: i64,
    /// The byte offset of the call in the extension's source.
    pub site: i64,
}

/// One extension and its counters, as `safexc ls` shows them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_extension_counters {
    /// The deployment id.
    pub id: u64,
    /// The extension's name as its object gives it.
    pub name: *const c_char,
    /// Stopped after repeated aborts.
    pub quarantined: bool,
    /// "" while it runs; the error (with its code) if the daemon could not
    /// load it again when it restarted.
    pub error: *const c_char,
    pub invocations: u64,
    /// Invocations that trapped, then by kind.
    pub aborts: u64,
    pub exceptions: u64,
    pub out_of_fuel: u64,
    pub deadlines: u64,
    pub host_aborts: u64,
    pub fuel_used: u64,
    pub events_raised: u64,
    /// CPU time in invocations, and the longest one, in nanoseconds.
    pub time_ns: u64,
    pub max_time_ns: u64,
}

/// The application's extensions and their counters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_counters_notice {
    /// `count` extensions (NULL when `count` is 0).
    pub extensions: *const safex_extension_counters,
    pub count: usize,
}

/// Notices this subscriber lost.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct safex_lagged_notice {
    pub lost: u64,
}

/// One thing that happened in an application (`safex_subscription_next`).
///
/// Only the member that `kind` names is filled; the others are zero (their
/// strings NULL). Its strings and arrays belong to the subscription and
/// stay valid until the next `safex_subscription_next` or
/// `safex_subscription_free` of that subscription: copy what you keep.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct safex_notice {
    pub kind: safex_notice_kind,
    /// The service manager's tick it happened in (0 before the first;
    /// a write through the API carries the ticks run so far).
    pub tick: u64,
    pub event: safex_event_notice,
    pub change: safex_change_notice,
    pub trap: safex_trap_notice,
    pub trace: safex_trace_notice,
    pub counters: safex_counters_notice,
    pub lagged: safex_lagged_notice,
}

impl Default for safex_notice {
    fn default() -> safex_notice {
        safex_notice {
            kind: safex_notice_kind::SAFEX_NOTICE_UNKNOWN,
            tick: 0,
            event: safex_event_notice {
                name: ptr::null(),
                value: 0,
                handlers: 0,
            },
            change: safex_change_notice {
                attribute: ptr::null(),
                old_value: 0,
                new_value: 0,
                extension_id: 0,
                entry: ptr::null(),
                outcome: ptr::null(),
                has_applied: false,
                applied: 0,
            },
            trap: safex_trap_notice {
                extension_id: 0,
                entry: ptr::null(),
                trap: ptr::null(),
                quarantined: false,
            },
            trace: safex_trace_notice {
                extension_id: 0,
                entry: ptr::null(),
                value: 0,
                site: 0,
            },
            counters: safex_counters_notice {
                extensions: ptr::null(),
                count: 0,
            },
            lagged: safex_lagged_notice::default(),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

/// A refusal: the errno-like value returned, the project's code, a message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    errno: c_int,
    code: String,
    message: String,
}

impl Failure {
    fn bad(message: impl Into<String>) -> Failure {
        Failure {
            errno: libc::EINVAL,
            code: BAD_ARGUMENT.to_string(),
            message: message.into(),
        }
    }

    fn of(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            errno: errno_of(code, None),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl From<safex_rs::Error> for Failure {
    fn from(e: safex_rs::Error) -> Failure {
        Failure {
            errno: errno_of(&e.code, e.status),
            code: e.code,
            message: e.message,
        }
    }
}

/// The errno-like value of a code (`docs/c-library.md` has the table): the
/// daemon's and this library's codes by code, the host's (`Lxxxx`, `Cxxxx`,
/// `Vxxxx`) by the status the daemon answered with.
fn errno_of(code: &str, status: Option<tonic::Code>) -> c_int {
    match code {
        codes::NOT_OWNER | codes::NO_PRINCIPAL => libc::EACCES,
        codes::UNKNOWN_APPLICATION | codes::UNKNOWN_EXTENSION | codes::UNKNOWN_GRANT => libc::ENOENT,
        codes::TOO_LARGE => libc::E2BIG,
        codes::BAD_NAME | codes::BAD_GRANT | codes::BAD_SUBSCRIPTION | BAD_ARGUMENT => libc::EINVAL,
        codes::STORE | INTERNAL => libc::EIO,
        codes::STOPPING => libc::ESHUTDOWN,
        codes::CONNECT => libc::ECONNREFUSED,
        codes::TRANSPORT => libc::EPROTO,
        codes::GUARDED => libc::EPERM,
        codes::ADMISSION => libc::ENOSPC,
        codes::TIMED_OUT => libc::EAGAIN,
        _ => match status {
            Some(tonic::Code::AlreadyExists) => libc::EEXIST,
            Some(tonic::Code::NotFound) => libc::ENOENT,
            Some(tonic::Code::PermissionDenied | tonic::Code::Unauthenticated) => libc::EACCES,
            Some(tonic::Code::ResourceExhausted) => libc::ENOSPC,
            Some(tonic::Code::Unavailable) => libc::ESHUTDOWN,
            Some(tonic::Code::InvalidArgument | tonic::Code::OutOfRange | tonic::Code::FailedPrecondition) => {
                libc::EINVAL
            }
            _ => libc::EIO,
        },
    }
}

/// A C string of `s`, cut at a NUL it may hold (none of the daemon's
/// strings does).
fn c_string(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// The code and message of the last call: both empty after a success.
#[derive(Default)]
struct LastError {
    code: CString,
    message: CString,
}

impl LastError {
    /// Records `outcome` and returns what the C function returns.
    fn record(&mut self, outcome: Result<(), Failure>) -> c_int {
        match outcome {
            Ok(()) => {
                *self = LastError::default();
                0
            }
            Err(f) => {
                self.code = c_string(&f.code);
                self.message = c_string(&f.message);
                -f.errno
            }
        }
    }
}

thread_local! {
    /// The last error of a call made on this thread without a client:
    /// `safex_client_connect`, or a call given a NULL client.
    static THREAD_LAST: RefCell<LastError> = RefCell::new(LastError::default());
}

/// Records `outcome` as the thread's last error. During the thread's exit
/// (a call from a destructor of its thread-local storage) the error is not
/// kept, but the value returned is the same.
fn record_on_thread(outcome: Result<(), Failure>) -> c_int {
    let errno = match &outcome {
        Ok(()) => 0,
        Err(f) => -f.errno,
    };
    THREAD_LAST
        .try_with(|last| {
            last.try_borrow_mut()
                .map(|mut last| last.record(outcome))
                .unwrap_or(errno)
        })
        .unwrap_or(errno)
}

/// Runs `body`, turning a panic into a failure (`D0201`).
fn guarded(body: impl FnOnce() -> Result<(), Failure>) -> Result<(), Failure> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            Err(Failure::of(
                INTERNAL,
                format!("internal error in libsafex (a bug; please report it): {what}"),
            ))
        }
    }
}

/// Runs `body` with `client`'s connection and records its outcome as the
/// client's last error (the thread's if `client` is NULL).
///
/// # Safety
///
/// `client` is NULL or a live client of `safex_client_connect` that no
/// other thread uses during the call.
unsafe fn with_client(
    client: *mut safex_client,
    body: impl FnOnce(&Arc<BlockingClient>) -> Result<(), Failure>,
) -> c_int {
    // SAFETY: the caller passes NULL or a pointer from
    // `safex_client_connect` not yet freed, so it is aligned and points to
    // a live `safex_client`. Aliasing: the header makes a client usable by
    // one thread at a time, and no Rust reference to it outlives a call, so
    // this is the only reference to it while the call runs (the strings
    // `safex_client_last_error` returned are raw pointers, not references).
    let Some(client) = (unsafe { client.as_mut() }) else {
        return record_on_thread(Err(Failure::bad("the client is NULL")));
    };
    let outcome = guarded(|| body(&client.inner));
    client.last.record(outcome)
}

/// The UTF-8 string at `p`, `what` naming it in errors.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that stays unchanged
/// during the call.
unsafe fn utf8<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::bad(format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string
    // valid for reads, which no one writes during the call (a client is
    // used by one thread at a time, and the string is the caller's).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|e| Failure::bad(format!("{what} is not UTF-8 (byte {})", e.valid_up_to())))
}

/// Refuses a NULL out-pointer `p` before anything is done.
fn out_pointer<T>(p: *mut T, what: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::bad(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Clients

/// Connects to the SafeX daemon listening on the Unix socket at `path` (any
/// bytes; NULL for `SAFEX_DEFAULT_SOCKET`) and stores a new client in
/// `*out`.
///
/// Returns 0, or a negative errno-like value with `*out` left unchanged:
/// `-ECONNREFUSED` (`D0012`) if nothing answers on the socket, `-EINVAL`
/// (`D0200`) if `out` is NULL. There is no client to keep that error:
/// `safex_client_errcode(NULL)` and `safex_client_last_error(NULL)` give it,
/// on the thread that called.
///
/// The daemon knows the caller by the uid the kernel reports for the
/// connection: no call names a principal.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `out` is NULL or points to
/// writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_client_connect(path: *const c_char, out: *mut *mut safex_client) -> c_int {
    record_on_thread(guarded(|| {
        out_pointer(out, "the out pointer")?;
        let socket = if path.is_null() {
            Path::new(safex_rs::DEFAULT_SOCKET)
        } else {
            // SAFETY: not NULL; the caller promises a NUL-terminated string,
            // not written during the call (it is the caller's, and this
            // call runs on its thread).
            let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
            Path::new(OsStr::from_bytes(bytes))
        };
        let inner = BlockingClient::connect(socket)?;
        let client = Box::new(safex_client {
            inner: Arc::new(inner),
            last: LastError::default(),
        });
        // SAFETY: `out` is not NULL and the caller promises it points to
        // writable, aligned storage for a pointer that nothing else
        // accesses during the call. Ownership of the box passes to the
        // caller (`safex_client_free` takes it back).
        unsafe { out.write(Box::into_raw(client)) };
        Ok(())
    }))
}

/// Closes `client`'s connection and frees it. NULL is ignored.
///
/// Subscriptions it made may be freed before or after it, but not read
/// after it (`safex_subscription_next` needs the client).
///
/// # Safety
///
/// `client` is NULL or a client of `safex_client_connect` not yet freed,
/// which no other thread uses; it must not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_client_free(client: *mut safex_client) {
    if client.is_null() {
        return;
    }
    // SAFETY: not NULL; the caller gives back the pointer
    // `safex_client_connect` made with `Box::into_raw`, once, and no
    // thread uses the client during or after this call, so taking the box
    // back owns it uniquely.
    let client = unsafe { Box::from_raw(client) };
    // Dropping the runtime cannot be done inside another runtime: a caller
    // that is one (a Rust program using this library wrongly) leaks the
    // client rather than unwinding into C.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(client)));
}

/// The message of the last call on `client` that failed, without its code;
/// "" if its last call succeeded. With `client` NULL: that of the last call
/// this thread made without a client (`safex_client_connect`, or a call
/// given a NULL client).
///
/// The string belongs to the client (or the thread) and stays valid until
/// its next call (other than `safex_client_errcode` and this one) or its
/// free (the thread's exit). Never NULL.
///
/// # Safety
///
/// `client` is NULL or a live client, not used by another thread during
/// the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_client_last_error(client: *const safex_client) -> *const c_char {
    // SAFETY: as `safex_client_errcode`'s.
    unsafe { last_error(client, |last| last.message.as_ptr()) }
}

/// The project's code of the last call on `client` that failed (`D0001`,
/// the host's `L0104`, …; `safexc explain CODE` says what it means); "" if
/// its last call succeeded. With `client` NULL: that of the last call this
/// thread made without a client, as `safex_client_last_error`.
///
/// The string is valid as long as `safex_client_last_error`'s. Never NULL.
///
/// # Safety
///
/// `client` is NULL or a live client, not used by another thread during
/// the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_client_errcode(client: *const safex_client) -> *const c_char {
    // SAFETY: the caller's promise is passed on.
    unsafe { last_error(client, |last| last.code.as_ptr()) }
}

/// `pick`'s string of `client`'s last error, or the thread's.
///
/// # Safety
///
/// `client` is NULL or a live client, not used by another thread during
/// the call.
unsafe fn last_error(client: *const safex_client, pick: fn(&LastError) -> *const c_char) -> *const c_char {
    const EMPTY: &CStr = c"";
    let found = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a live client (the caller's promise), aligned.
        // Aliasing and concurrency: only one thread uses a client at a
        // time and this is a shared borrow that ends before returning; the
        // pointer returned points into the `CString`'s heap buffer, which
        // stays put until the next call replaces it.
        match unsafe { client.as_ref() } {
            Some(client) => pick(&client.last),
            // The thread's own storage: the buffer lives until this
            // thread's next call without a client, or its exit.
            None => THREAD_LAST
                .try_with(|last| last.try_borrow().map(|last| pick(&last)).unwrap_or(EMPTY.as_ptr()))
                .unwrap_or(EMPTY.as_ptr()),
        }
    }));
    found.unwrap_or(EMPTY.as_ptr())
}

// ---------------------------------------------------------------------------
// Applications, deployments, attributes, grants

/// Creates the application `name` (1 to 64 of `A-Z a-z 0-9 _ . -`), owned
/// by the caller.
///
/// Returns 0, or a negative errno-like value: `-EEXIST` (`L0104`) if the
/// name is taken, `-EINVAL` for a bad name (`D0005`) or a NULL or non-UTF-8
/// one (`D0200`).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `name` a NUL-terminated string, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_app_create(client: *mut safex_client, name: *const c_char) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let name = unsafe { utf8(name, "the application name") }?;
        c.create_application(name)?;
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Deploys the object of `len` bytes at `obj` (a `safexc compile -o`
/// object, signed or not) into the caller's application `app`, and stores
/// its deployment id in `*id_out`. The daemon runs every load check.
///
/// Returns 0, or a negative errno-like value: `-E2BIG` (`D0004`) for more
/// than `SAFEX_MAX_OBJECT_BYTES` (nothing is sent), `-EINVAL` for an object
/// the host's checks refuse (their `Lxxxx`/`Cxxxx`/`Vxxxx` code) or a NULL
/// argument (`D0200`; `obj` may be NULL only if `len` is 0), `-ENOSPC`
/// (`D0019`) when admission control refuses it, `-EACCES` (`D0001`) for
/// another's application, `-ENOENT` (`D0002`) for an unknown one.
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` a NUL-terminated string or NULL; `obj` NULL or readable for
/// `len` bytes, which nothing writes during the call; `id_out` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_deploy(
    client: *mut safex_client,
    app: *const c_char,
    obj: *const c_void,
    len: usize,
    id_out: *mut u64,
) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let app = unsafe { utf8(app, "the application name") }?;
        out_pointer(id_out, "the id pointer")?;
        if len > SAFEX_MAX_OBJECT_BYTES {
            return Err(Failure::of(
                codes::TOO_LARGE,
                format!("the object has {len} bytes; the daemon takes at most {SAFEX_MAX_OBJECT_BYTES}"),
            ));
        }
        let object = if len == 0 {
            Vec::new()
        } else if obj.is_null() {
            return Err(Failure::bad(format!("the object is NULL (and its length {len})")));
        } else {
            // SAFETY: not NULL, `len` is at most 16 MiB (so within
            // `isize::MAX`), a byte pointer needs no alignment, and the
            // caller promises `len` readable bytes that nothing writes
            // during the call; they are copied at once, and the slice
            // does not outlive this block.
            unsafe { std::slice::from_raw_parts(obj.cast::<u8>(), len) }.to_vec()
        };
        let extension = c.deploy(app, object)?;
        // SAFETY: not NULL (checked above); the caller promises a
        // writable, aligned `uint64_t` that nothing else accesses
        // during the call.
        unsafe { id_out.write(extension.id) };
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Undeploys extension `id` (the id `safex_deploy` gave) of one of the
/// caller's applications.
///
/// Returns 0, or a negative errno-like value: `-ENOENT` (`D0003`) for an
/// unknown id, `-EACCES` (`D0001`) for another's extension.
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_undeploy(client: *mut safex_client, id: u64) -> c_int {
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, |c| Ok(c.undeploy(id)?)) }
}

/// Reads attribute `attr` (`class.attr`, or a name unique among the
/// classes, as `target_cpu`) of application `app` into `*value`: the
/// caller's application, or one it was granted `SAFEX_RIGHT_READ` on.
///
/// Returns 0, or a negative errno-like value (`*value` unchanged):
/// `-EACCES` (`D0001`) without the right, `-ENOENT` (`D0002`) for an
/// unknown application, `-EINVAL` for an unknown attribute (the host's
/// code) or a NULL or non-UTF-8 argument (`D0200`).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` and `attr` NUL-terminated strings or NULL; `value` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_attr_read(
    client: *mut safex_client,
    app: *const c_char,
    attr: *const c_char,
    value: *mut i64,
) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let (app, attr) = unsafe { (utf8(app, "the application name")?, utf8(attr, "the attribute name")?) };
        out_pointer(value, "the value pointer")?;
        let read = c.read_attribute(app, attr)?;
        // SAFETY: not NULL (checked above); the caller promises a
        // writable, aligned `int64_t` that nothing else accesses during
        // the call.
        unsafe { value.write(read.value) };
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Writes `value` to attribute `attr` of application `app`, as the system
/// does (the owner stands for the system in user space: its period,
/// targets and, in tests, its measurements; `docs/daemon.md`): the
/// caller's application, or one it was granted `SAFEX_RIGHT_WRITE` on. The
/// attribute's range holds; no guard runs, so an attribute a guard decides
/// (`cpu_qos.timeslice_adjustment`) is refused.
///
/// Returns 0, or a negative errno-like value: `-EPERM` (`D0015`) for a
/// guarded attribute, `-EACCES` (`D0001`) without the right, `-ENOENT`
/// (`D0002`), `-EINVAL` for an unknown attribute or a value out of its
/// range (the host's code) or a NULL or non-UTF-8 argument (`D0200`).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` and `attr` NUL-terminated strings or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_attr_write(
    client: *mut safex_client,
    app: *const c_char,
    attr: *const c_char,
    value: i64,
) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let (app, attr) = unsafe { (utf8(app, "the application name")?, utf8(attr, "the attribute name")?) };
        c.write_attribute(app, attr, value)?;
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Grants principal `uid` `rights` on the caller's application `app`:
/// `SAFEX_RIGHT_READ`, `SAFEX_RIGHT_WRITE` or both (or-ed). Replaces the
/// rights it held there. Only the owner grants; deploy and undeploy stay
/// its own.
///
/// Returns 0, or a negative errno-like value: `-EINVAL` (`D0016`) for
/// rights that are neither or other bits, or for the owner as `uid`;
/// `-EACCES` (`D0001`), `-ENOENT` (`D0002`).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` a NUL-terminated string or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_grant(client: *mut safex_client, app: *const c_char, uid: u32, rights: u32) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let app = unsafe { utf8(app, "the application name") }?;
        let rights = match rights {
            SAFEX_RIGHT_READ => "r",
            SAFEX_RIGHT_WRITE => "w",
            r if r == SAFEX_RIGHT_READ | SAFEX_RIGHT_WRITE => "rw",
            other => {
                return Err(Failure::of(
                    codes::BAD_GRANT,
                    format!(
                        "rights {other:#x}: SAFEX_RIGHT_READ ({SAFEX_RIGHT_READ}), SAFEX_RIGHT_WRITE \
                         ({SAFEX_RIGHT_WRITE}) or both"
                    ),
                ));
            }
        };
        c.grant(app, uid, rights)?;
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Takes back every right principal `uid` holds on the caller's application
/// `app`; a subscription it has there ends (with `D0001`).
///
/// Returns 0, or a negative errno-like value: `-ENOENT` (`D0017`) if it
/// holds none (nothing changed), `-EACCES` (`D0001`), `-ENOENT` (`D0002`).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` a NUL-terminated string or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_revoke(client: *mut safex_client, app: *const c_char, uid: u32) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let app = unsafe { utf8(app, "the application name") }?;
        c.revoke(app, uid)?;
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

// ---------------------------------------------------------------------------
// Subscriptions

/// Subscribes to what happens in application `app` (the caller's, or one
/// it was granted `SAFEX_RIGHT_READ` on): events, attribute changes, traps,
/// `trace` records, and its extensions' counters every
/// `counters_interval_ms` (0: none; at most 3600000). Stores the new
/// subscription in `*out`; read it with `safex_subscription_next` and this
/// client.
///
/// Returns 0, or a negative errno-like value (`*out` unchanged): `-EACCES`
/// (`D0001`), `-ENOENT` (`D0002`), `-EINVAL` (`D0018`: an interval over an
/// hour; `D0200`: a NULL or non-UTF-8 argument).
///
/// # Safety
///
/// `client` is a live client used by no other thread during the call, or
/// NULL; `app` a NUL-terminated string or NULL; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_subscribe(
    client: *mut safex_client,
    app: *const c_char,
    counters_interval_ms: u32,
    out: *mut *mut safex_subscription,
) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or NUL-terminated, the caller's.
        let app = unsafe { utf8(app, "the application name") }?;
        out_pointer(out, "the out pointer")?;
        let stream = c.subscribe(app, counters_interval_ms)?;
        let sub = Box::new(safex_subscription {
            client: Arc::clone(c),
            stream,
            ended: None,
            strings: Vec::new(),
            extensions: Vec::new(),
        });
        // SAFETY: not NULL (checked above); the caller promises
        // writable, aligned storage for a pointer that nothing else
        // accesses during the call. Ownership of the box passes to the
        // caller (`safex_subscription_free` takes it back).
        unsafe { out.write(Box::into_raw(sub)) };
        Ok(())
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

/// Waits for the next notice of `sub` (made by `client`) and stores it in
/// `*out`, at most `timeout_ms` milliseconds (negative: as long as it
/// takes; 0: only what has reached the client, which takes at most about a
/// millisecond to read).
///
/// Returns 0 with `*out` filled, or a negative errno-like value with `*out`
/// unchanged:
/// - `-EAGAIN` (`D0020`): no notice within `timeout_ms`; the subscription
///   goes on;
/// - `-ESHUTDOWN` (`D0008`): the stream ended: the daemon stopped;
/// - `-EACCES` (`D0001`): the stream ended: the caller lost the right to
///   read the application (a revoke, or a grant replaced by `w`);
/// - `-EPROTO` (`D0013`): the connection broke;
/// - `-EINVAL` (`D0200`): a NULL argument, or a subscription of another
///   client.
///
/// Once the stream has ended, every later call returns the same error.
/// The notice's strings and arrays stay valid until the next call on `sub`
/// (whatever it returns) or its free.
///
/// # Safety
///
/// `client` and `sub` are NULL or live, `sub` made by `client` (checked),
/// both used by no other thread during the call; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_subscription_next(
    client: *mut safex_client,
    sub: *mut safex_subscription,
    timeout_ms: c_int,
    out: *mut safex_notice,
) -> c_int {
    let body = |c: &Arc<BlockingClient>| {
        // SAFETY: NULL or a live subscription of
        // `safex_subscribe`, aligned. Aliasing: used by one thread at a
        // time, and no other reference to it exists during the call
        // (the client holds none: it is a separate allocation).
        let sub = unsafe { sub.as_mut() }.ok_or_else(|| Failure::bad("the subscription is NULL"))?;
        out_pointer(out, "the notice pointer")?;
        if !Arc::ptr_eq(&sub.client, c) {
            return Err(Failure::bad("the subscription was made by another client"));
        }
        // The last notice's strings go now, whatever this call returns.
        sub.strings.clear();
        sub.extensions.clear();
        if let Some(ended) = &sub.ended {
            return Err(ended.clone());
        }
        let timeout = match timeout_ms {
            t if t < 0 => None,
            // Not zero: the client's runtime reads the connection only
            // while it waits, so a zero wait would never see what has
            // arrived on the socket.
            0 => Some(Duration::from_nanos(1)),
            t => Some(Duration::from_millis(t.unsigned_abs().into())),
        };
        match sub.client.next_notice(&mut sub.stream, timeout) {
            Ok(Some(notice)) => {
                let filled = sub.fill(notice);
                // SAFETY: not NULL (checked above); the caller promises
                // a writable, aligned `struct safex_notice` that
                // nothing else accesses during the call.
                unsafe { out.write(filled) };
                Ok(())
            }
            Ok(None) => {
                let ended = Failure::of(
                    codes::STOPPING,
                    "the subscription ended: the daemon closed the stream (it stopped)",
                );
                sub.ended = Some(ended.clone());
                Err(ended)
            }
            Err(e) if e.code == codes::TIMED_OUT => Err(e.into()),
            Err(e) => {
                let ended = Failure::from(e);
                sub.ended = Some(ended.clone());
                Err(ended)
            }
        }
    };
    // SAFETY: the caller's promises about `client` are `with_client`'s.
    unsafe { with_client(client, body) }
}

impl safex_subscription {
    /// A C string kept until the next notice.
    fn keep(&mut self, s: &str) -> *const c_char {
        let kept = c_string(s);
        let p = kept.as_ptr();
        // Moving the `CString` into the vector does not move its buffer.
        self.strings.push(kept);
        p
    }

    /// `notice` as C sees it, its strings and arrays kept here.
    fn fill(&mut self, notice: safex_rs::Notice) -> safex_notice {
        use safex_notice_kind::*;
        let mut n = safex_notice {
            tick: notice.tick,
            ..safex_notice::default()
        };
        match notice.kind {
            None => n.kind = SAFEX_NOTICE_UNKNOWN,
            Some(Kind::Event(e)) => {
                n.kind = SAFEX_NOTICE_EVENT;
                n.event = safex_event_notice {
                    name: self.keep(&e.event),
                    value: e.value,
                    handlers: e.handlers,
                };
            }
            Some(Kind::Change(c)) => {
                n.kind = SAFEX_NOTICE_CHANGE;
                n.change = safex_change_notice {
                    attribute: self.keep(&c.attribute),
                    old_value: c.old,
                    new_value: c.new,
                    extension_id: c.extension_id,
                    entry: self.keep(&c.entry),
                    outcome: self.keep(&c.outcome),
                    has_applied: c.applied.is_some(),
                    applied: c.applied.unwrap_or(0),
                };
            }
            Some(Kind::Trap(t)) => {
                n.kind = SAFEX_NOTICE_TRAP;
                n.trap = safex_trap_notice {
                    extension_id: t.extension_id,
                    entry: self.keep(&t.entry),
                    trap: self.keep(&t.trap),
                    quarantined: t.quarantined,
                };
            }
            Some(Kind::Trace(t)) => {
                n.kind = SAFEX_NOTICE_TRACE;
                n.trace = safex_trace_notice {
                    extension_id: t.extension_id,
                    entry: self.keep(&t.entry),
                    value: t.value,
                    site: t.site,
                };
            }
            Some(Kind::Counters(c)) => {
                n.kind = SAFEX_NOTICE_COUNTERS;
                for e in &c.extensions {
                    let k = e.counters.unwrap_or_default();
                    let counters = safex_extension_counters {
                        id: e.id,
                        name: self.keep(&e.name),
                        quarantined: e.quarantined,
                        error: self.keep(&e.error),
                        invocations: k.invocations,
                        aborts: k.aborts,
                        exceptions: k.exceptions,
                        out_of_fuel: k.out_of_fuel,
                        deadlines: k.deadlines,
                        host_aborts: k.host_aborts,
                        fuel_used: k.fuel_used,
                        events_raised: k.events_raised,
                        time_ns: k.time_ns,
                        max_time_ns: k.max_time_ns,
                    };
                    self.extensions.push(counters);
                }
                // The vector is complete: its buffer stays put until the
                // next call clears it.
                n.counters = safex_counters_notice {
                    extensions: if self.extensions.is_empty() {
                        ptr::null()
                    } else {
                        self.extensions.as_ptr()
                    },
                    count: self.extensions.len(),
                };
            }
            Some(Kind::Lagged(l)) => {
                n.kind = SAFEX_NOTICE_LAGGED;
                n.lagged = safex_lagged_notice { lost: l.lost };
            }
        }
        n
    }
}

/// Ends subscription `sub` and frees it, with the strings of its last
/// notice. NULL is ignored. It may be freed after its client.
///
/// # Safety
///
/// `sub` is NULL or a subscription of `safex_subscribe` not yet freed,
/// which no other thread uses (nor its client, during the call); it must
/// not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn safex_subscription_free(sub: *mut safex_subscription) {
    if sub.is_null() {
        return;
    }
    // SAFETY: not NULL; the caller gives back the pointer `safex_subscribe`
    // made with `Box::into_raw`, once, and no thread uses it (or its
    // client's runtime) during or after this call, so the box is owned
    // uniquely here. It holds its own reference to the client's runtime,
    // so it may outlive the `safex_client` itself.
    let sub = unsafe { Box::from_raw(sub) };
    let _ = catch_unwind(AssertUnwindSafe(|| drop(sub)));
}

#[cfg(test)]
mod tests;
