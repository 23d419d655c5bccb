//! Code generation and object error codes, documented: what `safexc explain
//! CODE` prints for a `Cxxxx` code. One entry per code `codegen` emits,
//! sorted; the tests below check that against the sources.
//!
//! An example is a short shell session or a description of the input that
//! triggers the error: most of these codes are about malformed or tampered
//! objects, which no source program produces.

pub use stdlib::codes::CodeDoc;

/// Every code generation and object code, sorted by code.
pub const CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "C0001",
        title: "no memory layout for the module",
        explanation: "Code generation could not lay out the module's globals or a function's stack slots in \
            memory, because a type has no size or a slot is larger than 4 GiB. The verifier bounds every type, \
            so a verified module never gets here; the check exists so that code generation fails instead of \
            emitting machine code with wrong offsets. Verify the module first (`safexc verify`) and report the \
            module if it verifies and still fails.",
        example: "a TAL module with a slot of a billion-element array of structs, lowered without running \
            the verifier first:\n$ safexc compile huge.tal -o huge.o\nerror[C0001]: a slot too large",
    },
    CodeDoc {
        code: "C0002",
        title: "input is not a verified module",
        explanation: "Code generation met something a verified module cannot contain: an undefined value, a \
            branch to a missing block, an unknown global, slot, function or helper, inline assembly, or a call \
            to an external symbol. Code generation trusts its input to have passed the verifier, and refuses \
            instead of guessing, because machine code not covered by the verifier's proof breaks the trust \
            chain. Run the verifier on the module and fix what it reports before compiling.",
        example: "a TAL module whose function calls `@printk`, compiled by a tool that skips the verifier:\n\
            error[C0002]: a call to an external symbol: not a verified module",
    },
    CodeDoc {
        code: "C0003",
        title: "Cranelift could not compile a function",
        explanation: "The Cranelift back end rejected the IR generated for a function; the message carries \
            Cranelift's own error. Lowering a verified module should always produce valid IR, so this is a bug \
            in SafeX code generation rather than in the extension. Report it with the TAL module \
            (`safexc compile --emit tal`) that triggers it.",
        example: "$ safexc compile ext.pop -o ext.o\nerror[C0003]: Cranelift could not compile `sample`: ...",
    },
    CodeDoc {
        code: "C0004",
        title: "unexpected relocation from Cranelift",
        explanation: "Cranelift produced a relocation SafeX objects do not allow: one that targets something \
            other than a function of the module, or of a kind other than a 32-bit PC-relative call. SafeX \
            objects link against nothing and reach helpers through the context, so that every instruction that \
            runs is in the verified module. This is a code generation bug; report it with the TAL module that \
            triggers it.",
        example: "$ safexc compile ext.pop -o ext.o\nerror[C0004]: `sample`: unexpected relocation kind Abs8",
    },
    CodeDoc {
        code: "C0005",
        title: "a function's frame is larger than the verifier's model",
        explanation: "The verifier bounds the stack an invocation can use by a model of each function's frame \
            (`tal_ir::layout`, \"Stack frames\": 128 bytes of overhead, its stack slots, 8 bytes per value \
            live at once, and the stack arguments of its largest call), summed along the deepest call chain. \
            Code generation refuses machine code whose frame the model does not cover, and, failing closed, \
            a function whose model or frame it cannot compute, because the bound a kernel relies on to not \
            overflow its stack would then be false. No verified module is known to get here; it is a code \
            generation bug: report it with the TAL module that triggers it.",
        example: "$ safexc compile ext.pop -o ext.o\nerror[C0005]: `sample`: a 2064-byte frame, beyond the \
            verifier's model of 1048 bytes",
    },
    CodeDoc {
        code: "C0050",
        title: "`.safex.meta` is truncated",
        explanation: "A field or string of the `.safex.meta` section runs past its end, or the section is \
            shorter than its header and trailer. The metadata carries the digests that tie the machine code to \
            the verified TAL, so a loader reads none of it unless all of it is well formed. Recompile the \
            extension with `safexc compile`; the object was cut short or edited.",
        example: "truncate the `.safex.meta` section of an object by a few bytes, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0050",
    },
    CodeDoc {
        code: "C0051",
        title: "`.safex.meta` has a bad magic",
        explanation: "The `.safex.meta` section does not start with `SXMETA\\0\\0`. The magic marks the section \
            as SafeX metadata, so that a section that happens to have the name is not read as digests of the \
            code. Recompile the extension with `safexc compile`.",
        example: "overwrite the first byte of `.safex.meta` in an object, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0051",
    },
    CodeDoc {
        code: "C0052",
        title: "object built for another ABI version",
        explanation: "The object was compiled for a SafeX ABI version other than this build's \
            `stdlib::abi::ABI_VERSION`. The machine code reaches helpers and the context at fixed offsets that \
            the ABI version defines, so code built for another version would call the wrong helpers. Recompile \
            the extension with the `safexc` that matches the loader.",
        example: "$ old-safexc compile ext.pop -o ext.o\n$ safexc verify ext.o\n\
            ext.o: rejected: C0052",
    },
    CodeDoc {
        code: "C0053",
        title: "unknown flags or non-zero reserved field in `.safex.meta`",
        explanation: "The metadata sets flag bits this build does not know, or a reserved field is not zero. \
            Such bits may change what the object means, and a loader must not run code whose meaning it only \
            partly understands. Recompile the extension with a `safexc` of the same version as the loader.",
        example: "set a reserved byte of an entry record in `.safex.meta` and reseal the digest, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0053",
    },
    CodeDoc {
        code: "C0054",
        title: "invalid value in `.safex.meta`",
        explanation: "A metadata field has a value no writer produces: an unknown entry kind, attribute type or \
            flags, rights bits outside `rwg`, rights without a class, bounds on an attribute without a \
            range, or an initialized data cell out of order, outside the data region or 0. The loader grants capabilities from these fields, so it refuses values it cannot interpret \
            rather than guess at them. Recompile the extension with `safexc compile`.",
        example: "change the kind byte of an entry record in `.safex.meta` to 7 and reseal the digest, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0054",
    },
    CodeDoc {
        code: "C0055",
        title: "string in `.safex.meta` is not UTF-8",
        explanation: "A name in the metadata (the extension, an entry point, a target, an attribute class or an \
            event) is not valid UTF-8. Names are matched against the TAL module and the host's attribute classes, and \
            must compare the same way everywhere. Recompile the extension with `safexc compile`.",
        example: "replace the first byte of an entry point's name in `.safex.meta` with 0xff and reseal the \
            digest, then:\n$ safexc verify x.o\nx.o: rejected: C0055",
    },
    CodeDoc {
        code: "C0056",
        title: "trailing bytes in `.safex.meta`",
        explanation: "Bytes are left over between the last metadata record and the trailing digest. The \
            section is read exactly, so that no unread bytes can carry information a loader does not check. \
            Recompile the extension with `safexc compile`.",
        example: "insert a byte before the trailing SHA-256 of `.safex.meta` and reseal the digest, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0056",
    },
    CodeDoc {
        code: "C0057",
        title: "`.safex.meta` digest mismatch",
        explanation: "The SHA-256 at the end of `.safex.meta` does not match the section's contents: the \
            metadata was changed after it was written. The metadata holds the digests of the code and the TAL, \
            and a changed digest could make unverified code look verified. Recompile the extension with \
            `safexc compile` rather than editing the object.",
        example: "flip a byte in the middle of `.safex.meta` in an object, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0057",
    },
    CodeDoc {
        code: "C0058",
        title: "built by another compiler",
        explanation: "The object's `.safex.meta` names a compiler (safexc version, ABI version, Cranelift \
            version) other than the one checking it. A loader ties code to its verified TAL by lowering the TAL \
            again and requiring the same bytes, which only the same compiler reproduces; an object from another \
            one would fail that check with nothing to say why. Compile the extension again with this safexc \
            (`safexc --version` names it).",
        example: "load an object built by an older safexc:\n$ safexc verify old.o\nerror[C0058]: the object was \
            built by `safexc 0.0.9 (ABI 4, Cranelift 0.134.0)`; this build is `safexc 0.1.0 (ABI 5, Cranelift \
            0.135.8)` and can check only its own objects: compile the extension again with it",
    },
    CodeDoc {
        code: "C0060",
        title: "not an ELF file, or a malformed one",
        explanation: "The file does not start with `\\x7fELF`, its header is truncated, or its section table, \
            string table, symbol table or a relocation section lies outside the file or is inconsistent, or the \
            symbol table or a relocation section declares entries of another size than 24 bytes (a loader \
            stepping by that size would read other entries than the ones checked). The object reader accepts \
            only well-formed files, so that what the loader maps is exactly what was checked. Pass an object \
            written by `safexc compile`, and check it was not truncated in transit.",
        example: "$ head -c 100 ext.o > cut.o\n$ safexc verify cut.o\ncut.o: rejected: C0060",
    },
    CodeDoc {
        code: "C0061",
        title: "ELF file that is not a SafeX object",
        explanation: "The file is ELF, but not 64-bit little-endian, not x86-64, or not a relocatable object \
            (`ET_REL`). SafeX runs only the x86-64 relocatable objects its own code generator writes, because \
            only those can be checked against their TAL. Compile the extension with `safexc compile` instead of \
            passing a shared library, executable or object from another compiler.",
        example: "$ safexc verify /bin/ls\n/bin/ls: rejected: C0061",
    },
    CodeDoc {
        code: "C0062",
        title: "wrong sections",
        explanation: "A required section (`.text`, `.rodata`, `.safex.tal`, `.safex.meta`) is missing or \
            present twice, is not `PROGBITS`, `.text` is not executable or another section is, `.text` is over \
            4 GiB, or `.rodata` is not empty. Only `.text` may hold code, so that the code the verifier's proof \
            covers is all the code there is. Recompile the extension with `safexc compile`.",
        example: "$ objcopy --remove-section .safex.tal ext.o stripped.o\n$ safexc verify stripped.o\n\
            stripped.o: rejected: C0062",
    },
    CodeDoc {
        code: "C0063",
        title: "`.safex.tal` is not valid binary TAL",
        explanation: "The `.safex.tal` section does not decode as binary TAL; the message carries the decoder's \
            `V005x` code. The verifier checks that TAL, and the machine code must be what it compiles to, so an \
            object without readable TAL cannot be trusted at all. Recompile the extension with \
            `safexc compile`.",
        example: "overwrite the magic at the start of `.safex.tal` in an object, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0063",
    },
    CodeDoc {
        code: "C0064",
        title: "`.safex.tal` digest mismatch",
        explanation: "The `.safex.tal` section does not have the SHA-256 recorded in `.safex.meta`: the TAL \
            was changed after the object was written. The digest ties the verified TAL to the rest of the \
            object, so a swapped module cannot borrow another module's code or metadata. Recompile the \
            extension with `safexc compile`.",
        example: "flip a byte inside `.safex.tal` of an object, then:\n$ safexc verify x.o\nx.o: rejected: C0064",
    },
    CodeDoc {
        code: "C0065",
        title: "`.text` digest mismatch",
        explanation: "The `.text` section does not have the SHA-256 recorded in `.safex.meta`: the machine code \
            was changed after the object was written. The verifier's proof covers the TAL, and only unchanged \
            code compiled from it may run. Recompile the extension with `safexc compile`, and do not patch \
            objects.",
        example: "flip a byte of `.text` in an object, then:\n$ safexc verify x.o\nx.o: rejected: C0065",
    },
    CodeDoc {
        code: "C0066",
        title: "relocation digest mismatch",
        explanation: "The relocations of `.text` do not have the digest recorded in `.safex.meta`: an offset, \
            addend, target or type was changed. Relocations decide where calls land, so changing them redirects \
            verified code without touching a byte of `.text`. Recompile the extension with `safexc compile`.",
        example: "change the addend of a `.rela.text` entry in an object, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0066",
    },
    CodeDoc {
        code: "C0067",
        title: "`.safex.meta` disagrees with `.safex.tal`",
        explanation: "The metadata and the TAL module differ on the extension name, the budget, the entry points \
            (names, kinds, targets, capability classes and rights, entry fuel), the attribute classes, the \
            events, the data region (size and initial cells) or the number of functions. Loaders grant \
            capabilities, attach entry points, map events and initialize the data region from the metadata, \
            so it must say exactly what the verified TAL says. Recompile the extension with `safexc compile`.",
        example: "rewrite `.safex.meta` of an object to grant `w` on an entry point whose TAL asks only `r`, \
            reseal its digest, then:\n$ safexc verify x.o\nx.o: rejected: C0067",
    },
    CodeDoc {
        code: "C0068",
        title: "undefined or common symbol",
        explanation: "A symbol of the object is undefined (`SHN_UNDEF`) or common. SafeX objects link against \
            nothing: helpers are reached through the context, so that the code can call only what the verifier \
            saw it call. Compile the extension with `safexc compile`, which never emits such symbols.",
        example: "an object from a C compiler that calls `printk`:\n$ safexc verify mod.o\n\
            mod.o: rejected: C0068",
    },
    CodeDoc {
        code: "C0069",
        title: "functions laid out wrongly",
        explanation: "The function table does not tile `.text`, or a function symbol is missing, duplicated, \
            misnamed, not `STT_FUNC`, outside `.text`, global for an internal function, local for an entry point, \
            or disagrees with the function table. Each function's code must be exactly one TAL function's, so \
            that the loader enters verified code only at verified entry points. Recompile the extension with \
            `safexc compile`.",
        example: "change the value of a function symbol in `.symtab` so that it points into another function, \
            then:\n$ safexc verify x.o\nx.o: rejected: C0069",
    },
    CodeDoc {
        code: "C0070",
        title: "relocation kind not used by SafeX",
        explanation: "A relocation has a type other than `R_X86_64_PLT32` or `R_X86_64_PC32`, or sits in a \
            `SHT_REL` or `SHT_RELR` section. SafeX objects only have PC-relative calls between their own \
            functions, and any other kind could write addresses the verifier never saw into the code. Recompile \
            the extension with `safexc compile`.",
        example: "change the type of a `.rela.text` entry to `R_X86_64_64`, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0070",
    },
    CodeDoc {
        code: "C0071",
        title: "relocation targets no function of the object",
        explanation: "A relocation names the null symbol, a section, or a symbol index that does not exist, or \
            its section does not use the object's symbol table. Calls may land only at the start of a function \
            of the same verified module. Recompile the extension with `safexc compile`.",
        example: "set the symbol index of a `.rela.text` entry to 0, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0071",
    },
    CodeDoc {
        code: "C0072",
        title: "relocation outside the code",
        explanation: "A relocation section applies to another section than `.text`, or a relocation's field is \
            past `.text`, in the padding between functions, straddles two functions, or overlaps or precedes the \
            previous relocation. Relocations are writes into the code at load time, and a stray one would patch \
            bytes the digest and the verifier's proof vouch for. Recompile the extension with `safexc compile`.",
        example: "move the offset of a `.rela.text` entry past the end of `.text`, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0072",
    },
    CodeDoc {
        code: "C0080",
        title: "function code is not what its TAL compiles to",
        explanation: "Lowering the object's embedded TAL again gives a function whose machine code or call \
            relocations differ from the object's. The verifier checks the TAL, not the machine code, so only \
            this re-lowering check ties the code that runs to the code that was proven safe. Recompile the \
            extension with the same `safexc` as the loader; the code was patched or built by another compiler \
            version.",
        example: "change an instruction in `.text` of an object and update the `.text` digest in \
            `.safex.meta` to match, then:\n$ safexc verify x.o\nx.o: rejected: C0080",
    },
    CodeDoc {
        code: "C0081",
        title: "object is not what its TAL compiles to",
        explanation: "Every function's code matches its TAL, but writing the object again from the TAL gives \
            different bytes: the metadata, symbols, section layout or padding differ. Object writing is \
            deterministic so that the whole file, not only the code, is covered by the check against the \
            verified TAL. Recompile the extension with the same `safexc` as the loader instead of editing the \
            object.",
        example: "add a harmless extra section to an object with `objcopy --add-section`, then:\n\
            $ safexc verify x.o\nx.o: rejected: C0081",
    },
];

/// The documentation of `code` (`C0065`, `c0065`), if it is a code
/// generation or object code.
pub fn explain(code: &str) -> Option<&'static CodeDoc> {
    stdlib::codes::lookup(CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        stdlib::codes::check_table(CODES, 'C', 4).unwrap();
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dirs: Vec<std::path::PathBuf> = vec![root.join("codegen/src")];
        let sources: Vec<std::path::PathBuf> = dirs.iter().flat_map(|d| stdlib::codes::rs_files(d)).collect();
        stdlib::codes::check_coverage(CODES, 'C', &sources).unwrap();
    }
}
