//! Lowering verified TAL to machine code through Cranelift.
//!
//! Every TAL value is an `i64` in Cranelift (`bool` as 0/1), every TAL block
//! a Cranelift block with the same parameters; a TAL block continues in a
//! fresh Cranelift block after each check, call and fuel test, which end in
//! a branch. The pieces the ABI (`stdlib::abi`) asks for:
//!
//! - **Checks** compare and branch: to the handler block of a matching
//!   `catch` (with its arguments), else to the function's one trap block,
//!   which stores the status and the location (function, block, instruction)
//!   in the context and returns 0 with the status in `rdx` — unless
//!   `ctx.status` is already set, which can only be a helper's abort: that
//!   is kept, location and all, and returned instead, so that no later
//!   trap or `catch` can replace it. A check that cannot fail, given the
//!   value ranges `ranges` computes, is left out. Checks are written as
//!   comparisons Cranelift fuses with their branch where one exists: `+` and
//!   `-` with an operand of known sign compare the result with the other
//!   operand, a constant factor bounds the other factor (tested against 32
//!   bits first, exactly on a cold path), `MIN / -1` tests the divisor first;
//!   the rest use `s*_overflow`.
//! - **Calls** to functions of the module return `(value, status)` in
//!   `rax` and `rdx` (entry points too; hosts read `ctx.status`). A
//!   non-zero status goes to a matching `catch` (clearing `ctx.status`) or
//!   returns at once with it, leaving `ctx.status` and the innermost
//!   location for the host. `HOST_ABORT` matches no `catch`.
//! - **Helper calls** (through `ctx.helpers`) are not followed by any test:
//!   a helper raises nothing the extension could catch. One that ends the
//!   invocation sets `HOST_ABORT`, after which every helper does nothing
//!   and returns 0; the code runs on, fuel-bounded, until the entry point
//!   returns or something traps (see the trap block above).
//! - **Attribute reads** (`get_attribute`) are three loads,
//!   `ctx.attrs[class][attr]`, not calls: no status test, nothing kept
//!   across a call. Their bounds are the loader's business (`stdlib::abi`).
//! - **Fuel**: a function that checks fuel keeps the counter in a
//!   variable (a register), loaded from `ctx.fuel` at its start and stored
//!   back wherever another reader may look: before a call or helper call
//!   (and loaded again after, since the callee used it or a helper emptied
//!   it), a return and a trap. `fuel N` subtracts N; if the result is
//!   negative it stores it, calls the host's `ctx.refuel` (which preserves
//!   every register) on a cold path, loads the counter again and traps with
//!   `OUT_OF_FUEL` if it is still negative. No other thread writes the
//!   context (ABI 6), so nothing else can change it meanwhile.
//! - **Branches that only choose values** (`if (x < lo) return lo;`, a
//!   variable set in one arm) become `select`s, so `cmov`s (see `lower/select.rs`).
//!
//! The target is fixed (baseline x86-64, no CPU-specific extensions, frame
//! pointers kept for kernel stack traces), not the host CPU, so that any
//! machine re-lowers an object's TAL to the same bytes. Cranelift's own IR
//! verifier runs in debug builds only ([`VERIFY_CLIF`]); it changes no byte.

use crate::loads::Reuse;
use crate::ranges::{Facts, Memory, Range};
use crate::{CallReloc, CodegenError, CompiledFunction, Options};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    self, AbiParam, BlockArg, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, Signature, StackSlotData,
    StackSlotKind, UserExternalName, UserFuncName,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use stdlib::abi::{self, offset, status};
use tal_ir::layout::{CELL_BYTES, GlobalLayout, Layout};
mod select;

use tal_ir::{
    Arg, BinaryOp, BlockCall, Callee, Catch, Cond, ElemType, ExcKind, FuncId, Function, HelperArg, Inst, InstKind,
    Module, ObjType, ParamType, Place, Root, Terminator, Type, UnaryOp,
};

/// Whether Cranelift verifies its own IR while lowering: in debug builds
/// (tests), not in release builds, where it took 28 % of lowering time and
/// so of loading (the loader re-lowers). It changes no output byte (a test
/// lowers with it on and off), only whether a codegen bug is caught early.
pub const VERIFY_CLIF: bool = cfg!(debug_assertions);

/// The instruction set every object is compiled for, with Cranelift's IR
/// verifier as [`VERIFY_CLIF`] says.
pub fn target_isa() -> OwnedTargetIsa {
    target_isa_with(VERIFY_CLIF)
}

/// The instruction set every object is compiled for, with Cranelift's IR
/// verifier on or off. The one definition of the target.
pub fn target_isa_with(verify_clif: bool) -> OwnedTargetIsa {
    let mut flags = settings::builder();
    for (name, value) in [
        ("opt_level", "speed"),
        ("preserve_frame_pointers", "true"),
        ("enable_probestack", "false"),
        ("unwind_info", "false"),
        ("enable_verifier", if verify_clif { "true" } else { "false" }),
    ] {
        flags.set(name, value).expect("a Cranelift setting");
    }
    let builder = cranelift_codegen::isa::lookup_by_name("x86_64").expect("Cranelift has x86-64");
    builder
        .finish(settings::Flags::new(flags))
        .expect("baseline x86-64 flags")
}

/// `endbr64`: the landing pad indirect-branch tracking requires.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

fn err(code: &'static str, message: impl Into<String>) -> CodegenError {
    CodegenError {
        code,
        message: message.into(),
    }
}

/// Lowers every function of a verified module.
pub fn lower_module(module: &Module, options: Options) -> Result<Vec<CompiledFunction>, CodegenError> {
    lower_module_with(module, options, VERIFY_CLIF)
}

/// [`lower_module`], with Cranelift's IR verifier on or off.
pub fn lower_module_with(
    module: &Module,
    options: Options,
    verify_clif: bool,
) -> Result<Vec<CompiledFunction>, CodegenError> {
    let mut out = Vec::with_capacity(module.funcs.len());
    lower_each(module, options, verify_clif, |_, compiled| out.push(compiled))?;
    Ok(out)
}

/// A stretch of a function's machine code (byte offsets in
/// [`CompiledFunction::code`], which starts with `endbr64`) and the TAL
/// item it was lowered from: the `item`th of the function's instructions
/// and terminators in layout order (each block's instructions, then its
/// terminator). Code shared by many items (the return and trap blocks)
/// has no stretch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeSpan {
    pub start: u32,
    pub end: u32,
    pub item: u32,
}

