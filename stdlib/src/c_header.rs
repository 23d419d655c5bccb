//! The ABI as a C header, for hosts written in C (the kernel loader module,
//! `kmod/safex_abi.h`): the context's layout, the status codes, the helper
//! table's ids and calling convention, the attribute rows and the entry
//! point's return. Generated from [`crate::abi`] and [`crate::HELPERS`],
//! never written by hand: a test compares the checked-in header with
//! [`render`] (`SAFEX_BLESS=1` rewrites it) and compiles it with the
//! system's C compiler, whose `_Static_assert`s check every offset again.

use crate::abi::{ABI_VERSION, TRAP_AT_TERMINATOR, offset, status};
use crate::{HELPERS, HelperLowering};
use std::fmt::Write as _;

/// Where the header lives, from the workspace root.
pub const PATH: &str = "kmod/safex_abi.h";

/// The status codes, by C name.
const STATUSES: &[(&str, u64)] = &[
    ("OK", status::OK),
    ("DIVIDE_BY_ZERO", status::DIVIDE_BY_ZERO),
    ("OUT_OF_BOUNDS", status::OUT_OF_BOUNDS),
    ("OVERFLOW", status::OVERFLOW),
    ("RANGE_ERROR", status::RANGE_ERROR),
    ("NULL_CAPABILITY", status::NULL_CAPABILITY),
    ("OUT_OF_FUEL", status::OUT_OF_FUEL),
    ("HOST_ABORT", status::HOST_ABORT),
];

/// The context's fields: (C declaration, name, offset).
const FIELDS: &[(&str, &str, i32)] = &[
    ("s64", "fuel", offset::FUEL),
    ("u64", "status", offset::STATUS),
    ("u32", "trap_func", offset::TRAP_FUNC),
    ("u32", "trap_block", offset::TRAP_BLOCK),
    ("u32", "trap_inst", offset::TRAP_INST),
    ("s32", "interrupt", offset::INTERRUPT),
    ("const safex_helper_fn *", "helpers", offset::HELPERS),
    ("s64 *", "data", offset::DATA),
    ("const s64 *const *", "attrs", offset::ATTRS),
];

