//! The memory layout of TAL objects, shared by the reference interpreter and
//! code generation, and the model of stack frames the verifier bounds the
//! stack with.
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
//! [`Layout`] is the one definition of object sizes: the verifier's size
//! limits, code generation's offsets and the interpreter's memory all come
//! from it. The free functions ([`elem_cells`], [`obj_cells`],
//! [`field_offset`]) recompute the struct table on every call; [`Layout`]
//! computes it once. Nothing here panics, whatever the module: types that
//! have no size (an unknown struct or class, a struct containing itself, a
//! size that overflows `u64`) come out as `None` from [`Layout`]'s methods.
//! The verifier rejects every such module (V0102, V0108).
//!
//! # Stack frames
//!
//! The verifier bounds the stack an invocation can use by summing a model
//! of each function's frame along its deepest call chain (V0502). The model
//! is [`frame_size`] of a [`FrameShape`]: the verifier builds the shape in
//! its pass over the function, code generation with [`frame_model`]. A
//! frame is charged:
//!
//! - [`FRAME_OVERHEAD`];
//! - its stack slots;
//! - 8 bytes (a spill slot) per value that can be live at once: the values
//!   of its largest block — values are block scoped, so no more of them are
//!   live at once — plus what every block may use: two words per reference
//!   parameter (its base and length) and one per slot (its address: a slot
//!   passed by reference from two blocks has it computed once and kept in
//!   between, unlike a global's, which is recomputed from the data region's);
//! - for its largest call that passes arguments on the stack
//!   ([`call_frame_bytes`]): the stack argument area, which Cranelift
//!   reserves in the caller's frame (one area, sized for the call that needs
//!   the most), and two words per reference argument, for the base and
//!   length code generation makes at the call.
//!
//! Invariant: **every frame code generation produces fits its model.** It is
//! not derived from the register allocator (whose spill-slot reuse is a
//! heuristic) but enforced: code generation measures the frame Cranelift
//! laid out and refuses a function whose frame exceeds the model, or whose
//! model or frame it cannot compute (C0005), so the verifier's bound holds
//! for every object that exists. The terms above are the contributors found
//! by experiment (`codegen/tests/frames.rs`): outgoing arguments (exact),
//! reference parameters and slot addresses kept across calls (one spill
//! slot each), values kept across calls (one each, with registers to
//! spare), the bases and lengths of reference arguments spilled while a
//! wide call is set up, callee-saved registers and alignment (in the
//! overhead). Loop-invariant code motion added nothing measurable.
//! Register allocation is a heuristic (regalloc2 may leave a free spill
//! slot unused), so this is a measured cover, not a derivation: that test
//! requires every verified module it builds, wide calls, random mixes of
//! every term and generated programs included, to lower.

use crate::{Arg, ElemType, Function, GlobalInit, InstKind, Module, ObjType, ParamType, ScalarType, StructId};

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
    /// Number of the module's classes: a capability of another class has
    /// no size.
    classes: usize,
    /// (struct, field) where the walk found a struct containing itself.
    cycles: Vec<(StructId, u32)>,
}

