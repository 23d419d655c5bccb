//! The SafeX API as data: capability rights and the one helper table.
//!
//! Every consumer of the API reads this table and nothing else: the TAL text
//! format resolves helper names through it, the verifier's allow-list *is* it,
//! code generation takes a helper's slot in the context's helper table from
//! its `id`, and both hosts bind their implementations by `id` and check the
//! count. Ids are part of the ABI: append, never renumber.

// The library needs no unsafe code; the ABI's tests use some to exercise
// the frame protocol as hosts do (and as Miri can check: docs/miri.md).
#![cfg_attr(not(test), forbid(unsafe_code))]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub mod c_header;
pub mod classes;
pub mod codes;
pub mod forbidden;
pub mod uapi;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The rights a capability carries over its attribute class.
///
/// A capability with more rights may be used where fewer are required
/// (`cap<c, rw>` is a subtype of `cap<c, r>`); never the other way round.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Rights(u8);

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Rights {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Rights(u8::arbitrary(u)? & Self::ALL.0))
    }
}

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// Read attributes (`get_attribute`).
    pub const READ: Rights = Rights(1);
    /// Write attributes (`set_attribute`, through the attribute's guard).
    pub const WRITE: Rights = Rights(2);
    /// Guard privilege: the guard-only API (`block`). Only guard entry points
    /// receive it; the host installs guards from the standard library only.
    pub const GUARD: Rights = Rights(4);
    pub const ALL: Rights = Rights(7);
    const LETTERS: [(char, Rights); 3] = [('r', Self::READ), ('w', Self::WRITE), ('g', Self::GUARD)];

    pub const fn bits(self) -> u8 {
        self.0
    }
    /// `None` when unknown bits are set.
    pub const fn from_bits(bits: u8) -> Option<Rights> {
        if bits & !Self::ALL.0 == 0 {
            Some(Rights(bits))
        } else {
            None
        }
    }
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
    /// Whether every right in `required` is also in `self`.
    pub const fn contains(self, required: Rights) -> bool {
        self.0 & required.0 == required.0
    }
    /// Parses the letters `r`, `w`, `g` (each at most once, in that order),
    /// or `-` for no rights.
    pub fn parse(text: &str) -> Option<Rights> {
        if text == "-" {
            return Some(Rights::NONE);
        }
        let mut rights = Rights::NONE;
        let mut next = 0;
        for ch in text.chars() {
            let pos = Self::LETTERS[next..].iter().position(|(l, _)| *l == ch)?;
            rights = rights.union(Self::LETTERS[next + pos].1);
            next += pos + 1;
        }
        (!text.is_empty()).then_some(rights)
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Rights::NONE {
            return write!(f, "-");
        }
        for (letter, right) in Self::LETTERS {
            if self.contains(right) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights({self})")
    }
}

/// One parameter of a helper's signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperParam {
    /// A 64-bit integer value.
    I64,
    /// A capability to some class `C` with at least these rights. All
    /// `Cap`, `Attr` and `AttrValue` parameters of one helper share `C`.
    Cap(Rights),
    /// An attribute of class `C`, as an immediate operand.
    Attr(AttrAccess),
    /// A value for the preceding `Attr` parameter: its type, and for a ranged
    /// attribute, proven in range by `check.range`.
    AttrValue,
    /// An event id value.
    Event,
}

/// How a helper uses its attribute operand.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttrAccess {
    Read,
    /// Writing a `readonly` attribute is rejected.
    Write,
}

/// What a helper returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperRet {
    Unit,
    I64,
    /// The value of the `Attr` parameter, at the attribute's type.
    AttrValue,
}

/// How compiled code reaches a helper (`abi`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperLowering {
    /// An indirect call through slot `id` of `ctx.helpers`.
    Call,
    /// Loads from the attribute row the host publishes in `ctx.attrs`: no
    /// call, so the read can neither act nor abort. Its table slot is never
    /// called (hosts fill it with a function that aborts).
    ReadAttribute,
}

/// One entry of the helper table.
#[derive(Clone, Copy, Debug)]
pub struct HelperDef {
    pub name: &'static str,
    /// ABI id: the slot in the context's helper table.
    pub id: u16,
    pub params: &'static [HelperParam],
    pub ret: HelperRet,
    pub lowering: HelperLowering,
    /// Only guard entry points may reach this helper (it needs `GUARD` rights
    /// on its capability; listed here for documentation and for the hosts).
    pub guard_only: bool,
    pub doc: &'static str,
}