/// Every function of a verified module lowered as [`lower_module`] lowers
/// it (the same bytes), with where each TAL item's code is: for tools that
/// show machine code beside its source (`safexc inspect --source`).
pub fn source_map(module: &Module, options: Options) -> Result<Vec<(CompiledFunction, Vec<CodeSpan>)>, CodegenError> {
    let mut out = Vec::with_capacity(module.funcs.len());
    lower_each(module, options, VERIFY_CLIF, |ctx, compiled| {
        let spans = ctx
            .compiled_code()
            .map(|code| {
                code.buffer
                    .get_srclocs_sorted()
                    .iter()
                    .filter(|s| !s.loc.is_default())
                    .map(|s| CodeSpan {
                        start: s.start + ENDBR64.len() as u32,
                        end: s.end + ENDBR64.len() as u32,
                        item: s.loc.bits(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((compiled, spans));
    })?;
    Ok(out)
}

/// Lowers each function in turn, handing it to `each` with the context
/// that compiled it.
fn lower_each(
    module: &Module,
    options: Options,
    verify_clif: bool,
    mut each: impl FnMut(&Context, CompiledFunction),
) -> Result<(), CodegenError> {
    let isa = target_isa_with(verify_clif);
    let layout = Layout::new(module);
    let globals = GlobalLayout::new(module).ok_or_else(|| err("C0001", "the module's globals have no layout"))?;
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    let memory = Memory::of(module);
    for (index, func) in module.funcs.iter().enumerate() {
        let mut lowerer = FuncLowerer::new(module, &layout, &globals, &memory, options, FuncId(index as u32), func);
        let mut clif = ir::Function::with_name_signature(UserFuncName::user(0, index as u32), signature(func));
        {
            let mut b = FunctionBuilder::new(&mut clif, &mut builder_ctx);
            lowerer.lower(&mut b)?;
            b.seal_all_blocks();
            b.finalize(isa.frontend_config());
        }
        let compiled = compile(&*isa, &mut ctx, clif, func)?;
        // The verifier's stack bound holds only if every frame fits its
        // model (`tal_ir::layout`, "Stack frames"): refuse code that does
        // not, and code whose model cannot be computed (fail closed).
        let model = tal_ir::layout::frame_model(&layout, func).ok_or_else(|| {
            err(
                "C0005",
                format!(
                    "`{}`: no frame model (a slot without a size): not a verified module",
                    func.name
                ),
            )
        })?;
        // The return address and the saved frame pointer are not in
        // Cranelift's frame size.
        let real = u64::from(compiled.frame_size) + 16;
        if real > model {
            return Err(err(
                "C0005",
                format!(
                    "`{}`: a {real}-byte frame, beyond the verifier's model of {model} bytes",
                    func.name
                ),
            ));
        }
        each(&ctx, compiled);
    }
    Ok(())
}

/// The Cranelift signature of a TAL function: the context, the value
/// parameters, a pointer and a length per reference parameter; the value
/// (`rax`) and the status (`rdx`, 0 unless it trapped).
fn signature(func: &Function) -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.push(AbiParam::new(I64));
    for p in &func.params {
        sig.params.push(AbiParam::new(I64));
        if let ParamType::Ref(_) = p {
            sig.params.push(AbiParam::new(I64));
        }
    }
    sig.returns.extend([AbiParam::new(I64); 2]);
    sig
}

/// `ctx.refuel`'s: the context in `rdi`, nothing returned, every register
/// preserved (`stdlib::abi`).
fn refuel_signature() -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    sig.params.push(AbiParam::new(I64));
    sig
}

fn helper_signature() -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.extend([AbiParam::new(I64); 4]);
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Compiles one function in `ctx`, which is reused across the module's
/// functions so that Cranelift's and the register allocator's buffers are
/// allocated once (the output does not depend on it).
fn compile(
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    ctx: &mut Context,
    clif: ir::Function,
    func: &Function,
) -> Result<CompiledFunction, CodegenError> {
    ctx.clear();
    ctx.func = clif;
    let compiled = ctx.compile(isa, &mut Default::default()).map_err(|e| {
        err(
            "C0003",
            format!("Cranelift could not compile `{}`: {:?}", func.name, e.inner),
        )
    })?;
    let mut code = ENDBR64.to_vec();
    code.extend_from_slice(compiled.code_buffer());
    // Fail closed: a frame that cannot be measured cannot be checked (C0005).
    let frame_size = compiled
        .buffer
        .frame_layout()
        .ok_or_else(|| err("C0005", format!("`{}`: Cranelift reported no frame layout", func.name)))?
        .frame_to_fp_offset;
    let raw_relocs = compiled.buffer.relocs().to_vec();
    let mut relocs = Vec::new();
    for r in raw_relocs {
        let FinalizedRelocTarget::ExternalName(ExternalName::User(name)) = r.target else {
            return Err(err(
                "C0004",
                format!("`{}`: unexpected relocation target {:?}", func.name, r.target),
            ));
        };
        if !matches!(r.kind, Reloc::X86CallPCRel4 | Reloc::X86CallPLTRel4 | Reloc::X86PCRel4) {
            return Err(err(
                "C0004",
                format!("`{}`: unexpected relocation kind {:?}", func.name, r.kind),
            ));
        }
        let callee = ctx.func.params.user_named_funcs()[name].index;
        relocs.push(CallReloc {
            offset: r.offset + ENDBR64.len() as u32,
            callee,
            addend: r.addend,
        });
    }
    let relocated: Vec<u32> = relocs.iter().map(|r| r.offset).collect();
    crate::peephole::branch_on_overflow(&mut code, &relocated);
    Ok(CompiledFunction {
        code,
        relocs,
        frame_size,
    })
}

/// Where a reference parameter's object is.
#[derive(Clone, Copy)]
struct RefParam {
    ptr: ir::Value,
    len: ir::Value,
}

struct FuncLowerer<'m> {
    module: &'m Module,
    layout: &'m Layout,
    globals: &'m GlobalLayout,
    options: Options,
    id: FuncId,
    func: &'m Function,
    /// Cranelift value of each TAL value, and whether it is a `bool`.
    values: Vec<ir::Value>,
    is_bool: Vec<bool>,
    blocks: Vec<ir::Block>,
    /// The number of each TAL block's first value (its first parameter).
    first_value: Vec<usize>,
    ctx: Option<ir::Value>,
    data: Option<ir::Value>,
    refs: Vec<Option<RefParam>>,
    slots: Vec<ir::StackSlot>,
    trap_block: Option<ir::Block>,
    return_block: Option<ir::Block>,
    /// The fuel counter, kept in a variable (a register) between the
    /// points where the context's copy must be current: calls, helper
    /// calls, `refuel`, returns and traps. `None` in a function with no
    /// fuel check of its own.
    fuel: Option<Variable>,
    facts: Facts,
    /// Loads of globals that repeat an earlier load's or store's value.
    reuse: Reuse,
}

impl<'m> FuncLowerer<'m> {
    fn new(
        module: &'m Module,
        layout: &'m Layout,
        globals: &'m GlobalLayout,
        memory: &Memory,
        options: Options,
        id: FuncId,
        func: &'m Function,
    ) -> Self {
        FuncLowerer {
            module,
            layout,
            globals,
            options,
            id,
            func,
            values: Vec::new(),
            is_bool: Vec::new(),
            blocks: Vec::new(),
            first_value: func
                .blocks
                .iter()
                .scan(0, |next, block| {
                    let first = *next;
                    *next += block.params.len() + block.insts.iter().filter(|i| i.kind.has_result()).count();
                    Some(first)
                })
                .collect(),
            ctx: None,
            data: None,
            refs: vec![None; func.params.len()],
            slots: Vec::new(),
            trap_block: None,
            return_block: None,
            fuel: None,
            facts: Facts::with_memory(module, func, memory).0,
            reuse: Reuse::analyze(func),
        }
    }

    fn ctx(&self) -> ir::Value {
        self.ctx.expect("set in the entry block")
    }

    /// Makes the context's counter current (before a call, a return or a
    /// trap: the callee, the host or the caller reads it).
    fn store_fuel(&mut self, b: &mut FunctionBuilder) {
        if let Some(var) = self.fuel {
            let counter = b.use_var(var);
            b.ins()
                .store(MemFlagsData::trusted(), counter, self.ctx(), offset::FUEL);
        }
    }

    /// Takes the counter back from the context after a call, which used it
    /// (a callee's checks, a helper that emptied it).
    fn reload_fuel(&mut self, b: &mut FunctionBuilder) {
        if let Some(var) = self.fuel {
            let counter = b.ins().load(I64, MemFlagsData::trusted(), self.ctx(), offset::FUEL);
            b.def_var(var, counter);
        }
    }

    fn lower(&mut self, b: &mut FunctionBuilder) -> Result<(), CodegenError> {
        let f = self.func;
        if f.blocks.is_empty() {
            return Err(err(
                "C0002",
                format!("`{}` has no blocks: not a verified module", f.name),
            ));
        }
        for (i, block) in f.blocks.iter().enumerate() {
            let cl = b.create_block();
            if i > 0 {
                for _ in &block.params {
                    b.append_block_param(cl, I64);
                }
            }
            self.blocks.push(cl);
        }
        for &obj in &f.slots {
            let cells = self
                .layout
                .obj_cells(obj)
                .ok_or_else(|| err("C0001", "a slot without a size"))?;
            let bytes = u32::try_from(cells * CELL_BYTES).map_err(|_| err("C0001", "a slot too large"))?;
            self.slots
                .push(b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 3)));
        }
        // The entry block takes the Cranelift parameters: the context, then
        // each TAL parameter (two for a reference).
        let entry = self.blocks[0];
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        self.ctx = Some(params[0]);
        let mut next = 1;
        for (pos, p) in f.params.iter().enumerate() {
            match p {
                ParamType::Value(t) => {
                    self.define(params[next], *t == Type::Bool);
                    next += 1;
                }
                ParamType::Ref(_) => {
                    self.refs[pos] = Some(RefParam {
                        ptr: params[next],
                        len: params[next + 1],
                    });
                    next += 2;
                }
            }
        }
        // The counter in a variable, where the function checks fuel.
        let checks_fuel = !self.options.no_fuel
            && f.blocks.iter().enumerate().any(|(i, block)| {
                block.insts.iter().enumerate().any(|(n, inst)| {
                    matches!(inst.kind, InstKind::Fuel(_)) && !((i, n) == (0, 0) && f.kind != tal_ir::FuncKind::Plain)
                })
            });
        if checks_fuel {
            let var = b.declare_var(I64);
            let counter = b.ins().load(I64, MemFlagsData::trusted(), self.ctx(), offset::FUEL);
            b.def_var(var, counter);
            self.fuel = Some(var);
        }
        // The data region's address, only where globals are used.
        if f.blocks.iter().flat_map(|b| &b.insts).any(|i| uses_global(&i.kind)) {
            self.data = Some(b.ins().load(I64, MemFlagsData::trusted(), self.ctx(), offset::DATA));
        }
        // Each TAL item's machine code carries its ordinal ([`source_map`]);
        // the shared blocks `finish` adds carry none.
        let mut item = 0u32;
        for (i, block) in f.blocks.iter().enumerate() {
            if i > 0 {
                b.switch_to_block(self.blocks[i]);
                let params = b.block_params(self.blocks[i]).to_vec();
                for (&v, t) in params.iter().zip(&block.params) {
                    self.define(v, *t == Type::Bool);
                }
            }
            for (n, inst) in block.insts.iter().enumerate() {
                b.set_srcloc(ir::SourceLoc::new(item));
                item = item.saturating_add(1);
                self.inst(b, i, n, inst)?;
            }
            b.set_srcloc(ir::SourceLoc::new(item));
            item = item.saturating_add(1);
            self.terminator(b, i, &block.term)?;
        }
        b.set_srcloc(ir::SourceLoc::default());
        self.finish(b);
        Ok(())
    }

    fn define(&mut self, v: ir::Value, is_bool: bool) {
        self.values.push(v);
        self.is_bool.push(is_bool);
    }

    fn val(&self, v: tal_ir::ValueId) -> Result<ir::Value, CodegenError> {
        self.values
            .get(v.index())
            .copied()
            .ok_or_else(|| err("C0002", format!("v{} is not defined: not a verified module", v.0)))
    }

    fn bool_of(&self, v: tal_ir::ValueId) -> bool {
        self.is_bool.get(v.index()).copied().unwrap_or(false)
    }

    fn args(&self, call: &BlockCall) -> Result<Vec<BlockArg>, CodegenError> {
        call.args.iter().map(|&v| self.val(v).map(BlockArg::Value)).collect()
    }

    fn target(&self, call: &BlockCall) -> Result<ir::Block, CodegenError> {
        self.blocks
            .get(call.block.index())
            .copied()
            .ok_or_else(|| err("C0002", "branch to a missing block"))
    }

    /// The location word of an instruction: block in the high half,
    /// instruction (or `TRAP_AT_TERMINATOR`) in the low half.
    fn location(block: usize, inst: Option<usize>) -> i64 {
        let inst = inst.map_or(abi::TRAP_AT_TERMINATOR, |i| i as u32);
        ((block as i64) << 32) | i64::from(inst)
    }

    /// The shared trap path (filled in by `finish`): stores status and
    /// location, returns 0. A status already set is a helper's abort, which
    /// it keeps (with no location).
    fn trap_block(&mut self, b: &mut FunctionBuilder) -> ir::Block {
        *self.trap_block.get_or_insert_with(|| {
            let t = b.create_block();
            b.append_block_param(t, I64);
            b.append_block_param(t, I64);
            b.set_cold_block(t);
            t
        })
    }

    /// Returns 0 with the status it is passed, which a callee returned or
    /// a helper set (filled in by `finish`).
    fn return_block(&mut self, b: &mut FunctionBuilder) -> ir::Block {
        *self.return_block.get_or_insert_with(|| {
            let r = b.create_block();
            b.append_block_param(r, I64);
            b.set_cold_block(r);
            r
        })
    }

    /// Emits the shared blocks, after all the function's own code.
    fn finish(&mut self, b: &mut FunctionBuilder) {
        let flags = MemFlagsData::trusted();
        if let Some(t) = self.trap_block {
            b.switch_to_block(t);
            let (kind, loc) = (b.block_params(t)[0], b.block_params(t)[1]);
            let ctx = self.ctx();
            // After an abort the extension runs on until its entry point
            // returns; a trap on the way must not replace the abort (nor
            // could a `catch` in a caller then clear it): it returns it.
            let st = b.ins().load(I64, flags, ctx, offset::STATUS);
            let (keep, store) = (self.return_block(b), b.create_block());
            b.set_cold_block(store);
            b.ins().brif(st, keep, &[BlockArg::Value(st)], store, &[]);
            b.switch_to_block(store);
            b.ins().store(flags, kind, ctx, offset::STATUS);
            let func = b.ins().iconst(ir::types::I32, i64::from(self.id.0));
            b.ins().store(flags, func, ctx, offset::TRAP_FUNC);
            let block = b.ins().ushr_imm_u(loc, 32);
            let block = b.ins().ireduce(ir::types::I32, block);
            b.ins().store(flags, block, ctx, offset::TRAP_BLOCK);
            let inst = b.ins().ireduce(ir::types::I32, loc);
            b.ins().store(flags, inst, ctx, offset::TRAP_INST);
            let zero = b.ins().iconst(I64, 0);
            b.ins().return_(&[zero, kind]);
        }
        if let Some(r) = self.return_block {
            b.switch_to_block(r);
            let st = b.block_params(r)[0];
            let zero = b.ins().iconst(I64, 0);
            b.ins().return_(&[zero, st]);
        }
    }

    /// Branches on `failed` to the handler for `kind` or to the trap path,
    /// and continues in a new block.
    fn check(
        &mut self,
        b: &mut FunctionBuilder,
        failed: ir::Value,
        kind: ExcKind,
        catches: &[Catch],
        loc: i64,
    ) -> Result<(), CodegenError> {
        let cont = b.create_block();
        match catches.iter().find(|c| c.kind == kind) {
            Some(c) => {
                let handler = self.target(&c.target)?;
                let args = self.args(&c.target)?;
                b.ins().brif(failed, handler, &args, cont, &[]);
            }
            None => {
                // The trap's arguments are made on the cold path only.
                let fail = b.create_block();
                b.set_cold_block(fail);
                b.ins().brif(failed, fail, &[], cont, &[]);
                b.switch_to_block(fail);
                self.store_fuel(b);
                let trap = self.trap_block(b);
                let k = b.ins().iconst(I64, status_of(kind) as i64);
                let l = b.ins().iconst(I64, loc);
                b.ins().jump(trap, &[BlockArg::Value(k), BlockArg::Value(l)]);
            }
        }
        b.switch_to_block(cont);
        Ok(())
    }

    /// A check whose exact condition is costly: `maybe` holds whenever
    /// `failed` would, which is computed only then, on a cold path.
    fn check_rarely(
        &mut self,
        b: &mut FunctionBuilder,
        maybe: ir::Value,
        failed: impl FnOnce(&mut FunctionBuilder) -> ir::Value,
        kind: ExcKind,
        catches: &[Catch],
        loc: i64,
    ) -> Result<(), CodegenError> {
        let (slow, cont) = (b.create_block(), b.create_block());
        b.set_cold_block(slow);
        b.ins().brif(maybe, slow, &[], cont, &[]);
        b.switch_to_block(slow);
        let failed = failed(b);
        self.check(b, failed, kind, catches, loc)?;
        let passed = b.current_block().expect("check leaves a block");
        b.set_cold_block(passed);
        b.ins().jump(cont, &[]);
        b.switch_to_block(cont);
        Ok(())
    }

    /// After a call that returned status `st`: a non-zero status goes to a
    /// matching catch (clearing `ctx.status`) or returns it; otherwise
    /// execution continues in a new block.
    fn after_call(&mut self, b: &mut FunctionBuilder, st: ir::Value, catches: &[Catch]) -> Result<(), CodegenError> {
        let ctx = self.ctx();
        let cont = b.create_block();
        let dispatch = b.create_block();
        b.ins().brif(st, dispatch, &[], cont, &[]);
        b.set_cold_block(dispatch);
        b.switch_to_block(dispatch);
        for c in catches.iter().filter(|c| c.kind != ExcKind::OutOfFuel) {
            let handler_entry = b.create_block();
            let next = b.create_block();
            b.set_cold_block(handler_entry);
            b.set_cold_block(next);
            let is_kind = b.ins().icmp_imm_s(IntCC::Equal, st, status_of(c.kind) as i64);
            b.ins().brif(is_kind, handler_entry, &[], next, &[]);
            b.switch_to_block(handler_entry);
            let zero = b.ins().iconst(I64, 0);
            b.ins().store(MemFlagsData::trusted(), zero, ctx, offset::STATUS);
            let handler = self.target(&c.target)?;
            let args = self.args(&c.target)?;
            b.ins().jump(handler, &args);
            b.switch_to_block(next);
        }
        let ret = self.return_block(b);
        b.ins().jump(ret, &[BlockArg::Value(st)]);
        b.switch_to_block(cont);
        Ok(())
    }

    /// The address of a place, as a base and a constant byte offset that
    /// loads and stores take as their immediate (so `@a[i]` is one
    /// `[data + i*8 + offset]` operand, even where the load is folded into
    /// arithmetic).
    fn address(&mut self, b: &mut FunctionBuilder, place: &Place) -> Result<(ir::Value, i32), CodegenError> {
        let (base, root_bytes) = self.root_base(b, place.root)?;
        let (ObjType::Array { elem, .. } | ObjType::Elem(elem)) = self.root_type(place.root)?;
        let mut cells = 0u64;
        let mut ty = elem;
        for &field in &place.fields {
            let ElemType::Struct(s) = ty else {
                return Err(err("C0002", "field of a scalar"));
            };
            cells += self
                .layout
                .field_offset(s, field)
                .ok_or_else(|| err("C0002", "unknown field"))?;
            ty = self.module.structs[s.index()].fields[field as usize].ty;
        }
        let bytes = root_bytes + cells * CELL_BYTES;
        let (mut addr, offset) = match i32::try_from(bytes) {
            Ok(offset) => (base, offset),
            Err(_) => (b.ins().iadd_imm_s(base, bytes as i64), 0),
        };
        if let Some(index) = place.index {
            let idx = self.val(index)?;
            let stride = self
                .layout
                .elem_cells(elem)
                .ok_or_else(|| err("C0002", "element without a size"))?
                * CELL_BYTES;
            let offset = b.ins().imul_imm_s(idx, stride as i64);
            addr = b.ins().iadd(addr, offset);
        }
        Ok((addr, offset))
    }

    /// A root's address.
    fn root(&mut self, b: &mut FunctionBuilder, root: Root) -> Result<ir::Value, CodegenError> {
        let (base, bytes) = self.root_base(b, root)?;
        Ok(if bytes == 0 {
            base
        } else {
            b.ins().iadd_imm_s(base, bytes as i64)
        })
    }

    /// A root's address as a base and a byte offset from it: a global is
    /// at its offset in the data region.
    fn root_base(&mut self, b: &mut FunctionBuilder, root: Root) -> Result<(ir::Value, u64), CodegenError> {
        match root {
            Root::Global(g) => {
                let cells = *self
                    .globals
                    .offsets
                    .get(g.index())
                    .ok_or_else(|| err("C0002", "unknown global"))?;
                let data = self
                    .data
                    .ok_or_else(|| err("C0002", "a global reached by an instruction the scan missed"))?;
                Ok((data, cells * CELL_BYTES))
            }
            Root::Slot(s) => Ok((b.ins().stack_addr(I64, self.slots[s.index()], 0), 0)),
            Root::Param(p) => {
                let r = self
                    .refs
                    .get(p as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| err("C0002", "unknown reference"))?;
                Ok((r.ptr, 0))
            }
        }
    }

    /// A root's object type.
    fn root_type(&self, root: Root) -> Result<ObjType, CodegenError> {
        match root {
            Root::Global(g) => Ok(self
                .module
                .globals
                .get(g.index())
                .ok_or_else(|| err("C0002", "unknown global"))?
                .ty),
            Root::Slot(s) => self
                .func
                .slots
                .get(s.index())
                .copied()
                .ok_or_else(|| err("C0002", "unknown slot")),
            Root::Param(p) => match self.func.params.get(p as usize) {
                Some(ParamType::Ref(obj)) => Ok(*obj),
                _ => Err(err("C0002", "unknown reference")),
            },
        }
    }

    /// The length of an array root.
    fn length(&mut self, b: &mut FunctionBuilder, root: Root) -> Result<ir::Value, CodegenError> {
        if let Root::Param(p) = root
            && let Some(r) = self.refs.get(p as usize).copied().flatten()
        {
            return Ok(r.len);
        }
        match self.root_type(root)? {
            ObjType::Array { len: Some(n), .. } => Ok(b.ins().iconst(I64, i64::from(n))),
            _ => Err(err("C0002", "length of a non-array")),
        }
    }

    fn inst(&mut self, b: &mut FunctionBuilder, block: usize, n: usize, inst: &Inst) -> Result<(), CodegenError> {
        let loc = Self::location(block, Some(n));
        let c = &inst.catches;
        // A check the value ranges rule out is left out.
        let needed = !self.facts.cannot_fail(block, n);
        let flags = MemFlagsData::trusted();
        let result: Option<(ir::Value, bool)> = match &inst.kind {
            InstKind::Fuel(amount) => {
                // An entry point's entry charge is the host's (ABI 4).
                let host_charged = (block, n) == (0, 0) && self.func.kind != tal_ir::FuncKind::Plain;
                if !self.options.no_fuel && !host_charged {
                    let ctx = self.ctx();
                    // No overflow: hosts store a counter >= 0, a check runs only
                    // while it is >= 0, and the verifier keeps N <= i64::MAX.
                    let amount = i64::try_from(*amount).map_err(|_| err("C0002", "a fuel amount beyond i64"))?;
                    let var = self.fuel.expect("a function with a fuel check keeps its counter");
                    let fuel = b.use_var(var);
                    let left = b.ins().iadd_imm_s(fuel, -amount);
                    b.def_var(var, left);
                    // An exhausted counter asks the host for more, on a cold
                    // path: the host's `refuel` leaves it negative to end the
                    // invocation (its budget spent, or its deadline passed).
                    // It preserves every register, so the hot path keeps
                    // its registers as if there were no call.
                    let exhausted = b.ins().icmp_imm_s(IntCC::SignedLessThan, left, 0);
                    self.check_rarely(
                        b,
                        exhausted,
                        |b| {
                            b.ins().store(flags, left, ctx, offset::FUEL);
                            let refuel = b.ins().load(I64, flags, ctx, offset::REFUEL);
                            let sig = b.import_signature(refuel_signature());
                            b.ins().call_indirect(sig, refuel, &[ctx]);
                            let fuel = b.ins().load(I64, flags, ctx, offset::FUEL);
                            b.def_var(var, fuel);
                            b.ins().icmp_imm_s(IntCC::SignedLessThan, fuel, 0)
                        },
                        ExcKind::OutOfFuel,
                        &[],
                        loc,
                    )?;
                }
                None
            }
            InstKind::Iconst(v) => Some((b.ins().iconst(I64, *v), false)),
            InstKind::Bconst(v) => Some((b.ins().iconst(I64, i64::from(*v)), true)),
            InstKind::Event(e) => Some((b.ins().iconst(I64, i64::from(e.0)), false)),
            InstKind::Unary { op: UnaryOp::Neg, arg } => {
                let x = self.val(*arg)?;
                if needed {
                    let min = b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                    self.check(b, min, ExcKind::Overflow, c, loc)?;
                }
                Some((b.ins().ineg(x), false))
            }
            InstKind::Unary { op: UnaryOp::Not, arg } => {
                let (x, is_bool) = (self.val(*arg)?, self.bool_of(*arg));
                Some((not_value(b, x, is_bool), is_bool))
            }
            InstKind::Binary { op, lhs, rhs } => Some(self.binary(b, *op, *lhs, *rhs, needed, c, loc)?),
            InstKind::Icmp { cond, lhs, rhs } => {
                let (x, y) = (self.val(*lhs)?, self.val(*rhs)?);
                Some((icmp_value(b, *cond, x, y), true))
            }
            InstKind::CheckNonZero(v) => {
                let x = self.val(*v)?;
                if needed {
                    let zero = b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                    self.check(b, zero, ExcKind::DivideByZero, c, loc)?;
                }
                Some((x, false))
            }
            InstKind::CheckBounds { value, root } => {
                let x = self.val(*value)?;
                if needed {
                    let len = self.length(b, *root)?;
                    // Unsigned: a negative index is out of bounds too.
                    let out = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, x, len);
                    self.check(b, out, ExcKind::OutOfBounds, c, loc)?;
                }
                Some((x, false))
            }
            InstKind::CheckRange { value, attr } => {
                let x = self.val(*value)?;
                let def = self
                    .module
                    .attr(*attr)
                    .ok_or_else(|| err("C0002", "unknown attribute"))?;
                if let Some((lo, hi)) = def.range.filter(|_| needed) {
                    // The verifier rejects empty ranges.
                    if lo > hi {
                        return Err(err("C0002", "an empty attribute range: not a verified module"));
                    }
                    let out = outside(b, x, lo, hi);
                    self.check(b, out, ExcKind::RangeError, c, loc)?;
                }
                Some((x, false))
            }
            InstKind::CheckNull(v) => {
                let x = self.val(*v)?;
                let null = b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                self.check(b, null, ExcKind::NullCapability, c, loc)?;
                Some((x, false))
            }
            InstKind::Load(place) if let Some(v) = self.reuse.of(block, n) => {
                Some((self.val(v)?, self.place_is_bool(place)))
            }
            InstKind::Load(place) => {
                let (addr, offset) = self.address(b, place)?;
                let v = b.ins().load(I64, flags, addr, offset);
                Some((v, self.place_is_bool(place)))
            }
            InstKind::Store { place, value } => {
                let (addr, offset) = self.address(b, place)?;
                let v = self.val(*value)?;
                b.ins().store(flags, v, addr, offset);
                None
            }
            InstKind::Init(slot) => {
                let ss = *self
                    .slots
                    .get(slot.index())
                    .ok_or_else(|| err("C0002", "unknown slot"))?;
                let cells = self.layout.obj_cells(self.func.slots[slot.index()]).unwrap_or(0);
                let zero = b.ins().iconst(I64, 0);
                for cell in 0..cells {
                    b.ins().stack_store(I64, zero, ss, (cell * CELL_BYTES) as i32);
                }
                None
            }
            InstKind::Size(root) => Some((self.length(b, *root)?, false)),
            InstKind::Call { callee, args, result } => {
                let Callee::Func(fid) = callee else {
                    return Err(err("C0002", "a call to an external symbol: not a verified module"));
                };
                let target = self
                    .module
                    .funcs
                    .get(fid.index())
                    .ok_or_else(|| err("C0002", "unknown function"))?;
                let mut cargs = vec![self.ctx()];
                for a in args {
                    match *a {
                        Arg::Value(v) => cargs.push(self.val(v)?),
                        Arg::Ref(root) => {
                            let base = self.root(b, root)?;
                            let len = self.ref_length(b, root)?;
                            cargs.push(base);
                            cargs.push(len);
                        }
                    }
                }
                let sig = b.import_signature(signature(target));
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: 0,
                    index: fid.0,
                });
                let fref = b.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.store_fuel(b);
                let call = b.ins().call(fref, &cargs);
                let (r, st) = (b.inst_results(call)[0], b.inst_results(call)[1]);
                self.reload_fuel(b);
                self.after_call(b, st, c)?;
                result.then_some((r, target.ret == Some(Type::Bool)))
            }
            InstKind::Helper { id, args, result } => {
                let def = stdlib::helper_by_id(*id).ok_or_else(|| err("C0002", "unknown helper"))?;
                let attr = args.iter().find_map(HelperArg::attr);
                let attr_is_bool = attr
                    .and_then(|at| self.module.attr(at))
                    .is_some_and(|d| d.ty == tal_ir::AttrType::Bool);
                let is_bool = def.ret == stdlib::HelperRet::AttrValue && attr_is_bool;
                if def.lowering == stdlib::HelperLowering::ReadAttribute {
                    // `ctx.attrs[class][attr]`: in bounds and readable by
                    // the verifier's and the loader's checks (`stdlib::abi`).
                    let at = attr.ok_or_else(|| err("C0002", "an attribute read without its attribute"))?;
                    let cell = |index: u32| {
                        i32::try_from(u64::from(index) * 8).map_err(|_| err("C0002", "an attribute index past 2^28"))
                    };
                    let (class_offset, attr_offset) = (cell(at.class.0)?, cell(at.attr)?);
                    let rows = b.ins().load(I64, flags, self.ctx(), offset::ATTRS);
                    let row = b.ins().load(I64, flags, rows, class_offset);
                    let value = b.ins().load(I64, flags, row, attr_offset);
                    result.then_some((value, is_bool))
                } else {
                    let mut hargs = vec![self.ctx()];
                    for a in args {
                        match *a {
                            HelperArg::Value(v) => hargs.push(self.val(v)?),
                            HelperArg::Attr(at) => {
                                hargs.push(b.ins().iconst(I64, (i64::from(at.class.0) << 32) | i64::from(at.attr)));
                            }
                        }
                    }
                    while hargs.len() < 4 {
                        hargs.push(b.ins().iconst(I64, 0));
                    }
                    let ctx = self.ctx();
                    let table = b.ins().load(I64, flags, ctx, offset::HELPERS);
                    let fptr = b.ins().load(I64, flags, table, i32::from(*id) * 8);
                    let sig = b.import_signature(helper_signature());
                    self.store_fuel(b);
                    let call = b.ins().call_indirect(sig, fptr, &hargs);
                    let r = b.inst_results(call)[0];
                    // A helper may end the invocation by emptying it.
                    self.reload_fuel(b);
                    // No status test: a helper raises nothing the extension
                    // could catch, and an abort is sticky (`stdlib::abi`).
                    // Continue in a fresh block: Cranelift re-materialises
                    // constants per block, so a 0 passed to the helper is
                    // not kept alive across the call in a callee-saved
                    // register (which cost the PID monitor a save/restore).
                    let cont = b.create_block();
                    b.ins().jump(cont, &[]);
                    b.switch_to_block(cont);
                    result.then_some((r, is_bool))
                }
            }
            InstKind::InlineAsm(_) => return Err(err("C0002", "inline assembly: not a verified module")),
        };
        if inst.kind.has_result() {
            let (v, is_bool) = result.ok_or_else(|| err("C0002", "an instruction without its result"))?;
            self.define(v, is_bool);
        }
        Ok(())
    }

    /// The element count passed with a reference argument.
    fn ref_length(&mut self, b: &mut FunctionBuilder, root: Root) -> Result<ir::Value, CodegenError> {
        match self.root_type(root)? {
            ObjType::Array { .. } => self.length(b, root),
            ObjType::Elem(_) => Ok(b.ins().iconst(I64, 1)),
        }
    }

    fn place_is_bool(&self, place: &Place) -> bool {
        let obj = match place.root {
            Root::Global(g) => self.module.globals.get(g.index()).map(|g| g.ty),
            Root::Slot(s) => self.func.slots.get(s.index()).copied(),
            Root::Param(p) => match self.func.params.get(p as usize) {
                Some(ParamType::Ref(o)) => Some(*o),
                _ => None,
            },
        };
        let Some(obj) = obj else { return false };
        let mut ty = match obj {
            ObjType::Array { elem, .. } | ObjType::Elem(elem) => elem,
        };
        for &f in &place.fields {
            if let ElemType::Struct(s) = ty
                && let Some(fd) = self
                    .module
                    .structs
                    .get(s.index())
                    .and_then(|sd| sd.fields.get(f as usize))
            {
                ty = fd.ty;
            }
        }
        ty == ElemType::Scalar(tal_ir::ScalarType::Bool)
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &mut self,
        b: &mut FunctionBuilder,
        op: BinaryOp,
        lhs: tal_ir::ValueId,
        rhs: tal_ir::ValueId,
        needed: bool,
        c: &[Catch],
        loc: i64,
    ) -> Result<(ir::Value, bool), CodegenError> {
        let (x, y) = (self.val(lhs)?, self.val(rhs)?);
        let bools = self.bool_of(lhs) && self.bool_of(rhs);
        Ok(match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                let (r, of) = self.checked_arith(b, op, lhs, rhs, x, y, needed);
                match of {
                    Guard::Never => {}
                    Guard::If(of) => self.check(b, of, ExcKind::Overflow, c, loc)?,
                    Guard::Outside { v, lo, hi } => {
                        // A 32-bit value times such a factor fits.
                        let low = b.ins().ireduce(ir::types::I32, v);
                        let low = b.ins().sextend(I64, low);
                        let wide = b.ins().icmp(IntCC::NotEqual, low, v);
                        self.check_rarely(b, wide, |b| outside(b, v, lo, hi), ExcKind::Overflow, c, loc)?;
                    }
                }
                (r, false)
            }
            BinaryOp::Div | BinaryOp::Rem => {
                if needed {
                    // The divisor is proven non-zero; MIN / -1 does not fit.
                    let neg1 = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                    let min = |b: &mut FunctionBuilder| b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                    self.check_rarely(b, neg1, min, ExcKind::Overflow, c, loc)?;
                }
                let r = if op == BinaryOp::Div {
                    b.ins().sdiv(x, y)
                } else {
                    b.ins().srem(x, y)
                };
                (r, false)
            }
            BinaryOp::Shl => {
                let bad_amount = b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, y, 63);
                self.check(b, bad_amount, ExcKind::Overflow, c, loc)?;
                let r = b.ins().ishl(x, y);
                let back = b.ins().sshr(r, y);
                let lost = b.ins().icmp(IntCC::NotEqual, back, x);
                self.check(b, lost, ExcKind::Overflow, c, loc)?;
                (r, false)
            }
            BinaryOp::Shr => {
                if needed {
                    let bad_amount = b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, y, 63);
                    self.check(b, bad_amount, ExcKind::Overflow, c, loc)?;
                }
                (b.ins().sshr(x, y), false)
            }
            BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
                let r = logic_value(b, op, x, y).ok_or_else(|| err("C0002", "not a bitwise operation"))?;
                (r, bools)
            }
        })
    }

    /// `x op y` (wrapping) and when it overflowed.
    ///
    /// Cranelift's `s*_overflow` branch on a `seto` byte (`seto; test; jne`,
    /// which `peephole` turns into `jo`), and `smul_overflow` is the
    /// one-operand `imul` through `rdx:rax`.
    /// Knowing the sign of one operand makes the overflow of `+` and `-` a
    /// comparison instead, which Cranelift fuses with the branch (`cmp; jcc`);
    /// a constant factor is an immediate and bounds the other factor.
    #[allow(clippy::too_many_arguments)]
    fn checked_arith(
        &self,
        b: &mut FunctionBuilder,
        op: BinaryOp,
        lhs: tal_ir::ValueId,
        rhs: tal_ir::ValueId,
        x: ir::Value,
        y: ir::Value,
        needed: bool,
    ) -> (ir::Value, Guard) {
        use IntCC::{SignedGreaterThan as Gt, SignedLessThan as Lt};
        let (rx, ry) = (self.facts.range(lhs), self.facts.range(rhs));
        let constant = |r: Range| (r.lo == r.hi).then_some(r.lo);
        let factor = match (constant(rx), constant(ry)) {
            (_, Some(k)) => Some((x, k)),
            (k, None) => k.map(|k| (y, k)),
        };
        if let (BinaryOp::Mul, Some((v, 2))) = (op, factor)
            && needed
        {
            // `v * 2` is `v + v`: an `add` whose overflow flag is the test
            // (`peephole` makes it one `jo`).
            let (r, of) = b.ins().sadd_overflow(v, v);
            return (r, Guard::If(of));
        }
        if let (BinaryOp::Mul, Some((v, k))) = (op, factor) {
            let r = b.ins().imul_imm_s(v, k);
            // `v * k` fits iff `lo <= v <= hi` (Rust's `/` rounds towards
            // zero, which is inward on both sides).
            let (lo, hi) = match k {
                _ if !needed => return (r, Guard::Never),
                0 => return (r, Guard::Never),
                -1 => (-i64::MAX, i64::MAX),
                k if k > 0 => (i64::MIN / k, i64::MAX / k),
                k => (i64::MAX / k, i64::MIN / k),
            };
            return if k.unsigned_abs() <= 1 << 31 {
                (r, Guard::Outside { v, lo, hi })
            } else {
                (r, Guard::If(outside(b, v, lo, hi)))
            };
        }
        if !needed {
            let r = match op {
                BinaryOp::Add => b.ins().iadd(x, y),
                BinaryOp::Sub => b.ins().isub(x, y),
                _ => b.ins().imul(x, y),
            };
            return (r, Guard::Never);
        }
        // `x + y` with `y >= 0` overflowed iff the sum wrapped below `x`;
        // with `y <= 0`, above it. `x - y` the other way round.
        let sign = |r: Range| (r.lo >= 0).then_some(Lt).or((r.hi <= 0).then_some(Gt));
        let (r, of) = match (op, sign(rx), sign(ry)) {
            (BinaryOp::Add, _, Some(cc)) => {
                let r = b.ins().iadd(x, y);
                (r, b.ins().icmp(cc, r, x))
            }
            (BinaryOp::Add, Some(cc), None) => {
                let r = b.ins().iadd(x, y);
                (r, b.ins().icmp(cc, r, y))
            }
            (BinaryOp::Sub, _, Some(cc)) => {
                let r = b.ins().isub(x, y);
                (r, b.ins().icmp(cc.swap_args(), r, x))
            }
            (BinaryOp::Add, ..) => b.ins().sadd_overflow(x, y),
            (BinaryOp::Sub, ..) => b.ins().ssub_overflow(x, y),
            _ => b.ins().smul_overflow(x, y),
        };
        (r, Guard::If(of))
    }

    fn terminator(&mut self, b: &mut FunctionBuilder, block: usize, term: &Terminator) -> Result<(), CodegenError> {
        match term {
            Terminator::Jump(to) => {
                let (t, args) = (self.target(to)?, self.args(to)?);
                b.ins().jump(t, &args);
            }
            Terminator::Brif { cond, then_to, else_to } => {
                let c = self.val(*cond)?;
                if !self.brif_as_select(b, c, then_to, else_to)? {
                    let (t, ta) = (self.target(then_to)?, self.args(then_to)?);
                    let (e, ea) = (self.target(else_to)?, self.args(else_to)?);
                    b.ins().brif(c, t, &ta, e, &ea);
                }
            }
            Terminator::Return(v) => {
                let r = v.map(|v| self.val(v)).transpose()?;
                self.store_fuel(b);
                return_ok(b, r);
            }
            Terminator::Raise(kind) => {
                self.store_fuel(b);
                let trap = self.trap_block(b);
                let k = b.ins().iconst(I64, status_of(*kind) as i64);
                let l = b.ins().iconst(I64, Self::location(block, None));
                b.ins().jump(trap, &[BlockArg::Value(k), BlockArg::Value(l)]);
            }
        }
        Ok(())
    }
}

