//! The standard attribute classes, as data: what every host creates before
//! it loads an extension, and what a module's own declaration of the class
//! (`import cpu;` in Popcorn-SX) must equal for the module to load there.
//! Hosts read this table; they never compile the standard library's source
//! (`pop/cpu.pop`), whose declaration a test keeps equal to it.

/// An attribute's value type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttrValue {
    I64,
    Bool,
}

/// One attribute of a standard class.
#[derive(Clone, Copy, Debug)]
pub struct StdAttr {
    pub name: &'static str,
    pub ty: AttrValue,
    /// Only the system writes it.
    pub readonly: bool,
    /// Inclusive bounds every write must be proven inside.
    pub range: Option<(i64, i64)>,
}

/// A standard attribute class.
#[derive(Clone, Copy, Debug)]
pub struct StdClass {
    pub name: &'static str,
    /// The standard-library module that declares it (`import NAME;`).
    pub module: &'static str,
    pub attrs: &'static [StdAttr],
}

const fn readonly(name: &'static str) -> StdAttr {
    StdAttr {
        name,
        ty: AttrValue::I64,
        readonly: true,
        range: None,
    }
}

/// Every standard class, in the order hosts define them.
pub const CLASSES: &[StdClass] = &[StdClass {
    name: "cpu_qos",
    module: "cpu",
    attrs: &[
        // The application's period.
        readonly("period"),
        // CPU time promised per period.
        readonly("target_cpu"),
        // CPU time received in the last period.
        readonly("actual_cpu"),
        // target_cpu / period, per mille.
        readonly("target_util"),
        // Average utilization over the last two periods, per mille.
        readonly("avg_util_2p"),
        // What the CPU service manager adds to the timeslice, through its guard.
        StdAttr {
            name: "timeslice_adjustment",
            ty: AttrValue::I64,
            readonly: false,
            range: Some((-1_000_000, 1_000_000)),
        },
    ],
}];
