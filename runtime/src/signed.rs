//! Signed objects: what a host that cannot run the checks (the kernel
//! module) accepts instead. `safexc sign` runs every check of [`crate::load`]
//! and only then signs; a host holding only the public key checks the
//! signature. The user-space host does too for the keys it is told to
//! trust (`Host::trust`, `crate::load::Loader`), and then skips the
//! verifier and re-lowering.
//!
//! The format is the object's bytes followed by a trailer:
//!
//! ```text
//! object bytes || signature (k bytes) || k (u32, little-endian) || b"SXSIG01\0"
//! ```
//!
//! The scheme is RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256, over exactly the
//! object's bytes, so `k` is 256. It is what Linux's own
//! `public_key_verify_signature` checks with `CONFIG_CRYPTO_RSA` (Debian
//! 6.1's kernel has RSA but not ECDSA). The public key is the DER
//! `RSAPublicKey` of PKCS#1 (`SEQUENCE { n, e }`), the form the kernel takes;
//! the private key is kept as a PKCS#8 PEM file. `docs/object.md` says more.

use crate::load::LoadError;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U2048};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::rand_core::TryCryptoRng;
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Signer;
use rsa::traits::PublicKeyParts;

pub use rsa::PrivateKey;

/// The last bytes of a signed object.
pub const MAGIC: &[u8; 8] = b"SXSIG01\0";

/// The size of the keys, in bits.
pub const KEY_BITS: usize = 2048;

/// The length of a signature, in bytes: that of the modulus.
pub const SIGNATURE_LEN: usize = KEY_BITS / 8;

/// The signature's length field and the magic.
const TRAILER_LEN: usize = 4 + MAGIC.len();

/// A signed object's parts: the object and its signature.
pub type Parts<'a> = (&'a [u8], &'a [u8]);

/// Splits a signed object into the object and its signature; `None` when
/// `bytes` do not end with the magic (an object that was not signed), an
/// `L0041` error when they do but the length field is not
/// [`SIGNATURE_LEN`] or the file is too short to hold the signature.
pub fn split(bytes: &[u8]) -> Result<Option<Parts<'_>>, LoadError> {
    let Some(rest) = bytes.strip_suffix(MAGIC.as_slice()) else {
        return Ok(None);
    };
    let malformed = |why: String| LoadError::new("L0041", format!("malformed signature trailer: {why}"));
    let Some((rest, len)) = rest.split_last_chunk::<4>() else {
        return Err(malformed(format!("{} bytes cannot hold the length field", bytes.len())));
    };
    let len = u32::from_le_bytes(*len);
    if usize::try_from(len).ok() != Some(SIGNATURE_LEN) {
        return Err(malformed(format!(
            "the signature's length is {len} bytes; an RSA-2048 signature has {SIGNATURE_LEN}"
        )));
    }
    let Some(object_len) = rest.len().checked_sub(SIGNATURE_LEN) else {
        return Err(malformed(format!(
            "the file has {} bytes, too few for a {SIGNATURE_LEN}-byte signature and its trailer",
            bytes.len()
        )));
    };
    Ok(Some(rest.split_at(object_len)))
}

/// A new RSA-2048 key drawn from `rng`, which must be a cryptographic
/// generator seeded from the operating system for a key that is secret.
/// `L0044` if the generator fails.
pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<PrivateKey, LoadError> {
    PrivateKey::new(rng, KEY_BITS).map_err(|e| LoadError::new("L0044", format!("cannot generate a key: {e}")))
}

/// The private key as a PKCS#8 PEM file.
pub fn private_key_pem(key: &PrivateKey) -> Result<String, LoadError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.as_str().to_owned())
        .map_err(|e| LoadError::new("L0044", format!("cannot encode the private key: {e}")))
}

/// Reads a PKCS#8 PEM private key file's text: `L0044` unless it is an
/// RSA-2048 key.
pub fn read_private_key(pem: &[u8]) -> Result<PrivateKey, LoadError> {
    let bad = |why: String| LoadError::new("L0044", format!("not an RSA-2048 private key in PKCS#8 PEM: {why}"));
    let text = std::str::from_utf8(pem).map_err(|e| bad(e.to_string()))?;
    let key = PrivateKey::from_pkcs8_pem(text).map_err(|e| bad(e.to_string()))?;
    if key.size() != SIGNATURE_LEN {
        return Err(bad(format!("the key has {} bits", key.size() * 8)));
    }
    Ok(key)
}

