//! C headers for the kernel loader module, generated, never written by hand:
//!
//! - The ABI (`kmod/safex_abi.h`, [`render`]): the context's layout, the
//!   status codes, the helper table's ids and calling convention, the
//!   attribute rows and the entry point's return; and the standard
//!   attribute classes as tables for the kernel module. From
//!   [`crate::abi`], [`crate::HELPERS`] and [`crate::classes`].
//! - The `/dev/safex` interface (`kmod/safex_uapi.h`, [`render_uapi`]):
//!   the commands and their argument structs, with their documentation.
//!   From [`crate::uapi`].
//!
//! A test compares each checked-in header with its rendering
//! (`SAFEX_BLESS=1` rewrites them) and compiles it with the system's C
//! compiler, whose `_Static_assert`s check every size, offset and command
//! number against the Rust definitions again.

use crate::abi::{ABI_VERSION, FRAMES, TRAP_AT_TERMINATOR, offset, status};
use crate::uapi::{self, CConsts, CStruct, CValue, Item};
use crate::{HELPERS, HelperLowering};
use std::fmt::Write as _;

/// Where the ABI header lives, from the workspace root.
pub const PATH: &str = "kmod/safex_abi.h";

/// Where the `/dev/safex` interface's header lives, from the workspace root.
pub const UAPI_PATH: &str = "kmod/safex_uapi.h";

/// The status codes, by C name (`SAFEX_STATUS_` and this).
pub const STATUSES: &[(&str, u64)] = &[
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
    ("const safex_helper_fn *", "helpers", offset::HELPERS),
    ("s64 *", "data", offset::DATA),
    ("const s64 *const *", "attrs", offset::ATTRS),
    ("safex_refuel_fn", "refuel", offset::REFUEL),
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
         #define SAFEX_ABI_VERSION {ABI_VERSION}u\n\n\
         /*\n \
         * Frames an invocation may use: its own and a guard's. A guard that\n \
         * writes a guarded attribute ends its invocation (HOST_ABORT).\n \
         */\n\
         #define SAFEX_FRAMES {FRAMES}u\n\n"
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
         /*\n \
         * What a fuel check that leaves ctx->fuel negative calls. It stores a\n \
         * counter >= 0 in ctx->fuel to let the code run on, or leaves it\n \
         * negative to end the invocation there with SAFEX_STATUS_OUT_OF_FUEL,\n \
         * and writes nothing else of the context. Compiled code calls it with\n \
         * every register preserved (Cranelift's preserve_all): define it\n \
         * with SAFEX_REFUEL_ATTRS.\n \
         */\n\
         #define SAFEX_REFUEL_ATTRS __attribute__((no_caller_saved_registers))\n\
         typedef void (*safex_refuel_fn)(struct safex_ctx *ctx);\n\n\
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
         * The context compiled code is called with. The host stores fuel >= 0\n \
         * and status SAFEX_STATUS_OK before a call, and writes fuel while the\n \
         * code runs only in refuel, whose answer is how it ends an invocation\n \
         * early (a deadline): refuel is called within a slice of the fuel the\n \
         * host hands out plus 1024 units (the verifier's V0409). attrs points to one row per attribute class the module\n \
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
         typedef struct safex_returned (*safex_entry_fn)(struct safex_ctx *ctx, s64 cap, s64 value);\n\n",
        offset::SIZE
    );
    render_classes(w);
    let _ = write!(w, "\n#endif /* SAFEX_ABI_H */\n");
    h
}

