//! The kernel commands (`load`, `unload`, `release`, `list`, `app`, `attr`,
//! `log`, `invoke`, `round`) without the kernel module, which cannot be
//! loaded here (`kmod/tests/qemu.sh` runs them against it in a guest):
//! what they refuse before talking to `/dev/safex`, and what they say
//! when the device is missing or is not a SafeX device.

use std::path::PathBuf;

mod common;
use common::{safexc, text};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("safexc-device-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes shaped like a signed object: a body, a 256-byte "signature", its
/// length and the magic. Only the module can tell that it does not verify.
fn fake_signed(dir: &std::path::Path) -> String {
    let mut bytes = b"\x7fELF not really an object".to_vec();
    bytes.extend([0u8; 256]);
    bytes.extend(256u32.to_le_bytes());
    bytes.extend(b"SXSIG01\0");
    let path = dir.join("fake.signed.o");
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Exit status and standard error of `safexc ARGS`; standard output must be empty.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let out = safexc(args);
    assert_eq!(text(&out.stdout), "", "{args:?}");
    (out.status.code(), text(&out.stderr))
}

/// One command line of each kernel command, to which `--device PATH` is added.
fn every_command(signed: &str) -> Vec<Vec<String>> {
    let lines: [&[&str]; 10] = [
        &["load", signed, "--app", "hog"],
        &[
            "load", signed, "--app", "hog", "--pid", "0", "--period", "10000", "--target", "2000",
        ],
        &["unload", "3"],
        &["release", "3"],
        &["list"],
        &["app", "hog", "--pid", "0", "--period", "10000", "--target", "2000"],
        &["attr", "hog", "cpu_qos.target_cpu"],
        &["log", "--from", "5"],
        &["invoke", "3", "0", "--repeat", "1000", "--value", "-7"],
        &["round", "--rounds", "10"],
    ];
    lines
        .iter()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn a_missing_device_is_l0050_and_says_to_load_the_module() {
    let dir = tempdir("missing");
    let signed = fake_signed(&dir);
    for mut args in every_command(&signed) {
        args.extend(["--device".into(), "/nonexistent/safex".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, stderr) = refused(&args);
        assert_eq!(status, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error[L0050]: /nonexistent/safex does not exist"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("insmod safex.ko pubkey="), "{stderr}");
    }
}

#[test]
fn a_device_that_is_not_safex_is_l0050() {
    let dir = tempdir("null");
    let signed = fake_signed(&dir);
    for mut args in every_command(&signed) {
        args.extend(["--device".into(), "/dev/null".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, stderr) = refused(&args);
        assert_eq!(status, Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr, "error[L0050]: /dev/null is not a SafeX device: it does not answer SAFEX_IOC_VERSION (ENOTTY)\n",
            "{args:?}"
        );
    }
    // A directory cannot be opened as a device.
    let (status, stderr) = refused(&["list", "--device", dir.to_str().unwrap()]);
    assert_eq!(status, Some(1));
    assert!(stderr.starts_with("error[L0050]: cannot open "), "{stderr}");
}

#[test]
fn absurd_values_are_l0003_before_the_device_is_opened() {
    // /dev/null would be L0050: L0003 shows nothing was opened.
    let long = "x".repeat(64);
    let cases: &[&[&str]] = &[
        &["app", "hog", "--pid", "-5", "--period", "10000", "--target", "0"],
        &["app", "hog", "--pid", "1", "--period", "0", "--target", "0"],
        &["app", "hog", "--pid", "1", "--period", "999", "--target", "0"],
        &["app", "hog", "--pid", "1", "--period", "1000001", "--target", "0"],
        &["app", "hog", "--pid", "1", "--period", "10000", "--target", "10001"],
        &["app", "hog", "--pid", "1", "--period", "10000", "--target", "-1"],
        &["app", "hog", "--pid", "x1", "--period", "10000", "--target", "0"],
        &["app", "hog"],
        &["app", &long, "--pid", "1", "--period", "10000", "--target", "0"],
        &["app", "", "--pid", "1", "--period", "10000", "--target", "0"],
        &["load", "x.o"],
        &["load", "x.o", "--app", "hog", "--pid", "3"],
        &["load", "x.o", "--app", "hog", "--guard"],
        &[
            "load", "x.o", "--guard", "--pid", "0", "--period", "10000", "--target", "0",
        ],
        &["load", "x.o", "--app", &long],
        &["unload", "-1"],
        &["unload", "three"],
        &["release"],
        &["attr", "hog"],
        &["attr", "hog", "target_cpu", "12x"],
        &["attr", "hog", &long],
        &["log", "--from", "-1"],
        &["invoke", "3", "0", "--repeat", "0"],
        &["invoke", "3", "0", "--repeat", "1000001"],
        &["invoke", "3", "16"],
        &["invoke", "3", "0", "--value", "9223372036854775808"],
        &["round", "--rounds", "0"],
        &["round", "--rounds", "1000001"],
        &["list", "extra"],
    ];
    for args in cases {
        let mut args = args.to_vec();
        args.extend(["--device", "/dev/null"]);
        let (status, stderr) = refused(&args);
        assert_eq!(status, Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error[L0003]: "), "{args:?}: {stderr}");
    }
}

#[test]
fn negative_values_where_they_mean_something_are_values() {
    // `--value -7` and an attribute value of -5 are values, not flags: the
    // command line is accepted and the device is asked (here: not one).
    for args in [
        &["invoke", "3", "0", "--value", "-7", "--device", "/dev/null"][..],
        &["attr", "hog", "timeslice_adjustment", "-5", "--device", "/dev/null"],
    ] {
        let (status, stderr) = refused(args);
        assert_eq!(status, Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error[L0050]"), "{stderr}");
    }
}

#[test]
fn load_refuses_unsigned_and_unreadable_objects_before_the_device() {
    let dir = tempdir("unsigned");
    let object = dir.join("ext.o");
    std::fs::write(&object, b"\x7fELF an unsigned object").unwrap();
    let object = object.to_str().unwrap();
    let (status, stderr) = refused(&["load", object, "--app", "hog", "--device", "/dev/null"]);
    assert_eq!(status, Some(1));
    assert!(
        stderr.starts_with(&format!("error[L0040]: {object} is not signed")),
        "{stderr}"
    );
    assert!(stderr.contains("safexc sign"), "the hint names the fix: {stderr}");

    // A trailer whose length field is not 256.
    let mut bad = b"\x7fELF".to_vec();
    bad.extend(255u32.to_le_bytes());
    bad.extend(b"SXSIG01\0");
    let truncated = dir.join("bad.signed.o");
    std::fs::write(&truncated, bad).unwrap();
    let (status, stderr) = refused(&[
        "load",
        truncated.to_str().unwrap(),
        "--app",
        "hog",
        "--device",
        "/dev/null",
    ]);
    assert_eq!(status, Some(1));
    assert!(stderr.starts_with("error[L0041]: "), "{stderr}");

    let missing = dir.join("missing.o");
    let (status, stderr) = refused(&["load", missing.to_str().unwrap(), "--app", "hog"]);
    assert_eq!(status, Some(1));
    assert!(stderr.starts_with("error[L0001]: cannot read "), "{stderr}");
}

#[test]
fn every_device_code_is_explained() {
    for n in 50..=69 {
        let code = format!("L00{n}");
        let out = safexc(&["explain", &code]);
        assert_eq!(out.status.code(), Some(0), "{code}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("{code}: ")), "{code}");
    }
}

#[test]
fn help_lists_the_kernel_commands_and_their_device_flag() {
    let out = safexc(&["--help"]);
    let help = text(&out.stdout);
    for command in [
        "load", "unload", "release", "list", "app", "attr", "log", "invoke", "round",
    ] {
        assert!(help.contains(&format!("\n  {command} ")), "{command}: {help}");
    }
    let out = safexc(&["load", "--help"]);
    let help = text(&out.stdout);
    assert!(
        help.contains("--device <PATH>") && help.contains("[default: /dev/safex]"),
        "{help}"
    );
}
