//! The SafeX verifier: the gate every extension passes before it is linked.
//!
//! It reads a [`tal_ir::Module`] and the helper table ([`stdlib::HELPERS`])
//! and nothing else: it does not trust the front-end, the text parser or the
//! binary decoder beyond their having produced a `Module` value. It runs one
//! linear pass over each function plus one pass over the call graph, so its
//! cost is linear in the size of the module (each instruction is examined a
//! constant number of times, with O(1) work per operand).
//!
//! [`verify`] checks a module in memory and reports every error it finds;
//! [`Stream`] decides the same question for a module whose functions arrive
//! one at a time (a reader decoding or parsing it), holding only the
//! declarations and a bounded number of functions (`stream.rs`).
//!
//! A module is accepted only if every invariant below holds. Each rejection
//! carries a stable code (listed with the invariant), a [`tal_ir::Location`]
//! and a message that says what was found and why it is not allowed.
//!
//! # Declarations
//!
//! - Names are unique within each namespace: functions, globals, classes,
//!   structs, events; attributes within a class; fields within a struct.
//!   **V0101**
//! - Every index names something that exists: classes, structs, globals,
//!   functions, events, attributes, fields, slots, reference parameters,
//!   blocks. **V0102**
//! - Object types have a finite, static size: a struct does not contain
//!   itself, and only a reference parameter may be an unsized array; an
//!   attribute's range has `lo <= hi` and belongs to an `i64` attribute;
//!   signature types never name a function-local root (`idx<$N>`, `idx<%N>`).
//!   **V0108**
//! - A global's initializer fits its type. **V0109**
//! - Entry points have the shape their kind requires — monitor `(cap) -> ()`,
//!   handler `(cap, i64) -> ()`, guard `(cap, i64) -> i64` with the cap of the
//!   guarded attribute's class, and without the write right `w`: a guard
//!   returns the value to store, and a write from a guard would run guards
//!   re-entrantly. **V0107**
//! - Only guards receive the guard right `g`, and no memory (global, slot,
//!   struct field, reference parameter) can hold a capability with it, so
//!   it never outlives the guard invocation. **V0606**
//!
//! # Values and scope
//!
//! - A function has at least one block; the entry block's parameters are the
//!   function's value parameters, and nothing branches to the entry block.
//!   **V0104**, **V0103**, **V0105**
//! - Every use of a value is dominated by its definition. Values are block
//!   scoped (see `tal_ir::ir`), so this is: the value is defined in the same
//!   block, earlier. **V0106**
//! - A call or helper marked as defining a value returns one. **V0110**
//!
//! # Types
//!
//! - Every operand, block argument, call argument and returned value has a
//!   type that is a subtype of the expected one. Subtyping is: the refined
//!   integers (`nz`, `idx<R>`, `in<A>`) are `i64`s; a capability with more
//!   rights is one with fewer; a non-null capability is a nullable one.
//!   **V0201** (mismatch), **V0202** (block argument count), **V0203** (call
//!   argument count), **V0204** (return), **V0205** (branch condition), **V0206**
//!   (reference argument).
//!
//! # Memory and runtime checks
//!
//! - An array element is accessed only with an index of type `idx<R>` for
//!   the very root `R` being accessed: a value that passed `check.bounds`
//!   against that array. **V0301**
//! - A divisor has type `nz`: it passed `check.nonzero`. **V0302**
//! - A stack slot is read (loaded, or passed by reference) only after an
//!   `init` of it in the entry block that precedes the read, and precedes any
//!   instruction of the entry block that can leave it through a `catch`.
//!   Struct fields and array elements are initialized with their object, so
//!   none is ever read before its first write. Globals are always
//!   initialized. **V0303**
//! - A place names a scalar: an index exactly when the root is an array, then
//!   fields down to a scalar. **V0304**
//! - A nullable capability is used only after `check.null`. **V0305**
//! - A value written to a ranged attribute passed `check.range` for that
//!   attribute. **V0306**
//!
//! # Control flow and fuel
//!
//! - The entry block of every entry point (monitor, handler, guard) and
//!   every loop header start with `fuel`. **V0401**, **V0402** A plain
//!   function may start without: its callers pay for it (below).
//! - Every back edge (to a block at or before its source in layout order)
//!   targets a loop header whose loop contains the source. **V0403**
//! - A loop is entered only through its header. **V0404**
//! - Loops are well-formed intervals that nest. **V0405**
//!
//!   Together these make control flow reducible and put a `fuel` on every
//!   cycle: a cycle needs a back edge, whose target is a header.
//! - Each `fuel N` covers the code it guards: N is at least the largest
//!   number of units (`tal_ir::cost`: one per instruction and terminator,
//!   one per cell an `init`, a call's arguments or a jump's block arguments
//!   move; `fuel` itself excluded) on any path from it to a return, a
//!   raise, or the next `fuel` (which may stand anywhere in a block),
//!   exception edges included, where a call of a function without entry
//!   `fuel` also counts that function's entry region (its *charge*,
//!   computed callees first: the call graph is acyclic); and N fits `i64`
//!   (the counter is signed). So every unit an invocation executes was
//!   paid for before it ran, and an invocation executes at most as many
//!   units as the fuel it was given. **V0407** (`fuel.rs`)
//! - Between two tests of the deadline — a `fuel`, except an entry point's
//!   first, which the host charges as the invocation starts (so the start
//!   is the test) — no path runs more than
//!   [`tal_ir::cost::MAX_UNCHECKED`] units: callees on the way count, with
//!   their entry regions if their callers pay for them, and a stretch goes
//!   on through returns (and exceptions) into the caller until its next
//!   test. So a host that looks at its clock between slices of fuel sees
//!   it at most this many units past a slice's end (ABI 6). **V0409**
//!   (`fuel.rs`)
//! - `OutOfFuel` is neither caught nor raised. **V0408**
//!
//! # Calls and stack
//!
//! - The call graph is acyclic: no recursion, direct or mutual. **V0501**
//! - Only plain functions are called by the module's code: entry points
//!   are the host's to invoke, and it charges their entry `fuel` (their
//!   code does not check it, ABI 4). **V0503**
//! - The stack a call of any function can use, by the frame model in
//!   [`frame_size`] (`tal_ir::layout`, "Stack frames": overhead, slots,
//!   values live at once, stack arguments) summed along its deepest call
//!   chain, is at most [`Config::stack_limit`]. Code generation refuses any
//!   frame the model does not cover (C0005), so the bound holds for the
//!   machine code. **V0502**
//!
//! # Helpers, capabilities and attributes
//!
//! - A helper is called by an id of the helper table. **V0601**
//! - With the arguments its signature lists. **V0602**
//! - Through a capability with at least the rights the helper requires.
//!   **V0603**
//! - A helper never writes a `readonly` attribute. **V0604**
//! - An attribute operand belongs to the class of the capability it is used
//!   with. **V0605**
//!
//! # Forbidden constructs
//!
//! - Pointer forging: no integer, boolean or other non-capability value ever flows where a
//!   capability or an event id is expected — through an operand, a block
//!   parameter, a call, a return, a helper result, or memory. **V0701**
//! - Pointer arithmetic: a capability is never an operand of arithmetic or
//!   comparison, nor used as an integer. **V0702**
//! - Interrupt masking: no `cli`/`sti`/`popf` assembly, no `local_irq_*`,
//!   `preempt_*` or similar symbol. **V0710** Inline assembly of any kind.
//!   **V0711**
//! - Lock use: no lock or other synchronization primitive (`spin_lock`,
//!   `mutex_*`, semaphores, atomics, RCU). **V0720** No allocator (`malloc`,
//!   `free`, `kmalloc`, …). **V0721**
//! - No call to any other symbol the module does not define. **V0730**