/// The standard attribute classes ([`crate::classes::CLASSES`]) as C
/// tables for the kernel module: every attribute's flat index
/// (`SAFEX_ATTR_CLASS_ATTR`), its type, flags and range, and each class's
/// first attribute and count.
fn render_classes(w: &mut String) {
    use crate::classes::{AttrValue, CLASSES};
    let count: usize = CLASSES.iter().map(|c| c.attrs.len()).sum();
    let _ = write!(
        w,
        "\n/*\n \
         * The host's attribute classes (stdlib::classes): what a module's own\n \
         * declaration of a class must equal, attribute by attribute, for it to\n \
         * load. An application's values are one array of SAFEX_ATTR_COUNT\n \
         * s64; class c's row, which ctx->attrs points to, starts at\n \
         * safex_classes[c].first.\n \
         */\n\
         #define SAFEX_ATTR_I64 0u\n\
         #define SAFEX_ATTR_BOOL 1u\n\
         #define SAFEX_ATTR_READONLY 1u /* flag: only the system writes it */\n\
         #define SAFEX_ATTR_RANGE 2u    /* flag: every write is within [lo, hi] */\n\n\
         struct safex_attr_def {{\n\
         \tconst char *name;\n\
         \tu32 type;  /* SAFEX_ATTR_I64 or SAFEX_ATTR_BOOL */\n\
         \tu32 flags; /* SAFEX_ATTR_READONLY, SAFEX_ATTR_RANGE */\n\
         \ts64 lo;    /* the range, inclusive; 0 without one */\n\
         \ts64 hi;\n\
         }};\n\n\
         struct safex_class_def {{\n\
         \tconst char *name;\n\
         \tu32 first; /* its first attribute's flat index */\n\
         \tu32 attrs; /* how many it has */\n\
         }};\n\n\
         #define SAFEX_CLASS_COUNT {}u\n\
         #define SAFEX_ATTR_COUNT {count}u\n",
        CLASSES.len()
    );
    let mut classes = Vec::new();
    let mut attrs = Vec::new();
    for class in CLASSES {
        classes.push(format!(
            "\t{{ \"{}\", {}, {} }},",
            class.name,
            attrs.len(),
            class.attrs.len()
        ));
        for a in class.attrs {
            let _ = writeln!(
                w,
                "#define SAFEX_ATTR_{}_{} {}u",
                class.name.to_uppercase(),
                a.name.to_uppercase(),
                attrs.len()
            );
            let ty = match a.ty {
                AttrValue::I64 => "SAFEX_ATTR_I64",
                AttrValue::Bool => "SAFEX_ATTR_BOOL",
            };
            let flags = match (a.readonly, a.range.is_some()) {
                (false, false) => "0",
                (true, false) => "SAFEX_ATTR_READONLY",
                (false, true) => "SAFEX_ATTR_RANGE",
                (true, true) => "SAFEX_ATTR_READONLY | SAFEX_ATTR_RANGE",
            };
            let (lo, hi) = a.range.unwrap_or((0, 0));
            attrs.push(format!("\t{{ \"{}\", {ty}, {flags}, {lo}, {hi} }},", a.name));
        }
    }
    let _ = write!(
        w,
        "\nstatic const struct safex_class_def safex_classes[SAFEX_CLASS_COUNT] = {{\n{}\n}};\n\n\
         static const struct safex_attr_def safex_attrs[SAFEX_ATTR_COUNT] = {{\n{}\n}};\n",
        classes.join("\n"),
        attrs.join("\n")
    );
}

/// A doc comment's line as C comment text: without the space `///` leaves.
fn doc_line(line: &str) -> &str {
    line.strip_prefix(' ').unwrap_or(line).trim_end()
}

/// `doc` as a C comment before a declaration: `/* one line */`, or a block.
fn block_comment(w: &mut String, doc: &[&str]) {
    match doc {
        [] => {}
        [line] => {
            let _ = writeln!(w, "/* {} */", doc_line(line));
        }
        lines => {
            let _ = writeln!(w, "/*");
            for line in lines {
                let line = doc_line(line);
                let sep = if line.is_empty() { "" } else { " " };
                let _ = writeln!(w, " *{sep}{line}");
            }
            let _ = writeln!(w, " */");
        }
    }
}

/// Lines `(code, comment)`, the comments (one line each, or none) aligned
/// one column after the longest code.
fn aligned(w: &mut String, lines: &[(String, String)]) {
    let width = lines
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(code, _)| code.len())
        .max();
    for (code, comment) in lines {
        match width {
            Some(width) if !comment.is_empty() => {
                let _ = writeln!(w, "{code:width$} /* {comment} */");
            }
            _ => {
                let _ = writeln!(w, "{code}");
            }
        }
    }
}

fn c_value(value: CValue) -> String {
    match value {
        CValue::Decimal(v) => format!("{v}u"),
        CValue::Hex(v) => format!("{v:#x}u"),
        CValue::Str(bytes) => {
            assert!(
                bytes.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\'),
                "a C string constant needs no escapes"
            );
            format!("\"{}\"", String::from_utf8_lossy(bytes))
        }
    }
}

