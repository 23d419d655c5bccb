//! SafeX typed assembly IR.
//!
//! - [`ir`]: the data structures (a [`Module`] is plain, comparable data).
//! - [`text`]: the `.tal` text format; `print` and `parse` round-trip exactly.
//! - [`binary`]: the compact, versioned encoding stored in `.safex.tal`.
//! - [`ModuleReader`]: either format read one function at a time, so that
//!   a verifier need not hold the whole module.
//! - [`cost`]: what each instruction costs, in fuel units.
//! - [`fuel`]: where to test the deadline and the tightest `fuel` amounts,
//!   for producers of TAL.
//!
//! The format is specified in `docs/tal.md`. Nothing here decides whether a
//! module is safe: that is the verifier's job, and it trusts nothing the
//! parser or decoder did beyond producing a well-formed `Module` value.

#![forbid(unsafe_code)]

pub mod binary;
pub mod cost;
pub mod fuel;
pub mod ir;
pub mod layout;
pub mod text;

pub use ir::*;
use std::fmt;
use std::ops::Range;

/// A place in a module, as diagnostics name it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Location {
    Module,
    Class(ClassId),
    Struct(StructId),
    Global(GlobalId),
    Extern(ExternId),
    /// The function's signature.
    Func(FuncId),
    /// A block's header.
    Block(FuncId, BlockId),
    /// The instruction at this position in the block.
    Inst(FuncId, BlockId, usize),
    /// The block's terminator.
    Term(FuncId, BlockId),
}

/// Where each item of a parsed `.tal` text is, for diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextMap {
    pub module: Range<usize>,
    pub classes: Vec<Range<usize>>,
    pub structs: Vec<Range<usize>>,
    pub globals: Vec<Range<usize>>,
    pub externs: Vec<Range<usize>>,
    pub funcs: Vec<FuncText>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FuncText {
    pub header: Range<usize>,
    pub blocks: Vec<BlockText>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockText {
    pub header: Range<usize>,
    pub insts: Vec<Range<usize>>,
    pub term: Range<usize>,
}

impl TextMap {
    /// The text range of a location, if the text had it.
    pub fn span(&self, loc: Location) -> Option<Range<usize>> {
        let block = |f: FuncId, b: BlockId| self.funcs.get(f.index())?.blocks.get(b.index());
        match loc {
            Location::Module => Some(self.module.clone()),
            Location::Class(c) => self.classes.get(c.index()).cloned(),
            Location::Struct(s) => self.structs.get(s.index()).cloned(),
            Location::Global(g) => self.globals.get(g.index()).cloned(),
            Location::Extern(e) => self.externs.get(e.index()).cloned(),
            Location::Func(f) => self.funcs.get(f.index()).map(|f| f.header.clone()),
            Location::Block(f, b) => block(f, b).map(|b| b.header.clone()),
            Location::Inst(f, b, i) => block(f, b)?.insts.get(i).cloned(),
            Location::Term(f, b) => block(f, b).map(|b| b.term.clone()),
        }
    }
}

/// A module read one function at a time: its declarations first, then its
/// functions in order ([`binary::Reader`], [`text::Reader`]). Readers never
/// panic; whatever they read is what the whole-module reader of their
/// format gives for the same input, or an error.
pub trait ModuleReader {
    /// The module without its functions' bodies: no functions (binary), or
    /// each function's signature without slots or blocks (text).
    fn declarations(&self) -> &Module;
    /// How many functions the module has.
    fn functions(&self) -> usize;
    /// The next function, or `None` after the last (once the input is
    /// checked to end there).
    fn next_function(&mut self) -> Result<Option<Function>, FormatError>;
    /// [`ModuleReader::next_function`], reusing the allocations of a
    /// function the caller is done with where the reader can: the result
    /// is the same.
    fn next_function_reusing(&mut self, spare: Option<Function>) -> Result<Option<Function>, FormatError> {
        drop(spare);
        self.next_function()
    }
    /// A function [`ModuleReader::next_function`] has returned, read again.
    fn function_again(&mut self, id: FuncId) -> Result<Function, FormatError>;
}

/// An error of the text parser or the binary decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// Stable error code, `V00xx`.
    pub code: &'static str,
    pub message: String,
    /// Byte range in the input.
    pub span: Range<usize>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error[{}]: {} (at bytes {}..{})",
            self.code, self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for FormatError {}
