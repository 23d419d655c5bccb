//! The memory layout of TAL objects, shared by the reference interpreter and
//! code generation.
//!
//! Memory is measured in *cells* of 8 bytes:
//!
//! - every scalar is one cell: an `i64`; a `bool` as 0 or 1; a capability as
//!   its handle, 0 being the null capability;
//! - a struct is its fields' cells in declaration order, nested structs
//!   flattened in place (no padding: every cell is 8-byte aligned);
//! - an array is its elements back to back.
//!
//! The extension's data region holds the globals in declaration order, each
//! at the next cell (so 8-byte aligned), with no gaps. Code generation uses
//! byte offset = 8 × cell offset ([`CELL_BYTES`]); the interpreter indexes a
//! `Vec<i64>` by cell offset directly.
//!
//! The free functions ([`elem_cells`], [`obj_cells`], [`field_offset`])
//! recompute the struct table on every call; [`Layout`] computes it once.
//! Nothing here panics, whatever the module: types that have no size (an
//! unknown struct, a struct containing itself, a size that overflows `u64`)
//! come out as `None` from [`Layout`]'s methods. The verifier rejects every
//! such module (V0102, V0108).

use crate::{ElemType, GlobalInit, Module, ObjType, ScalarType, StructId};

/// Bytes per cell.
pub const CELL_BYTES: u64 = 8;

/// The size of one struct and where its fields start, in cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructLayout {
    pub cells: u64,
    /// Offset of each field from the start of the struct.
    pub field_offsets: Vec<u64>,
}

/// The layout of every struct of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `None` for a struct without a finite size.
    structs: Vec<Option<StructLayout>>,
}

impl Layout {
    /// Computes every struct's layout: one iterative depth-first walk over
    /// the "contains" graph, linear in the number of fields.
    pub fn new(m: &Module) -> Layout {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Open,
            Done,
        }
        let n = m.structs.len();
        let mut state = vec![State::New; n];
        let mut structs: Vec<Option<StructLayout>> = vec![None; n];
        for start in 0..n {
            if state[start] != State::New {
                continue;
            }
            state[start] = State::Open;
            // (struct, next field whose inner struct is to be laid out first)
            let mut stack = vec![(start, 0usize)];
            while let Some(&mut (s, ref mut next)) = stack.last_mut() {
                let fields = &m.structs[s].fields;
                if let Some(field) = fields.get(*next) {
                    *next += 1;
                    if let ElemType::Struct(inner) = field.ty
                        && state.get(inner.index()) == Some(&State::New)
                    {
                        state[inner.index()] = State::Open;
                        stack.push((inner.index(), 0));
                    }
                    continue;
                }
                stack.pop();
                // Every inner struct is Done (laid out or invalid) unless it
                // is still Open, i.e. contains `s`: then it has no layout yet
                // and `s` gets none either.
                let mut offset = Some(0u64);
                let mut field_offsets = Vec::with_capacity(fields.len());
                for field in fields {
                    field_offsets.push(offset.unwrap_or(0));
                    let cells = match field.ty {
                        ElemType::Scalar(_) => Some(1),
                        ElemType::Struct(inner) => structs.get(inner.index()).and_then(|l| l.as_ref()).map(|l| l.cells),
                    };
                    offset = offset.zip(cells).and_then(|(o, c)| o.checked_add(c));
                }
                structs[s] = offset.map(|cells| StructLayout { cells, field_offsets });
                state[s] = State::Done;
            }
        }
        Layout { structs }
    }

    pub fn struct_layout(&self, s: StructId) -> Option<&StructLayout> {
        self.structs.get(s.index())?.as_ref()
    }

    /// Cells of one array element or struct field.
    pub fn elem_cells(&self, e: ElemType) -> Option<u64> {
        match e {
            ElemType::Scalar(_) => Some(1),
            ElemType::Struct(s) => Some(self.struct_layout(s)?.cells),
        }
    }

    /// Cells of an object; `None` for an unsized array (or an invalid type).
    pub fn obj_cells(&self, o: ObjType) -> Option<u64> {
        match o {
            ObjType::Elem(e) => self.elem_cells(e),
            ObjType::Array { elem, len } => self.elem_cells(elem)?.checked_mul(u64::from(len?)),
        }
    }

    /// Offset of field number `field` from the start of struct `s`.
    pub fn field_offset(&self, s: StructId, field: u32) -> Option<u64> {
        self.struct_layout(s)?.field_offsets.get(field as usize).copied()
    }
}

