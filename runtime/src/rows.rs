//! Attribute rows for running compiled code outside a [`crate::Host`]
//! (tests, benchmarks, the differential harness): the table `ctx.attrs`
//! points at (`stdlib::abi`), one row of values per class of the module.

use std::cell::Cell;
use tal_ir::Module;

/// One application's attribute values for the classes of one module, and
/// the table of row pointers compiled code reads them through.
pub struct AttrRows {
    /// `Cell`s, so that [`AttrRows::set`] writes through a shared reference
    /// and leaves the pointers in `table` valid.
    values: Vec<Box<[Cell<i64>]>>,
    table: Vec<*const i64>,
}

impl AttrRows {
    /// Rows for `module`'s classes, attribute `a` of class `c` set to
    /// `value(c, a)`.
    pub fn new(module: &Module, mut value: impl FnMut(u32, u32) -> i64) -> AttrRows {
        let values: Vec<Box<[Cell<i64>]>> = (0u32..)
            .zip(&module.classes)
            .map(|(c, class)| {
                (0u32..)
                    .zip(&class.attrs)
                    .map(|(a, _)| Cell::new(value(c, a)))
                    .collect()
            })
            .collect();
        // The rows are boxed slices that never grow: their addresses stay.
        let table = values.iter().map(|row| row.as_ptr().cast()).collect();
        AttrRows { values, table }
    }

    /// What `ctx.attrs` must hold.
    pub fn as_ptr(&self) -> *const *const i64 {
        self.table.as_ptr()
    }

    /// Attribute `attr` of class `class`.
    pub fn get(&self, class: u32, attr: u32) -> i64 {
        self.values[class as usize][attr as usize].get()
    }

    /// Sets attribute `attr` of class `class` (what `set_attribute` does).
    pub fn set(&mut self, class: u32, attr: u32, value: i64) {
        self.values[class as usize][attr as usize].set(value);
    }
}