/// The public half of `key` as a DER `RSAPublicKey` (PKCS#1), the form the
/// kernel module takes.
pub fn public_key_der(key: &PrivateKey) -> Result<Vec<u8>, LoadError> {
    key.to_public_key()
        .to_pkcs1_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| LoadError::new("L0044", format!("cannot encode the public key: {e}")))
}

/// `object` followed by its signature and the trailer. `L0044` if the key
/// cannot sign (it is not RSA-2048).
pub fn sign(object: &[u8], key: &PrivateKey) -> Result<Vec<u8>, LoadError> {
    if key.size() != SIGNATURE_LEN {
        return Err(LoadError::new(
            "L0044",
            format!("the key has {} bits; objects are signed with RSA-2048", key.size() * 8),
        ));
    }
    let signature = SigningKey::<Sha256>::new(key.clone())
        .try_sign(object)
        .map_err(|e| LoadError::new("L0044", format!("cannot sign: {e}")))?;
    let signature: Box<[u8]> = signature.into();
    let mut signed = Vec::with_capacity(object.len() + signature.len() + TRAILER_LEN);
    signed.extend_from_slice(object);
    signed.extend_from_slice(&signature);
    // SIGNATURE_LEN (256) fits a u32.
    signed.extend_from_slice(&(SIGNATURE_LEN as u32).to_le_bytes());
    signed.extend_from_slice(MAGIC);
    Ok(signed)
}

/// Checks a signed object's signature with the DER `RSAPublicKey`
/// `public_key`; the object inside if it verifies. `L0040`: not signed;
/// `L0041`: malformed trailer; `L0042`: not an RSA-2048 public key;
/// `L0043`: the signature is not this key's (another key made it, or its
/// bytes changed); `L0047`: it is this key's signature of other bytes (the
/// object changed after it was signed).
pub fn verify<'a>(signed: &'a [u8], public_key: &[u8]) -> Result<&'a [u8], LoadError> {
    let (object, signature) = signed_parts(signed)?;
    let key = PublicKey::from_der(public_key)?;
    verify_parts(object, signature, std::slice::from_ref(&key))?;
    Ok(object)
}

/// Checks a signed object's signature with each of `keys` (the keys a host
/// trusts); the object inside if one of them made it. The codes are
/// [`verify`]'s: `L0047` if the signature is one of these keys', of other
/// bytes; `L0043` if it is none of theirs (or `keys` is empty).
pub fn verify_any<'a>(signed: &'a [u8], keys: &[PublicKey]) -> Result<&'a [u8], LoadError> {
    let (object, signature) = signed_parts(signed)?;
    verify_parts(object, signature, keys)?;
    Ok(object)
}

/// [`split`], with `L0040` for an object that is not signed.
fn signed_parts(signed: &[u8]) -> Result<Parts<'_>, LoadError> {
    split(signed)?.ok_or_else(|| {
        LoadError::new(
            "L0040",
            "the object is not signed: it does not end with a signature trailer (`SXSIG01`); sign it with \
             `safexc sign`",
        )
    })
}

/// Checks that one of `keys` signed exactly `object` with `signature` (the
/// two halves [`split`] returns); the codes are [`verify_any`]'s.
pub fn verify_parts(object: &[u8], signature: &[u8], keys: &[PublicKey]) -> Result<(), LoadError> {
    if keys.is_empty() {
        return Err(LoadError::new(
            "L0043",
            "no public key is trusted: no signature can be checked",
        ));
    }
    // The digest once, whatever the number of keys; one public-key
    // operation per key, which also tells "of other bytes" apart.
    let digest: [u8; 32] = Sha256::digest(object).into();
    let mut other_bytes = false;
    for key in keys {
        match signed_digest(key, signature) {
            Some(signed) if signed == digest => return Ok(()),
            Some(_) => other_bytes = true,
            None => {}
        }
    }
    let one_key = keys.len() == 1;
    Err(if other_bytes {
        LoadError::new(
            "L0047",
            if one_key {
                "the object was changed after it was signed: the signature is this key's, of other bytes"
            } else {
                "the object was changed after it was signed: the signature is a trusted key's, of other bytes"
            },
        )
    } else if one_key {
        LoadError::new(
            "L0043",
            "the signature is not this public key's: another key signed the object, or the signature's \
             bytes were changed",
        )
    } else {
        LoadError::new(
            "L0043",
            format!(
                "the signature is none of the {} trusted public keys': another key signed the object, or the \
                 signature's bytes were changed",
                keys.len()
            ),
        )
    })
}