/// Bytes every frame is charged besides slots and spills: return address,
/// frame pointer, callee-saved registers and outgoing call arguments.
pub const FRAME_OVERHEAD: u64 = 128;

/// The verifier's model of a function's stack frame: the fixed overhead, its
/// stack slots, and one 8-byte spill slot for every value of its largest
/// block. Values are block scoped, so no more of them can be live at once
/// (code generation keeps it so, and refuses a frame this model does not
/// cover, C0005). The verifier sums it along call chains to bound the stack.
pub fn frame_size(slot_bytes: u64, max_block_values: u64) -> u64 {
    FRAME_OVERHEAD
        .saturating_add(slot_bytes)
        .saturating_add(max_block_values.saturating_mul(8))
}

/// [`frame_size`] of function `func`, its module laid out as `layout`;
/// `None` if a slot has no size (never for a verified module).
pub fn frame_model(layout: &Layout, func: &crate::Function) -> Option<u64> {
    let mut slot_bytes = 0u64;
    for &slot in &func.slots {
        slot_bytes = slot_bytes.saturating_add(layout.obj_cells(slot)?.saturating_mul(CELL_BYTES));
    }
    let values = func
        .blocks
        .iter()
        .map(|b| b.params.len() + b.insts.iter().filter(|i| i.kind.has_result()).count());
    Some(frame_size(slot_bytes, values.max().unwrap_or(0) as u64))
}

/// Cells of one array element or struct field; `u64::MAX` for an invalid
/// type (never for a verified module).
pub fn elem_cells(m: &Module, e: ElemType) -> u64 {
    Layout::new(m).elem_cells(e).unwrap_or(u64::MAX)
}

/// Cells of an object type; `None` for an unsized array (`[T]`, only ever a
/// reference parameter's type) and for an invalid type.
pub fn obj_cells(m: &Module, o: ObjType) -> Option<u64> {
    Layout::new(m).obj_cells(o)
}

/// Offset in cells of field number `field` from the start of struct `s`;
/// `u64::MAX` for an invalid struct or field (never for a verified module).
pub fn field_offset(m: &Module, s: StructId, field: u32) -> u64 {
    Layout::new(m).field_offset(s, field).unwrap_or(u64::MAX)
}

/// Where the globals live in the extension's data region, and what it holds
/// when the extension is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalLayout {
    /// Cell offset of each global, in declaration order.
    pub offsets: Vec<u64>,
    /// Size of the whole data region, in cells.
    pub cells: u64,
    /// The cells whose initial value is not zero, as (cell offset, value),
    /// by increasing offset. Every other cell starts as zero.
    pub init: Vec<(u64, i64)>,
}

impl GlobalLayout {
    /// `None` if a global has no static size or an initializer that does not
    /// fit its type (the verifier rejects both: V0108, V0109).
    ///
    /// Initializers: `zero` is all zeros; an integer is the cell's value; a
    /// boolean is 1 or 0; an integer list gives an `i64` array's first
    /// elements, the rest zero.
    pub fn new(m: &Module) -> Option<GlobalLayout> {
        let layout = Layout::new(m);
        let mut offsets = Vec::with_capacity(m.globals.len());
        let mut init = Vec::new();
        let mut next = 0u64;
        for g in &m.globals {
            offsets.push(next);
            const I64: ElemType = ElemType::Scalar(ScalarType::I64);
            match (&g.init, g.ty) {
                (GlobalInit::Zero, _) => {}
                (GlobalInit::Int(v), ObjType::Elem(I64)) => init.push((next, *v)),
                (GlobalInit::Bool(b), ObjType::Elem(ElemType::Scalar(ScalarType::Bool))) => {
                    init.push((next, i64::from(*b)))
                }
                (
                    GlobalInit::Ints(values),
                    ObjType::Array {
                        elem: I64,
                        len: Some(len),
                    },
                ) if values.len() as u64 <= u64::from(len) => {
                    init.extend((next..).zip(values.iter().copied()));
                }
                _ => return None,
            }
            next = next.checked_add(layout.obj_cells(g.ty)?)?;
        }
        init.retain(|&(_, v)| v != 0);
        Some(GlobalLayout {
            offsets,
            cells: next,
            init,
        })
    }