#![forbid(unsafe_code)]

mod calls;
pub mod codes;
mod forbidden;
mod fuel;
mod func;
mod module;
mod stream;
mod types;

use std::fmt;
pub use stream::{MAX_HELD_INSTS, Stream};
pub use tal_ir::layout::frame_size;
use tal_ir::{Location, Module};

/// Verifier settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of stack any entry point may use, call chain included.
    pub stack_limit: u64,
    /// Stop collecting after this many errors (the module is rejected either way).
    pub max_errors: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            stack_limit: 4096,
            max_errors: 100,
        }
    }
}

/// A reason to reject a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Stable code, `Vxxxx`.
    pub code: &'static str,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {} (at {:?})", self.code, self.message, self.location)
    }
}

impl std::error::Error for VerifyError {}

/// Verifies a module. `Ok` means every invariant of this crate holds.
pub fn verify(module: &Module, config: &Config) -> Result<(), Vec<VerifyError>> {
    let mut sink = Sink {
        errors: Vec::new(),
        max: config.max_errors.max(1),
    };
    let decls = module::check_declarations(module, &mut sink);
    let mut graph = calls::CallGraph::new(module.funcs.len(), module.externs.len());
    for (index, function) in module.funcs.iter().enumerate() {
        let id = tal_ir::FuncId(index as u32);
        let frame = func::check_function(module, &decls, id, function, &mut graph, &mut sink);
        graph.set_frame(id, frame);
    }
    module::check_unused_externs(module, &graph, &mut sink);
    graph.check(module, decls.layout(), config, &mut sink);
    if sink.errors.is_empty() {
        Ok(())
    } else {
        Err(sink.errors)
    }
}

/// Collects errors up to the configured maximum.
pub(crate) struct Sink {
    errors: Vec<VerifyError>,
    max: usize,
}

impl Sink {
    pub(crate) fn error(&mut self, code: &'static str, location: Location, message: impl Into<String>) {
        if self.errors.len() < self.max {
            self.errors.push(VerifyError {
                code,
                location,
                message: message.into(),
            });
        }
    }
}
