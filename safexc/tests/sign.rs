//! `safexc keygen`, `safexc sign` and `safexc verify --pubkey`: signed
//! objects as users and scripts see them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{safexc, text};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("safexc-sign-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A key pair `dir/NAME.key`, `dir/NAME.pub` from `seed`.
fn keygen(dir: &Path, name: &str, seed: u64) -> (PathBuf, PathBuf) {
    let base = dir.join(name);
    let out = safexc(&["keygen", "-o", s(&base), "--insecure-seed", &seed.to_string()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")))
}

/// `examples/pop/cpu_pid.pop` compiled to `dir/NAME.o` with `flags`.
fn compiled(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let obj = dir.join(format!("{name}.o"));
    let mut args = vec!["compile", "examples/pop/cpu_pid.pop", "-o", s(&obj)];
    args.extend_from_slice(flags);
    let out = safexc(&args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    obj
}

/// The exit status, stdout and stderr of `safexc verify --pubkey PUB FILE`.
fn verify_with(public: &Path, file: &Path) -> (Option<i32>, String, String) {
    let out = safexc(&["verify", "--pubkey", s(public), s(file)]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites() {
    let dir = tempdir("keygen");
    let base = dir.join("k");
    let out = safexc(&["keygen", "-o", s(&base)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let key = std::fs::read(dir.join("k.key")).unwrap();
    let public = std::fs::read(dir.join("k.pub")).unwrap();
    assert!(key.starts_with(b"-----BEGIN PRIVATE KEY-----\n"), "{}", text(&key));
    let mode = std::fs::metadata(dir.join("k.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // A DER SEQUENCE { n, e } of a 2048-bit modulus, and the module parameter carries it.
    assert_eq!(&public[..4], &[0x30, 0x82, 0x01, 0x0a]);
    let hex: String = public.iter().map(|b| format!("{b:02x}")).collect();
    let first = text(&out.stdout);
    assert_eq!(first, format!("pubkey={hex}\n"));
    // Never overwritten: the same name again fails, and the key is unchanged.
    let again = safexc(&["keygen", "-o", s(&base)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("error[L0045]"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(dir.join("k.key")).unwrap(), key);
    // Nor is a lone public key.
    std::fs::write(dir.join("p.pub"), b"keep").unwrap();
    let out = safexc(&["keygen", "-o", s(&dir.join("p"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0045]"), "{}", text(&out.stderr));
    assert!(!dir.join("p.key").exists());
    assert_eq!(std::fs::read(dir.join("p.pub")).unwrap(), b"keep");
    // Two keys from the OS are different; two from one seed are the same.
    let other = safexc(&["keygen", "-o", s(&dir.join("other"))]);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    assert_ne!(text(&other.stdout), first);
    let (a, _) = keygen(&dir, "a", 7);
    let (b, _) = keygen(&dir, "b", 7);
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    // `-` is not a name.
    let out = safexc(&["keygen", "-o", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[L0003]"), "{}", text(&out.stderr));
}

#[test]
fn a_signed_object_verifies_with_its_key_and_any_flipped_byte_is_refused() {
    let dir = tempdir("roundtrip");
    let (key, public) = keygen(&dir, "k", 1);
    let obj = compiled(&dir, "pid", &[]);
    let signed = dir.join("pid.signed.o");
    let out = safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("ok (object: 2 functions"),
        "{}",
        text(&out.stderr)
    );
    let object = std::fs::read(&obj).unwrap();
    let bytes = std::fs::read(&signed).unwrap();
    assert_eq!(bytes.len(), object.len() + 256 + 4 + 8);
    assert_eq!(&bytes[..object.len()], object.as_slice());
    assert!(bytes.ends_with(b"\x00\x01\x00\x00SXSIG01\x00"));

    let (code, stdout, stderr) = verify_with(&public, &signed);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("ok (signed object, signature verified: 2 functions"),
        "{stdout}"
    );
    // Without a key, the object is checked and the summary says the signature was not.
    let out = safexc(&["verify", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ok (signed object, signature not checked without --pubkey"),
        "{}",
        text(&out.stdout)
    );
    // `run` runs a signed object as its object.
    let out = safexc(&["run", s(&signed), "--ticks", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("| cpu_pid | "), "{}", text(&out.stdout));
    // `inspect` shows the object and the signature's length.
    let out = safexc(&["inspect", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("== TAL (.safex.tal)"));
    assert!(
        text(&out.stdout).contains("256 bytes, RSA-2048"),
        "{}",
        text(&out.stdout)
    );

    // One flipped byte: in the object, the signature, the length, the magic.
    let n = bytes.len();
    for (at, expected) in [
        (0, "L0047"),
        (0x60, "L0047"),
        (object.len() - 1, "L0047"),
        (object.len(), "L0043"),
        (object.len() + 255, "L0043"),
        (n - 12, "L0041"),
        (n - 9, "L0041"),
        (n - 8, "L0040"),
        (n - 1, "L0040"),
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x04;
        let tampered = dir.join("tampered.o");
        std::fs::write(&tampered, &bad).unwrap();
        let (code, stdout, stderr) = verify_with(&public, &tampered);
        assert_eq!(code, Some(1), "byte {at}: {stdout}");
        assert!(
            stdout.ends_with(&format!("rejected: {expected}\n")),
            "byte {at}: {stdout}"
        );
        assert!(stderr.contains(&format!("error[{expected}]")), "byte {at}: {stderr}");
    }
}

#[test]
fn wrong_keys_unsigned_objects_and_bad_public_keys_are_refused() {
    let dir = tempdir("refused");
    let (key, _) = keygen(&dir, "k", 2);
    let (_, other) = keygen(&dir, "other", 3);
    let obj = compiled(&dir, "pid", &[]);
    let signed = dir.join("pid.signed.o");
    let out = safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let (code, stdout, stderr) = verify_with(&other, &signed);
    assert_eq!(code, Some(1));
    assert!(stdout.ends_with("rejected: L0043\n"), "{stdout}");
    assert!(stderr.contains("another key"), "{stderr}");
    // An object that passes every check but is not signed.
    let (code, stdout, _) = verify_with(&other, &obj);
    assert_eq!(code, Some(1));
    assert!(stdout.ends_with("rejected: L0040\n"), "{stdout}");
    // TAL is never signed.
    let (code, stdout, _) = verify_with(&other, Path::new("examples/tal/cpu_pid.tal"));
    assert_eq!(code, Some(1));
    assert!(stdout.ends_with("rejected: L0040\n"), "{stdout}");
    // The private key, or junk, as the public key.
    let (code, stdout, _) = verify_with(&key, &signed);
    assert_eq!(code, Some(1));
    assert!(stdout.ends_with("rejected: L0042\n"), "{stdout}");
    // A missing public key fails the run before anything is checked.
    let out = safexc(&["verify", "--pubkey", s(&dir.join("none.pub")), s(&signed)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0001]"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn sign_runs_every_check_and_writes_nothing_for_a_refused_object() {
    let dir = tempdir("checks");
    let (key, public) = keygen(&dir, "k", 4);
    let out_path = dir.join("out.o");
    let sign = |input: &Path, key: &Path| safexc(&["sign", s(input), "--key", s(key), "-o", s(&out_path)]);
    // --no-fuel: refused as by every loader.
    let no_fuel = compiled(&dir, "nofuel", &["--no-fuel"]);
    let out = sign(&no_fuel, &key);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0020]"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("rejected: L0020"), "{}", text(&out.stderr));
    assert!(!out_path.exists());
    // Code that is not what its TAL compiles to.
    let obj = compiled(&dir, "pid", &[]);
    let mut bytes = std::fs::read(&obj).unwrap();
    bytes[0x60] ^= 0x10;
    let tampered = dir.join("tampered.o");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = sign(&tampered, &key);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("rejected: C0"), "{}", text(&out.stderr));
    assert!(!out_path.exists());
    // TAL, not an object.
    let out = sign(Path::new("examples/tal/cpu_pid.tal"), &key);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out_path.exists());
    // A public key is not a private key.
    let out = sign(&obj, &public);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0044]"), "{}", text(&out.stderr));
    assert!(!out_path.exists());
    // Already signed.
    let signed = dir.join("signed.o");
    assert_eq!(
        safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&signed)])
            .status
            .code(),
        Some(0)
    );
    let out = sign(&signed, &key);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0046]"), "{}", text(&out.stderr));
    assert!(!out_path.exists());
    // The output is never the input, nor the key.
    for (input, output) in [(&obj, &obj), (&obj, &key)] {
        let before = std::fs::read(output).unwrap();
        let out = safexc(&["sign", s(input), "--key", s(&key), "-o", s(output)]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("error[L0004]"), "{}", text(&out.stderr));
        assert_eq!(std::fs::read(output).unwrap(), before);
    }
    // An unwritable output.
    let out = safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&dir.join("no/such/dir.o"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0002]"), "{}", text(&out.stderr));
}

#[test]
fn run_loads_signed_objects_of_a_trusted_key_on_their_signature() {
    let dir = tempdir("trust");
    let (key, public) = keygen(&dir, "k", 6);
    let (_, other) = keygen(&dir, "other", 7);
    let obj = compiled(&dir, "pid", &[]);
    let signed = dir.join("pid.signed.o");
    let out = safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--ticks", "3", "--set", "target_cpu=20000"];
        all.extend_from_slice(args);
        safexc(&all)
    };
    // Trusted: the same run as the unsigned object's.
    let plain = run(&[s(&obj)]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    for args in [
        vec![s(&signed), "--trust", s(&public)],
        vec![s(&signed), "--trust", s(&other), "--trust", s(&public)],
        // Unsigned objects are checked in full, trusted keys or not.
        vec![s(&obj), "--trust", s(&public)],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), text(&plain.stdout), "{args:?}");
    }
    // Another key's signature, with a key trusted: refused, as the module refuses it.
    let out = run(&[s(&signed), "--trust", s(&other)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).ends_with("pid.signed.o: refused: L0043\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("error[L0043]"), "{}", text(&out.stderr));
    // Changed after signing.
    let mut bytes = std::fs::read(&signed).unwrap();
    bytes[0x60] ^= 0x04;
    let tampered = dir.join("tampered.o");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = run(&[s(&tampered), "--trust", s(&public)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).ends_with("refused: L0047\n"), "{}", text(&out.stdout));
    // Without `--trust` the object inside is checked, and the change found.
    let out = run(&[s(&tampered)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("refused: C0"), "{}", text(&out.stdout));
    // A private key, or a missing file, as the key; standard input twice.
    let out = run(&[s(&signed), "--trust", s(&key)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0042]"), "{}", text(&out.stderr));
    let out = run(&[s(&signed), "--trust", s(&dir.join("none.pub"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0001]"), "{}", text(&out.stderr));
    let out = run(&["-", "--trust", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[L0003]"), "{}", text(&out.stderr));
}

/// An independent implementation of RSASSA-PKCS1-v1_5 with SHA-256 (the
/// scheme the kernel's `public_key_verify_signature` checks) accepts the
/// signature, given the public key in the DER form the kernel takes.
#[test]
fn openssl_verifies_the_signature() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl is not installed: the cross-check is skipped");
        return;
    }
    let dir = tempdir("openssl");
    let (key, public) = keygen(&dir, "k", 5);
    let obj = compiled(&dir, "pid", &[]);
    let signed = dir.join("pid.signed.o");
    let out = safexc(&["sign", s(&obj), "--key", s(&key), "-o", s(&signed)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let bytes = std::fs::read(&signed).unwrap();
    let object_len = bytes.len() - 256 - 12;
    std::fs::write(dir.join("object"), &bytes[..object_len]).unwrap();
    std::fs::write(dir.join("signature"), &bytes[object_len..object_len + 256]).unwrap();
    let openssl = |args: &[&str]| Command::new("openssl").args(args).current_dir(&dir).output().unwrap();
    let pem = openssl(&[
        "rsa",
        "-pubin",
        "-inform",
        "DER",
        "-RSAPublicKey_in",
        "-in",
        s(&public),
        "-out",
        "k.pem",
    ]);
    assert!(pem.status.success(), "{}", text(&pem.stderr));
    let verified = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "k.pem",
        "-signature",
        "signature",
        "object",
    ]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert_eq!(text(&verified.stdout), "Verified OK\n");
    // openssl reads the private key too, and refuses a changed object.
    let private = openssl(&["pkey", "-in", s(&key), "-noout"]);
    assert!(private.status.success(), "{}", text(&private.stderr));
    let mut changed = bytes[..object_len].to_vec();
    changed[0x60] ^= 1;
    std::fs::write(dir.join("object"), &changed).unwrap();
    let refused = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "k.pem",
        "-signature",
        "signature",
        "object",
    ]);
    assert!(!refused.status.success());
}
