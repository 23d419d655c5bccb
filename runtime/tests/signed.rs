//! Loading signed objects on a trusted key's signature, and the load
//! cache: a signed object of a trusted key runs as its unsigned self
//! without the verifier or re-lowering; other keys' signatures and changed
//! bytes are refused; the cache gives back exactly what the checks
//! accepted, for exactly the bytes and configuration they ran with, and
//! stays within its bounds. (Hostile structures behind a trusted signature:
//! `hostile.rs`.)

#![forbid(unsafe_code)]
// Loading maps code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use rand::SeedableRng;
use rand::rngs::StdRng;
use runtime::load::{Accepted, LoadCache, Loader};
use runtime::manager::TickReport;
use runtime::signed::{self, PrivateKey, PublicKey};
use runtime::{Host, HostConfig};
use std::sync::OnceLock;

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

fn object(source: &str) -> Vec<u8> {
    bench::compile_object("test.pop", source, false).unwrap()
}

/// The PID extension with proportional gain `kp` per mille: a valid object
/// of the same shape, other bytes.
fn pid_with_gain(kp: u32) -> Vec<u8> {
    let source = PID.replace("KP = 500", &format!("KP = {kp}"));
    assert!(kp == 500 || source != PID);
    object(&source)
}

/// Test keys: (private key, its DER public key), one per seed, made once.
fn key(seed: u64) -> &'static (PrivateKey, Vec<u8>) {
    static KEYS: [OnceLock<(PrivateKey, Vec<u8>)>; 4] = [const { OnceLock::new() }; 4];
    KEYS[seed as usize].get_or_init(|| {
        let key = signed::generate(&mut StdRng::seed_from_u64(0x5afe_5100 + seed)).unwrap();
        let public = signed::public_key_der(&key).unwrap();
        (key, public)
    })
}

fn sign(object: &[u8], seed: u64) -> Vec<u8> {
    signed::sign(object, &key(seed).0).unwrap()
}

fn host(trusted: &[u64]) -> Host {
    let mut host = runtime::system::host(HostConfig::default(), false).expect("host");
    for &seed in trusted {
        host.trust(&key(seed).1).expect("an RSA-2048 public key");
    }
    host
}

/// Runs `ticks` ticks of one application with the PID extension's inputs
/// moving, and returns the adjustment after each and the extension's data.
fn run_pid(host: &mut Host, app: runtime::AppId, ext: runtime::ExtId, ticks: i64) -> (Vec<i64>, Vec<i64>) {
    host.write_attribute(app, "target_cpu", 20_000).unwrap();
    host.write_attribute(app, "period", 25_000).unwrap();
    let mut seen = Vec::new();
    let mut report = TickReport::default();
    for t in 0..ticks {
        host.write_attribute(app, "actual_cpu", 14_000 + (t * 7_919) % 9_000)
            .unwrap();
        host.tick(&mut report);
        assert!(report.traps.is_empty(), "tick {t}: {:?}", report.traps);
        seen.push(host.attribute(app, "timeslice_adjustment").unwrap());
    }
    (seen, host.data(ext).unwrap().to_vec())
}

#[test]
fn a_signed_object_of_a_trusted_key_loads_without_the_checks_and_runs_as_its_object() {
    let obj = object(PID);
    let signed = sign(&obj, 0);
    let mut checked = host(&[]);
    let mut trusting = host(&[0]);
    let a = checked.create_app("a").unwrap();
    let b = trusting.create_app("a").unwrap();
    let plain = checked.load(a, &obj).unwrap();
    let on_signature = trusting.load(b, &signed).unwrap();
    assert_eq!(checked.accepted(plain), Some(Accepted::Checked));
    assert_eq!(trusting.accepted(on_signature), Some(Accepted::Signed));
    // A signed object never goes through (or into) the cache.
    assert_eq!((trusting.load_cache().hits(), trusting.load_cache().misses()), (0, 0));
    assert!(trusting.load_cache().is_empty());
    // An entry point invoked directly returns the same.
    for host_ext in [(&mut checked, plain), (&mut trusting, on_signature)] {
        let (host, ext) = host_ext;
        let monitor = host.entry(ext, "cpu_monitor").unwrap();
        assert_eq!(host.invoke(monitor, None), Ok(Some(0)));
        let handler = host.entry(ext, "cpu_pid").unwrap();
        assert_eq!(host.invoke(handler, Some(1_000)), Ok(Some(0)));
    }
    assert_eq!(checked.data(plain), trusting.data(on_signature));
    assert_eq!(
        checked.attribute(a, "timeslice_adjustment"),
        trusting.attribute(b, "timeslice_adjustment")
    );
    // And ticks give the same adjustments and leave the same state.
    let left = run_pid(&mut checked, a, plain, 60);
    let right = run_pid(&mut trusting, b, on_signature, 60);
    assert_eq!(left, right);
    assert!(left.0.iter().any(|&u| u != 0));
    assert_eq!(checked.counters(plain), trusting.counters(on_signature));
}