/// When a checked operation overflows.
enum Guard {
    Never,
    If(ir::Value),
    /// Iff `v` is outside `lo..=hi`, `v` being multiplied by a factor of
    /// at most `2^31` in magnitude.
    Outside {
        v: ir::Value,
        lo: i64,
        hi: i64,
    },
}

/// A normal return: the value (0 for none) and status `OK`.
fn return_ok(b: &mut FunctionBuilder, value: Option<ir::Value>) {
    let value = value.unwrap_or_else(|| b.ins().iconst(I64, 0));
    let ok = b.ins().iconst(I64, 0);
    b.ins().return_(&[value, ok]);
}

/// `x cond y` (signed) as an `i64` 0 or 1.
fn icmp_value(b: &mut FunctionBuilder, cond: Cond, x: ir::Value, y: ir::Value) -> ir::Value {
    let cc = match cond {
        Cond::Eq => IntCC::Equal,
        Cond::Ne => IntCC::NotEqual,
        Cond::Lt => IntCC::SignedLessThan,
        Cond::Le => IntCC::SignedLessThanOrEqual,
        Cond::Gt => IntCC::SignedGreaterThan,
        Cond::Ge => IntCC::SignedGreaterThanOrEqual,
    };
    let r = b.ins().icmp(cc, x, y);
    b.ins().uextend(I64, r)
}