impl HelperDef {
    /// The union of the rights this helper's capability parameters require.
    pub fn required_rights(&self) -> Rights {
        self.params.iter().fold(Rights::NONE, |acc, p| match p {
            HelperParam::Cap(r) => acc.union(*r),
            _ => acc,
        })
    }
}

use HelperParam as P;

/// The SafeX helper table, indexed by id.
pub const HELPERS: &[HelperDef] = &[
    HelperDef {
        name: "get_attribute",
        id: 0,
        params: &[P::Cap(Rights::READ), P::Attr(AttrAccess::Read)],
        ret: HelperRet::AttrValue,
        lowering: HelperLowering::ReadAttribute,
        guard_only: false,
        doc: "Reads an attribute of the capability's class.",
    },
    HelperDef {
        name: "set_attribute",
        id: 1,
        params: &[P::Cap(Rights::WRITE), P::Attr(AttrAccess::Write), P::AttrValue],
        ret: HelperRet::Unit,
        lowering: HelperLowering::Call,
        guard_only: false,
        doc: "Writes an attribute; the value passes through the attribute's guard.",
    },
    HelperDef {
        name: "raise_event",
        id: 2,
        params: &[P::Event, P::I64],
        ret: HelperRet::Unit,
        lowering: HelperLowering::Call,
        guard_only: false,
        doc: "Queues an event with a value for the handlers registered on it.",
    },
    HelperDef {
        name: "now_us",
        id: 3,
        params: &[],
        ret: HelperRet::I64,
        lowering: HelperLowering::Call,
        guard_only: false,
        doc: "Monotonic time in microseconds.",
    },
    HelperDef {
        name: "block",
        id: 4,
        params: &[P::Cap(Rights::GUARD)],
        ret: HelperRet::Unit,
        lowering: HelperLowering::Call,
        guard_only: true,
        doc: "Blocks the application that owns the class until its next period.",
    },
    HelperDef {
        name: "trace",
        id: 5,
        params: &[P::I64, P::I64],
        ret: HelperRet::Unit,
        lowering: HelperLowering::Call,
        guard_only: false,
        doc: "Records a value for the operator (bpf_printk's role): the value and the call's site (its byte \
              offset in the extension's source), a few per invocation, the rest counted as dropped.",
    },
];

/// The Popcorn-SX modules of the standard library, by import name.
pub const POPCORN_MODULES: &[(&str, &str)] = &[
    ("cpu", include_str!("../pop/cpu.pop")),
    ("timeslice_guard", include_str!("../pop/timeslice_guard.pop")),
];

/// The source of a standard-library module (`import NAME;`).
pub fn popcorn_module(name: &str) -> Option<&'static str> {
    POPCORN_MODULES.iter().find(|(n, _)| *n == name).map(|(_, src)| *src)
}

/// Looks a helper up by ABI id.
pub fn helper_by_id(id: u16) -> Option<&'static HelperDef> {
    HELPERS.get(usize::from(id))
}

/// Looks a helper up by name.
pub fn helper_by_name(name: &str) -> Option<&'static HelperDef> {
    HELPERS.iter().find(|h| h.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_table_positions() {
        for (i, h) in HELPERS.iter().enumerate() {
            assert_eq!(usize::from(h.id), i, "{} has id {} at position {i}", h.name, h.id);
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, h) in HELPERS.iter().enumerate() {
            assert!(HELPERS[i + 1..].iter().all(|o| o.name != h.name), "{} twice", h.name);
        }
    }

    #[test]
    fn guard_only_helpers_require_guard_rights() {
        for h in HELPERS {
            assert_eq!(h.guard_only, h.required_rights().contains(Rights::GUARD), "{}", h.name);
        }
    }

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("rw"), Some(Rights::READ.union(Rights::WRITE)));
        assert_eq!(Rights::parse("rwg").map(|r| r.to_string()), Some("rwg".into()));
        assert_eq!(Rights::parse("g"), Some(Rights::GUARD));
        assert_eq!(Rights::parse("wr"), None, "letters in canonical order only");
        assert_eq!(Rights::parse("rr"), None);
        assert_eq!(Rights::parse("x"), None);
        assert_eq!(Rights::parse(""), None);
        assert_eq!(Rights::parse("-"), Some(Rights::NONE));
        assert_eq!(Rights::NONE.to_string(), "-");
        assert_eq!(Rights::from_bits(8), None);
        assert!(Rights::ALL.contains(Rights::WRITE));
        assert!(!Rights::READ.contains(Rights::WRITE));
    }
}