/// The header's text.
pub fn render() -> String {
    let mut h = String::new();
    let w = &mut h;
    // Writing to a `String` cannot fail.
    let _ = write!(
        w,
        "/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */\n\
         /*\n \
         * The SafeX extension ABI, version {ABI_VERSION}: what compiled extensions, the\n \
         * user-space host and the kernel module agree on.\n \
         *\n \
         * GENERATED from stdlib/src/abi.rs and stdlib/src/lib.rs by\n \
         * stdlib/src/c_header.rs; do not edit. Regenerate with\n \
         * `SAFEX_BLESS=1 cargo test -p stdlib c_header`.\n \
         */\n\
         #ifndef SAFEX_ABI_H\n\
         #define SAFEX_ABI_H\n\n\
         #ifdef __KERNEL__\n\
         #include <linux/types.h>\n\
         #include <linux/stddef.h>\n\
         #else\n\
         #include <stddef.h>\n\
         #include <stdint.h>\n\
         typedef int32_t s32;\n\
         typedef uint32_t u32;\n\
         typedef int64_t s64;\n\
         typedef uint64_t u64;\n\
         #endif\n\n\
         /* Loaders refuse objects of any other version (.safex.meta, offset 8). */\n\
         #define SAFEX_ABI_VERSION {ABI_VERSION}u\n\n"
    );
    let _ = writeln!(
        w,
        "/* ctx->status: how an invocation ended. 0: it returned normally. */"
    );
    for (name, value) in STATUSES {
        let _ = writeln!(w, "#define SAFEX_STATUS_{name} {value}u");
    }
    let _ = write!(
        w,
        "\n/* ctx->trap_inst of a trap at a block's terminator. */\n\
         #define SAFEX_TRAP_AT_TERMINATOR {TRAP_AT_TERMINATOR:#x}u\n\n\
         struct safex_ctx;\n\n\
         /*\n \
         * A helper: slot `id` of ctx->helpers. Unused arguments are 0; an\n \
         * attribute immediate #class.attr is passed as (class << 32 | attr). A\n \
         * helper that must end the invocation sets ctx->status to\n \
         * SAFEX_STATUS_HOST_ABORT and returns 0; once set, helpers return 0\n \
         * without acting.\n \
         */\n\
         typedef s64 (*safex_helper_fn)(struct safex_ctx *ctx, s64 a0, s64 a1, s64 a2);\n\n\
         /* Helper ids: slots of ctx->helpers. */\n"
    );
    for h in HELPERS {
        let note = match h.lowering {
            HelperLowering::Call => "",
            HelperLowering::ReadAttribute => " /* compiled to loads from ctx->attrs: never called */",
        };
        let _ = writeln!(w, "#define SAFEX_HELPER_{} {}u{note}", h.name.to_uppercase(), h.id);
    }
    let _ = write!(
        w,
        "#define SAFEX_HELPER_COUNT {}u\n\n\
         /*\n \
         * The context compiled code is called with. The host stores fuel >= 0,\n \
         * status SAFEX_STATUS_OK and interrupt 0 before a call; it may store -1\n \
         * into interrupt at any moment (from another CPU or a timer) to end the\n \
         * invocation at its next fuel check, and never writes fuel while the\n \
         * code runs. attrs points to one row per attribute class the module\n \
         * declares: the invoking application's values, one s64 per attribute in\n \
         * declaration order (a bool as 0/1), written with single aligned 8-byte\n \
         * stores.\n \
         */\n\
         struct safex_ctx {{\n",
        HELPERS.len()
    );
    for (ty, name, _) in FIELDS {
        let sep = if ty.ends_with('*') { "" } else { " " };
        let _ = writeln!(w, "\t{ty}{sep}{name};");
    }
    let _ = write!(w, "}};\n\n");
    for (_, name, at) in FIELDS {
        let _ = writeln!(
            w,
            "_Static_assert(offsetof(struct safex_ctx, {name}) == {at}, \"safex_ctx.{name}\");"
        );
    }
    let _ = write!(
        w,
        "_Static_assert(sizeof(struct safex_ctx) == {}, \"sizeof(struct safex_ctx)\");\n\n\
         /*\n \
         * What every compiled function returns, in rax and rdx (the SysV return\n \
         * of a 16-byte struct of two integers): its value, and its status (0\n \
         * unless it trapped; after a helper's abort it may be 0 while\n \
         * ctx->status is SAFEX_STATUS_HOST_ABORT: read the context).\n \
         */\n\
         struct safex_returned {{\n\
         \ts64 value;\n\
         \tu64 status;\n\
         }};\n\n\
         /*\n \
         * An entry point: a monitor (cap), a handler (cap, value) or a guard\n \
         * (cap, value). Before each call the host charges the entry point's entry\n \
         * fuel (listed in .safex.meta) itself: the code does not check it.\n \
         */\n\
         typedef struct safex_returned (*safex_entry_fn)(struct safex_ctx *ctx, s64 cap, s64 value);\n\n\
         #endif /* SAFEX_ABI_H */\n",
        offset::SIZE
    );
    h
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    fn checked_in() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(super::PATH)
    }

    #[test]
    fn c_header_is_up_to_date() {
        let fresh = super::render();
        let path = checked_in();
        if std::env::var_os("SAFEX_BLESS").is_some() {
            std::fs::write(&path, &fresh).expect("write the header");
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is stale: SAFEX_BLESS=1 cargo test -p stdlib c_header regenerates it",
            super::PATH
        );
    }

    #[test]
    fn c_header_compiles_and_its_offsets_hold() {
        // A C compiler checks every `_Static_assert` (offsets, size) and the
        // declarations, as user space sees them.
        let dir = std::env::temp_dir().join(format!("safex-c-header-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source = dir.join("check.c");
        std::fs::write(
            &source,
            "#include \"safex_abi.h\"\n\
             int main(void) { struct safex_ctx c = {0}; return (int)c.status; }\n",
        )
        .expect("write the check");
        let header_dir = checked_in().parent().expect("kmod/").to_path_buf();
        let out = Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
            .arg(&header_dir)
            .arg(&source)
            .output()
            .expect("a C compiler `cc` (the kernel module needs one)");
        std::fs::remove_dir_all(&dir).ok();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