#[test]
fn a_signed_guard_installs_on_its_signature_and_guards_as_its_object() {
    let (_, guard) = runtime::system::GUARDS[0];
    let mut checked = host(&[]);
    let mut trusting = host(&[1]);
    let g0 = checked.install_guard(guard).unwrap();
    let g1 = trusting.install_guard(&sign(guard, 1)).unwrap();
    assert_eq!(checked.accepted(g0), Some(Accepted::Checked));
    assert_eq!(trusting.accepted(g1), Some(Accepted::Signed));
    let obj = object(PID);
    let mut outcomes = Vec::new();
    for host in [&mut checked, &mut trusting] {
        let app = host.create_app("a").unwrap();
        let ext = host.load(app, &obj).unwrap();
        // Large errors, so that the guard has adjustments to refuse.
        host.write_attribute(app, "target_cpu", 90_000).unwrap();
        host.write_attribute(app, "period", 100_000).unwrap();
        let mut report = TickReport::default();
        let mut seen = Vec::new();
        for t in 0..20 {
            host.write_attribute(app, "actual_cpu", (t * 13_001) % 100_000).unwrap();
            host.tick(&mut report);
            seen.extend(report.changes.iter().map(|c| (c.new, c.outcome.clone())));
        }
        outcomes.push((seen, host.data(ext).unwrap().to_vec()));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(!outcomes[0].0.is_empty());
}

#[test]
fn a_signature_no_trusted_key_made_is_refused() {
    let signed = sign(&object(PID), 0);
    let mut host = host(&[2]);
    let app = host.create_app("a").unwrap();
    let e = host.load(app, &signed).unwrap_err();
    assert_eq!(e.code, "L0043", "{e}");
    assert!(e.message.contains("another key signed the object"), "{e}");
    assert!(host.extensions(app).is_empty());
    let e = host.install_guard(&signed).unwrap_err();
    assert_eq!(e.code, "L0043", "{e}");
    // With two keys trusted, neither the signer.
    host.trust(&key(3).1).unwrap();
    host.trust(&key(3).1).unwrap();
    assert_eq!(host.trusted_keys().len(), 2, "a key trusted twice counts once");
    let e = host.load(app, &signed).unwrap_err();
    assert_eq!(e.code, "L0043", "{e}");
    assert!(e.message.contains("none of the 2 trusted public keys"), "{e}");
    // Trusting the signer too: it loads on its signature.
    host.trust(&key(0).1).unwrap();
    let ext = host.load(app, &signed).unwrap();
    assert_eq!(host.accepted(ext), Some(Accepted::Signed));
    // An unsigned object still loads, through every check.
    let ext = host.load(app, &object(PID)).unwrap();
    assert_eq!(host.accepted(ext), Some(Accepted::Checked));
    // A key that is not an RSA-2048 public key is refused, and not trusted.
    let (private, _) = key(0);
    let pem = signed::private_key_pem(private).unwrap();
    for bad in [pem.as_bytes(), b"", b"\x30\x03junk"] {
        assert_eq!(host.trust(bad).unwrap_err().code, "L0042");
    }
    assert_eq!(host.trusted_keys().len(), 3);
}

#[test]
fn a_signed_object_changed_after_signing_is_refused() {
    let obj = object(PID);
    let signed = sign(&obj, 0);
    let mut host = host(&[0]);
    let app = host.create_app("a").unwrap();
    let n = signed.len();
    let at = |i: usize, bit: u8| {
        let mut bad = signed.clone();
        bad[i] ^= bit;
        bad
    };
    // Anywhere in the object: this key's signature, of other bytes.
    for i in [0, 0x40, obj.len() / 2, obj.len() - 1] {
        let e = host.load(app, &at(i, 0x01)).unwrap_err();
        assert_eq!(e.code, "L0047", "byte {i}: {e}");
    }
    // In the signature: no key's signature; in the length: malformed.
    assert_eq!(host.load(app, &at(obj.len(), 0x01)).unwrap_err().code, "L0043");
    assert_eq!(host.load(app, &at(n - 12, 0x01)).unwrap_err().code, "L0041");
    // In the magic: no longer a signed object, but an object with 268
    // bytes after it, which the full checks refuse.
    let e = host.load(app, &at(n - 1, 0x01)).unwrap_err();
    assert!(e.code.starts_with('C'), "{e}");
    assert!(host.extensions(app).is_empty());
    // The original still loads.
    host.load(app, &signed).unwrap();
}

#[test]
fn without_a_trusted_key_a_signed_object_is_checked_in_full() {
    let obj = object(PID);
    let mut host = host(&[]);
    let app = host.create_app("a").unwrap();
    // Any key's signature: the host checks the object inside itself.
    let ext = host.load(app, &sign(&obj, 2)).unwrap();
    assert_eq!(host.accepted(ext), Some(Accepted::Checked));
    // The object inside is what was checked and kept: the unsigned bytes
    // hit the cache.
    let ext = host.load(app, &obj).unwrap();
    assert_eq!(host.accepted(ext), Some(Accepted::Cached));
    // A signed object that fails the checks is refused whatever signed it.
    let no_fuel = {
        let module = popcorn_front::compile(PID, &popcorn_front::Options::default())
            .module
            .unwrap();
        codegen::object::compile(&module, codegen::Options { no_fuel: true }).unwrap()
    };
    assert_eq!(host.load(app, &sign(&no_fuel, 2)).unwrap_err().code, "L0020");
    // A malformed trailer is refused either way.
    let mut bad = sign(&obj, 2);
    let len_at = bad.len() - 12;
    bad[len_at] ^= 1;
    assert_eq!(host.load(app, &bad).unwrap_err().code, "L0041");
}

#[test]
fn a_cached_reload_behaves_as_the_first_load() {
    let obj = object(PID);
    let mut host = host(&[]);
    let (a, b) = (host.create_app("a").unwrap(), host.create_app("b").unwrap());
    let first = host.load(a, &obj).unwrap();
    let again = host.load(b, &obj).unwrap();
    assert_eq!(host.accepted(first), Some(Accepted::Checked));
    assert_eq!(host.accepted(again), Some(Accepted::Cached));
    let cache = host.load_cache();
    assert_eq!((cache.hits(), cache.misses(), cache.len()), (1, 1, 1));
    assert_eq!(cache.bytes(), obj.len());
    // Each has its own code mapping and data region, and they compute the same.
    let left = run_pid(&mut host, a, first, 40);
    let right = run_pid(&mut host, b, again, 40);
    assert_eq!(left, right);
    // Unloading one leaves the other, and the cached parts, intact.
    assert!(host.unload(first));
    let third = host.load(a, &obj).unwrap();
    assert_eq!(host.accepted(third), Some(Accepted::Cached));
    let monitor = host.entry(again, "cpu_monitor").unwrap();
    assert_eq!(host.invoke(monitor, None), Ok(Some(0)));
}

#[test]
fn the_cache_tells_apart_objects_that_differ_in_one_byte() {
    let config = verifier::Config::default();
    let obj = object(PID);
    let mut cache = LoadCache::new(8, 1 << 20);
    let (_, how) = cache.check(&obj, &config).unwrap();
    assert_eq!(how, Accepted::Checked);
    // One byte anywhere, the length, or another valid object: another key,
    // checked in full; a refusal is checked again each time.
    let mut text_byte = obj.clone();
    text_byte[0x45] ^= 0x01;
    let mut last_byte = obj.clone();
    *last_byte.last_mut().unwrap() ^= 0x80;
    let mut longer = obj.clone();
    longer.push(0);
    for (what, bytes) in [
        ("a .text byte", &text_byte),
        ("the last byte", &last_byte),
        ("one more byte", &longer),
    ] {
        for _ in 0..2 {
            let misses = cache.misses();
            let e = cache.check(bytes, &config).unwrap_err();
            assert_eq!(cache.misses(), misses + 1, "{what}: {e}");
        }
    }
    assert_eq!(cache.len(), 1, "refusals are not kept");
    let variant = pid_with_gain(600);
    assert_eq!(variant.len(), obj.len());
    let differing: Vec<usize> = (0..obj.len()).filter(|&i| obj[i] != variant[i]).collect();
    assert!(!differing.is_empty());
    let (parts, how) = cache.check(&variant, &config).unwrap();
    assert_eq!(how, Accepted::Checked);
    assert_ne!(parts.text, read(&obj).text, "the variant's own code");
    let (parts, how) = cache.check(&obj, &config).unwrap();
    assert_eq!(how, Accepted::Cached);
    assert_eq!(*parts, read(&obj));
    let (parts, how) = cache.check(&variant, &config).unwrap();
    assert_eq!(how, Accepted::Cached);
    assert_eq!(*parts, read(&variant));
}

fn read(bytes: &[u8]) -> codegen::object::ObjectParts {
    codegen::object::read_object(bytes).unwrap()
}

#[test]
fn the_cache_keys_on_the_verifier_configuration() {
    let obj = object(PID);
    let default = verifier::Config::default();
    let mut cache = LoadCache::new(8, 1 << 20);
    assert_eq!(cache.check(&obj, &default).unwrap().1, Accepted::Checked);
    assert_eq!(cache.check(&obj, &default).unwrap().1, Accepted::Cached);
    // A stack bound the object does not fit: refused, not found.
    let tight = verifier::Config {
        stack_limit: 8,
        ..default.clone()
    };
    let e = cache.check(&obj, &tight).unwrap_err();
    assert!(e.code.starts_with("V05"), "{e}");
    // Any other field is another key too.
    let fewer_errors = verifier::Config {
        max_errors: 1,
        ..default.clone()
    };
    assert_eq!(cache.check(&obj, &fewer_errors).unwrap().1, Accepted::Checked);
    assert_eq!(cache.check(&obj, &fewer_errors).unwrap().1, Accepted::Cached);
    assert_eq!(cache.len(), 2);
    // A host's cache runs under its own configuration.
    let mut host = runtime::system::host(
        HostConfig {
            verifier: tight,
            ..HostConfig::default()
        },
        false,
    )
    .unwrap();
    let app = host.create_app("a").unwrap();
    assert!(host.load(app, &obj).unwrap_err().code.starts_with("V05"));
}

#[test]
fn the_cache_stays_within_its_bounds() {
    let config = verifier::Config::default();
    let objects: Vec<Vec<u8>> = [500, 510, 520].into_iter().map(pid_with_gain).collect();
    let size = objects[0].len();
    assert!(objects.iter().all(|o| o.len() == size));
    // Two entries: the least recently used goes.
    let mut cache = LoadCache::new(2, 1 << 20);
    for o in &objects[..2] {
        cache.check(o, &config).unwrap();
    }
    assert_eq!(cache.check(&objects[0], &config).unwrap().1, Accepted::Cached);
    cache.check(&objects[2], &config).unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.bytes(), 2 * size);
    assert_eq!(cache.check(&objects[0], &config).unwrap().1, Accepted::Cached);
    assert_eq!(
        cache.check(&objects[1], &config).unwrap().1,
        Accepted::Checked,
        "evicted"
    );
    assert_eq!(cache.len(), 2);
    // A byte bound of one and a half objects holds one.
    let mut cache = LoadCache::new(100, size + size / 2);
    for o in &objects {
        cache.check(o, &config).unwrap();
        assert_eq!(cache.len(), 1);
        assert!(cache.bytes() <= size + size / 2);
    }
    assert_eq!(cache.check(&objects[2], &config).unwrap().1, Accepted::Cached);
    // An object larger than the bound is never kept.
    let mut cache = LoadCache::new(100, size - 1);
    for _ in 0..2 {
        assert_eq!(cache.check(&objects[0], &config).unwrap().1, Accepted::Checked);
    }
    assert_eq!((cache.len(), cache.bytes(), cache.hits(), cache.misses()), (0, 0, 0, 0));
    // No entries: nothing kept.
    let mut cache = LoadCache::new(0, 1 << 20);
    for _ in 0..2 {
        assert_eq!(cache.check(&objects[0], &config).unwrap().1, Accepted::Checked);
    }
    assert!(cache.is_empty());
    // Many loads through a host keep at most its configured entries.
    let mut host = runtime::system::host(
        HostConfig {
            load_cache_entries: 2,
            ..HostConfig::default()
        },
        false,
    )
    .unwrap();
    let app = host.create_app("a").unwrap();
    for o in objects.iter().cycle().take(7) {
        let ext = host.load(app, o).unwrap();
        assert!(host.unload(ext));
    }
    assert_eq!(host.load_cache().len(), 2);
    assert_eq!(host.load_cache().hits(), 0, "a cycle of 3 through 2 entries never hits");
}

