//! Signed objects: what a host that cannot run the checks (the kernel
//! module) accepts instead. `safexc sign` runs every check of [`crate::load`]
//! and only then signs; a host holding only the public key checks the
//! signature.
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
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::rand_core::TryCryptoRng;
use rsa::sha2::Sha256;
use rsa::signature::{Signer, Verifier};
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
    let Some((object, signature)) = split(signed)? else {
        return Err(LoadError::new(
            "L0040",
            "the object is not signed: it does not end with a signature trailer (`SXSIG01`); sign it with \
             `safexc sign`",
        ));
    };
    let key = read_public_key(public_key)?;
    let verified = Signature::try_from(signature)
        .is_ok_and(|sig| VerifyingKey::<Sha256>::new(key.clone()).verify(object, &sig).is_ok());
    if verified {
        return Ok(object);
    }
    Err(if signs_some_digest(&key, signature) {
        LoadError::new(
            "L0047",
            "the object was changed after it was signed: the signature is this key's, of other bytes",
        )
    } else {
        LoadError::new(
            "L0043",
            "the signature is not this public key's: another key signed the object, or the signature's \
             bytes were changed",
        )
    })
}

/// Whether `signature`, raised to the public exponent, is the PKCS#1 v1.5
/// encoding of some SHA-256 digest (`00 01 FF… 00 DigestInfo hash`): only
/// the private key makes such a signature, so one that fails to verify
/// signs other bytes. The kernel's `pkcs1pad` tells the two cases apart
/// the same way (`EKEYREJECTED` for another digest, `EBADMSG` for a bad
/// encoding).
fn signs_some_digest(key: &rsa::PublicKey, signature: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts;
    /// DER of `DigestInfo { sha256, OCTET STRING(32) }`, before the hash.
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    let Ok(s) = rsa::BoxedUint::from_be_slice(signature, key.n_bits_precision()) else {
        return false;
    };
    if s >= *key.n().as_ref() {
        return false;
    }
    let Ok(m) = rsa::hazmat::rsa_encrypt(key, &s) else {
        return false;
    };
    let bytes = m.to_be_bytes();
    // `m < n`, so its big-endian bytes fit the modulus's length.
    let Some(em) = bytes.get(bytes.len().saturating_sub(SIGNATURE_LEN)..) else {
        return false;
    };
    let padding = SIGNATURE_LEN - 3 - SHA256_PREFIX.len() - 32;
    em.len() == SIGNATURE_LEN
        && em[..2] == [0x00, 0x01]
        && em[2..2 + padding].iter().all(|&b| b == 0xff)
        && em[2 + padding] == 0x00
        && em[3 + padding..3 + padding + SHA256_PREFIX.len()] == SHA256_PREFIX
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