/// A public key, read once: what [`verify_any`] checks signatures with
/// and what a host trusts (`Host::trust`). It holds the modulus's
/// Montgomery parameters, computed once.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The modulus, odd, of 2048 bits.
    n: U2048,
    params: FixedMontyParams<LIMBS>,
    /// The public exponent: odd, from 3 to 2^33 - 1 (`rsa` reads no other).
    e: u64,
    /// SHA-256 of the DER `RSAPublicKey`, to tell keys apart.
    fingerprint: [u8; 32],
}

/// Limbs of a 2048-bit integer.
const LIMBS: usize = U2048::LIMBS;

impl PublicKey {
    /// Reads a DER `RSAPublicKey` (PKCS#1) of 2048 bits, the form `safexc
    /// keygen` writes to `NAME.pub` and the kernel module takes; `L0042`
    /// otherwise.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, LoadError> {
        let key = read_public_key(der)?;
        let bad = |why: &str| {
            LoadError::new(
                "L0042",
                format!("not an RSA-2048 public key in DER RSAPublicKey: {why}"),
            )
        };
        let n = key.n().as_ref().to_be_bytes();
        // `read_public_key` took a modulus of 2048 bits.
        let (high, low) = n.split_at(n.len().saturating_sub(SIGNATURE_LEN));
        if low.len() != SIGNATURE_LEN || high.iter().any(|&b| b != 0) {
            return Err(bad("the modulus is not 2048 bits long"));
        }
        let n = U2048::from_be_slice(low);
        let Some(odd) = Odd::new(n).into_option() else {
            return Err(bad("the modulus is even"));
        };
        let e = key.e().to_be_bytes();
        let (high, low) = e.split_at(e.len().saturating_sub(8));
        let e = u64::from_be_bytes(low.try_into().map_err(|_| bad("no exponent"))?);
        if high.iter().any(|&b| b != 0) || e < 3 || e % 2 == 0 {
            return Err(bad("the public exponent is not an odd number from 3 to 2^64 - 1"));
        }
        Ok(PublicKey {
            n,
            params: FixedMontyParams::new_vartime(odd),
            e,
            fingerprint: Sha256::digest(der).into(),
        })
    }

    /// SHA-256 of the key's DER `RSAPublicKey`: equal for equal keys.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for PublicKey {}

/// DER of `DigestInfo { sha256, OCTET STRING(32) }`, before the hash.
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];

/// The SHA-256 digest `signature` signs under `key`, if raised to the
/// public exponent it is the PKCS#1 v1.5 encoding of one (`00 01 FF… 00
/// DigestInfo hash`, RFC 8017 §9.2, the whole modulus long). This is
/// RSASSA-PKCS1-v1_5 verification (§8.2.2) with the comparison left to the
/// caller: the encoding is the expected one exactly when the digest is the
/// object's. Only the private key makes such a signature, so one of
/// another digest signs other bytes; the kernel's `pkcs1pad` tells the two
/// cases apart the same way (`EKEYREJECTED` for another digest, `EBADMSG`
/// for a bad encoding).
fn signed_digest(key: &PublicKey, signature: &[u8]) -> Option<[u8; 32]> {
    // §8.2.2 step 1 and RSAVP1's range check: as long as the modulus, and
    // below it.
    if signature.len() != SIGNATURE_LEN {
        return None;
    }
    let s = U2048::from_be_slice(signature);
    if s >= key.n {
        return None;
    }
    let em = public_operation(key, &s).to_be_bytes();
    let em: &[u8] = em.as_ref();
    let padding = SIGNATURE_LEN - 3 - SHA256_PREFIX.len() - 32;
    let encoded = em.len() == SIGNATURE_LEN
        && em[..2] == [0x00, 0x01]
        && em[2..2 + padding].iter().all(|&b| b == 0xff)
        && em[2 + padding] == 0x00
        && em[3 + padding..3 + padding + SHA256_PREFIX.len()] == SHA256_PREFIX;
    encoded.then(|| em[SIGNATURE_LEN - 32..].try_into().expect("32 bytes"))
}

