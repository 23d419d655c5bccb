//! Loader and command line error codes, documented: what `safexc explain
//! CODE` prints for an `Lxxxx` code. One entry per code the runtime or the
//! `safexc` command line emits, sorted; the tests below check that against
//! the sources of both.
//!
//! An example is a short shell session or a description of the situation
//! that triggers the error.

pub use stdlib::codes::CodeDoc;

/// Every loader and command line code, sorted by code.
pub const CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "L0001",
        title: "cannot read the input file",
        explanation: "`safexc` could not read a file named on its command line: it does not exist, is a \
            directory, or is not readable. Nothing is checked or compiled from a file that was not read whole, \
            and the run fails so that a missing extension is never mistaken for an accepted one. Check the path \
            and the file's permissions.",
        example: "$ safexc verify missing.tal\nerror[L0001]: cannot read missing.tal: No such file or directory \
            (os error 2)\nmissing.tal: rejected: L0001",
    },
    CodeDoc {
        code: "L0002",
        title: "cannot write the output",
        explanation: "`safexc` could not write its output: standard output is full (`> /dev/full`) or was closed \
            (`>&-`), the `-o` path is not writable, or binary output (an object, binary TAL) was asked for \
            without `-o`, or for a terminal. A partly written output must not pass for a complete one, so the \
            command fails; only a reader that goes away (`| head`) ends it quietly. Give a writable path with \
            `-o FILE`, or `-o -` to write binary output to a pipe or file.",
        example: "$ safexc compile ext.pop --emit obj\nerror[L0002]: an object is written to a file: add `-o FILE.o`\n\
            $ safexc explain L0002 > /dev/full\nerror[L0002]: cannot write to standard output: No space left on \
            device (os error 28)",
    },
    CodeDoc {
        code: "L0003",
        title: "invalid command line",
        explanation: "The command line names an unknown command or flag, lacks an argument, gives a flag a value \
            out of its range (`--deadline-ms inf`, `--period-us -5`, `--ticks` above 1000000000), combines flags \
            that do not apply to the input (`--stdlib` on TAL), names standard input (`-`) twice, or passes an \
            object where a source is compiled. Nothing runs on a command line that was not all understood, and \
            the exit status is 2. `safexc help COMMAND` lists each command's flags and their ranges.",
        example: "$ safexc run pid.o --deadline-ms inf\nerror[L0003]: invalid value 'inf' for '--deadline-ms \
            <DEADLINE_MS>': a deadline is 0 (none) or from 0.001 to 3600000 milliseconds (an hour)",
    },
    CodeDoc {
        code: "L0004",
        title: "the output would overwrite an input",
        explanation: "The `-o` path of `safexc compile` is the file being compiled: the same path, another path \
            to it (`./x.pop`, a symbolic link) or a hard link, found by device and inode. Writing it would \
            destroy the source, so nothing is written and the input is unchanged. Give another output path.",
        example: "$ safexc compile ext.pop -o ext.pop\nerror[L0004]: the output ext.pop is the input ext.pop: give \
            another `-o` path",
    },
    CodeDoc {
        code: "L0010",
        title: "cannot map memory for the code",
        explanation: "The loader could not map anonymous memory to hold the object's `.text`; the message carries \
            the system error. The code is copied into a fresh private mapping so that no other file or process \
            can change it after the checks. Free memory or raise the process's address space limit, then load \
            again.",
        example: "load an object in a process whose address space is capped (`ulimit -v`) below the size of \
            its code:\nerror[L0010]: cannot map 4096 bytes for code: Cannot allocate memory",
    },
    CodeDoc {
        code: "L0011",
        title: "relocation cannot be applied",
        explanation: "While linking the code, the loader found a relocation that names no function, whose field \
            lies outside the code, or whose displacement does not fit 32 bits. The object reader refuses such \
            relocations (`C0071`, `C0072`), so this means the parts handed to the linker did not come from a \
            checked object; patching code at an unchecked place would run bytes the verifier never covered. Load \
            objects through `runtime::load`, which reads and checks them first.",
        example: "call `CodeImage::link` on `ObjectParts` whose relocation offset was changed past the end of \
            `.text` after `read_object`:\nerror[L0011]: relocation at 0x1000 is outside the code",
    },
    CodeDoc {
        code: "L0012",
        title: "cannot make the code executable",
        explanation: "The loader could not turn the linked code's mapping from writable to executable; the \
            message carries the system error. Code memory is never writable and executable at once, so that \
            nothing can change the checked code while it may run. Check that the system allows executable \
            anonymous mappings for the process (SELinux `execmem`, PaX `MPROTECT`).",
        example: "load an object under a policy that forbids executable anonymous memory:\n\
            error[L0012]: cannot make the code executable: Permission denied",
    },
    CodeDoc {
        code: "L0013",
        title: "function table does not match the code",
        explanation: "While linking the code, the loader found a function whose code is empty or lies partly \
            outside `.text`, a function table out of module order or of another length than the module's \
            functions, or an entry point naming a function the object lacks. The object reader refuses such \
            tables, so this means the parts handed to the linker did not come from a checked object; calling \
            into an unchecked offset would run bytes the verifier never covered, or a function with arguments of \
            another. Load objects through `runtime::load`, which reads and checks them first.",
        example: "call `CodeImage::link` on `ObjectParts` whose first function's size was raised past the end of \
            `.text` after `read_object`:\nerror[L0013]: function #0 `m` (index 0, 4096 bytes at 0x0) is not a \
            non-empty range of the 112 bytes of code, in module order",
    },
    CodeDoc {
        code: "L0020",
        title: "object built without fuel checks",
        explanation: "The object was compiled with `--no-fuel`, which leaves out the fuel checks that bound an \
            extension's run time. That option exists only to measure the checks' overhead, and an extension \
            without them could loop forever in the host, so every loader refuses it. Compile the extension \
            again without `--no-fuel`.",
        example: "$ safexc compile ext.pop --no-fuel -o ext.o\n\
            load ext.o with `runtime::load`:\n\
            error[L0020]: the object was built with --no-fuel: without fuel checks its run time has no bound",
    },
    CodeDoc {
        code: "L0030",
        title: "a call would leave the extension's functions",
        explanation: "While linking the code, the loader found a call whose relocated displacement would send \
            execution somewhere other than the first byte of one of the extension's own functions: past the end \
            of its code, into the host, or into the middle of an instruction stream (skipping a function's \
            `endbr64` and its checks). Objects loaded through `runtime::load` never get this far with such a call: \
            re-lowering their TAL does not reproduce it (`C0080`). The linker checks again so that no caller of \
            `CodeImage::link` can patch such a call in. Recompile the extension; an object that triggers this was \
            edited after it was written.",
        example: "call `CodeImage::link` on the parts of an object whose first relocation's addend was raised by \
            0x10000000 (and its relocation digest recomputed):\nerror[L0030]: the call patched at 0xa2 would jump \
            to 0x10000000, which is not the start of a function of this extension",
    },
    CodeDoc {
        code: "L0040",
        title: "the object is not signed",
        explanation: "A public key was given (`safexc verify --pubkey KEY.pub`), so only signed objects are \
            accepted, and the file does not end with a signature trailer (`SXSIG01`): it was never signed, or \
            the trailer's magic was changed. A host that cannot run the checks itself (the kernel module) \
            trusts an object only because `safexc sign` ran every check on it and signed it. Sign the object \
            with `safexc sign OBJ.o --key NAME.key -o OBJ.signed.o`.",
        example: "$ safexc verify --pubkey safex.pub ext.o\nerror[L0040]: the object is not signed: it does not \
            end with a signature trailer (`SXSIG01`); sign it with `safexc sign`\next.o: rejected: L0040",
    },
    CodeDoc {
        code: "L0041",
        title: "malformed signature trailer",
        explanation: "The file ends with the signed-object magic `SXSIG01\\0`, but the signature length before \
            it is not 256 (the length of an RSA-2048 signature), or the file is too short to hold the signature \
            and its trailer. The file was truncated or changed after signing; nothing in it is trusted. Sign \
            the original object again.",
        example: "flip a bit of the length field (the 4 bytes before the last 8) of a signed object:\n\
            $ safexc verify ext.signed.o\nerror[L0041]: malformed signature trailer: the signature's length is \
            257 bytes; an RSA-2048 signature has 256",
    },
    CodeDoc {
        code: "L0042",
        title: "not an RSA-2048 public key",
        explanation: "The file given with `--pubkey` (`safexc verify`) or `--trust` (`safexc run`), or the key \
            passed to `Host::trust`, is not a DER-encoded PKCS#1 `RSAPublicKey` (`SEQUENCE { n, e }`) of a \
            2048-bit key, the form `safexc keygen` writes to `NAME.pub` and the kernel module takes. Give the \
            `.pub` file `safexc keygen` wrote, not the private key or a PEM file.",
        example: "$ safexc verify --pubkey safex.key ext.signed.o\nerror[L0042]: not an RSA-2048 public key in \
            DER RSAPublicKey: ...",
    },
    CodeDoc {
        code: "L0043",
        title: "the signature is not this key's",
        explanation: "The object's signature does not verify with the public key, and raised to the key's public \
            exponent it is not a PKCS#1 v1.5 encoding of a SHA-256 digest at all: another key signed the object, \
            or the signature's bytes were changed. A host trusting several keys (`safexc run --trust A.pub \
            --trust B.pub`, `Host::trust`) says so when the signature is none of theirs. An object whose \
            signature does not verify may not have passed the checks, so it is refused, by the kernel module \
            and by a user-space host that trusts any key alike (a host that trusts none checks the object \
            inside in full instead). Sign the object with the key whose public half the host holds.",
        example: "$ safexc verify --pubkey other.pub ext.signed.o\nerror[L0043]: the signature is not this public \
            key's: another key signed the object, or the signature's bytes were changed\next.signed.o: \
            rejected: L0043",
    },
    CodeDoc {
        code: "L0044",
        title: "bad private key, or a key cannot be made",
        explanation: "The `--key` file of `safexc sign` is not an RSA-2048 private key in PKCS#8 PEM (`-----BEGIN \
            PRIVATE KEY-----`), the form `safexc keygen` writes to `NAME.key`; or `safexc keygen` could not \
            draw a key (the operating system's random number generator failed) or encode it. Objects are \
            signed with RSA-2048 only, the scheme the kernel module checks. Give the `.key` file `safexc \
            keygen` wrote.",
        example: "$ safexc sign ext.o --key safex.pub -o ext.signed.o\nerror[L0044]: not an RSA-2048 private key \
            in PKCS#8 PEM: ...",
    },
    CodeDoc {
        code: "L0045",
        title: "the key file exists",
        explanation: "`safexc keygen -o NAME` writes `NAME.key` and `NAME.pub` and never overwrites either: a \
            private key replaced by mistake cannot be recovered, and objects signed with it would no longer \
            load. Nothing is written. Remove the old files first if they are no longer wanted, or give another \
            name.",
        example: "$ safexc keygen -o safex\npubkey=3082010a...\n$ safexc keygen -o safex\nerror[L0045]: \
            safex.key exists: keygen never overwrites a key; remove it or give another name",
    },
    CodeDoc {
        code: "L0046",
        title: "the object is already signed",
        explanation: "The input of `safexc sign` already ends with a signature trailer. Signing it again would \
            sign the old signature with the object, which no host accepts. Sign the unsigned object (the \
            output of `safexc compile`) instead.",
        example: "$ safexc sign ext.signed.o --key safex.key -o twice.o\nerror[L0046]: ext.signed.o is already \
            signed: sign the unsigned object instead",
    },
    CodeDoc {
        code: "L0047",
        title: "the object changed after it was signed",
        explanation: "The signature is one the key made (raised to the public exponent it is a PKCS#1 v1.5 \
            encoding of a SHA-256 digest), but of other bytes: the object was changed after it was signed, one \
            flipped byte being enough. What was checked and signed is not what is here, so it is refused, by \
            `safexc verify --pubkey` and by a user-space host that trusts the key (`safexc run --trust`). Sign \
            the object again if the change is wanted (`safexc sign` checks it first).",
        example: "$ printf '\\x01' | dd of=ext.signed.o bs=1 seek=100 conv=notrunc\n$ safexc verify --pubkey \
            safex.pub ext.signed.o\nerror[L0047]: the object was changed after it was signed: the signature \
            is this key's, of other bytes\next.signed.o: rejected: L0047",
    },
    CodeDoc {
        code: "L0048",
        title: "a signed object is not as the compiler writes it",
        explanation: "A user-space host that trusts the object's signing key loads it without the verifier or \
            re-lowering (the signer ran them), but still checks what it relies on itself, as the kernel module \
            does: the object has the sections the compiler writes and no other, each once, one symbol per \
            function, only `R_X86_64_PLT32` relocations, `int3` between functions, and every function's code \
            starts with `endbr64`. A signed object that fails this was not written by `safexc compile`: the key \
            holder signed something else, which is refused rather than run. Compile the extension again, check \
            it and sign it with `safexc sign`.",
        example: "an object with an extra `.data` section (its digests recomputed), signed with a trusted key and \
            loaded with `safexc run --trust k.pub forged.signed.o`:\nerror[L0048]: the signed object is not as \
            compiled: it has a section `.data`, which the compiler does not write",
    },
    CodeDoc {
        code: "L0050",
        title: "cannot use the SafeX device",
        explanation: "The kernel commands of `safexc` (`load`, `list`, `app`, ...) talk to the SafeX module through \
            `/dev/safex` (or `--device PATH`), and it could not be used: it does not exist (the module is not \
            loaded), it may be opened by root only (mode 0600, and every command needs `CAP_SYS_ADMIN`), or the \
            file is not a SafeX device (it does not answer `SAFEX_IOC_VERSION`). Load the module with `insmod \
            safex.ko pubkey=HEX` (the line `safexc keygen` printed), run the command as root, or give the right \
            `--device`.",
        example: "$ safexc list\nerror[L0050]: /dev/safex does not exist: is the SafeX module loaded? (`insmod \
            safex.ko pubkey=HEX`, the `pubkey=` line `safexc keygen` printed)\n$ safexc list --device /dev/null\n\
            error[L0050]: /dev/null is not a SafeX device: it does not answer SAFEX_IOC_VERSION (ENOTTY)",
    },
    CodeDoc {
        code: "L0051",
        title: "the module finds no usable signature",
        explanation: "The kernel module refused the object with `ENODATA`: it does not end with a signature \
            trailer, or the trailer is malformed (a signature length other than the key's). `safexc load` \
            checks the trailer before sending the object (`L0040`, `L0041`), so this comes from another client \
            of `/dev/safex`. Sign the object with `safexc sign`.",
        example: "a client sends an unsigned object:\n$ safexc load ext.o --app hog --device /dev/safex\n\
            error[L0040]: ... (safexc refuses it first; the module's answer would be ENODATA, L0051)",
    },
    CodeDoc {
        code: "L0052",
        title: "the signature is not the module's key's",
        explanation: "The kernel module checked the object's signature with the public key it was loaded with \
            (`pubkey=`): it is not a signature this key made (`EBADMSG`, the kernel's RSA padding check): \
            another key signed the object, or the signature's bytes were changed. The module runs only objects \
            that `safexc sign` checked and signed with the key it trusts. Sign the object with the private key \
            whose public half the module was given.",
        example: "$ safexc sign ext.o --key other.key -o ext.signed.o\n$ safexc load ext.signed.o --app hog\n\
            error[L0052]: /dev/safex refused SAFEX_IOC_LOAD (EBADMSG): ext.signed.o: the signature is not the \
            module's key's: ...",
    },
    CodeDoc {
        code: "L0053",
        title: "the module has no signing key",
        explanation: "The kernel module was loaded without `pubkey=`, so it trusts no signature and refuses every \
            object (`ENOKEY`). Unload it and load it again with the public key of the key objects are signed \
            with: `insmod safex.ko pubkey=HEX`, the line `safexc keygen` printed.",
        example: "# insmod safex.ko\n$ safexc load ext.signed.o --app hog\nerror[L0053]: /dev/safex refused \
            SAFEX_IOC_LOAD (ENOKEY): the module was loaded without a key, and refuses every object: ...",
    },
    CodeDoc {
        code: "L0054",
        title: "the module finds no SafeX object",
        explanation: "The signature verified, but the signed bytes are not an x86-64 ELF relocatable object of \
            SafeX's sections, symbols and relocations with a well-formed `.safex.meta` (`ENOEXEC`). The module does not run what it cannot read \
            as a SafeX object, even from a key holder. Sign the output of `safexc compile -o FILE.o`, not another \
            file.",
        example: "$ safexc sign notes.txt ... (a key holder signs another file by hand)\n$ safexc load \
            notes.signed --app hog\nerror[L0054]: /dev/safex refused SAFEX_IOC_LOAD (ENOEXEC): notes.signed is \
            not a SafeX object: ...",
    },
    CodeDoc {
        code: "L0055",
        title: "object built for another extension ABI",
        explanation: "The object records an extension ABI version other than the kernel module's (`EPROTO`): it \
            was compiled by another version of `safexc`, and its code may expect another context layout or \
            helper table. Compile the extension again with the `safexc` built with the module, and sign it.",
        example: "load an object compiled by an older safexc:\nerror[L0055]: /dev/safex refused SAFEX_IOC_LOAD \
            (EPROTO): old.signed.o was built for another extension ABI than the module's (5): ...",
    },
    CodeDoc {
        code: "L0056",
        title: "the module refuses an object without fuel checks",
        explanation: "The object was compiled with `--no-fuel` (`EACCES` from the module), so nothing bounds the \
            run time of its invocations in the kernel. That option exists only to measure the checks' \
            overhead, and every loader refuses it (`L0020` in user space). Compile the extension again without \
            `--no-fuel`.",
        example: "$ safexc compile ext.pop --no-fuel -o ext.o  (and signed by hand)\n$ safexc load \
            ext.signed.o --app hog\nerror[L0056]: /dev/safex refused SAFEX_IOC_LOAD (EACCES): ext.signed.o was \
            built with --no-fuel: ...",
    },
    CodeDoc {
        code: "L0057",
        title: "the object is too large for the module",
        explanation: "The signed object is larger than the module takes (`SAFEX_MAX_OBJECT`, 16 MiB), or it has \
            more entry points (`SAFEX_MAX_ENTRIES`), code or data than the module holds for one extension \
            (`E2BIG`). The limits bound what one extension may take of the kernel's memory. Split the \
            extension, or shrink its arrays.",
        example: "an extension with 17 entry points:\nerror[L0057]: /dev/safex refused SAFEX_IOC_LOAD (E2BIG): \
            big.signed.o is larger than 16777216 bytes, or has more entry points (at most 16), code or data than \
            the module takes",
    },
    CodeDoc {
        code: "L0058",
        title: "guards belong to the system",
        explanation: "An application's extension holds read and write rights on its application's classes, and \
            the module refused (`EPERM`) an object with a guard entry point or one asking for the guard right \
            `g`, or an invocation of a guard, which runs only on the writes it guards. Guards come from the \
            standard library and are installed as the system's guard (`safexc load GUARD.o --guard`). Remove \
            the guard from the application's extension (`L0101` in user space).",
        example: "$ safexc load timeslice_guard.signed.o --app hog\nerror[L0058]: /dev/safex refused \
            SAFEX_IOC_LOAD (EPERM): timeslice_guard.signed.o has a guard entry point, or one that asks for the \
            guard right `g`: ...",
    },
    CodeDoc {
        code: "L0059",
        title: "attribute class unknown to the module or declared differently",
        explanation: "The object uses an attribute class, attribute or event the kernel module does not have \
            (`ENOENT`), or declares a class of the module's name with other attributes, types, flags or ranges \
            (`EINVAL`). The verifier proved the code against the object's own declaration, so the module \
            accepts it only when that declaration is exactly its own (`L0100` in user space). Import the class \
            from the standard library (`import cpu;`) and compile with the `safexc` built with the module.",
        example: "extension forged;\nattribute class cpu_qos { int target_cpu; }\n...\nerror[L0059]: /dev/safex \
            refused SAFEX_IOC_LOAD (EINVAL): forged.signed.o declares an attribute class otherwise than the \
            module: ...",
    },
    CodeDoc {
        code: "L0060",
        title: "no such application in the module",
        explanation: "The command names an application the kernel module does not have (`ENOENT`): extensions \
            are loaded for an application, which has a task, a period and a CPU-time target. Create it first \
            with `safexc app NAME --pid PID --period US --target US`, or give `safexc load` the same three \
            flags.",
        example: "$ safexc load cpu_pid.signed.o --app hog\nerror[L0060]: /dev/safex refused SAFEX_IOC_LOAD \
            (ENOENT): no application `hog`: give --pid, --period and --target to create it",
    },
    CodeDoc {
        code: "L0061",
        title: "no such extension in the module",
        explanation: "The command names an extension id the kernel module does not have loaded, or an entry \
            point index the extension does not have (`ENOENT`). Ids are assigned at load time and never reused. \
            `safexc list` shows the loaded extensions and their entry points in index order.",
        example: "$ safexc unload 7\nerror[L0061]: /dev/safex refused SAFEX_IOC_UNLOAD (ENOENT): no extension 7 \
            is loaded: `safexc list` shows the loaded ones",
    },
    CodeDoc {
        code: "L0062",
        title: "the extension is quarantined",
        explanation: "The extension trapped too often and the module quarantined it: it does not run \
            (`ESHUTDOWN`) until it is released. Look at why it trapped (`safexc log`), then `safexc release ID` \
            lets it run again with its abort count reset, or unload it.",
        example: "$ safexc invoke 3 0\nerror[L0062]: /dev/safex refused SAFEX_IOC_INVOKE (ESHUTDOWN): extension 3 \
            is quarantined: `safexc release 3` lets it run again",
    },
    CodeDoc {
        code: "L0063",
        title: "attribute value out of its range",
        explanation: "`safexc attr APP ATTR VALUE` wrote a value outside the attribute's declared range, or other \
            than 0 or 1 for a `bool` (`ERANGE`). Extensions read attributes without checking because they are \
            proven to stay in range, so the system keeps the same promise (`L0106` in user space). Write a \
            value in the range the attribute class declares.",
        example: "$ safexc attr hog timeslice_adjustment 5000000\nerror[L0063]: /dev/safex refused SAFEX_IOC_ATTR \
            (ERANGE): 5000000 is outside the range of `timeslice_adjustment` (or not 0 or 1 for a bool)",
    },
    CodeDoc {
        code: "L0064",
        title: "the module holds as many applications or extensions as it takes",
        explanation: "Creating the application or loading the extension would exceed the module's limit \
            (`ENOSPC`): `SAFEX_MAX_APPS` applications, `SAFEX_MAX_EXTENSIONS` extensions. The limits bound the \
            module's memory and the length of a service round. Unload extensions that are no longer needed.",
        example: "load a 257th extension:\nerror[L0064]: /dev/safex refused SAFEX_IOC_LOAD (ENOSPC): the module \
            holds 256 extensions already: unload one (`safexc unload ID`)",
    },
    CodeDoc {
        code: "L0065",
        title: "no task has that pid",
        explanation: "`--pid` names no running task (`ESRCH`), so the module cannot give it the application's CPU \
            reservation. Give the pid of a running task, or 0 for an application without one.",
        example: "$ safexc app hog --pid 999999 --period 10000 --target 2000\nerror[L0065]: /dev/safex refused \
            SAFEX_IOC_APP (ESRCH): no task has that pid (--pid): give a running task's, or 0 for none",
    },
    CodeDoc {
        code: "L0066",
        title: "the module speaks another interface or extension ABI",
        explanation: "Before every command `safexc` asks the module its `/dev/safex` interface version and its \
            extension ABI (`SAFEX_IOC_VERSION`), and they differ from this `safexc`'s: the argument structs or \
            the objects it compiles may not mean to the module what they mean to `safexc`, so nothing is sent. \
            Use the `safexc` built from the same tree as the module, or rebuild the module.",
        example: "a module built before the ABI changed:\n$ safexc list\nerror[L0066]: /dev/safex speaks /dev/safex \
            interface 2 and extension ABI 4; this safexc speaks interface 2 and ABI 5: ...",
    },
    CodeDoc {
        code: "L0067",
        title: "the object cannot be the system's guard",
        explanation: "`safexc load GUARD.o --guard` installs an object as the system's guard, and the module \
            refused it (`EEXIST`): an entry point is not a guard, or an attribute it guards has a guard already. \
            Every write of an attribute passes through exactly one guard (`L0103` in user space). Unload the \
            installed guard first (`safexc list` shows it), and install only the standard library's guards.",
        example: "$ safexc load timeslice_guard.signed.o --guard  (a second time)\nerror[L0067]: /dev/safex \
            refused SAFEX_IOC_LOAD (EEXIST): timeslice_guard.signed.o cannot be the system's guard: ...",
    },
    CodeDoc {
        code: "L0068",
        title: "no such attribute in the module",
        explanation: "`safexc attr` names an attribute no class of the module defines, or, without its class, an \
            attribute name two classes define (`ENOENT`). Name attributes `class.attribute` (`cpu_qos.target_cpu`), \
            or by the attribute's name alone when only one class has it.",
        example: "$ safexc attr hog cpu_qos.actual\nerror[L0068]: /dev/safex refused SAFEX_IOC_ATTR (ENOENT): no \
            attribute `cpu_qos.actual`: ...",
    },
    CodeDoc {
        code: "L0069",
        title: "the module refused a command for another reason",
        explanation: "The kernel module refused a command with an error `safexc` has no more specific code for \
            (`EFAULT`, `ENOMEM`, `EINVAL` for an argument it does not take, ...); the message names the command, \
            the errno and its text. Out of memory is worth trying again; anything else suggests a `safexc` and \
            a module that disagree, so check `safexc --version` against the module's `dmesg` line.",
        example: "a module out of memory:\nerror[L0069]: /dev/safex refused SAFEX_IOC_LIST with ENOMEM: Cannot \
            allocate memory",
    },
    CodeDoc {
        code: "L0070",
        title: "the module finds the object changed after it was signed",
        explanation: "The kernel module checked the object's signature with its key: the signature is one that \
            key made, but of other bytes (`EKEYREJECTED`, the kernel's digest comparison): the object was \
            changed after it was signed. What was checked and signed is not what was sent, so it is refused. \
            Sign the object again if the change is wanted (`safexc sign` checks it first).",
        example: "$ printf '\\x01' | dd of=ext.signed.o bs=1 seek=100 conv=notrunc\n$ safexc load \
            ext.signed.o --app hog\nerror[L0070]: /dev/safex refused SAFEX_IOC_LOAD (EKEYREJECTED): \
            ext.signed.o: the object was changed after it was signed: ...",
    },
    CodeDoc {
        code: "L0071",
        title: "the scheduler refused the task's reservation",
        explanation: "An application with a task gets a SCHED_DEADLINE reservation of its target every period \
            when it is registered (`safexc app --pid`), and Linux refused it: `EBUSY`, its admission control \
            (deadline tasks together may have 95 % of each CPU, `/proc/sys/kernel/sched_rt_runtime_us`) has no \
            room for it; `EPERM`, the task may not run on every CPU of its root domain (it was pinned with \
            `taskset` or a cpuset). The task is not attached. Lower the target, or others' reservations, or let \
            the task run on every CPU.",
        example: "$ safexc app big --pid 4242 --period 10000 --target 9900\nerror[L0071]: /dev/safex refused \
            SAFEX_IOC_APP (EBUSY): Linux's admission control has no room for 9900 us every 10000 us ...",
    },
    CodeDoc {
        code: "L0100",
        title: "attribute class unknown to the host or declared differently",
        explanation: "The object uses an attribute class the host does not define, or declares a class of the same \
            name as the host's with other attributes, types, read-only flags or ranges. The verifier proved the \
            extension's code against the object's own declaration, so the host accepts it only when that \
            declaration is exactly the host's: otherwise an extension could declare `target_cpu` writable and \
            write it. Import the class from the standard library (`import cpu;`) instead of declaring it, and \
            compile against the standard library the host runs.",
        example: "extension forged;\nattribute class cpu_qos { int target_cpu; }\n...\n\
            error[L0100]: the object's declaration of class `cpu_qos` differs from the host's",
    },
    CodeDoc {
        code: "L0101",
        title: "guard entry point or guard rights outside a system guard",
        explanation: "An application's extension holds read and write rights on its application's classes and \
            nothing more: guards, and the guard-only API (`block`), belong to the system, which installs them from \
            the standard library. The object has a guard entry point, or an entry point whose capability asks for \
            the `g` right; or an object installed as a system guard has entry points that are not guards. Remove \
            the guard from the application's extension; guards are written in the standard library.",
        example: "load stdlib/pop/timeslice_guard.pop's object as an application extension:\n\
            error[L0101]: entry point `timeslice_guard` asks for rights `rwg` on `cpu_qos`; an application's \
            extension may hold `rw`",
    },
    CodeDoc {
        code: "L0102",
        title: "budget or data region above the host's limit",
        explanation: "The extension declares a fuel budget per invocation (`budget N;`) above the host's \
            `max_fuel`, or its globals need a data region larger than the host's `max_data_cells`. Limits keep one \
            extension from taking more of the machine than the administrator allows. Lower the budget or the size \
            of the extension's arrays, or run it on a host configured with higher limits.",
        example: "extension spin;\nbudget 90000000;\n... loaded into a host with max_fuel 1000:\n\
            error[L0102]: the extension asks for 90000000 fuel per invocation; this host allows at most 1000",
    },
    CodeDoc {
        code: "L0103",
        title: "attribute guarded twice",
        explanation: "A system guard object has a guard for an attribute that already has one. Every write of an \
            attribute passes through exactly one guard, so that what it enforces cannot be bypassed or \
            contradicted by a second. Unload the installed guard first.",
        example: "install stdlib/pop/timeslice_guard.pop's object twice:\n\
            error[L0103]: `cpu_qos.timeslice_adjustment` has a guard already",
    },
    CodeDoc {
        code: "L0104",
        title: "class or application defined twice",
        explanation: "The host was asked to define an attribute class, or create an application, with a name it \
            already has. Names identify classes to objects and applications to their users, so they are unique \
            per host. Use the existing one, or another name.",
        example: "host.create_app(\"video\") twice:\nerror[L0104]: application `video` exists already",
    },
    CodeDoc {
        code: "L0105",
        title: "no such application or attribute",
        explanation: "A request to the host names an application it does not have, or an attribute no class \
            defines (or, without its class, an attribute name two classes define). Attributes are named \
            `class.attribute`, or by the attribute alone when that is unique.",
        example: "$ safexc run pid.o --set cpu_qos.actual=1\nerror[L0111]: `--set cpu_qos.actual=1`: no attribute \
            class defines `cpu_qos.actual`",
    },
    CodeDoc {
        code: "L0106",
        title: "attribute value out of its type or range",
        explanation: "The system wrote an attribute (a measurement, a set-up value) with a value outside the \
            attribute's declared range, or other than 0 or 1 for a `bool`. Extensions are proven to stay inside \
            ranges; the system keeps the same promise to them, since they read attributes without checking.",
        example: "host.write_attribute(app, \"timeslice_adjustment\", 5_000_000):\n\
            error[L0106]: 5000000 is outside the range -1000000..=1000000 of `timeslice_adjustment`",
    },
    CodeDoc {
        code: "L0110",
        title: "the standard library does not load",
        explanation: "`safexc run` compiles the standard library's classes and guards at start-up and installs \
            them; one of them failed. This is a defect of the installation, not of the extension being run: \
            reinstall `safexc`, or run with `--no-guards` to go on without the standard guards.",
        example: "a safexc built from a tree whose stdlib/pop/timeslice_guard.pop does not compile:\n\
            error[L0110]: the standard library's `stdlib/pop/timeslice_guard.pop` does not compile",
    },
    CodeDoc {
        code: "L0111",
        title: "bad attribute setting or trace line",
        explanation: "An `--set ATTR=VALUE` argument or a line of a `--trace` file (`tick,attribute,value`) is \
            malformed, names no attribute, or gives a value outside the attribute's range. Nothing runs with \
            inputs that were not all understood.",
        example: "$ safexc run pid.o --set target_cpu=lots\nerror[L0111]: `--set target_cpu=lots`: `lots` is not \
            an integer",
    },
    CodeDoc {
        code: "L0112",
        title: "bad application, invocation or event argument",
        explanation: "An argument of `safexc run` that names applications, entry points or events is malformed \
            or names nothing that was loaded: `--app NAME=FILE` (several applications), `--invoke \
            [APP:]ENTRY[=VALUE]` (a monitor, or a handler with its event's value), `--event \
            [APP:]NAME[=VALUE]@TICK` (an event some loaded extension raises or handles, before one of the \
            run's ticks). With several applications, a setting, trace line, invocation or event that does not \
            say which (`APP:`) is ambiguous. Nothing runs until every argument is understood.",
        example: "$ safexc run pid.o --event Eror=5@3\nerror[L0112]: `--event Eror=5@3`: no loaded extension \
            raises or handles event `Eror`",
    },
    CodeDoc {
        code: "L0120",
        title: "an experiment run failed",
        explanation: "`safexc experiment` runs the paper's PID extension and the standard timeslice guard in the \
            user-space host for each simulated run, and the host refused to set one up (it could not load an \
            object or create an application). This is a bug of this build of `safexc`, not of the options: \
            the objects it uses are checked in and tested. Report it with the message.",
        example: "$ safexc experiment\nerror[L0120]: a run failed: ...",
    },
    CodeDoc {
        code: "L0121",
        title: "measuring this machine failed",
        explanation: "`safexc experiment` (by default, and with `--bench`) first measures what service management \
            costs on this machine: a signal, a context switch between two processes, a read of `/proc/PID/stat`, \
            the PID extension's round in a user-level manager and in the host. One of those measurements failed; \
            the message names the system call and its error. Run with `--costs paper` to use the paper's costs, \
            or `--costs FILE` with the `costs.txt` of an earlier run.",
        example: "$ safexc experiment\nerror[L0121]: measuring this machine failed: fork: Resource temporarily unavailable",
    },
    CodeDoc {
        code: "L0122",
        title: "a costs file is malformed",
        explanation: "`safexc experiment --costs FILE` reads what management costs from FILE: one `key value` \
            line for each of kernel_per_app, user_per_app, proc_read, context_switch and signal, in whole \
            nanoseconds from 0 to 1,000,000,000; `#` starts a comment. The `costs.txt` every run writes is such \
            a file. The message names the line.",
        example: "$ safexc experiment --costs my.txt\nerror[L0122]: my.txt: line 3: unknown cost `proc_reed` (expected one of ...)",
    },
    CodeDoc {
        code: "L0123",
        title: "real mode cannot run here",
        explanation: "`safexc experiment --real` runs real processes at real-time priorities pinned to one CPU, \
            with its bookkeeping on another: it needs Linux, two CPUs this process may use, permission to set \
            SCHED_FIFO (root or CAP_SYS_NICE; containers often refuse it), `/proc/PID/schedstat` and the \
            process CPU-time clocks. It tries each before starting, and the message says which was refused. \
            Without `--real` the same experiment runs simulated.",
        example: "$ safexc experiment --real\nerror[L0123]: real mode cannot run here: sched_setscheduler ... EPERM",
    },
    CodeDoc {
        code: "L0124",
        title: "a real run failed",
        explanation: "A system call of a real run (`safexc experiment --real`) failed after the checks passed, \
            for instance forking a process or setting its priority; the message names the call, its error and \
            the run. Every process the run started has been stopped and reaped.",
        example: "$ safexc experiment --real\nerror[L0124]: a real run (setup B, SCHED_FIFO, kernel-level) failed: \
            fork: EAGAIN",
    },
];

/// The documentation of `code` (`L0020`, `l0020`), if it is a loader or
/// command line code.
pub fn explain(code: &str) -> Option<&'static CodeDoc> {
    stdlib::codes::lookup(CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        stdlib::codes::check_table(CODES, 'L', 4).unwrap();
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dirs: Vec<std::path::PathBuf> = vec![root.join("runtime/src"), root.join("safexc/src")];
        let sources: Vec<std::path::PathBuf> = dirs.iter().flat_map(|d| stdlib::codes::rs_files(d)).collect();
        stdlib::codes::check_coverage(CODES, 'L', &sources).unwrap();
    }
}