impl Layout {
    /// Computes every struct's layout: one iterative depth-first walk over
    /// the "contains" graph (no recursion: a chain of nested structs may be
    /// as long as the module), linear in the number of fields.
    pub fn new(m: &Module) -> Layout {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Open,
            Done,
        }
        let n = m.structs.len();
        let classes = m.classes.len();
        let mut state = vec![State::New; n];
        let mut structs: Vec<Option<StructLayout>> = vec![None; n];
        let mut cycles = Vec::new();
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
                    if let ElemType::Struct(inner) = field.ty {
                        match state.get(inner.index()) {
                            Some(State::New) => {
                                state[inner.index()] = State::Open;
                                stack.push((inner.index(), 0));
                            }
                            Some(State::Open) => cycles.push((StructId(s as u32), (*next - 1) as u32)),
                            Some(State::Done) | None => {}
                        }
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
                        ElemType::Scalar(sc) => scalar_cells(sc, classes),
                        ElemType::Struct(inner) => structs.get(inner.index()).and_then(|l| l.as_ref()).map(|l| l.cells),
                    };
                    offset = offset.zip(cells).and_then(|(o, c)| o.checked_add(c));
                }
                structs[s] = offset.map(|cells| StructLayout { cells, field_offsets });
                state[s] = State::Done;
            }
        }
        Layout {
            structs,
            classes,
            cycles,
        }
    }

    /// The fields through which a struct contains itself, as (struct, field
    /// number): one per cycle of the "contains" graph the walk closed, in
    /// the order found. A struct on a cycle, or containing one, has no
    /// layout.
    pub fn cycles(&self) -> &[(StructId, u32)] {
        &self.cycles
    }

    pub fn struct_layout(&self, s: StructId) -> Option<&StructLayout> {
        self.structs.get(s.index())?.as_ref()
    }

    /// Cells of one array element or struct field.
    pub fn elem_cells(&self, e: ElemType) -> Option<u64> {
        match e {
            ElemType::Scalar(sc) => scalar_cells(sc, self.classes),
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

/// A scalar's cells: one, unless it is a capability of a class the module
/// does not declare.
fn scalar_cells(s: ScalarType, classes: usize) -> Option<u64> {
    match s {
        ScalarType::Cap { class, .. } if class.index() >= classes => None,
        _ => Some(1),
    }
}

/// Bytes every frame is charged besides its slots, values and stack
/// arguments (module doc, "Stack frames"): the return address and the saved
/// frame pointer (16); the callee-saved registers Cranelift may save, `rbx`
/// and `r12`–`r15` (48: the area is rounded up to 16 bytes); the rounding of
/// the slot and spill area to 16 bytes (8); the context and data-region
/// addresses, which live through the whole function (16); and 40 bytes for
/// Cranelift's own temporaries.
pub const FRAME_OVERHEAD: u64 = 128;

/// Argument words a call passes in registers: the SysV x86-64 convention
/// has six integer argument registers, and the context takes the first.
pub const REGISTER_ARG_WORDS: u64 = 5;

/// Argument words of a call of a module function, the context aside: one
/// per value, two per reference (its base and length). Helpers take four
/// words, all in registers.
pub fn call_words(args: &[Arg]) -> u64 {
    args.iter().fold(0u64, |words, arg| {
        words.saturating_add(match arg {
            Arg::Value(_) => 1,
            Arg::Ref(_) => 2,
        })
    })
}

/// Bytes of stack the arguments of a call of `words` argument words take:
/// 8 per word beyond the [`REGISTER_ARG_WORDS`] passed in registers, rounded
/// up to a multiple of 16 bytes (the convention keeps the stack pointer
/// 16-byte aligned at calls).
///
/// This is exactly the outgoing-argument area Cranelift 0.135 reserves in
/// the caller's frame for such a call (x64 `compute_arg_locs`: one 8-byte
/// slot per stack word, the area aligned to 16; the frame's area is that of
/// its widest call), and what any compiler for the convention must reserve,
/// so it is an upper bound without slack (`codegen/tests/frames.rs` checks
/// it). Only stack-passed words are charged, not every argument word: the
/// words in registers take no stack, and charging them would make every
/// frame that calls up to 40 bytes larger than anything it uses, refusing
/// modules near the limit for nothing.
pub fn stack_arg_bytes(words: u64) -> u64 {
    let stack_words = words.saturating_sub(REGISTER_ARG_WORDS);
    stack_words.saturating_add(stack_words % 2).saturating_mul(8)
}

/// Bytes a call of a module function with arguments `args` adds to its
/// caller's frame: nothing if its [`call_words`] fit the registers (what it
/// holds while it is set up is covered by [`FRAME_OVERHEAD`]); else its
/// [`stack_arg_bytes`] and 16 bytes per reference argument. Cranelift makes
/// every argument before storing the stack-passed ones (x64
/// `gen_call_args`), so they are all live at once: the values among them
/// are counted with their block, but a reference's base and length are made
/// at the call (a global's address, a sized array's length), and with more
/// arguments than registers they were measured spilled.
pub fn call_frame_bytes(args: &[Arg]) -> u64 {
    let words = call_words(args);
    if words <= REGISTER_ARG_WORDS {
        return 0;
    }
    let refs = args.iter().filter(|a| matches!(a, Arg::Ref(_))).count() as u64;
    stack_arg_bytes(words).saturating_add(refs.saturating_mul(2 * CELL_BYTES))
}

/// What a function's frame is charged for (module doc, "Stack frames").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameShape {
    /// Number of its stack slots.
    pub slots: u64,
    /// Bytes of its stack slots.
    pub slot_bytes: u64,
    /// Values (parameters and results) of its largest block.
    pub max_block_values: u64,
    /// Its reference parameters.
    pub ref_params: u64,
    /// The largest [`call_frame_bytes`] of its calls, 0 if it makes none.
    pub max_call_bytes: u64,
}

/// The verifier's model of a function's stack frame, in bytes (module doc,
/// "Stack frames"). Code generation refuses a frame this model does not
/// cover (C0005). The verifier sums it along call chains to bound the stack.
pub fn frame_size(shape: FrameShape) -> u64 {
    let live_values = shape
        .max_block_values
        .saturating_add(shape.ref_params.saturating_mul(2))
        .saturating_add(shape.slots);
    FRAME_OVERHEAD
        .saturating_add(shape.slot_bytes)
        .saturating_add(live_values.saturating_mul(8))
        .saturating_add(shape.max_call_bytes)
}

/// The [`FrameShape`] of function `func`, its module laid out as `layout`;
/// `None` if a slot has no size (never for a verified module).
fn frame_shape(layout: &Layout, func: &Function) -> Option<FrameShape> {
    let mut shape = FrameShape {
        slots: func.slots.len() as u64,
        ref_params: func.params.iter().filter(|p| matches!(p, ParamType::Ref(_))).count() as u64,
        ..FrameShape::default()
    };
    for &slot in &func.slots {
        let bytes = layout.obj_cells(slot)?.saturating_mul(CELL_BYTES);
        shape.slot_bytes = shape.slot_bytes.saturating_add(bytes);
    }
    for block in &func.blocks {
        let mut values = block.params.len() as u64;
        for inst in &block.insts {
            values += u64::from(inst.kind.has_result());
            if let InstKind::Call { args, .. } = &inst.kind {
                shape.max_call_bytes = shape.max_call_bytes.max(call_frame_bytes(args));
            }
        }
        shape.max_block_values = shape.max_block_values.max(values);
    }
    Some(shape)
}

/// [`frame_size`] of function `func`, its module laid out as `layout`;
/// `None` if a slot has no size (never for a verified module).
pub fn frame_model(layout: &Layout, func: &Function) -> Option<u64> {
    frame_shape(layout, func).map(frame_size)
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
    use crate::{
        Block, BlockId, Callee, ClassDef, ClassId, FieldDef, FuncId, FuncKind, GlobalDef, GlobalId, Inst, Rights, Root,
        StructDef, Terminator, Type, ValueId,
    };

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

    fn cap(class: u32) -> ElemType {
        ElemType::Scalar(ScalarType::Cap {
            class: ClassId(class),
            rights: Rights::READ,
        })
    }

    /// class c {}
    /// struct inner { a: i64, b: bool }
    /// struct outer { x: i64, i: struct inner, c: cap, j: struct inner }  (declared first)
    fn nested() -> Module {
        Module {
            classes: vec![ClassDef {
                name: "c".into(),
                attrs: vec![],
            }],
            structs: vec![
                StructDef {
                    name: "outer".into(),
                    fields: vec![
                        field("x", I64),
                        field("i", ElemType::Struct(StructId(1))),
                        field("c", cap(0)),
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
        // The walk enters outer (0), then inner (1), whose field `loop`
        // leads back to outer.
        assert_eq!(layout.cycles(), &[(StructId(1), 2)]);
        assert!(Layout::new(&nested()).cycles().is_empty());
    }

    #[test]
    fn capabilities_of_unknown_classes_have_no_size() {
        let mut m = nested();
        let layout = Layout::new(&m);
        assert_eq!(layout.elem_cells(cap(0)), Some(1));
        assert_eq!(layout.elem_cells(cap(1)), None);
        assert_eq!(
            layout.obj_cells(ObjType::Array {
                elem: cap(1),
                len: Some(2)
            }),
            None
        );
        // inner gets a field of an unknown class: it and outer lose their size.
        m.structs[1].fields.push(field("bad", cap(1)));
        let layout = Layout::new(&m);
        assert_eq!(layout.struct_layout(StructId(1)), None);
        assert_eq!(layout.struct_layout(StructId(0)), None);
        assert_eq!(layout.elem_cells(ElemType::Struct(StructId(2))), Some(0));
        assert!(layout.cycles().is_empty());
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
    fn stack_arguments_are_the_words_beyond_the_registers_rounded_to_16_bytes() {
        for words in 0..=REGISTER_ARG_WORDS {
            assert_eq!(stack_arg_bytes(words), 0, "{words} words fit the registers");
        }
        assert_eq!(stack_arg_bytes(6), 16, "one stack word, padded");
        assert_eq!(stack_arg_bytes(7), 16);
        assert_eq!(stack_arg_bytes(8), 32);
        assert_eq!(stack_arg_bytes(100), 96 * 8);
        assert_eq!(stack_arg_bytes(101), 96 * 8);
        assert_eq!(stack_arg_bytes(u64::MAX), u64::MAX, "saturates");
        let (v, g) = (Arg::Value(ValueId(0)), Arg::Ref(Root::Global(GlobalId(0))));
        assert_eq!(call_words(&[v, g, v]), 4);
        assert_eq!(call_words(&[]), 0);
        assert_eq!(call_frame_bytes(&[v, g, v, v]), 0, "five words: all in registers");
        assert_eq!(call_frame_bytes(&[g, g, g]), 16 + 3 * 16);
        assert_eq!(call_frame_bytes(&[v; 8]), 32);
    }

    /// `func @f(%0: ref [i64], i64) { slot $0: [i64; 3] ... }`: an entry
    /// block of 3 values that calls `@f` with 5 words and with 1, a second
    /// block of 1 value that calls it with 8 (four references).
    #[test]
    fn the_frame_model_charges_slots_values_references_and_stack_arguments() {
        let g = Arg::Ref(Root::Global(GlobalId(0)));
        let v = Arg::Value(ValueId(0));
        let inst = |kind| Inst {
            kind,
            catches: vec![],
            span: None,
        };
        let call = |args: Vec<Arg>| {
            inst(InstKind::Call {
                callee: Callee::Func(FuncId(0)),
                args,
                result: true,
            })
        };
        let f = Function {
            name: "f".into(),
            kind: FuncKind::Plain,
            params: vec![
                ParamType::Ref(ObjType::Array { elem: I64, len: None }),
                ParamType::Value(Type::I64),
            ],
            ret: Some(Type::I64),
            slots: vec![ObjType::Array {
                elem: I64,
                len: Some(3),
            }],
            blocks: vec![
                Block {
                    params: vec![Type::I64],
                    loop_end: None,
                    insts: vec![
                        inst(InstKind::Fuel(1)),
                        call(vec![g, v, g]),
                        call(vec![v]),
                        inst(InstKind::Init(crate::SlotId(0))),
                    ],
                    term: Terminator::Jump(crate::BlockCall {
                        block: BlockId(1),
                        args: vec![],
                    }),
                    term_span: None,
                },
                Block {
                    params: vec![],
                    loop_end: None,
                    insts: vec![call(vec![g, g, g, g])],
                    term: Terminator::Return(None),
                    term_span: None,
                },
            ],
        };
        let layout = Layout::new(&nested());
        let shape = frame_shape(&layout, &f).unwrap();
        assert_eq!(
            shape,
            FrameShape {
                slots: 1,
                slot_bytes: 24,
                max_block_values: 3,
                ref_params: 1,
                max_call_bytes: 32 + 4 * 16,
            }
        );
        assert_eq!(frame_size(shape), FRAME_OVERHEAD + 24 + 8 * (3 + 2 + 1) + 32 + 64);
        assert_eq!(frame_model(&layout, &f), Some(frame_size(shape)));
        assert_eq!(frame_size(FrameShape::default()), FRAME_OVERHEAD);
        let unsized_slot = Function {
            slots: vec![ObjType::Elem(cap(9))],
            ..f
        };
        assert_eq!(frame_model(&layout, &unsized_slot), None);
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
