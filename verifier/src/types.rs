//! Subtyping, and the names of types in messages.

use tal_ir::{ElemType, Module, ObjType, Root, ScalarType, Type};

/// Why a value of one type cannot be used where another is expected.
pub(crate) struct Mismatch {
    pub code: &'static str,
    pub why: String,
}

/// Whether a type is an integer for arithmetic: `i64` or a refinement of it.
pub(crate) fn is_int(t: Type) -> bool {
    matches!(t, Type::I64 | Type::NonZero | Type::Index(_) | Type::InRange(_))
}

/// Checks `actual <: expected`, naming the rejection class on failure.
pub(crate) fn coerce(m: &Module, actual: Type, expected: Type) -> Result<(), Mismatch> {
    if actual == expected {
        return Ok(());
    }
    let fail = |code, why: String| Err(Mismatch { code, why });
    let found = name(m, actual);
    let want = name(m, expected);
    if matches!(actual, Type::Cap { .. }) && !matches!(expected, Type::Cap { .. }) {
        return fail(
            "V0702",
            format!("capability `{found}` used as `{want}`: capabilities are opaque handles, never numbers"),
        );
    }
    match expected {
        Type::I64 if is_int(actual) => Ok(()),
        Type::NonZero if is_int(actual) => fail(
            "V0302",
            format!("`{found}` used as a divisor: it must be proven non-zero by `check.nonzero` first"),
        ),
        Type::Index(root) => match actual {
            Type::Index(other) => fail(
                "V0301",
                format!(
                    "index checked against `{}` used with `{}`: an index is valid only for the array it was checked against",
                    root_name(m, other),
                    root_name(m, root)
                ),
            ),
            t if is_int(t) => fail(
                "V0301",
                format!(
                    "`{found}` used as an index of `{}` without `check.bounds`",
                    root_name(m, root)
                ),
            ),
            _ => fail("V0201", format!("expected `{want}`, found `{found}`")),
        },
        Type::InRange(_) if is_int(actual) => fail(
            "V0306",
            format!("`{found}` written to a ranged attribute: it must pass `check.range` for it (`{want}`)"),
        ),
        Type::Cap {
            class,
            rights,
            nullable,
        } => match actual {
            Type::Cap {
                class: c,
                rights: r,
                nullable: n,
            } => {
                if c != class {
                    fail(
                        "V0201",
                        format!(
                            "capability to class `{}` used where `{want}` is expected",
                            class_name(m, c)
                        ),
                    )
                } else if n && !nullable {
                    fail(
                        "V0305",
                        format!("nullable `{found}` used where `{want}` is expected: pass it through `check.null`"),
                    )
                } else if !r.contains(rights) {
                    fail(
                        "V0603",
                        format!("capability `{found}` lacks rights for `{want}`: rights can be dropped, never added"),
                    )
                } else {
                    Ok(())
                }
            }
            _ => fail(
                "V0701",
                format!(
                    "pointer forging: `{found}` used where capability `{want}` is expected; capabilities come only from the host"
                ),
            ),
        },
        Type::Event => fail(
            "V0701",
            format!("pointer forging: `{found}` used as an event id; event ids come only from `event NAME`"),
        ),
        _ => fail("V0201", format!("expected `{want}`, found `{found}`")),
    }
}

/// The value type a load of a memory scalar produces (and a store expects).
pub(crate) fn scalar_value_type(s: ScalarType) -> Type {
    match s {
        ScalarType::I64 => Type::I64,
        ScalarType::Bool => Type::Bool,
        ScalarType::Cap { class, rights } => Type::Cap {
            class,
            rights,
            nullable: true,
        },
    }
}

pub(crate) fn name(m: &Module, t: Type) -> String {
    match t {
        Type::I64 => "i64".into(),
        Type::Bool => "bool".into(),
        Type::NonZero => "nz".into(),
        Type::Index(r) => format!("idx<{}>", root_name(m, r)),
        Type::InRange(a) => match m.attr(a) {
            Some(attr) => format!("in<{}.{}>", class_name(m, a.class), attr.name),
            None => "in<?>".into(),
        },
        Type::Cap {
            class,
            rights,
            nullable,
        } => {
            format!(
                "cap{}<{}, {rights}>",
                if nullable { "?" } else { "" },
                class_name(m, class)
            )
        }
        Type::Event => "evt".into(),
    }
}

pub(crate) fn class_name(m: &Module, c: tal_ir::ClassId) -> &str {
    m.class(c).map_or("?", |c| c.name.as_str())
}

pub(crate) fn root_name(m: &Module, r: Root) -> String {
    match r {
        Root::Global(g) => format!("@{}", m.globals.get(g.index()).map_or("?", |g| g.name.as_str())),
        Root::Slot(s) => format!("${}", s.0),
        Root::Param(p) => format!("%{p}"),
    }
}

pub(crate) fn elem_name(m: &Module, e: ElemType) -> String {
    match e {
        ElemType::Scalar(s) => name(m, scalar_value_type(s)).replace("cap?", "cap"),
        ElemType::Struct(s) => format!("struct {}", m.structs.get(s.index()).map_or("?", |s| s.name.as_str())),
    }
}

pub(crate) fn obj_name(m: &Module, o: ObjType) -> String {
    match o {
        ObjType::Elem(e) => elem_name(m, e),
        ObjType::Array { elem, len: Some(n) } => format!("[{}; {n}]", elem_name(m, elem)),
        ObjType::Array { elem, len: None } => format!("[{}]", elem_name(m, elem)),
    }
}