    /// The data region's initial contents, one `i64` per cell. `None` if it
    /// has more than `max_cells` cells.
    pub fn initial_data(&self, max_cells: u64) -> Option<Vec<i64>> {
        if self.cells > max_cells {
            return None;
        }
        let mut data = vec![0; usize::try_from(self.cells).ok()?];
        for &(offset, value) in &self.init {
            *data.get_mut(usize::try_from(offset).ok()?)? = value;
        }
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassId, FieldDef, GlobalDef, Rights, StructDef};

    const I64: ElemType = ElemType::Scalar(ScalarType::I64);
    const BOOL: ElemType = ElemType::Scalar(ScalarType::Bool);

    fn field(name: &str, ty: ElemType) -> FieldDef {
        FieldDef { name: name.into(), ty }
    }

    fn global(name: &str, ty: ObjType, init: GlobalInit) -> GlobalDef {
        GlobalDef {
            name: name.into(),
            ty,
            init,
        }
    }

    /// struct inner { a: i64, b: bool }
    /// struct outer { x: i64, i: struct inner, c: cap, j: struct inner }  (declared first)
    fn nested() -> Module {
        let cap = ElemType::Scalar(ScalarType::Cap {
            class: ClassId(0),
            rights: Rights::READ,
        });
        Module {
            structs: vec![
                StructDef {
                    name: "outer".into(),
                    fields: vec![
                        field("x", I64),
                        field("i", ElemType::Struct(StructId(1))),
                        field("c", cap),
                        field("j", ElemType::Struct(StructId(1))),
                    ],
                },
                StructDef {
                    name: "inner".into(),
                    fields: vec![field("a", I64), field("b", BOOL)],
                },
                StructDef {
                    name: "empty".into(),
                    fields: vec![],
                },
            ],
            ..Module::default()
        }
    }

    #[test]
    fn scalars_are_one_cell_and_structs_flatten() {
        let m = nested();
        assert_eq!(elem_cells(&m, I64), 1);
        assert_eq!(elem_cells(&m, BOOL), 1);
        assert_eq!(elem_cells(&m, ElemType::Struct(StructId(1))), 2);
        assert_eq!(elem_cells(&m, ElemType::Struct(StructId(0))), 1 + 2 + 1 + 2);
        assert_eq!(elem_cells(&m, ElemType::Struct(StructId(2))), 0);
        assert_eq!(field_offset(&m, StructId(0), 0), 0);
        assert_eq!(field_offset(&m, StructId(0), 1), 1);
        assert_eq!(field_offset(&m, StructId(0), 2), 3);
        assert_eq!(field_offset(&m, StructId(0), 3), 4);
        assert_eq!(field_offset(&m, StructId(1), 1), 1);
    }

    #[test]
    fn arrays_are_elements_back_to_back() {
        let m = nested();
        let outer = ElemType::Struct(StructId(0));
        assert_eq!(obj_cells(&m, ObjType::Elem(outer)), Some(6));
        assert_eq!(
            obj_cells(
                &m,
                ObjType::Array {
                    elem: outer,
                    len: Some(3)
                }
            ),
            Some(18)
        );
        assert_eq!(
            obj_cells(
                &m,
                ObjType::Array {
                    elem: I64,
                    len: Some(0)
                }
            ),
            Some(0)
        );
        assert_eq!(obj_cells(&m, ObjType::Array { elem: I64, len: None }), None, "unsized");
    }

