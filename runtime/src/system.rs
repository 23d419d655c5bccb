//! The standard system: the attribute classes and guards of the standard
//! library (`stdlib/pop`), compiled from source when a host starts. (The
//! kernel module gets the same guards as objects built by `safexc`.)

use crate::{Host, HostConfig};

/// The standard library's guard extensions: (file, source).
pub const GUARDS: &[(&str, &str)] = &[(
    "stdlib/pop/timeslice_guard.pop",
    include_str!("../../stdlib/pop/timeslice_guard.pop"),
)];

/// Compiles Popcorn-SX source to an object, as `safexc compile` does;
/// `stdlib` compiles it as part of the standard library (guards allowed).
pub fn compile_object(file_name: &str, source: &str, stdlib: bool) -> Result<Vec<u8>, String> {
    let options = popcorn_front::Options {
        file_name: file_name.into(),
        stdlib,
        inline: true,
    };
    let compiled = popcorn_front::compile(source, &options);
    let Some(module) = compiled.module else {
        let first = compiled
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or(String::new(), |d| format!(": error[{}]: {}", d.code, d.message));
        return Err(format!("`{file_name}` does not compile{first}"));
    };
    codegen::object::compile(&module, codegen::Options::default()).map_err(|e| format!("{file_name}: {e}"))
}

/// The attribute classes the standard library declares.
pub fn classes() -> Vec<tal_ir::ClassDef> {
    popcorn_front::compile("extension classes;\nimport cpu;\n", &popcorn_front::Options::default())
        .module
        .expect("the standard library's classes compile (tested)")
        .classes
}

/// A host with the standard classes and, if `guards`, the standard guards.
pub fn host(config: HostConfig, guards: bool) -> Result<Host, String> {
    let mut host = Host::new(config).map_err(|e| e.to_string())?;
    for c in classes() {
        host.define_class(c).map_err(|e| e.to_string())?;
    }
    if guards {
        for (name, source) in GUARDS {
            let object = compile_object(name, source, true)?;
            host.install_guard(&object).map_err(|e| format!("{name}: {e}"))?;
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
