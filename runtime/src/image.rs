//! Executable code of one loaded extension.
//!
//! The code is copied into an anonymous writable mapping, its call
//! relocations (the only kind an object may have: calls between its own
//! functions) are applied, and the mapping is then made read-only and
//! executable. It is never writable and executable at once (W^X).

use codegen::object::ObjectParts;
use stdlib::abi::Ctx;
use tal_ir::ParamType;

/// The most value arguments [`CodeImage::call`] passes (SysV: six integer
/// registers after the context).
const MAX_CALL_ARGS: usize = 6;

/// An extension's code, mapped and linked.
pub struct CodeImage {
    map: memmap2::Mmap,
    /// Offset of each function's code in the mapping: `link` checked that
    /// each lies inside the code.
    offsets: Vec<usize>,
    /// Per function: how many value parameters it takes, if it takes no
    /// reference parameter (a pointer and a length `call` cannot pass).
    value_params: Vec<Option<usize>>,
    /// Per function: the entry `fuel` the caller charges if it is an entry
    /// point (ABI 4).
    entry_fuel: Vec<Option<u64>>,
}

/// Why code could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub code: &'static str,
    pub message: String,
}

impl CodeImage {
    /// Maps and links the code of a checked object.
    ///
    /// Every offset and size is checked before anything is mapped: there is
    /// one function per function of the module, in order, each a non-empty
    /// range inside the code, and every entry point names one (`L0013`);
    /// every relocation's field lies in the code, it names a function, its
    /// displacement fits 32 bits, and the instruction it completes reaches
    /// the first byte of a function (`L0011`, `L0030`). The object reader
    /// and re-lowering already guarantee all of this for objects that come
    /// through `runtime::load`; the linker does not rely on it, since
    /// `ObjectParts` is plain data anyone can build.
    pub fn link(parts: &ObjectParts) -> Result<CodeImage, LinkError> {
        let fail = |code, message: String| Err(LinkError { code, message });
        if parts.functions.len() != parts.module.funcs.len() {
            return fail(
                "L0013",
                format!(
                    "the object lists {} functions for the {} of its module",
                    parts.functions.len(),
                    parts.module.funcs.len()
                ),
            );
        }
        for (i, f) in parts.functions.iter().enumerate() {
            let end = (f.offset as usize).checked_add(f.size as usize);
            if f.index as usize != i || f.size == 0 || end.is_none_or(|end| end > parts.text.len()) {
                return fail(
                    "L0013",
                    format!(
                        "function #{i} `{}` (index {}, {} bytes at {:#x}) is not a non-empty range of the {} bytes \
                         of code, in module order",
                        f.name,
                        f.index,
                        f.size,
                        f.offset,
                        parts.text.len()
                    ),
                );
            }
        }
        if let Some(e) = parts
            .meta
            .entries
            .iter()
            .find(|e| e.func as usize >= parts.functions.len())
        {
            return fail(
                "L0013",
                format!(
                    "entry point `{}` names function #{}, which the object lacks",
                    e.name, e.func
                ),
            );
        }
        let offsets: Vec<usize> = parts.functions.iter().map(|f| f.offset as usize).collect();
        let mut starts = offsets.clone();
        starts.sort_unstable();
        let mut patches = Vec::with_capacity(parts.relocs.len());
        for r in &parts.relocs {
            let (Some(&target), Some(field_end)) = (offsets.get(r.target as usize), (r.offset as usize).checked_add(4))
            else {
                return fail(
                    "L0011",
                    format!("relocation at {:#x} names function {}", r.offset, r.target),
                );
            };
            if field_end > parts.text.len() {
                return fail("L0011", format!("relocation at {:#x} is outside the code", r.offset));
            }
            // Both addresses are in this mapping: the displacement does not
            // depend on where it lands.
            let value = target as i64 + r.addend - r.offset as i64;
            let Ok(value) = i32::try_from(value) else {
                return fail("L0011", format!("relocation at {:#x} does not fit 32 bits", r.offset));
            };
            // A call's displacement is counted from the end of its field,
            // which ends the instruction: execution continues there.
            let reached = field_end as i64 + i64::from(value);
            if usize::try_from(reached).map_or(true, |at| starts.binary_search(&at).is_err()) {
                return fail(
                    "L0030",
                    format!(
                        "the call patched at {:#x} would jump to {reached:#x}, which is not the start of a function \
                         of this extension",
                        r.offset
                    ),
                );
            }
            patches.push((r.offset as usize, value));
        }
        let len = parts.text.len().max(1);
        let mut map = match memmap2::MmapMut::map_anon(len) {
            Ok(m) => m,
            Err(e) => return fail("L0010", format!("cannot map {len} bytes for code: {e}")),
        };
        map[..parts.text.len()].copy_from_slice(&parts.text);
        for (at, value) in patches {
            map[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        let value_params = parts
            .module
            .funcs
            .iter()
            .map(|f| {
                let values_only = f.params.iter().all(|p| matches!(p, ParamType::Value(_)));
                values_only.then_some(f.params.len())
            })
            .collect();
        let mut entry_fuel = vec![None; offsets.len()];
        for e in &parts.meta.entries {
            entry_fuel[e.func as usize] = Some(e.entry_fuel);
        }
        match map.make_exec() {
            Ok(map) => Ok(CodeImage {
                map,
                offsets,
                value_params,
                entry_fuel,
            }),
            Err(e) => fail("L0012", format!("cannot make the code executable: {e}")),
        }
    }

    /// The address of function `index`'s code.
    pub fn function(&self, index: usize) -> Option<*const u8> {
        let offset = *self.offsets.get(index)?;
        // `link` checked that the function lies inside the mapping.
        self.map.get(offset..).map(<[u8]>::as_ptr)
    }

    /// Calls function `index` with the context and its value arguments,
    /// returning what it returns; `None` (and nothing runs) if there is no
    /// such function, or it takes a reference parameter, or other than
    /// `args.len()` value parameters, or more than six. An entry point's
    /// entry fuel is charged first, as a host must (ABI 4,
    /// `Ctx::charge_entry`): if it runs out, `Some(0)` with `OUT_OF_FUEL`
    /// recorded in `ctx`, and nothing runs.
    ///
    /// # Safety
    /// For the whole call, including every helper the code calls:
    /// - `ctx` points to a context valid for reads and writes, which
    ///   nothing accesses but this call and the helpers it passes `ctx` to:
    ///   no reference to it is live, and no other thread touches it. Its
    ///   `status` is `OK`, its `fuel` at least 0, and its `refuel` sound to
    ///   call with `ctx` (it may write only `fuel`). What
    ///   the helpers reach beyond the context must be within `ctx`'s
    ///   provenance: pass [`stdlib::abi::Frame::ctx_ptr`], not a pointer
    ///   made from the context field alone.
    /// - `ctx.helpers` points to `stdlib::HELPERS.len()` functions of the
    ///   helper signature, each sound to call with `ctx` and any arguments
    ///   (the code calls them in no other way), and leaving the context as
    ///   `stdlib::abi` says (a status other than `OK` only `HOST_ABORT`).
    /// - `ctx.data` points to the object's data region, initialized
    ///   (`tal_ir::layout::GlobalLayout::initial_data` has its size),
    ///   readable and writable, and accessed by nothing else.
    /// - `ctx.attrs` points to one pointer per attribute class of the
    ///   module, each to as many readable `i64` as the class has
    ///   attributes, which nothing writes except through pointers that
    ///   leave these valid (the helpers, or `Cell`s as `rows::AttrRows`
    ///   has). Unused (and may dangle) if the code reads no attribute.
    /// - The calling thread has stack for the code (at most the
    ///   `verifier::Config::stack_limit` the object was verified with) on
    ///   top of the helpers' own use.
    ///
    /// The image itself lives while `self` is borrowed, and the code was
    /// verified, re-lowered and linked by [`CodeImage::link`] for this ABI
    /// (or, for an image a caller linked from parts it did not check, the
    /// caller vouches that it was generated by `codegen` for them).
    pub unsafe fn call(&self, index: usize, ctx: *mut Ctx, args: &[i64]) -> Option<i64> {
        if args.len() > MAX_CALL_ARGS || self.value_params.get(index).copied().flatten() != Some(args.len()) {
            return None;
        }
        let ptr = self.function(index)?;
        if let Some(n) = self.entry_fuel[index]
            // SAFETY: `ctx` is valid and nothing else accesses it (the
            // contract): the unique reference ends before the code runs.
            && !unsafe { (*ctx).charge_entry(n, index as u32) }
        {
            return Some(0);
        }
        type F0 = unsafe extern "C" fn(*mut Ctx) -> i64;
        type F1 = unsafe extern "C" fn(*mut Ctx, i64) -> i64;
        type F2 = unsafe extern "C" fn(*mut Ctx, i64, i64) -> i64;
        type F3 = unsafe extern "C" fn(*mut Ctx, i64, i64, i64) -> i64;
        type F4 = unsafe extern "C" fn(*mut Ctx, i64, i64, i64, i64) -> i64;
        type F5 = unsafe extern "C" fn(*mut Ctx, i64, i64, i64, i64, i64) -> i64;
        type F6 = unsafe extern "C" fn(*mut Ctx, i64, i64, i64, i64, i64, i64) -> i64;
        // SAFETY: the code at `ptr` is function `index`, generated for the
        // SysV ABI as `extern "C" fn(ctx, i64 x n)` returning its value in
        // `rax` (stdlib::abi; `rdx`, its status, is ignored), and it takes
        // exactly `args.len()` value parameters (checked above). It
        // accesses memory only through `ctx` (its fields, data region and
        // attribute rows) and its own stack, all valid and unaliased for
        // the call by the contract, and reaches the host only through the
        // helpers, to which it passes `ctx` unchanged.
        unsafe {
            Some(match *args {
                [] => std::mem::transmute::<*const u8, F0>(ptr)(ctx),
                [a] => std::mem::transmute::<*const u8, F1>(ptr)(ctx, a),
                [a, b] => std::mem::transmute::<*const u8, F2>(ptr)(ctx, a, b),
                [a, b, c] => std::mem::transmute::<*const u8, F3>(ptr)(ctx, a, b, c),
                [a, b, c, d] => std::mem::transmute::<*const u8, F4>(ptr)(ctx, a, b, c, d),
                [a, b, c, d, e] => std::mem::transmute::<*const u8, F5>(ptr)(ctx, a, b, c, d, e),
                [a, b, c, d, e, f] => std::mem::transmute::<*const u8, F6>(ptr)(ctx, a, b, c, d, e, f),
                _ => unreachable!("at most {MAX_CALL_ARGS} arguments, checked above"),
            })
        }
    }
}