/// `s^e mod n` (RSAVP1), for `s < n`: left-to-right square-and-multiply in
/// Montgomery form over the bits of the public exponent, 16 squarings and
/// one multiplication for 65537, on fixed-size 2048-bit integers.
/// Variable-time, which is sound for public inputs only: the key, the
/// signature and the object are all public. (`rsa`'s own verification
/// computes the same on heap-allocated integers with a constant-time
/// windowed exponentiation, about twice the multiplications and three
/// times the time; a test checks the two agree.)
fn public_operation(key: &PublicKey, s: &U2048) -> U2048 {
    let base = FixedMontyForm::new(s, &key.params);
    let mut acc = base;
    // `e` is at least 3: its top bit is this first power.
    for bit in (0..u64::BITS - 1 - key.e.leading_zeros()).rev() {
        acc = acc.square();
        if key.e >> bit & 1 == 1 {
            acc = acc.mul(&base);
        }
    }
    acc.retrieve()
}

/// A DER `RSAPublicKey` of 2048 bits, or `L0042`.
fn read_public_key(der: &[u8]) -> Result<rsa::PublicKey, LoadError> {
    let bad = |why: String| {
        LoadError::new(
            "L0042",
            format!("not an RSA-2048 public key in DER RSAPublicKey: {why}"),
        )
    };
    let key = rsa::PublicKey::from_pkcs1_der(der).map_err(|e| bad(e.to_string()))?;
    if key.size() != SIGNATURE_LEN {
        return Err(bad(format!("the key has {} bits", key.size() * 8)));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn key(seed: u64) -> PrivateKey {
        generate(&mut StdRng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn sign_then_verify_and_every_flipped_byte_is_refused() {
        let key = key(1);
        let public = public_key_der(&key).unwrap();
        let object = b"\x7fELF and the rest of an object".as_slice();
        let signed = sign(object, &key).unwrap();
        assert_eq!(signed.len(), object.len() + SIGNATURE_LEN + TRAILER_LEN);
        assert_eq!(verify(&signed, &public).unwrap(), object);
        assert_eq!(split(object).unwrap(), None);
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            let code = verify(&bad, &public).unwrap_err().code;
            let expected = if i < object.len() {
                "L0047"
            } else if i < object.len() + SIGNATURE_LEN {
                "L0043"
            } else if i < signed.len() - MAGIC.len() {
                "L0041"
            } else {
                "L0040"
            };
            assert_eq!(code, expected, "byte {i}");
        }
    }

    #[test]
    fn the_wrong_key_a_bad_key_and_short_files_are_refused() {
        let signed = sign(b"object", &key(2)).unwrap();
        let other = public_key_der(&key(3)).unwrap();
        assert_eq!(verify(&signed, &other).unwrap_err().code, "L0043");
        assert_eq!(verify(&signed, b"\x30\x03junk").unwrap_err().code, "L0042");
        assert_eq!(verify(&signed, &[]).unwrap_err().code, "L0042");
        assert_eq!(verify(b"object", &other).unwrap_err().code, "L0040");
        // The trailer alone, or a signature longer than the file.
        assert_eq!(split(MAGIC).unwrap_err().code, "L0041");
        let mut short = 256u32.to_le_bytes().to_vec();
        short.extend_from_slice(MAGIC);
        assert_eq!(split(&short).unwrap_err().code, "L0041");
        // An empty object signs and verifies.
        let key = key(4);
        let empty = sign(b"", &key).unwrap();
        assert_eq!(verify(&empty, &public_key_der(&key).unwrap()).unwrap(), b"");
    }

    #[test]
    fn the_public_operation_and_the_check_agree_with_rsa_s_own() {
        use rand::RngExt;
        use rsa::signature::Verifier;
        let mut rng = StdRng::seed_from_u64(7);
        for seed in [8, 9] {
            let private = key(seed);
            let public = private.to_public_key();
            let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone());
            let ours_key = PublicKey::from_der(&public_key_der(&private).unwrap()).unwrap();
            // Raw: any s below n.
            for _ in 0..20 {
                let mut bytes = [0u8; SIGNATURE_LEN];
                rng.fill(&mut bytes[..]);
                bytes[0] &= 0x7f;
                let s = rsa::BoxedUint::from_be_slice(&bytes, public.n_bits_precision()).unwrap();
                if s >= *public.n().as_ref() {
                    continue;
                }
                let ours = public_operation(&ours_key, &U2048::from_be_slice(&bytes));
                let theirs = rsa::hazmat::rsa_encrypt(&public, &s).unwrap();
                assert_eq!(ours.to_be_bytes().as_ref(), &*theirs.to_be_bytes());
            }
            // Signatures: genuine ones verify both ways, any flipped bit in
            // the object or the signature fails both ways.
            for len in [0usize, 1, 100, 3000] {
                let mut object = vec![0u8; len];
                rng.fill(&mut object[..]);
                let signed = sign(&object, &private).unwrap();
                let (_, signature) = split(&signed).unwrap().unwrap();
                let digest: [u8; 32] = Sha256::digest(&object).into();
                assert_eq!(signed_digest(&ours_key, signature), Some(digest));
                let sig = rsa::pkcs1v15::Signature::try_from(signature).unwrap();
                assert!(verifying.verify(&object, &sig).is_ok());
                for _ in 0..10 {
                    let mut bad_sig = signature.to_vec();
                    let at = rng.random_range(0..bad_sig.len());
                    bad_sig[at] ^= 1 << rng.random_range(0..8);
                    let theirs = rsa::pkcs1v15::Signature::try_from(bad_sig.as_slice())
                        .is_ok_and(|sig| verifying.verify(&object, &sig).is_ok());
                    assert!(!theirs);
                    assert_eq!(signed_digest(&ours_key, &bad_sig), None);
                    if len > 0 {
                        let mut bad_object = object.clone();
                        let at = rng.random_range(0..len);
                        bad_object[at] ^= 1 << rng.random_range(0..8);
                        assert!(verifying.verify(&bad_object, &sig).is_err());
                        let keys = [PublicKey::from_der(&public_key_der(&private).unwrap()).unwrap()];
                        assert_eq!(verify_parts(&bad_object, signature, &keys).unwrap_err().code, "L0047");
                    }
                }
            }
            // Not below the modulus, of another length, all zeros, all ones.
            let n = public.n().as_ref().to_be_bytes();
            for bad in [
                n.to_vec(),
                vec![0xff; SIGNATURE_LEN],
                vec![0; SIGNATURE_LEN],
                vec![1; 255],
                vec![1; 257],
            ] {
                assert_eq!(signed_digest(&ours_key, &bad), None);
            }
        }
    }

    #[test]
    fn several_keys_accept_any_of_their_signatures_and_tell_which_refusal() {
        let (a, b, c) = (key(10), key(11), key(12));
        let public = |k: &PrivateKey| PublicKey::from_der(&public_key_der(k).unwrap()).unwrap();
        let keys = [public(&a), public(&b)];
        assert_ne!(keys[0], keys[1]);
        assert_eq!(keys[0], public(&a));
        for k in [&a, &b] {
            let signed = sign(b"an object", k).unwrap();
            assert_eq!(verify_any(&signed, &keys).unwrap(), b"an object");
            let mut changed = signed.clone();
            changed[0] ^= 1;
            let e = verify_any(&changed, &keys).unwrap_err();
            assert_eq!(e.code, "L0047");
            assert!(e.message.contains("a trusted key's"), "{e}");
        }
        let e = verify_any(&sign(b"an object", &c).unwrap(), &keys).unwrap_err();
        assert_eq!(e.code, "L0043");
        assert!(e.message.contains("none of the 2 trusted public keys"), "{e}");
        assert_eq!(verify_any(&sign(b"x", &a).unwrap(), &[]).unwrap_err().code, "L0043");
        assert_eq!(verify_any(b"x", &keys).unwrap_err().code, "L0040");
    }

    #[test]
    fn keys_round_trip_and_only_rsa_2048_is_accepted() {
        let key = key(5);
        let pem = private_key_pem(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(read_private_key(pem.as_bytes()).unwrap(), key);
        assert_eq!(read_private_key(b"not a key").unwrap_err().code, "L0044");
        assert_eq!(read_private_key(&[0xff, 0xfe]).unwrap_err().code, "L0044");
        let small = PrivateKey::new(&mut StdRng::seed_from_u64(6), 1024).unwrap();
        let small_pem = private_key_pem(&small).unwrap();
        assert_eq!(read_private_key(small_pem.as_bytes()).unwrap_err().code, "L0044");
        assert_eq!(sign(b"x", &small).unwrap_err().code, "L0044");
        let small_public = public_key_der(&small).unwrap();
        let signed = sign(b"x", &key).unwrap();
        assert_eq!(verify(&signed, &small_public).unwrap_err().code, "L0042");
    }
}