    #[test]
    fn invalid_structs_have_no_layout() {
        let mut m = nested();
        // inner contains outer, which contains inner: neither has a size.
        m.structs[1].fields.push(field("loop", ElemType::Struct(StructId(0))));
        m.structs.push(StructDef {
            name: "dangling".into(),
            fields: vec![field("d", ElemType::Struct(StructId(99)))],
        });
        let layout = Layout::new(&m);
        assert_eq!(layout.struct_layout(StructId(0)), None);
        assert_eq!(layout.struct_layout(StructId(1)), None);
        assert_eq!(layout.elem_cells(ElemType::Struct(StructId(2))), Some(0));
        assert_eq!(layout.struct_layout(StructId(3)), None);
        assert_eq!(layout.elem_cells(ElemType::Struct(StructId(7))), None);
        assert_eq!(layout.field_offset(StructId(2), 0), None);
        assert_eq!(elem_cells(&m, ElemType::Struct(StructId(0))), u64::MAX);
        assert_eq!(field_offset(&m, StructId(0), 1), u64::MAX);
    }

    #[test]
    fn struct_sizes_do_not_overflow() {
        // A doubling chain: s[k+1] = { s[k], s[k] } has 2^(k+1) cells.
        let mut m = Module::default();
        m.structs.push(StructDef {
            name: "s0".into(),
            fields: vec![field("a", I64)],
        });
        for k in 0..70u32 {
            m.structs.push(StructDef {
                name: format!("s{}", k + 1),
                fields: vec![
                    field("a", ElemType::Struct(StructId(k))),
                    field("b", ElemType::Struct(StructId(k))),
                ],
            });
        }
        let layout = Layout::new(&m);
        assert_eq!(layout.elem_cells(ElemType::Struct(StructId(63))), Some(1 << 63));
        assert_eq!(
            layout.elem_cells(ElemType::Struct(StructId(64))),
            None,
            "2^64 cells overflow"
        );
        assert_eq!(layout.elem_cells(ElemType::Struct(StructId(70))), None);
    }

    #[test]
    fn globals_in_order_with_initial_contents() {
        let mut m = nested();
        m.globals = vec![
            global("a", ObjType::Elem(I64), GlobalInit::Int(-7)),
            global("flag", ObjType::Elem(BOOL), GlobalInit::Bool(true)),
            global("off", ObjType::Elem(BOOL), GlobalInit::Bool(false)),
            global(
                "w",
                ObjType::Array {
                    elem: I64,
                    len: Some(4),
                },
                GlobalInit::Ints(vec![1, 0, 3]),
            ),
            global(
                "s",
                ObjType::Array {
                    elem: ElemType::Struct(StructId(0)),
                    len: Some(2),
                },
                GlobalInit::Zero,
            ),
            global("z", ObjType::Elem(I64), GlobalInit::Zero),
        ];
        let g = GlobalLayout::new(&m).expect("valid");
        assert_eq!(g.offsets, vec![0, 1, 2, 3, 7, 19]);
        assert_eq!(g.cells, 20);
        assert_eq!(g.init, vec![(0, -7), (1, 1), (3, 1), (5, 3)]);
        let data = g.initial_data(20).unwrap();
        assert_eq!(data.len(), 20);
        assert_eq!(&data[..8], &[-7, 1, 0, 1, 0, 3, 0, 0]);
        assert!(data[8..].iter().all(|&c| c == 0));
        assert_eq!(g.initial_data(19), None, "over the limit");
    }

    #[test]
    fn globals_that_do_not_fit_have_no_layout() {
        let bad = [
            global("b", ObjType::Elem(BOOL), GlobalInit::Int(1)),
            global("i", ObjType::Elem(I64), GlobalInit::Bool(true)),
            global(
                "short",
                ObjType::Array {
                    elem: I64,
                    len: Some(1),
                },
                GlobalInit::Ints(vec![1, 2]),
            ),
            global("unsized", ObjType::Array { elem: I64, len: None }, GlobalInit::Zero),
            global(
                "dangling",
                ObjType::Elem(ElemType::Struct(StructId(9))),
                GlobalInit::Zero,
            ),
        ];
        for g in bad {
            let m = Module {
                globals: vec![g.clone()],
                ..Module::default()
            };
            assert_eq!(GlobalLayout::new(&m), None, "{g:?}");
        }
        let empty = GlobalLayout::new(&Module::default()).unwrap();
        assert_eq!((empty.cells, empty.offsets.len()), (0, 0));
    }
}