/// `not x`: logical on a bool (0 or 1), bitwise on an `i64`.
fn not_value(b: &mut FunctionBuilder, x: ir::Value, is_bool: bool) -> ir::Value {
    if is_bool {
        b.ins().bxor_imm_s(x, 1)
    } else {
        b.ins().bnot(x)
    }
}

/// `x op y` for the bitwise operations (which cannot fail), `None` for
/// the others.
fn logic_value(b: &mut FunctionBuilder, op: BinaryOp, x: ir::Value, y: ir::Value) -> Option<ir::Value> {
    match op {
        BinaryOp::And => Some(b.ins().band(x, y)),
        BinaryOp::Or => Some(b.ins().bor(x, y)),
        BinaryOp::Xor => Some(b.ins().bxor(x, y)),
        _ => None,
    }
}

/// Whether `x` is outside `lo..=hi` (`lo <= hi`), with one comparison.
fn outside(b: &mut FunctionBuilder, x: ir::Value, lo: i64, hi: i64) -> ir::Value {
    let shifted = b.ins().iadd_imm_s(x, lo.wrapping_neg());
    b.ins()
        .icmp_imm_u(IntCC::UnsignedGreaterThan, shifted, hi.wrapping_sub(lo))
}

/// Whether an instruction reaches a global.
fn uses_global(kind: &InstKind) -> bool {
    let global = |r: &Root| matches!(r, Root::Global(_));
    match kind {
        InstKind::Load(p) | InstKind::Store { place: p, .. } => global(&p.root),
        InstKind::CheckBounds { root, .. } | InstKind::Size(root) => global(root),
        InstKind::Call { args, .. } => args.iter().any(|a| matches!(a, Arg::Ref(r) if global(r))),
        _ => false,
    }
}

/// The ABI status of an exception kind.
pub fn status_of(kind: ExcKind) -> u64 {
    match kind {
        ExcKind::DivideByZero => status::DIVIDE_BY_ZERO,
        ExcKind::OutOfBounds => status::OUT_OF_BOUNDS,
        ExcKind::Overflow => status::OVERFLOW,
        ExcKind::RangeError => status::RANGE_ERROR,
        ExcKind::NullCapability => status::NULL_CAPABILITY,
        ExcKind::OutOfFuel => status::OUT_OF_FUEL,
    }
}
