//! The standard system: the attribute classes and guards of the standard
//! library, installed from data and objects, never from source. The
//! classes are `stdlib::classes`; the guards are objects `safexc compile
//! --stdlib` built from `stdlib/pop` and that are checked in under
//! `stdlib/obj` (a test recompiles them and requires the same bytes). A
//! guard goes through the same `load` as any object: every check runs.

use crate::{Host, HostConfig};
use stdlib::classes::{AttrValue, CLASSES};
use tal_ir::{AttrDef, AttrType, ClassDef};

/// The standard library's guard extensions: (object file, object).
pub const GUARDS: &[(&str, &[u8])] = &[(
    "stdlib/obj/timeslice_guard.o",
    include_bytes!("../../stdlib/obj/timeslice_guard.o"),
)];

/// The attribute classes the standard library declares.
pub fn classes() -> Vec<ClassDef> {
    CLASSES
        .iter()
        .map(|c| ClassDef {
            name: c.name.into(),
            attrs: c
                .attrs
                .iter()
                .map(|a| AttrDef {
                    name: a.name.into(),
                    ty: match a.ty {
                        AttrValue::I64 => AttrType::I64,
                        AttrValue::Bool => AttrType::Bool,
                    },
                    readonly: a.readonly,
                    range: a.range,
                })
                .collect(),
        })
        .collect()
}

/// A host with the standard classes and, if `guards`, the standard guards.
pub fn host(config: HostConfig, guards: bool) -> Result<Host, String> {
    let mut host = Host::new(config).map_err(|e| e.to_string())?;
    for c in classes() {
        host.define_class(c).map_err(|e| e.to_string())?;
    }
    if guards {
        for (name, object) in GUARDS {
            host.install_guard(object).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_standard_system_starts() {
        let host = super::host(crate::HostConfig::default(), true).expect("starts");
        assert_eq!(host.classes().len(), 1);
        assert!(host.find_attribute("cpu_qos.timeslice_adjustment").is_ok());
    }
}
