//! The binary encoding of a module, as stored in an object's `.safex.tal`.
//!
//! Layout: the magic `SXTAL`, a little-endian `u16` format version, then the
//! module in postcard's varint encoding (a stable, documented wire format) of
//! the `ir` types. Decoding never panics: truncated, corrupt, non-canonical
//! or trailing input is a [`FormatError`]. The encoding is a bijection — the
//! same module always gives the same bytes, and only those bytes decode to
//! it — which objects rely on for hashing.

use crate::{FormatError, Module};

pub const MAGIC: &[u8; 5] = b"SXTAL";
/// Bump on any change to the `ir` types' shape.
pub const VERSION: u16 = 1;
const HEADER_LEN: usize = MAGIC.len() + 2;

/// Encodes a module.
pub fn encode(module: &Module) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + module.funcs.len() * 256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    // Serializing plain data into a Vec cannot fail.
    postcard::to_io(module, &mut out).expect("encoding into memory");
    out
}

/// Decodes a module, rejecting anything but exactly one well-formed module.
pub fn decode(bytes: &[u8]) -> Result<Module, FormatError> {
    let err = |code, message: String, at: usize| {
        Err(FormatError {
            code,
            message,
            span: at..bytes.len(),
        })
    };
    if bytes.len() < HEADER_LEN {
        return err(
            "V0052",
            format!("truncated header: {} bytes, need {HEADER_LEN}", bytes.len()),
            0,
        );
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return err("V0050", "not binary TAL: bad magic (expected `SXTAL`)".into(), 0);
    }
    let version = u16::from_le_bytes([bytes[5], bytes[6]]);
    if version != VERSION {
        return err(
            "V0051",
            format!("unsupported binary TAL version {version} (this build reads {VERSION})"),
            5,
        );
    }
    let body = &bytes[HEADER_LEN..];
    match postcard::take_from_bytes::<Module>(body) {
        // One module, one byte string: refuse non-minimal varints and the
        // like, so that hashing the section identifies the module.
        Ok((module, [])) if encodes_to(&module, body) => Ok(module),
        Ok((_, [])) => err("V0053", "corrupt binary TAL: non-canonical encoding".into(), HEADER_LEN),
        Ok((_, rest)) => err(
            "V0054",
            format!("{} trailing bytes after the module", rest.len()),
            bytes.len() - rest.len(),
        ),
        Err(postcard::Error::DeserializeUnexpectedEnd) => err(
            "V0052",
            "truncated: the input ends inside the module".into(),
            bytes.len(),
        ),
        Err(e) => err("V0053", format!("corrupt binary TAL: {e}"), HEADER_LEN),
    }
}

/// Whether `module` encodes to exactly `body`, compared byte by byte as it
/// is serialized rather than by building a second copy. This halves decode
/// throughput (about 240 to 105 MB/s); one byte string per module is worth it.
fn encodes_to(module: &Module, body: &[u8]) -> bool {
    struct Compare<'a> {
        rest: &'a [u8],
    }
    impl postcard::ser_flavors::Flavor for Compare<'_> {
        type Output = bool;
        fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
            match self.rest.split_first() {
                Some((&b, rest)) if b == byte => {
                    self.rest = rest;
                    Ok(())
                }
                _ => Err(postcard::Error::SerializeBufferFull),
            }
        }
        fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
            self.rest = self
                .rest
                .strip_prefix(bytes)
                .ok_or(postcard::Error::SerializeBufferFull)?;
            Ok(())
        }
        fn finalize(self) -> postcard::Result<bool> {
            Ok(self.rest.is_empty())
        }
    }
    postcard::serialize_with_flavor(module, Compare { rest: body }).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::*;

    fn sample() -> Module {
        Module {
            name: "m".into(),
            budget: Some(100),
            events: vec!["Error".into()],
            funcs: vec![Function {
                name: "f".into(),
                kind: FuncKind::Plain,
                params: vec![ParamType::Value(Type::I64)],
                ret: Some(Type::I64),
                slots: vec![],
                blocks: vec![Block {
                    params: vec![Type::I64],
                    loop_end: None,
                    insts: vec![Inst {
                        kind: InstKind::Fuel(1),
                        catches: vec![],
                        span: Some(Span { lo: 1, hi: 2 }),
                    }],
                    term: Terminator::Return(Some(ValueId(0))),
                    term_span: None,
                }],
            }],
            ..Module::default()
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            let e = decode(&bytes[..len]).unwrap_err();
            assert!(["V0052", "V0053"].contains(&e.code), "len {len}: {e}");
        }
    }

    #[test]
    fn header_and_trailing_bytes_are_checked() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(decode(&bytes).unwrap_err().code, "V0054");
        let mut bad_magic = encode(&sample());
        bad_magic[0] = b'X';
        assert_eq!(decode(&bad_magic).unwrap_err().code, "V0050");
        let mut bad_version = encode(&sample());
        bad_version[5] = 9;
        assert_eq!(decode(&bad_version).unwrap_err().code, "V0051");
    }

    #[test]
    fn non_canonical_varints_are_refused() {
        let bytes = encode(&Module {
            name: "m".into(),
            ..Module::default()
        });
        // The name's length, 1, re-encoded as a two-byte varint.
        let mut long = bytes[..HEADER_LEN].to_vec();
        long.extend_from_slice(&[0x81, 0x00]);
        long.extend_from_slice(&bytes[HEADER_LEN + 1..]);
        assert_eq!(decode(&long).unwrap_err().code, "V0053");
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let _ = decode(&b);
            }
        }
    }
}
