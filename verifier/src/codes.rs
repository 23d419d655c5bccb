//! The verifier's and the TAL formats' error codes, documented: what
//! `safexc explain CODE` prints. Plain data and a lookup, nothing else: one
//! entry per `Vxxxx` code, sorted. `V00xx` codes come from the TAL text
//! parser (`V0001`–`V0008`, and `V0701` for a forging mnemonic) and the
//! binary decoder (`V0050`–`V0054`); the rest from the invariants listed in
//! the crate documentation.
//!
//! An example is a TAL module in the text format (docs/tal.md) that is
//! rejected with the code, with a `; fix:` comment where there is one.
//! Binary-format errors are shown as bytes.

pub use stdlib::codes::CodeDoc;

/// Every verifier and TAL format code, sorted by code.
pub const CODES: &[CodeDoc] = &[
    // ------------------------------------------------------------ text format
    CodeDoc {
        code: "V0001",
        title: "TAL syntax error",
        explanation: "The TAL text does not follow the grammar of docs/tal.md: a missing `,` or `:`, items out \
            of order (module, source, budget, classes, events, structs, globals, externs, functions), invalid \
            rights letters, a file that is not UTF-8, or an instruction written with or without the `vN =` its \
            mnemonic requires. The verifier checks only modules that parse exactly, so nothing is guessed at. \
            Fix the line the message points at; `safexc compile --emit tal` prints well-formed TAL to compare \
            with.",
        example: r#"module demo

func @add(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 2
    v2 = iadd v0 v1
    ; fix: v2 = iadd v0, v1
    ret v2
}"#,
    },
    CodeDoc {
        code: "V0002",
        title: "unknown TAL instruction",
        explanation: "The mnemonic is not an instruction of TAL (docs/tal.md lists them all). TAL's instruction \
            set is small and closed: everything an extension can do is one of these instructions, each with \
            types the verifier knows, and there is no escape hatch for other operations. Check the spelling: \
            integer arithmetic is `iadd`, `isub`, `imul`, `sdiv`, `srem`, `ineg`.",
        example: r#"module demo

func @add(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 2
    v2 = add v0, v1
    ; fix: v2 = iadd v0, v1
    ret v2
}"#,
    },
    CodeDoc {
        code: "V0003",
        title: "unknown name in TAL",
        explanation: "A name does not resolve: a class, struct, event, global, attribute (`#class.attr`), \
            struct field or exception kind the module does not declare. Every reference in a module names one \
            of its own declarations or the helper table, so that each check is made against a known type, \
            range and rights. Declare the item, or fix the spelling.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @sample(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 2
    v1 = helper get_attribute(v0, #cpu_qos.used_cpu)
    ; fix: v1 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0004",
        title: "TAL value defined out of order",
        explanation: "Values are numbered implicitly in definition order over the whole function (block \
            parameters, then instruction results, block by block), and `vN` must be the N-th value defined. \
            The names carry no information of their own, so the text and the binary form are the same module \
            and print/parse round-trips exactly. Renumber the values in order.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @sample(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 2
    v2 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ; fix: v1 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0005",
        title: "TAL block out of order",
        explanation: "Blocks must appear as `block0`, `block1`, ... in layout order, with no gaps. Layout order \
            is meaningful: loops are declared as layout ranges and a back edge is any edge to a block at or \
            before its source, which is how the verifier finds every cycle and checks its fuel. Number the \
            blocks in the order they appear.",
        example: r#"module demo

func @f() {
block0:
    fuel 2
    jump block2
block2:
    ; fix: block1:   (and `jump block1` above)
    ret
}"#,
    },
    CodeDoc {
        code: "V0006",
        title: "duplicate name in TAL",
        explanation: "Two items of one namespace have the same name: functions and externs (which share one \
            namespace), globals, classes, structs, events, the attributes of a class or the fields of a \
            struct. Loaders bind entry points, and the host binds classes and attributes, by name, so a name \
            must denote exactly one thing. Rename or delete one of them.",
        example: r#"module demo

global @e_prev: i64 = 0
global @e_prev: i64 = 0
; fix: delete the second, or rename it: global @u_prev: i64 = 0"#,
    },
    CodeDoc {
        code: "V0007",
        title: "integer out of range in TAL",
        explanation: "An integer does not fit its position: constants and ranges are `i64`, `fuel` and \
            `budget` are `u64`, array lengths and `vN`/`blockN`/`$N` numbers are `u32`. Values are never \
            truncated silently, since a truncated length or fuel count would change what the verifier proves. \
            Use a value in range.",
        example: r#"module demo

func @big() -> i64 {
block0:
    fuel 2
    v0 = iconst 9223372036854775808
    ; fix: v0 = iconst 9223372036854775807
    ret v0
}"#,
    },
    CodeDoc {
        code: "V0008",
        title: "slot or reference parameter misnumbered",
        explanation: "Stack slots must be declared as `$0`, `$1`, ... in order, and a reference parameter is \
            written `%N` where N is its position in the parameter list. As with values, the numbers are \
            implicit, so that text and binary TAL describe the same module. Renumber the slot or parameter.",
        example: r#"module demo

func @sum(i64, %0: ref [i64]) -> i64 {
    ; fix: func @sum(i64, %1: ref [i64]) -> i64 {
block0(v0: i64):
    fuel 2
    ret v0
}"#,
    },
    // ------------------------------------------------------------ binary format
    CodeDoc {
        code: "V0050",
        title: "not binary TAL (bad magic)",
        explanation: "Binary TAL (the `.safex.tal` section of an object, or a file written by \
            `tal_ir::binary::encode`) starts with the magic bytes `SXTAL`, and these bytes do not. Every \
            loaded extension carries its TAL so that it can be verified again before it is linked; bytes that \
            are not TAL cannot be, and are refused rather than guessed at. Rebuild the object with `safexc`, \
            or check that the right section or file is read.",
        example: r#"; bytes given as binary TAL:
;   7f 45 4c 46 02 01 01 00 ...     an ELF header, not the TAL inside it
; fix: read the object's `.safex.tal` section, which starts
;   53 58 54 41 4c 01 00 ...        "SXTAL", version 1"#,
    },
    CodeDoc {
        code: "V0051",
        title: "unsupported binary TAL version",
        explanation: "The two bytes after the magic give the encoding version (little-endian), and this build \
            reads only its own. A decoder that read another version's layout would build a different module \
            from the same bytes, and the verifier would check something other than what was compiled. \
            Recompile the extension with the same release of the tools as the loader.",
        example: r#"; binary TAL written by a newer release:
;   53 58 54 41 4c 02 00 ...        "SXTAL", version 2
; fix: recompile with the loader's release, which writes
;   53 58 54 41 4c 01 00 ...        version 1"#,
    },
    CodeDoc {
        code: "V0052",
        title: "binary TAL truncated",
        explanation: "The input ends before the header (7 bytes) or inside the encoded module. A truncated \
            module is not a smaller valid one: it is refused whole, never completed with defaults. Copy or \
            extract the section again; a short file usually means an interrupted write.",
        example: r#"; the first half of a valid encoding:
;   53 58 54 41 4c 01 00 07 63 70 75 5f 70 69 64 ...   (ends mid-module)
; fix: use the complete output of `tal_ir::binary::encode`"#,
    },
    CodeDoc {
        code: "V0053",
        title: "binary TAL corrupt or not canonical",
        explanation: "The bytes after the header do not decode to a module (an invalid tag, length or \
            varint), or decode to one whose canonical encoding is different (for example a varint with \
            redundant bytes). There is exactly one byte string per module, so that a hash or signature of the \
            section identifies the module that was verified. Regenerate the bytes with the encoder instead of \
            editing them.",
        example: r#"; the module name's length 7 written as a two-byte varint:
;   53 58 54 41 4c 01 00 87 00 63 70 75 ...
; fix: the canonical one-byte form
;   53 58 54 41 4c 01 00 07 63 70 75 ..."#,
    },
    CodeDoc {
        code: "V0054",
        title: "trailing bytes after binary TAL",
        explanation: "The module decodes, but bytes follow it. Anything after the module would be data that is \
            signed and shipped along with the extension but never verified; one section holds exactly one \
            module. Remove the extra bytes (or fix the tool that appended them).",
        example: r#"; a valid module followed by stray bytes:
;   53 58 54 41 4c 01 00 ... <module> ... de ad be ef
; fix: cut the input where the module ends"#,
    },
    // ------------------------------------------------------------ declarations, values and scope
    CodeDoc {
        code: "V0101",
        title: "duplicate name or missing module name",
        explanation: "Two functions, globals, classes, structs or events, two attributes of one class or two \
            fields of one struct have the same name, or the module has no name. Loaders bind entry points and \
            hosts bind classes and attributes by name, so each name must mean one thing, and the module name \
            is the extension's identity for loading and accounting. The text parser reports duplicates as \
            `V0006`; this code comes from binary TAL or modules built in memory. Rename the duplicate, or name \
            the module.",
        example: r#"; a decoded binary module in which two functions share one name
; (text TAL would be refused earlier, with V0006):
module demo

func @f() {
block0:
    fuel 1
    ret
}

func @f() {
block0:
    fuel 1
    ret
}
; fix: func @g() { ... }"#,
    },
    CodeDoc {
        code: "V0102",
        title: "dangling index",
        explanation: "An index names nothing: a block, class, struct, global, function, event, attribute, \
            field, slot, extern or reference parameter that does not exist, or a value parameter used as a \
            reference. The verifier does not trust the producer of a module, so every index is checked before \
            it is followed; a dangling one could make code generation read or jump outside the module. Point \
            the reference at an existing item.",
        example: r#"module demo

func @f() {
block0:
    fuel 4
    jump block1
block1:
    jump block7
    ; fix: ret
}"#,
    },
    CodeDoc {
        code: "V0103",
        title: "entry block parameters differ from the signature",
        explanation: "The entry block's parameters must be exactly the function's value parameters, in order \
            and with the same types. Otherwise the body could assume more than the caller provides, for \
            example write through a capability the host granted read-only. Make `block0`'s parameters match \
            the signature.",
        example: r#"module demo

class cpu_qos {
    timeslice_adjustment: i64 range(-1000000, 1000000)
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, rw>):
    ; fix: block0(v0: cap<cpu_qos, r>):
    fuel 2
    ret
}"#,
    },
    CodeDoc {
        code: "V0104",
        title: "function without blocks",
        explanation: "A function has no blocks at all. A call to it would run into whatever code follows it in \
            the object. Every function needs at least an entry block that starts with `fuel` and ends in a \
            terminator.",
        example: r#"module demo

func @nothing() {
}
; fix:
; func @nothing() {
; block0:
;     fuel 1
;     ret
; }"#,
    },
    CodeDoc {
        code: "V0105",
        title: "branch to the entry block",
        explanation: "An edge (jump, branch or catch) targets `block0`. The entry block runs once per call: it \
            binds the parameters, zero-fills the stack slots and pays the call's fuel, and none of that may be \
            repeated or skipped. To loop, branch to a separate loop header block.",
        example: r#"module demo

func @spin(i64) {
block0(v0: i64) loop(block1):
    fuel 8
    jump block1(v0)
block1(v1: i64):
    v2 = iconst 0
    v3 = icmp gt v1, v2
    brif v3, block0(v1), block2
    ; fix: make block1 the loop header, with its own `fuel`, and branch back to it
block2:
    ret
}"#,
    },
    CodeDoc {
        code: "V0106",
        title: "value used outside its scope",
        explanation: "A value is used before its definition, or in a block other than the one that defines it. \
            TAL values are block scoped: a value exists only after its definition in its own block, and data \
            crosses blocks only as block arguments. This makes \"defined before every use\" a local check, \
            which keeps the verifier linear and simple, and rules out reading a stale register. Pass the value \
            to the other block as an argument.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

event Error

monitor @sample(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 8
    v1 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    jump block1
block1:
    v2 = event Error
    helper raise_event(v2, v1)
    ; fix: jump block1(v1)  ...  block1(v2: i64): v3 = event Error; helper raise_event(v3, v2)
    ret
}"#,
    },
    CodeDoc {
        code: "V0107",
        title: "wrong entry-point signature",
        explanation: "An entry point does not have the shape its kind requires: monitor `(cap) -> ()`, handler \
            `(cap, i64) -> ()`, guard `(cap, i64) -> i64` with a capability to the guarded attribute's class \
            and without the write right `w`. The host calls entry points with exactly these arguments. A guard \
            returns the value to store; a write from a guard would run guards again re-entrantly, with no bound \
            the call graph shows. Fix the signature.",
        example: r#"module demo

class cpu_qos {
    timeslice_adjustment: i64 range(-1000000, 1000000)
}

guard @g(cap<cpu_qos, rwg>, i64) -> i64 for cpu_qos.timeslice_adjustment {
    ; fix: guard @g(cap<cpu_qos, rg>, i64) -> i64 ...   (and block0 to match)
block0(v0: cap<cpu_qos, rwg>, v1: i64):
    fuel 1
    ret v1
}"#,
    },
    CodeDoc {
        code: "V0108",
        title: "no finite static size, or invalid declaration",
        explanation: "A memory object has no valid static size (a struct that contains itself, an unsized \
            array outside a reference parameter, a global, slot or struct over 16 MiB), an attribute's range \
            is empty or on a `bool`, or a signature names a function-local root (`idx<$N>`, `idx<%N>`). Every \
            object has a size known before loading, so that memory use and the stack bound are static \
            (predictability) and every access can be bounds-checked. Give the object a finite size within the \
            limit.",
        example: r#"module demo

global @hist: [i64; 4000000] = zero
; fix: global @hist: [i64; 4096] = zero      (32 MB is over the 16 MiB limit)"#,
    },
    CodeDoc {
        code: "V0109",
        title: "global initializer does not fit",
        explanation: "A global's initializer does not fit its type: more values than the array has elements, an \
            integer for a `bool`, or any value but `zero` for a capability or a struct. Initializers are \
            written by the loader before the extension runs; one that does not fit would write past the \
            global, or forge a capability from a number. Use an initializer of the global's type, or `zero`.",
        example: r#"module demo

global @weights: [i64; 2] = [1, 2, 3]
; fix: global @weights: [i64; 3] = [1, 2, 3]"#,
    },
    CodeDoc {
        code: "V0110",
        title: "result taken from a call that returns nothing",
        explanation: "A `call` or `helper` defines a value (`vN = ...`), but the function or helper returns \
            nothing. The value would be whatever the return register holds, possibly a kernel pointer, which \
            breaks integrity. Drop the `vN =`, or call something that returns a value.",
        example: r#"module demo

func @noop() {
block0:
    fuel 1
    ret
}

func @f() -> i64 {
block0:
    fuel 2
    v0 = call @noop()
    ; fix: call @noop()   and return a value of its own
    ret v0
}"#,
    },
    // ------------------------------------------------------------ types
    CodeDoc {
        code: "V0201",
        title: "type mismatch",
        explanation: "An operand, argument, block argument, stored or returned value has a type that is not a \
            subtype of the one expected: a `bool` in arithmetic, an `i64` where a `bool` is needed, booleans \
            compared with `lt`, a capability to one class used for another. Subtyping is small: refined \
            integers (`nz`, `idx<R>`, `in<A>`) are `i64`s, a capability with more rights is one with fewer, a \
            non-null one is a nullable one. Type safety is what every other guarantee rests on. Convert the \
            value explicitly (for example `icmp ne v, 0`), or use a value of the right type.",
        example: r#"module demo

func @f(bool, i64) -> i64 {
block0(v0: bool, v1: i64):
    fuel 2
    v2 = iadd v0, v1
    ; fix: compare instead, or branch on v0
    ret v2
}"#,
    },
    CodeDoc {
        code: "V0202",
        title: "wrong number of block arguments",
        explanation: "An edge passes more or fewer arguments than the target block has parameters. Block \
            arguments are the only way values cross blocks, so each edge must supply exactly the values the \
            target block names. Pass one argument per parameter.",
        example: r#"module demo

func @f(i64) -> i64 {
block0(v0: i64):
    fuel 3
    jump block1
    ; fix: jump block1(v0)
block1(v1: i64):
    ret v1
}"#,
    },
    CodeDoc {
        code: "V0203",
        title: "wrong number of call arguments",
        explanation: "A `call` passes more or fewer arguments than the called function takes. A callee reads \
            its parameters from fixed registers or slots; a missing argument would be whatever the caller left \
            there. Pass one argument per parameter.",
        example: r#"module demo

func @max(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 1
    ret v0
}

func @f() -> i64 {
block0:
    fuel 3
    v0 = iconst 1
    v1 = call @max(v0)
    ; fix: v1 = call @max(v0, v0)
    ret v1
}"#,
    },
    CodeDoc {
        code: "V0204",
        title: "`ret` does not match the return type",
        explanation: "A `ret` without a value in a function that returns one, or with a value in one that \
            returns nothing. The caller relies on the return type: a missing value would be an undefined \
            register. Return a value of the declared type, or none.",
        example: r#"module demo

func @f() -> i64 {
block0:
    fuel 1
    ret
    ; fix: v0 = iconst 0; ret v0
}"#,
    },
    CodeDoc {
        code: "V0205",
        title: "branch condition is not `bool`",
        explanation: "`brif` branches on a value that is not a `bool`. Conditions are booleans, produced by \
            `icmp` or `bconst`, so that a branch never depends on an unchecked integer's representation. \
            Compare explicitly: `vC = icmp ne vX, vZero`.",
        example: r#"module demo

func @f(i64) {
block0(v0: i64):
    fuel 2
    brif v0, block1, block1
    ; fix: v1 = iconst 0; v2 = icmp ne v0, v1; brif v2, block1, block1
block1:
    ret
}"#,
    },
    CodeDoc {
        code: "V0206",
        title: "reference argument does not match",
        explanation: "A reference argument does not fit the parameter: an array of another element type or a \
            shorter length than the parameter declares, a root passed for a value parameter, or a different \
            memory type. A callee indexes its reference parameter by the parameter's type; a shorter array \
            passed as a longer one would let it read and write past the end. Pass an array of the declared \
            type, or declare the parameter unsized (`ref [i64]`) and use `size`.",
        example: r#"module demo

global @small: [i64; 4] = zero

func @last(%0: ref [i64; 16]) -> i64 {
block0:
    fuel 4
    v0 = iconst 15
    v1 = check.bounds v0, %0
    v2 = load %0[v1]
    ret v2
}

func @f() -> i64 {
block0:
    fuel 2
    v0 = call @last(@small)
    ; fix: func @last(%0: ref [i64]) -> i64, indexing with `size %0` - 1
    ret v0
}"#,
    },
    // ------------------------------------------------------------ memory and runtime checks
    CodeDoc {
        code: "V0301",
        title: "array index not checked",
        explanation: "An array element is accessed with an index that did not pass `check.bounds` against that \
            very array: a plain `i64`, or an index checked against another array. Every element access must \
            be proven in bounds, or an extension could read and write memory outside its objects (integrity). \
            Check the index against the array you access: `vI = check.bounds vX, @hist`, then `load @hist[vI]`.",
        example: r#"module demo

global @hist: [i64; 16] = zero

func @at(i64) -> i64 {
block0(v0: i64):
    fuel 2
    v1 = load @hist[v0]
    ; fix: v1 = check.bounds v0, @hist  then  v2 = load @hist[v1]
    ret v1
}"#,
    },
    CodeDoc {
        code: "V0302",
        title: "divisor not checked",
        explanation: "The divisor of `sdiv` or `srem` is not of type `nz`: it did not pass `check.nonzero`. A \
            division by zero would trap in the kernel's timer path; with the check it raises `DivideByZero`, \
            which the extension can handle. Check the divisor first.",
        example: r#"module demo

func @div(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 2
    v2 = sdiv v0, v1
    ; fix: v2 = check.nonzero v1  then  v3 = sdiv v0, v2
    ret v2
}"#,
    },
    CodeDoc {
        code: "V0303",
        title: "stack slot read before it is initialized",
        explanation: "A stack slot is loaded or passed by reference without an `init` of it earlier in the \
            entry block, before any instruction that can leave the entry block through a `catch`. Stack memory \
            holds whatever the previous user left, possibly kernel data; reading it would leak it (integrity). \
            Add `init $N` at the start of the entry block; the front-end does this for every slot.",
        example: r#"module demo

func @f() -> i64 {
    slot $0: i64
block0:
    fuel 2
    v0 = load $0
    ; fix: init $0   before the load
    ret v0
}"#,
    },
    CodeDoc {
        code: "V0304",
        title: "place does not name a scalar",
        explanation: "A memory place is malformed: an array accessed without an index, a non-array indexed, a \
            field of a scalar, a whole struct loaded or stored, or `check.bounds`, `size` or `idx<R>` applied \
            to something that is not an array. Loads and stores move exactly one scalar, so that every access \
            has one type and one proven-valid address. Write the root, `[index]` if it is an array, then fields \
            down to a scalar.",
        example: r#"module demo

global @hist: [i64; 16] = zero

func @first() -> i64 {
block0:
    fuel 2
    v0 = load @hist
    ; fix: v0 = iconst 0; v1 = check.bounds v0, @hist; v2 = load @hist[v1]
    ret v0
}"#,
    },
    CodeDoc {
        code: "V0305",
        title: "nullable capability used without `check.null`",
        explanation: "A capability loaded from memory has the nullable type `cap?<...>` (memory starts zeroed), \
            and is used where a non-null capability is required without passing `check.null`. A null \
            capability would name no application; `check.null` turns it into the `NullCapability` exception. \
            Check it first: `vC = check.null vP`.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

global @owner: cap<cpu_qos, r> = zero

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 3
    v1 = load @owner
    v2 = helper get_attribute(v1, #cpu_qos.actual_cpu)
    ; fix: v2 = check.null v1  then  get_attribute(v2, ...)
    ret
}"#,
    },
    CodeDoc {
        code: "V0306",
        title: "ranged attribute written without `check.range`",
        explanation: "A value written to an attribute with a declared range did not pass `check.range` for that \
            attribute. The range is part of the QoS contract between the application and the service manager \
            (`timeslice_adjustment` is `range(-1000000, 1000000)`); `check.range` raises `RangeError` rather \
            than let an out-of-range value through. Check the value against the attribute written.",
        example: r#"module demo

class cpu_qos {
    timeslice_adjustment: i64 range(-1000000, 1000000)
}

event Error

handler @adjust(cap<cpu_qos, rw>, i64) on Error {
block0(v0: cap<cpu_qos, rw>, v1: i64):
    fuel 2
    helper set_attribute(v0, #cpu_qos.timeslice_adjustment, v1)
    ; fix: v2 = check.range v1, #cpu_qos.timeslice_adjustment  then  set_attribute(..., v2)
    ret
}"#,
    },
    // ------------------------------------------------------------ control flow and fuel
    CodeDoc {
        code: "V0401",
        title: "entry point does not start with `fuel`",
        explanation: "An entry point's (monitor, handler, guard) entry block does not start with `fuel`. The \
            host calls entry points, so each invocation must pay for the code it runs at its entry: the \
            injected fuel check is what bounds an invocation's run time and lets the deadline timer stop it \
            (predictability). Start `block0` with `fuel N`, N covering the code up to the next `fuel`. (A plain \
            function may start without `fuel`: then its callers pay for it, see V0407.)",
        example: r#"module demo

class cpu_qos {
    period: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    ; fix: fuel 2   as the first instruction
    v1 = helper get_attribute(v0, #cpu_qos.period)
    ret
}"#,
    },
    CodeDoc {
        code: "V0402",
        title: "loop header does not start with `fuel`",
        explanation: "A declared loop header's first instruction is not `fuel`. Every iteration must pay for \
            itself; otherwise a loop could run unboundedly within a single charge, and the invocation's run \
            time would no longer be bounded by its budget. Start the header with `fuel N`.",
        example: r#"module demo

func @spin(i64) {
block0(v0: i64):
    fuel 6
    jump block1(v0)
block1(v1: i64) loop(block1):
    ; fix: fuel 5
    v2 = iconst 1
    v3 = isub v1, v2
    v4 = icmp gt v3, v2
    brif v4, block1(v3), block2
block2:
    ret
}"#,
    },
    CodeDoc {
        code: "V0403",
        title: "back edge outside a declared loop",
        explanation: "An edge goes to a block at or before its source in layout order, but the target is not \
            the header of a declared loop containing the source. Loops must be declared (`blockN(...) \
            loop(blockM):`) so that each cycle passes a header that charges fuel; an undeclared back edge would \
            make a cycle nobody pays for. Declare the loop on its header and keep the back edge inside it.",
        example: r#"module demo

func @spin(i64) {
block0(v0: i64):
    fuel 1
    jump block1(v0)
block1(v1: i64):
    ; fix: block1(v1: i64) loop(block1):
    fuel 5
    v2 = iconst 1
    v3 = isub v1, v2
    v4 = icmp gt v3, v2
    brif v4, block1(v3), block2
block2:
    ret
}"#,
    },
    CodeDoc {
        code: "V0404",
        title: "jump into a loop body",
        explanation: "An edge from outside a loop targets a block inside it other than its header. A loop is \
            entered only through its header, so that control flow is reducible and every cycle is charged at \
            the header. Jump to the header instead.",
        example: r#"module demo

func @f(i64, bool) {
block0(v0: i64, v1: bool):
    fuel 6
    brif v1, block1(v0), block2(v0)
    ; fix: brif v1, block1(v0), block3   (enter only through block1)
block1(v2: i64) loop(block2):
    fuel 6
    jump block2(v2)
block2(v3: i64):
    v4 = iconst 1
    v5 = isub v3, v4
    v6 = icmp gt v5, v4
    brif v6, block1(v5), block3
block3:
    ret
}"#,
    },
    CodeDoc {
        code: "V0405",
        title: "malformed or overlapping loops",
        explanation: "A loop's declared end comes before its header, or two loops overlap without one nesting \
            inside the other. Loops are layout intervals that nest, which is what lets the verifier check the \
            fuel discipline of every cycle in one linear pass. Make the inner loop end no later than the outer \
            one.",
        example: r#"module demo

func @f(i64) {
block0(v0: i64):
    fuel 1
    jump block1(v0)
block1(v1: i64) loop(block2):
    fuel 2
    jump block2(v1)
block2(v2: i64) loop(block3):
    ; fix: block2(v2: i64) loop(block2):
    fuel 4
    v3 = iconst 0
    v4 = icmp gt v2, v3
    brif v4, block1(v2), block3
block3:
    ret
}"#,
    },
    CodeDoc {
        code: "V0407",
        title: "`fuel` does not cover its region",
        explanation: "`fuel N` charges less than the longest path from it to a return, a raise, or the next \
            `fuel` (in units of `tal_ir::cost`: one per instruction and terminator, one per cell that an \
            `init`, a call's arguments or a jump's block arguments move; exception edges included; a call of a \
            function that does not start with `fuel` also counts that function's own region, since its \
            callers pay for it), or N exceeds i64. The fuel counted is the bound on an invocation's work \
            that the budget and the deadline enforce, so it must never under-count. Raise N to at least the \
            count in the message; the front-end computes it exactly.",
        example: r#"module demo

func @f() -> i64 {
block0:
    fuel 2
    v0 = iconst 1
    v1 = iconst 2
    v2 = iadd v0, v1
    ret v2
    ; fix: fuel 4
}"#,
    },
    CodeDoc {
        code: "V0408",
        title: "`OutOfFuel` caught or raised",
        explanation: "A `catch` clause handles `OutOfFuel`, or `raise OutOfFuel` raises it. Running out of fuel \
            always ends the invocation; if it could be caught the extension could run past its budget, and \
            only the fuel counter may raise it. Catch the other exceptions only, and raise the extension's \
            `budget` if it needs more work per invocation.",
        example: r#"module demo

func @f() {
block0:
    fuel 1
    raise OutOfFuel
    ; fix: raise RangeError   (or whichever exception applies)
}"#,
    },
    // ------------------------------------------------------------ calls and stack
    CodeDoc {
        code: "V0409",
        title: "too long between two tests of the deadline",
        explanation: "A path runs more than 1,024 units (`tal_ir::cost`: one per instruction, one per cell an \
            `init`, a call or a jump moves) between two points where the code tests the deadline: a `fuel` \
            (an entry point's first `fuel` is its invocation's start), with functions called on the way \
            included, as is the code that runs after a callee's last test until the next one. The host stops an \
            invocation past its deadline only at a fuel check (where an exhausted slice of fuel calls the \
            host's `refuel`, which looks at the clock); a long check-free stretch — a \
            tree of callees without `fuel`, a large `init`, a long straight run — would let it run on for \
            milliseconds with fuel to spare. The bound keeps the time between two tests under about 60 µs on the \
            slowest code (docs/benchmarks.md). Put a `fuel` on the path (a `fuel` may stand anywhere in a \
            block); the front-end places them itself.",
        example: r#"module demo

class cpu_qos {
    period: i64 readonly
}

func @x(i64) -> i64 {
block0(v0: i64):
    v1 = imul v0, v0
    v2 = imul v1, v1
    v3 = imul v2, v2
    v4 = imul v3, v3
    v5 = imul v4, v4
    v6 = imul v5, v5
    v7 = imul v6, v6
    v8 = imul v7, v7
    ret v8
}

func @y(i64) -> i64 {
block0(v0: i64):
    v1 = call @x(v0)
    v2 = call @x(v1)
    v3 = call @x(v2)
    v4 = call @x(v3)
    v5 = call @x(v4)
    v6 = call @x(v5)
    v7 = call @x(v6)
    v8 = call @x(v7)
    v9 = call @x(v8)
    v10 = call @x(v9)
    ret v10
}

; @y runs 111 units, each call of it 113: ten of them are one stretch of
; 1,131 units with no test, paid for by @m's `fuel`.
func @z(i64) -> i64 {
block0(v0: i64):
    v1 = call @y(v0)
    v2 = call @y(v1)
    v3 = call @y(v2)
    v4 = call @y(v3)
    v5 = call @y(v4)
    ; fix: fuel 0 (then the tightest amounts) here, between two calls
    v6 = call @y(v5)
    v7 = call @y(v6)
    v8 = call @y(v7)
    v9 = call @y(v8)
    v10 = call @y(v9)
    ret v10
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 1136
    v1 = helper get_attribute(v0, #cpu_qos.period)
    v2 = call @z(v1)
    ret
}"#,
    },
    CodeDoc {
        code: "V0501",
        title: "recursion",
        explanation: "The call graph has a cycle: a function calls itself, directly or through others. Without \
            recursion every call returns and the deepest call chain, hence the stack an invocation can use, \
            has a static bound; a stack overflow in the kernel's timer path would be fatal. Rewrite the \
            recursion as a loop.",
        example: r#"module demo

func @f(i64) -> i64 {
block0(v0: i64):
    fuel 2
    v1 = call @f(v0)
    ; fix: iterate in a declared loop instead
    ret v1
}"#,
    },
    CodeDoc {
        code: "V0502",
        title: "stack bound exceeded",
        explanation: "The stack an entry point can use along its deepest call chain is over the limit, 4096 \
            bytes by default (`safexc verify --stack-limit`). Each frame is charged 128 bytes of overhead, its \
            stack slots, 8 bytes per value live at once (the values of its largest block, two per reference \
            parameter, one per slot), and for its largest call with more than five argument words the \
            stack-passed words (rounded up to 16 bytes) plus 16 bytes per reference argument. Extensions run on the kernel's stack, which is \
            small and shared; the static bound is what keeps them from overflowing it. The error is reported at \
            the largest frame of the chain, the one to shrink. Move large arrays to globals, or shorten the call \
            chain.",
        example: r#"module demo

func @f() {
    slot $0: [i64; 600]
block0:
    fuel 2
    init $0
    ret
}
; fix: global @buf: [i64; 600] = zero   (4800 bytes do not fit a 4096-byte stack)"#,
    },
    CodeDoc {
        code: "V0503",
        title: "call of an entry point",
        explanation: "A `call` names a monitor, handler or guard. Entry points are the host's to invoke: the \
            host charges an entry point's entry `fuel` before each invocation and its compiled code does not \
            check it (ABI 4), so a call from the module's own code would run it unpaid. Call a plain \
            function holding the shared code instead.",
        example: r#"module demo

class cpu_qos {
    period: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 1
    ret
}

monitor @outer(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 2
    call @m(v0)
    ; fix: move @m's code into a plain `func` that both monitors call
    ret
}"#,
    },
    // ------------------------------------------------------------ helpers, capabilities and attributes
    CodeDoc {
        code: "V0601",
        title: "unknown helper",
        explanation: "A `helper` call names an id that is not in the helper table (the SafeX API: \
            `get_attribute`, `set_attribute`, `raise_event`, `now_us`, `block`). Helpers are the extension's \
            only way into the system, through a table of known signatures and required rights; an unknown id \
            would call through the table out of bounds. Use a helper of the table, by name.",
        example: r#"module demo

func @f() {
block0:
    fuel 2
    v0 = helper 99()
    ; fix: v0 = helper now_us()
    ret
}"#,
    },
    CodeDoc {
        code: "V0602",
        title: "wrong helper arguments",
        explanation: "A helper is called with the wrong number of arguments, or with a value where it takes an \
            attribute (`#class.attr`) or the reverse. Helpers run trusted code in the host or kernel, which \
            relies on the argument shapes of the helper table. Pass the arguments the signature lists, for \
            example `helper get_attribute(vCap, #cpu_qos.actual_cpu)`.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 2
    v1 = helper get_attribute(v0)
    ; fix: v1 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0603",
        title: "capability lacks the required rights",
        explanation: "A capability with fewer rights than required is used: `set_attribute` needs `w`, `block` \
            needs `g`, or a capability is passed where one with more rights is expected. Rights can be \
            dropped, never added: an entry point holds exactly the rights its signature asks for and the host \
            grants, which is how the host limits what each extension can do to the application's QoS \
            (isolation). Ask for the right in the entry point's signature (`rw` to write attributes; only \
            guards get `g`).",
        example: r#"module demo

class cpu_qos {
    timeslice_adjustment: i64 range(-1000000, 1000000)
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 4
    v1 = iconst 1000
    v2 = check.range v1, #cpu_qos.timeslice_adjustment
    helper set_attribute(v0, #cpu_qos.timeslice_adjustment, v2)
    ; fix: ask for it: monitor @m(cap<cpu_qos, rw>) { block0(v0: cap<cpu_qos, rw>): ...
    ret
}"#,
    },
    CodeDoc {
        code: "V0604",
        title: "write to a read-only attribute",
        explanation: "`set_attribute` writes an attribute declared `readonly`. Read-only attributes report the \
            system's state and the application's contract (period, promised and received CPU time); an \
            extension that could write them could grant itself more than it was promised, at other \
            applications' cost. Write the class's writable attribute (for `cpu_qos`, `timeslice_adjustment`), \
            which a guard checks.",
        example: r#"module demo

class cpu_qos {
    target_cpu: i64 readonly
}

event Error

handler @boost(cap<cpu_qos, rw>, i64) on Error {
block0(v0: cap<cpu_qos, rw>, v1: i64):
    fuel 2
    helper set_attribute(v0, #cpu_qos.target_cpu, v1)
    ; fix: write #cpu_qos.timeslice_adjustment, after check.range
    ret
}"#,
    },
    CodeDoc {
        code: "V0605",
        title: "attribute of another class",
        explanation: "A helper is given an attribute of one class together with a capability to another. A \
            capability opens only its own class's attributes: that is what keeps an extension holding a \
            `cpu_qos` capability away from, say, another manager's memory attributes (isolation). Use an \
            attribute of the capability's class.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

class mem_qos {
    resident: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 2
    v1 = helper get_attribute(v0, #mem_qos.resident)
    ; fix: v1 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0606",
        title: "guard right outside a guard",
        explanation: "A monitor, handler or plain function asks for the guard right `g`, or a global, slot, \
            struct field or reference parameter can hold a capability with it. Only guards receive `g` (it \
            allows `block`, suspending an application), and only for the duration of one guard invocation; \
            stored anywhere, it could be used later by code that is not a guard. Drop `g` from the type.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @m(cap<cpu_qos, rg>) {
    ; fix: monitor @m(cap<cpu_qos, r>) {   (and block0 to match)
block0(v0: cap<cpu_qos, rg>):
    fuel 2
    helper block(v0)
    ret
}"#,
    },
    // ------------------------------------------------------------ forbidden constructs
    CodeDoc {
        code: "V0701",
        title: "pointer forging",
        explanation: "A non-capability value flows where a capability, an event id or a reference is expected: \
            through an operand, a block parameter, a call, a return, a helper result, memory, `check.null` on \
            an integer, or a mnemonic such as `inttoptr` that TAL does not have. Capabilities and event ids \
            come only from the host and from `event NAME`; one made from a number could name another \
            application's attributes or kernel memory, breaking isolation and integrity. Use the capability \
            the entry point received.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 3
    v1 = iconst 4096
    v2 = helper get_attribute(v1, #cpu_qos.actual_cpu)
    ; fix: v2 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0702",
        title: "pointer arithmetic",
        explanation: "A capability is used as a number: an operand of arithmetic, a bitwise operation or a \
            comparison, or passed, stored or returned where an `i64` is expected. Capabilities are opaque \
            handles; their bits may encode a kernel address, which arithmetic could leak or shift toward \
            another object (integrity, isolation). Read attributes through the capability instead.",
        example: r#"module demo

class cpu_qos {
    actual_cpu: i64 readonly
}

monitor @m(cap<cpu_qos, r>) {
block0(v0: cap<cpu_qos, r>):
    fuel 3
    v1 = iconst 8
    v2 = iadd v0, v1
    ; fix: v2 = helper get_attribute(v0, #cpu_qos.actual_cpu)
    ret
}"#,
    },
    CodeDoc {
        code: "V0710",
        title: "interrupt masking",
        explanation: "The module masks interrupts or preemption: `cli`/`sti`/`popf` assembly, or a call to \
            `local_irq_*`, `preempt_*` or a similar symbol. An extension's run time is bounded by fuel and by a \
            deadline; with interrupts off nothing else could run on its CPU while it does, and the other \
            applications' QoS would depend on the extension's good will (predictability). Delete it: one \
            extension runs one invocation at a time, and the SafeX API does its own locking.",
        example: r#"module demo

func @f() {
block0:
    fuel 3
    cli
    sti
    ; fix: delete both: an extension never needs interrupts off
    ret
}"#,
    },
    CodeDoc {
        code: "V0711",
        title: "inline assembly",
        explanation: "The module contains `asm`. Assembly cannot be type-checked: it could write any memory, \
            forge pointers, or change processor state such as page tables, so it is never allowed. Extensions \
            reach the system only through the SafeX helpers.",
        example: r#"module demo

func @f() {
block0:
    fuel 2
    asm "rdtsc"
    ; fix: v0 = helper now_us()
    ret
}"#,
    },
    CodeDoc {
        code: "V0720",
        title: "lock use",
        explanation: "The module calls a synchronization primitive: a spinlock, mutex, semaphore, RCU, atomic \
            operation or barrier. An extension can be aborted at any instruction (out of fuel, a failed \
            check), and one aborted while holding a lock would leave it held and stall the kernel. Extensions \
            need no locks: invocations are serialized, and shared state is reached only through the SafeX API, \
            which does its own locking.",
        example: r#"module demo

func @f() {
block0:
    fuel 3
    call @spin_lock()
    call @spin_unlock()
    ; fix: delete both
    ret
}"#,
    },
    CodeDoc {
        code: "V0721",
        title: "memory allocation",
        explanation: "The module calls an allocator (`malloc`, `free`, `kmalloc`, `vmalloc`, ...). Dynamic \
            allocation would make memory use unbounded and could fail or sleep in the kernel's timer path \
            (predictability); freeing would open use-after-free bugs. Use globals and stack slots of static \
            size.",
        example: r#"module demo

func @f() {
block0:
    fuel 3
    v0 = iconst 4096
    v1 = call @kmalloc(v0)
    ; fix: global @buf: [i64; 512] = zero
    ret
}"#,
    },
    CodeDoc {
        code: "V0730",
        title: "call to an external symbol",
        explanation: "The module calls (or declares with `extern`) a symbol it does not define and that is not a \
            SafeX helper. Extensions link against nothing else: any other symbol would run unverified code with \
            the kernel's privileges, outside the extension's fuel and capabilities. Call a function of the \
            module or a helper, and delete unused `extern` declarations.",
        example: r#"module demo

func @f() {
block0:
    fuel 2
    call @printk()
    ; fix: report through an event: v0 = event Error; helper raise_event(v0, vX)
    ret
}"#,
    },
];

/// The documentation of `code` (`V0701`, `v0701`), if it is a verifier or
/// TAL format code.
pub fn explain(code: &str) -> Option<&'static CodeDoc> {
    stdlib::codes::lookup(CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        stdlib::codes::check_table(CODES, 'V', 6).unwrap();
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dirs: Vec<std::path::PathBuf> = vec![
            root.join("verifier/src"),
            root.join("tal-ir/src"),
            root.join("tal-ir/src/text"),
        ];
        let sources: Vec<std::path::PathBuf> = dirs.iter().flat_map(|d| stdlib::codes::rs_files(d)).collect();
        stdlib::codes::check_coverage(CODES, 'V', &sources).unwrap();
    }
    /// Codes whose example is not a TAL text module that shows the error:
    /// binary-format errors, and what the text parser refuses earlier.
    const NOT_TEXT: &[&str] = &["V0050", "V0051", "V0052", "V0053", "V0054", "V0101"];

    #[test]
    fn every_example_is_rejected_with_its_code() {
        let mut failures = Vec::new();
        for d in CODES.iter().filter(|d| !NOT_TEXT.contains(&d.code)) {
            let codes: Vec<&str> = match tal_ir::text::parse(d.example) {
                Err(errors) => errors.iter().map(|e| e.code).collect(),
                Ok((module, _)) => match crate::verify(&module, &crate::Config::default()) {
                    Ok(()) => Vec::new(),
                    Err(errors) => errors.iter().map(|e| e.code).collect(),
                },
            };
            if !codes.contains(&d.code) {
                failures.push(format!("{}: the example gives {codes:?}", d.code));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