#[test]
fn the_loader_alone_takes_the_same_paths() {
    let obj = object(PID);
    let config = verifier::Config::default();
    let mut loader = Loader::new(4, 1 << 20);
    assert_eq!(loader.load(&obj, &config).unwrap().accepted, Accepted::Checked);
    assert_eq!(loader.load(&sign(&obj, 0), &config).unwrap().accepted, Accepted::Cached);
    loader.trust(PublicKey::from_der(&key(0).1).unwrap());
    let loaded = loader.load(&sign(&obj, 0), &config).unwrap();
    assert_eq!(loaded.accepted, Accepted::Signed);
    assert_eq!(*loaded.parts, read(&obj));
    assert_eq!(loader.load(&sign(&obj, 1), &config).err().unwrap().code, "L0043");
    assert_eq!(loader.load(&obj, &config).unwrap().accepted, Accepted::Cached);
    // `load_signed` with the key, and `verify_any` with none.
    let keys = [PublicKey::from_der(&key(0).1).unwrap()];
    assert!(runtime::load::load_signed(&sign(&obj, 0), &keys).is_ok());
    assert_eq!(runtime::load::load_signed(&obj, &keys).err().unwrap().code, "L0040");
    assert_eq!(signed::verify_any(&sign(&obj, 0), &[]).unwrap_err().code, "L0043");
}