fn render_consts(w: &mut String, group: &CConsts) {
    block_comment(w, group.doc);
    let mut lines = Vec::new();
    for c in group.consts {
        let code = format!("#define SAFEX_{} {}", c.name, c_value(c.value));
        if let [line] = c.doc {
            lines.push((code, doc_line(line).to_owned()));
        } else {
            aligned(w, &lines);
            lines.clear();
            block_comment(w, c.doc);
            lines.push((code, String::new()));
        }
    }
    aligned(w, &lines);
}

fn render_struct(w: &mut String, s: &CStruct) {
    block_comment(w, s.doc);
    let _ = writeln!(w, "struct {} {{", s.name);
    let lines: Vec<(String, String)> = s
        .fields
        .iter()
        .map(|f| {
            let code = format!("\t{} {}{};", f.ty, f.name, f.array);
            (code, f.doc.iter().map(|l| doc_line(l)).collect::<Vec<_>>().join(" "))
        })
        .collect();
    aligned(w, &lines);
    let _ = writeln!(w, "}};");
}

/// `kmod/safex_uapi.h`: [`crate::uapi`] as C, in the order of
/// [`uapi::HEADER`], then a `_Static_assert` for every size, offset and
/// command number Rust computed.
pub fn render_uapi() -> String {
    let mut h = String::new();
    let w = &mut h;
    let _ = writeln!(w, "/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */");
    let mut top: Vec<&str> = uapi::CONVENTIONS.to_vec();
    top.extend([
        "",
        "GENERATED from stdlib/src/uapi.rs by stdlib/src/c_header.rs; do not",
        "edit. Regenerate with `SAFEX_BLESS=1 cargo test -p stdlib c_header`.",
    ]);
    block_comment(w, &top);
    let _ = write!(
        w,
        "#ifndef SAFEX_UAPI_H\n\
         #define SAFEX_UAPI_H\n\n\
         #include <linux/ioctl.h>\n\
         #include <linux/types.h>\n\
         #ifdef __KERNEL__\n\
         #include <linux/stddef.h>\n\
         #else\n\
         #include <stddef.h>\n\
         #endif\n"
    );
    for section in uapi::HEADER {
        let _ = writeln!(w);
        for item in *section {
            match item {
                Item::Consts(group) => render_consts(w, group),
                Item::Struct(s) => render_struct(w, s),
                Item::Ioctl(value) => {
                    let c = uapi::ioctl(*value).expect("HEADER lists commands of IOCTLS");
                    block_comment(w, c.doc);
                    let _ = writeln!(
                        w,
                        "#define SAFEX_{} _{}(SAFEX_IOC_MAGIC, {}, struct {})",
                        c.name,
                        c.dir.to_uppercase(),
                        c.nr,
                        c.arg.name
                    );
                }
            }
        }
    }
    let _ = writeln!(
        w,
        "\n/* The layouts and command numbers safexc uses (stdlib/src/uapi.rs). */"
    );
    for s in uapi::structs() {
        let _ = writeln!(
            w,
            "_Static_assert(sizeof(struct {0}) == {1}, \"sizeof(struct {0})\");",
            s.name, s.size
        );
        for f in s.fields {
            let _ = writeln!(
                w,
                "_Static_assert(offsetof(struct {0}, {1}) == {2}, \"{0}.{1}\");",
                s.name, f.name, f.offset
            );
        }
    }
    for c in uapi::IOCTLS {
        let _ = writeln!(
            w,
            "_Static_assert(SAFEX_{0} == {1:#x}u, \"SAFEX_{0}\");",
            c.name, c.value
        );
    }
    let _ = write!(w, "\n#endif /* SAFEX_UAPI_H */\n");
    h
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn checked_in(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    /// Compares the checked-in header at `path` with `fresh`, rewriting it
    /// first under `SAFEX_BLESS`.
    fn up_to_date(path: &str, fresh: &str) {
        let file = checked_in(path);
        if std::env::var_os("SAFEX_BLESS").is_some() {
            std::fs::write(&file, fresh).expect("write the header");
        }
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            current == fresh,
            "{path} is stale: SAFEX_BLESS=1 cargo test -p stdlib c_header regenerates it"
        );
    }

    #[test]
    fn c_header_is_up_to_date() {
        up_to_date(super::PATH, &super::render());
    }

    #[test]
    fn c_header_uapi_is_up_to_date() {
        up_to_date(super::UAPI_PATH, &super::render_uapi());
    }

    /// Runs the system's C compiler (`cc`) on `source` with the headers'
    /// directory on the include path; `Err` has its diagnostics.
    fn compile(name: &str, source: &str, extra: &[&str]) -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("safex-c-header-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join(name);
        std::fs::write(&file, source).expect("write the check");
        let header_dir = checked_in(super::PATH).parent().expect("kmod/").to_path_buf();
        let out = Command::new("cc")
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
            .args(extra)
            .arg("-I")
            .arg(&header_dir)
            .arg(&file)
            .output()
            .expect("a C compiler `cc` (the kernel module needs one)");
        std::fs::remove_dir_all(&dir).ok();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    #[test]
    fn c_header_compiles_and_its_offsets_hold() {
        // A C compiler checks every `_Static_assert` (offsets, size) and the
        // declarations, as user space sees them.
        compile(
            "check.c",
            "#include \"safex_abi.h\"\n\
             int main(void) { struct safex_ctx c = {0}; return (int)c.status; }\n",
            &["-std=c11"],
        )
        .unwrap();
    }

    #[test]
    fn c_header_uapi_compiles_standalone_and_its_layouts_hold() {
        // The header alone, as a translation unit, as user space includes
        // it (<linux/ioctl.h> and <linux/types.h> of linux-libc-dev): its
        // `_Static_assert`s check every size, offset and command number
        // Rust computed against the C declarations and `_IOWR`.
        let header = std::fs::read_to_string(checked_in(super::UAPI_PATH)).unwrap_or_default();
        compile("safex_uapi.h", &header, &["-x", "c"]).unwrap();
        compile("safex_uapi.h", &header, &["-x", "c", "-std=c11", "-m32"])
            .or_else(|e| {
                // Without 32-bit headers (gcc-multilib) there is nothing to check.
                if e.contains("No such file") { Ok(()) } else { Err(e) }
            })
            .unwrap();
        // With the ABI header, as the module includes both.
        compile(
            "both.c",
            "#include \"safex_abi.h\"\n#include \"safex_uapi.h\"\n\
             int main(void) { struct safex_version v = { .size = sizeof(v) }; return (int)v.abi; }\n",
            &["-std=c11"],
        )
        .unwrap();
    }

    #[test]
    fn c_header_uapi_renders_every_definition() {
        let h = super::render_uapi();
        let defines = |name: &str| h.matches(&format!("#define SAFEX_{name} ")).count();
        for c in crate::uapi::IOCTLS {
            assert_eq!(defines(c.name), 1, "{}", c.name);
        }
        for s in crate::uapi::structs() {
            assert_eq!(h.matches(&format!("struct {} {{", s.name)).count(), 1, "{}", s.name);
        }
        for name in [
            "UAPI_VERSION",
            "NAME_MAX",
            "MAX_ENTRIES",
            "MAX_OBJECT",
            "MAX_APPS",
            "MAX_EXTENSIONS",
        ] {
            assert_eq!(defines(name), 1, "{name}");
        }
        for name in [
            "LOG_SIZE",
            "ENTRY_GUARD",
            "STATE_QUARANTINED",
            "ATTR_WRITE",
            "LOG_APPLIED",
            "SIG_MAGIC",
        ] {
            assert_eq!(defines(name), 1, "{name}");
        }
        assert!(h.contains("#define SAFEX_CHANGE_GUARD_TRAPPED 2u"));
        assert!(h.contains("#define SAFEX_IOC_VERSION _IOWR(SAFEX_IOC_MAGIC, 0, struct safex_version)"));
        assert!(h.contains("_Static_assert(SAFEX_IOC_VERSION == 0xc0105a00u, \"SAFEX_IOC_VERSION\");"));
        assert!(Path::new(super::UAPI_PATH).starts_with("kmod"));
    }
}
