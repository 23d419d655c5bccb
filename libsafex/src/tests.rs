//! The pure parts of the boundary: errno-like values, C strings, the
//! record of the last error, a caught panic. The functions themselves are
//! called as C calls them in `tests/ffi.rs`.

use super::*;

#[test]
fn every_code_has_its_errno_value() {
    let cases = [
        (codes::NOT_OWNER, libc::EACCES),
        (codes::UNKNOWN_APPLICATION, libc::ENOENT),
        (codes::UNKNOWN_EXTENSION, libc::ENOENT),
        (codes::TOO_LARGE, libc::E2BIG),
        (codes::BAD_NAME, libc::EINVAL),
        (codes::NO_PRINCIPAL, libc::EACCES),
        (codes::STORE, libc::EIO),
        (codes::STOPPING, libc::ESHUTDOWN),
        (codes::CONNECT, libc::ECONNREFUSED),
        (codes::TRANSPORT, libc::EPROTO),
        (codes::GUARDED, libc::EPERM),
        (codes::BAD_GRANT, libc::EINVAL),
        (codes::UNKNOWN_GRANT, libc::ENOENT),
        (codes::BAD_SUBSCRIPTION, libc::EINVAL),
        (codes::ADMISSION, libc::ENOSPC),
        (codes::TIMED_OUT, libc::EAGAIN),
        (BAD_ARGUMENT, libc::EINVAL),
        (INTERNAL, libc::EIO),
    ];
    for (code, errno) in cases {
        // The code decides, whatever the status.
        assert_eq!(errno_of(code, Some(tonic::Code::Internal)), errno, "{code}");
        assert_eq!(errno_of(code, None), errno, "{code}");
    }
    // The host's codes by the status the daemon answered with.
    assert_eq!(errno_of("L0104", Some(tonic::Code::AlreadyExists)), libc::EEXIST);
    assert_eq!(errno_of("V0409", Some(tonic::Code::InvalidArgument)), libc::EINVAL);
    assert_eq!(errno_of("L0001", Some(tonic::Code::NotFound)), libc::ENOENT);
    assert_eq!(errno_of("L0001", None), libc::EIO);
}

#[test]
fn c_strings_stop_at_a_nul() {
    assert_eq!(c_string("abc").as_bytes(), b"abc");
    assert_eq!(c_string("ab\0c").as_bytes(), b"ab");
    assert_eq!(c_string("").as_bytes(), b"");
}

#[test]
fn the_last_error_is_the_last_call_s() {
    let mut last = LastError::default();
    assert_eq!(last.record(Err(Failure::bad("x is NULL"))), -libc::EINVAL);
    assert_eq!(
        (last.code.to_str(), last.message.to_str()),
        (Ok("D0200"), Ok("x is NULL"))
    );
    assert_eq!(last.record(Ok(())), 0);
    assert_eq!((last.code.to_str(), last.message.to_str()), (Ok(""), Ok("")));
    let e = safex_rs::Error {
        code: "D0001".into(),
        message: "not yours".into(),
        status: Some(tonic::Code::PermissionDenied),
    };
    assert_eq!(last.record(Err(e.into())), -libc::EACCES);
    assert_eq!(last.code.to_str(), Ok("D0001"));
}

#[test]
fn a_panic_becomes_d0201() {
    let f = guarded(|| panic!("boom")).expect_err("caught");
    assert_eq!((f.errno, f.code.as_str()), (libc::EIO, INTERNAL));
    assert!(f.message.ends_with("boom"), "{}", f.message);
    let f = guarded(|| std::panic::panic_any(7u8)).expect_err("caught");
    assert!(f.message.ends_with("a panic"), "{}", f.message);
}
