//! Executable code of one loaded extension.
//!
//! The code is copied into an anonymous writable mapping, its call
//! relocations (the only kind an object may have: calls between its own
//! functions) are applied, and the mapping is then made read-only and
//! executable. It is never writable and executable at once (W^X).

use codegen::object::ObjectParts;
use stdlib::abi::Ctx;

/// An extension's code, mapped and linked.
pub struct CodeImage {
    map: memmap2::Mmap,
    /// Offset of each function's code in the mapping.
    offsets: Vec<usize>,
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
    /// Every relocation is checked before anything is mapped: its field lies
    /// in the code, it names a function, its displacement fits 32 bits, and
    /// the instruction it completes reaches the first byte of a function
    /// (`L0011`, `L0030`). The object reader and re-lowering already
    /// guarantee all of this for objects that come through `runtime::load`;
    /// the linker does not rely on it.
    pub fn link(parts: &ObjectParts) -> Result<CodeImage, LinkError> {
        let fail = |code, message: String| Err(LinkError { code, message });
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
        let mut entry_fuel = vec![None; offsets.len()];
        for e in &parts.meta.entries {
            if let Some(slot) = entry_fuel.get_mut(e.func as usize) {
                *slot = Some(e.entry_fuel);
            }
        }
        match map.make_exec() {
            Ok(map) => Ok(CodeImage {
                map,
                offsets,
                entry_fuel,
            }),
            Err(e) => fail("L0012", format!("cannot make the code executable: {e}")),
        }
    }

    /// The address of function `index`'s code.
    pub fn function(&self, index: usize) -> Option<*const u8> {
        let offset = *self.offsets.get(index)?;
        // SAFETY: offsets come from the function table, inside the mapping.
        Some(unsafe { self.map.as_ptr().add(offset) })
    }

    /// Calls function `index` with the context and its value arguments
    /// (an entry point's: at most 6), returning what it returns. An entry
    /// point's entry fuel is charged first, as a host must (ABI 4,
    /// `Ctx::charge_entry`): if it runs out, `Some(0)` with `OUT_OF_FUEL`
    /// recorded in `ctx`, and nothing runs.
    ///
    /// # Safety
    /// `ctx` must point to a context whose helper table and data region are
    /// those this extension was linked for, valid for the whole call, and
    /// `args` must match the function's value parameters.
    pub unsafe fn call(&self, index: usize, ctx: *mut Ctx, args: &[i64]) -> Option<i64> {
        let offset = *self.offsets.get(index)?;
        let ptr = unsafe { self.map.as_ptr().add(offset) };
        if let Some(n) = self.entry_fuel[index]
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
        // SAFETY: the code at `ptr` was generated for the SysV ABI with this
        // signature (the caller vouches for the argument count).
        unsafe {
            Some(match *args {
                [] => std::mem::transmute::<*const u8, F0>(ptr)(ctx),
                [a] => std::mem::transmute::<*const u8, F1>(ptr)(ctx, a),
                [a, b] => std::mem::transmute::<*const u8, F2>(ptr)(ctx, a, b),
                [a, b, c] => std::mem::transmute::<*const u8, F3>(ptr)(ctx, a, b, c),
                [a, b, c, d] => std::mem::transmute::<*const u8, F4>(ptr)(ctx, a, b, c, d),
                [a, b, c, d, e] => std::mem::transmute::<*const u8, F5>(ptr)(ctx, a, b, c, d, e),
                [a, b, c, d, e, f] => std::mem::transmute::<*const u8, F6>(ptr)(ctx, a, b, c, d, e, f),
                _ => return None,
            })
        }
    }
}
