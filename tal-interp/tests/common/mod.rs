//! A mock host and loaders shared by the tests.
#![allow(dead_code)]

use std::collections::HashMap;
use tal_interp::{Host, HostError, Instance, Trap, attr_of_arg};
use tal_ir::{AttrRef, FuncId, Module};

/// Helper ids of `stdlib::HELPERS` that are calls.
pub const SET_ATTRIBUTE: u16 = 1;
pub const RAISE_EVENT: u16 = 2;
pub const NOW_US: u16 = 3;
pub const BLOCK: u16 = 4;
pub const TRACE: u16 = 5;

/// Attribute positions in `cpu_qos` (examples and `stdlib/pop/cpu.pop`).
pub const PERIOD: u32 = 0;
pub const TARGET_CPU: u32 = 1;
pub const ACTUAL_CPU: u32 = 2;
pub const TARGET_UTIL: u32 = 3;
pub const AVG_UTIL_2P: u32 = 4;
pub const TIMESLICE_ADJUSTMENT: u32 = 5;

/// The capability handle the tests pass to entry points.
pub const APP: i64 = 0x1234;

/// Attributes per (capability, attribute position); records what the
/// extension does.
#[derive(Default, Debug)]
pub struct MockHost {
    pub attrs: HashMap<(i64, u32), i64>,
    /// `set_attribute` calls: (capability, attribute, value).
    pub sets: Vec<(i64, u32, i64)>,
    /// `raise_event` calls: (event id, value).
    pub events: Vec<(i64, i64)>,
    /// `block` calls: the capability.
    pub blocked: Vec<i64>,
    /// `trace` calls: (value, site).
    pub traces: Vec<(i64, i64)>,
    pub now: i64,
    /// What the next `set_attribute` fails with (a guard's verdict).
    pub fail_set: Option<HostError>,
}

impl MockHost {
    pub fn with(attrs: &[(u32, i64)]) -> MockHost {
        MockHost {
            attrs: attrs.iter().map(|&(a, v)| ((APP, a), v)).collect(),
            ..MockHost::default()
        }
    }

    pub fn set(&mut self, attr: u32, value: i64) {
        self.attrs.insert((APP, attr), value);
    }
}

impl Host for MockHost {
    fn call_helper(&mut self, id: u16, args: &[i64]) -> Result<Option<i64>, HostError> {
        match (id, args) {
            (SET_ATTRIBUTE, &[cap, attr, value]) => {
                if let Some(e) = self.fail_set.take() {
                    return Err(e);
                }
                let attr = attr_of_arg(attr).attr;
                self.sets.push((cap, attr, value));
                self.attrs.insert((cap, attr), value);
                Ok(None)
            }
            (RAISE_EVENT, &[event, value]) => {
                self.events.push((event, value));
                Ok(None)
            }
            (NOW_US, &[]) => {
                self.now += 10;
                Ok(Some(self.now))
            }
            (BLOCK, &[cap]) => {
                self.blocked.push(cap);
                Ok(None)
            }
            (TRACE, &[value, site]) => {
                self.traces.push((value, site));
                Ok(None)
            }
            _ => Err(HostError::Abort(format!("unexpected helper call {id} {args:?}"))),
        }
    }

    /// The invoking application's attribute (unset ones are 0, as a host's
    /// initial values).
    fn read_attribute(&mut self, attr: AttrRef) -> i64 {
        self.attrs.get(&(APP, attr.attr)).copied().unwrap_or(0)
    }
}

fn verified(module: Module) -> Instance {
    if let Err(errors) = verifier::verify(&module, &verifier::Config::default()) {
        panic!("not verified: {errors:#?}\n{}", tal_ir::text::print(&module));
    }
    Instance::new(module).expect("loads")
}

/// Parses, verifies and loads a TAL text.
pub fn load_tal(text: &str) -> Instance {
    let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
    verified(module)
}

/// Compiles, verifies and loads a Popcorn-SX source.
pub fn load_pop(source: &str) -> Instance {
    load_pop_with(source, &popcorn_front::Options::default())
}

/// Compiles with `options`, verifies and loads a Popcorn-SX source.
pub fn load_pop_with(source: &str, options: &popcorn_front::Options) -> Instance {
    let compiled = popcorn_front::compile(source, options);
    verified(compiled.module.unwrap_or_else(|| panic!("{:#?}", compiled.diagnostics)))
}

pub fn func(instance: &Instance, name: &str) -> FuncId {
    instance
        .module()
        .func_by_name(name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// Invokes `name` with plenty of fuel.
pub fn run(instance: &mut Instance, host: &mut MockHost, name: &str, args: &[i64]) -> Result<Option<i64>, Trap> {
    let f = func(instance, name);
    instance.invoke(host, f, args, &mut 1_000_000)
}

/// The single cell of a scalar global.
pub fn global(instance: &Instance, name: &str) -> i64 {
    instance.global(name).unwrap_or_else(|| panic!("no global {name}"))[0]
}

/// Parses a TAL text, sets every `fuel N` to the tightest amount, verifies
/// and loads it.
pub fn load_tal_fuelled(text: &str) -> Instance {
    let (mut module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
    tal_ir::fuel::assign_module(&mut module, tal_ir::fuel::EntryFuel::Keep);
    verified(module)
}
