//! The front-end's error codes, documented: what `safexc explain CODE`
//! prints. One entry per `Pxxxx` code the front-end emits, sorted; the tests
//! below check that against the sources, and that every example really
//! produces its code.
//!
//! An example is a complete Popcorn-SX file that triggers the error, with a
//! `// fix:` comment where there is one. A first line `// flags: --stdlib`
//! compiles it as part of the standard library, as the UI tests do.

pub use stdlib::codes::CodeDoc;

/// Every front-end code, sorted by code.
pub const CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "P0001",
        title: "syntax error",
        explanation: "The parser found a token that cannot continue the program at this point; the message lists \
            what it expected instead. Popcorn-SX is C-like but smaller: every declaration and statement ends with \
            `;`, blocks need braces, and there is no preprocessor. The parser recovers and goes on, so later \
            syntax errors are reported in the same run; fix the first one first, since the others may follow \
            from it.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int actual = get_attribute(app, "actual_cpu")
    // fix: end the declaration with `;`
    raise_event("Error", actual);
}"#,
    },
    CodeDoc {
        code: "P0002",
        title: "malformed input",
        explanation: "The lexer met text that is no token of Popcorn-SX: a character outside the language (`?`, \
            `#`, `'`, ...), an unterminated block comment or string literal, an unknown escape in a string, or a \
            malformed integer literal (a C suffix, an exponent, a leading zero that C would read as octal). \
            Popcorn-SX leaves out the C features that hide control flow or data (the conditional operator, the \
            preprocessor, character literals), so that every extension reads as what it does. Rewrite the \
            construct with `if`/`else`, `const int`, decimal or `0x` hex integers, and the escapes `\\\"`, `\\\\` \
            and `\\n`.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int lag = get_attribute(app, "target_cpu") - get_attribute(app, "actual_cpu");
    int e = lag > 0 ? lag : 0;
    // fix: int e = 0; if (lag > 0) e = lag;
    raise_event("Error", e);
}"#,
    },
    CodeDoc {
        code: "P0003",
        title: "integer literal too large",
        explanation: "An integer literal does not fit in 64 bits. Extensions compute with 64-bit integers only, \
            and arithmetic that leaves that range raises `Overflow` rather than wrapping, so that a computed \
            timeslice can never silently turn into a different one. Use a smaller unit (microseconds are the \
            unit of every CPU attribute) or a smaller constant.",
        example: r#"extension demo;
import cpu;

const int PERIOD_FS = 100000000000000000000;   // femtoseconds
// fix: const int PERIOD_US = 100000;         // the attributes are in microseconds"#,
    },
    CodeDoc {
        code: "P0004",
        title: "nesting too deep",
        explanation: "More than 256 brackets are open at once, or an expression or statement tree is deeper than \
            256 levels (long chains of binary operators and `else if` ladders count, one level per link). The \
            passes after the parser recurse over the tree, and the limit keeps the compiler itself within a \
            bounded stack on any input, including generated code. Split the construct up with local variables, \
            helper functions, or a loop over an array.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int a = get_attribute(app, "actual_cpu");
    // generated code: a sum of 300 terms nests 300 levels deep
    int sum = a + a + a + a + a + a + a + a + a + a + a + a /* ... 300 terms */;
    // fix: accumulate in a loop, or in steps:
    // int sum = 0; for (int i = 0; i < 300; i++) sum += a;
    raise_event("Error", sum);
}"#,
    },
    CodeDoc {
        code: "P0101",
        title: "unknown name or function",
        explanation: "The name is not a local variable, parameter, constant, global or function of this \
            extension, of the standard-library modules it imports, or of the SafeX API. An extension links \
            against nothing but its own code and the SafeX API, so every name must be declared in the file or \
            come from an `import`. Check the spelling and the scope (locals end with their block), and declare \
            the name before using it.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int e = gain * get_attribute(app, "actual_cpu") / 1000;
    // fix: declare it: const int gain = 500;
    raise_event("Error", e);
}"#,
    },
    CodeDoc {
        code: "P0102",
        title: "name defined twice",
        explanation: "Two declarations in one namespace have the same name: globals, constants and functions \
            (the standard-library modules you import included), structs, attribute classes, events, the fields \
            of a struct, the attributes of a class, or the handlers of one `try`. The names of the SafeX API \
            (`get_attribute`, `set_attribute`, `raise_event`, `now_us`, `block`, `trace`, `size`) are reserved too. The \
            service manager binds entry points and the loader binds symbols by name, so every name must denote \
            exactly one thing. Rename or delete one of the declarations.",
        example: r#"extension demo;
import cpu;

int e_prev = 0;
int e_prev = 0;
// fix: delete the second declaration, or give it its own name: int u_prev = 0;"#,
    },
    CodeDoc {
        code: "P0103",
        title: "unknown attribute class",
        explanation: "A capability type `cap<CLASS>` names a class that is neither declared in the file nor \
            imported. Capabilities are per attribute class: the class says which attributes a capability \
            opens, which is how one application's extension is kept to its own QoS attributes. The standard \
            classes come from the standard library, for example `cpu_qos` from `import cpu;`.",
        example: r#"extension demo;
// fix: import cpu;

monitor void sample(cap<cpu_qos> app) {
    int actual = get_attribute(app, "actual_cpu");
}"#,
    },
    CodeDoc {
        code: "P0104",
        title: "unknown attribute",
        explanation: "The attribute named in `get_attribute`, `set_attribute` or a guard's `for \"...\"` is not \
            one of the capability's class; the message lists those it has. Attributes are the only window an \
            extension has on kernel state, so the set is fixed by the class declaration and checked at compile \
            time. Use one of the class's attributes (for `cpu_qos`: `period`, `target_cpu`, `actual_cpu`, \
            `target_util`, `avg_util_2p`, `timeslice_adjustment`).",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int used = get_attribute(app, "used_cpu");
    // fix: int used = get_attribute(app, "actual_cpu");
    raise_event("Error", used);
}"#,
    },
    CodeDoc {
        code: "P0105",
        title: "unknown event",
        explanation: "`raise_event` or a handler's `on \"...\"` names an event that is neither declared with \
            `event NAME;` nor imported. Events are the channel from monitors to handlers, and the service \
            manager routes them by their declared identity, so an extension can only raise and handle events \
            that exist. Declare the event, import the module that declares it (`import cpu;` declares \
            `Error`), or fix the spelling.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int e = get_attribute(app, "target_cpu") - get_attribute(app, "actual_cpu");
    raise_event("CpuError", e);
    // fix: raise_event("Error", e);   or declare it: event CpuError;
}"#,
    },
    CodeDoc {
        code: "P0106",
        title: "unknown struct or field",
        explanation: "A `struct NAME` type names no declared struct, or a `.field` access names a field the \
            struct does not have (or applies to a value that is not a struct at all). Memory is reached only \
            by name, index and declared field, never by address, which is what lets the compiler and the \
            verifier prove every access in bounds. Declare the struct, or use one of its fields.",
        example: r#"extension demo;
import cpu;

struct sample { int t; int v; }
struct sample hist[8];

monitor void record(cap<cpu_qos> app) {
    hist[0].time = now_us();
    // fix: hist[0].t = now_us();
}"#,
    },
    CodeDoc {
        code: "P0107",
        title: "name must be a string literal",
        explanation: "Attribute and event names are string literals, written where they are used: \
            `get_attribute(app, \"actual_cpu\")`, `raise_event(\"Error\", e)`. They are resolved at compile \
            time against the class and the declared events, so that the verifier can check each access \
            against the capability's class and the attribute's range and rights. A name cannot be computed or \
            kept in a variable, and a string literal is no value anywhere else: Popcorn-SX has no strings.",
        example: r#"extension demo;
import cpu;

const int ACTUAL = 2;

monitor void sample(cap<cpu_qos> app) {
    int a = get_attribute(app, ACTUAL);
    // fix: int a = get_attribute(app, "actual_cpu");
    raise_event("Error", a);
}"#,
    },
    CodeDoc {
        code: "P0108",
        title: "unknown module",
        explanation: "`import NAME;` names no module of the standard library; the message lists those there \
            are. Imports bring in only the standard library shipped with the loader, whose classes, events \
            and guards the service manager knows; an extension cannot import arbitrary code. Import one of the \
            listed modules (`cpu` for the CPU service manager's `cpu_qos` class and `Error` event).",
        example: r#"extension demo;
import sched;
// fix: import cpu;"#,
    },
    CodeDoc {
        code: "P0109",
        title: "unknown exception",
        explanation: "A `handle` clause or `raise` statement names an exception that does not exist. The \
            exceptions are `DivideByZero`, `OutOfBounds`, `Overflow`, `RangeError` and `NullCapability`: the \
            runtime checks of the language raise them, and an extension may handle them to recover within its \
            time budget. Use one of those names.",
        example: r#"extension demo;
import cpu;

monitor void boost(cap<cpu_qos> app) {
    try {
        set_attribute(app, "timeslice_adjustment", get_attribute(app, "target_cpu") * 100);
    } handle RangeException {
        set_attribute(app, "timeslice_adjustment", 1000000);
    }
    // fix: } handle RangeError {
}"#,
    },
    CodeDoc {
        code: "P0110",
        title: "missing or repeated `extension` declaration",
        explanation: "A file must declare its extension's name exactly once, with `extension NAME;` (usually \
            the first line). The name is the module's identity: the loader, the service manager and the error \
            accounting (aborts and exceptions counted against the extension) all refer to it. Add the \
            declaration, or delete the second one.",
        example: r#"import cpu;
// fix: start the file with `extension cpu_watch;`

monitor void sample(cap<cpu_qos> app) {
    raise_event("Error", get_attribute(app, "actual_cpu"));
}"#,
    },
    CodeDoc {
        code: "P0201",
        title: "type error",
        explanation: "A value of one type is used where another is required: an `int` as a condition, a `bool` \
            in arithmetic, an array or struct where a scalar is expected, a `void` variable or field, a list \
            initializer for a scalar, an entry point called like a function, and so on; the message names \
            both types. Popcorn-SX has no implicit conversions (and no casts), because integrity rests on the \
            type system: a value is only ever used as what it is. Convert explicitly, for example `e != 0` \
            for a condition.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int e = get_attribute(app, "target_cpu") - get_attribute(app, "actual_cpu");
    if (e) raise_event("Error", e);
    // fix: if (e != 0) raise_event("Error", e);
}"#,
    },
    CodeDoc {
        code: "P0202",
        title: "wrong number of arguments",
        explanation: "A call passes more or fewer arguments than the function or SafeX API call takes. \
            `get_attribute(cap, \"attr\")` takes two, `set_attribute(cap, \"attr\", value)` three, \
            `raise_event(\"Event\", value)` two, `now_us()` none; a function takes the parameters its \
            declaration lists (`fx_div(a, b)` from `import cpu;` takes two). Every call is checked against its \
            signature so that the TAL the compiler emits type-checks in the verifier. Pass exactly the \
            arguments the signature lists.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int util = fx_div(get_attribute(app, "actual_cpu"));
    // fix: int util = fx_div(get_attribute(app, "actual_cpu"), get_attribute(app, "period"));
    raise_event("Error", util);
}"#,
    },
    CodeDoc {
        code: "P0203",
        title: "missing return value",
        explanation: "A function that returns `int` or `bool` can reach the end of its body without a `return`. \
            The caller would receive an undefined value, which the type system could no longer vouch for. \
            Return a value on every path, typically with a final `return` after the conditional ones.",
        example: r#"extension demo;
import cpu;

int clamp(int u) {
    if (u > 1000000) return 1000000;
    if (u < -1000000) return -1000000;
    // fix: return u;
}"#,
    },
    CodeDoc {
        code: "P0204",
        title: "cannot be assigned",
        explanation: "The left side of an assignment (or of `++`, `--`, `+=`, ...) is not a variable, an \
            array element or a struct field: a constant, a function, or an expression such as a call or a sum. \
            Constants are folded at compile time and functions are code, neither has storage to write. Assign \
            to a variable instead, for example a global that keeps state between invocations.",
        example: r#"extension demo;
import cpu;

const int KP = 500;

monitor void tune(cap<cpu_qos> app) {
    if (get_attribute(app, "actual_cpu") < get_attribute(app, "target_cpu")) KP = KP + 10;
    // fix: keep the gain in a global: int kp = 500;  ...  kp = kp + 10;
}"#,
    },
    CodeDoc {
        code: "P0206",
        title: "`break` or `continue` outside a loop",
        explanation: "`break` only makes sense inside `while`, `do`, `for` or `switch`, and `continue` inside \
            `while`, `do` or `for`. Control flow in Popcorn-SX stays structured, so that every loop has a header \
            where the compiler charges fuel and every exit is known. To leave a function early use `return`.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int actual = get_attribute(app, "actual_cpu");
    if (actual == 0) break;
    // fix: if (actual == 0) return;
    raise_event("Error", actual);
}"#,
    },
    CodeDoc {
        code: "P0207",
        title: "`void` value used",
        explanation: "The value of a call that returns nothing is used: assigned, passed as an argument, or used \
            as an operand. `set_attribute`, `raise_event` and `void` functions return no value; using one \
            would read whatever a register happens to hold. Call it as a statement of its own.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int e = get_attribute(app, "target_cpu") - get_attribute(app, "actual_cpu");
    int sent = raise_event("Error", e);
    // fix: raise_event("Error", e);
}"#,
    },
    CodeDoc {
        code: "P0208",
        title: "`return` does not match the function",
        explanation: "A `void` function (every monitor and handler) returns a value, or a function that returns \
            `int` or `bool` has a `return;` without one. The return type is part of the signature the verifier \
            checks every call and entry point against. Write `return;` in `void` functions and `return VALUE;` \
            in the others.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    if (get_attribute(app, "actual_cpu") == 0) return 0;
    // fix: if (get_attribute(app, "actual_cpu") == 0) return;
    raise_event("Error", get_attribute(app, "actual_cpu"));
}"#,
    },
    CodeDoc {
        code: "P0209",
        title: "array or struct used as a scalar, or indexed wrongly",
        explanation: "A whole array or struct is used as a value, or a scalar is indexed (`x[i]`) or used as \
            an array or struct. Arrays and structs live in memory and are reached one element or field at a \
            time, each array access behind a bounds check that raises `OutOfBounds`; there is no way to treat \
            their memory as a number. Name an element (`hist[i]`) or a field (`s.t`), or declare the variable \
            as an array.",
        example: r#"extension demo;
import cpu;

int hist[16];

monitor void sample(cap<cpu_qos> app) {
    int last = hist;
    // fix: int last = hist[15];
    raise_event("Error", last);
}"#,
    },
    CodeDoc {
        code: "P0210",
        title: "constant arithmetic fails: overflow or division by zero",
        explanation: "A constant expression overflows the 64-bit signed `int` or divides by zero, or an \
            integer literal is larger than 9223372036854775807. Constants are evaluated at compile time with the same rule as the \
            program's arithmetic: leaving the range is an error, never a wrap-around, so that a bound or a \
            gain means what it says. Use smaller units or values.",
        example: r#"extension demo;
import cpu;

const int NS_PER_DAY = 86400 * 1000000000 * 1000000000;
// fix: const int US_PER_DAY = 86400 * 1000000;   // CPU attributes are in microseconds"#,
    },
    CodeDoc {
        code: "P0211",
        title: "invalid constant expression",
        explanation: "A place that needs a compile-time constant has something else: an array length, a global's \
            initializer, a `const`, an attribute's `range`, or the `budget`; or the constant is not what that \
            place allows (a length outside 1 to 1048576, a `budget` that is not positive, a range with \
            `lo > hi`, more initializer values than elements, a constant without a value). Sizes and budgets \
            are fixed before loading: memory is static and the fuel per invocation is known, which is what \
            keeps an extension's resource use predictable. Use `const` names, literals and operators on them.",
        example: r#"extension demo;
import cpu;

int n = 16;
int hist[n];
// fix: const int N = 16;  int hist[N];"#,
    },
    CodeDoc {
        code: "P0212",
        title: "unsupported use of a struct or array",
        explanation: "Structs and arrays are memory objects of a fixed layout, and some C uses of them are not \
            supported: arrays inside structs, a struct containing itself (directly or through another \
            struct), a struct initializer list (`struct s x = {1, 2};`), assigning a whole array, functions \
            returning an array or a capability, and a struct copy (assignment, argument or result) of more \
            than 64 scalar fields. Keeping every object a static, flat layout lets the verifier bound the \
            stack and check each access. Use arrays of structs, loops over elements, and copy large structs \
            by their nested parts. Structs themselves are values: they are assigned, passed and returned \
            whole.",
        example: r#"extension demo;
import cpu;

struct window { int samples[8]; int next; }
// fix: an array of structs: struct sample { int t; int v; }  struct sample window[8];"#,
    },
    CodeDoc {
        code: "P0213",
        title: "wrong entry-point signature",
        explanation: "A monitor, handler or guard does not have the signature the service manager calls it \
            with: `monitor void NAME(cap<class> app)`, `handler void NAME(cap<class> app, int value) on \
            \"Event\"`, `guard int NAME(cap<class> app, int value) for \"attribute\"`. The host passes exactly \
            these arguments, the capability being the only authority the extension receives. Read anything \
            else you need through the capability, with `get_attribute`.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app, int period) {
    // fix: monitor void sample(cap<cpu_qos> app) { int period = get_attribute(app, "period"); ... }
    raise_event("Error", period - get_attribute(app, "actual_cpu"));
}"#,
    },
    CodeDoc {
        code: "P0301",
        title: "cast",
        explanation: "Popcorn-SX has no casts. A cast is how C turns an integer into a pointer or a handle, \
            which would let an extension forge access to kernel memory or to another application's \
            attributes; integrity requires that no value ever changes its type. Convert explicitly where a \
            conversion makes sense, for example `x != 0` for a `bool`; capabilities cannot be converted at \
            all.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int id = (int) app;
    // fix: a capability is opaque: pass the capability itself, or read attributes through it
    raise_event("Error", id);
}"#,
    },
    CodeDoc {
        code: "P0302",
        title: "pointer",
        explanation: "Pointer types (`int *`), address-of (`&x`), dereference (`*p`) and `->` are not part of \
            Popcorn-SX. Data is reached by name, by index and by field, so an extension can never compute an \
            address and write kernel memory outside its own objects: this is the integrity requirement. Use \
            the variable by name; arrays are passed to functions by reference as `int a[]`, and kernel state \
            is reached only through capabilities (`cap<class>`).",
        example: r#"extension demo;
import cpu;

int e_prev = 0;

monitor void sample(cap<cpu_qos> app) {
    int *last = &e_prev;
    // fix: use the global by name: e_prev = get_attribute(app, "actual_cpu");
}"#,
    },
    CodeDoc {
        code: "P0303",
        title: "inline assembly",
        explanation: "`asm(...)` is refused whatever it contains. Assembly cannot be type-checked: it could \
            forge pointers, write any memory, mask interrupts so that the timer bounding the extension's run \
            time could not stop it, or spin forever. Extensions reach the system only through the SafeX API.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    asm volatile("rdtsc");
    // fix: int t = now_us();
}"#,
    },
    CodeDoc {
        code: "P0304",
        title: "`extern` declaration",
        explanation: "An `extern` declaration asks to link against a symbol outside the extension, such as a \
            kernel function. Extensions link against nothing but the SafeX API: any other symbol would run \
            unverified code with the kernel's privileges, outside the extension's fuel and capabilities. \
            Delete the declaration; the SafeX API (`get_attribute`, `set_attribute`, `raise_event`, `now_us`) \
            needs none.",
        example: r#"extension demo;
import cpu;

extern int printk(int level);
// fix: delete it; report through an event instead: raise_event("Error", value);"#,
    },
    CodeDoc {
        code: "P0305",
        title: "interrupt masking",
        explanation: "The call names a function that disables interrupts or preemption (`local_irq_disable`, \
            `preempt_disable`, `cli`, ...). An extension's run time is bounded by fuel and by a timer that can \
            drain it: with interrupts masked that timer could no longer stop the extension, breaking the \
            predictability requirement and the other applications' QoS. Extensions never need it: one \
            invocation of an extension runs at a time, and the SafeX API does its own locking.",
        example: r#"extension demo;
import cpu;

int e_prev = 0;

monitor void sample(cap<cpu_qos> app) {
    local_irq_disable();
    // fix: delete it: the extension's globals are never shared between concurrent invocations
    e_prev = get_attribute(app, "actual_cpu");
    local_irq_enable();
}"#,
    },
    CodeDoc {
        code: "P0306",
        title: "lock use",
        explanation: "The call names a synchronization primitive: a spinlock, mutex, semaphore, RCU, atomic \
            operation or barrier. An extension can be aborted at any instruction (out of fuel, or a runtime \
            check failing), and one aborted while holding a lock would leave it held and stall the kernel. \
            Extensions need no locks: invocations of one extension are serialized, and shared state is reached \
            only through the SafeX API, which does its own locking.",
        example: r#"extension demo;
import cpu;

int stats_lock = 0;
int samples = 0;

monitor void sample(cap<cpu_qos> app) {
    spin_lock(stats_lock);
    samples += 1;
    spin_unlock(stats_lock);
    // fix: samples += 1;   (no lock: invocations never overlap)
}"#,
    },
    CodeDoc {
        code: "P0307",
        title: "memory allocation",
        explanation: "The call names a memory allocator (`malloc`, `free`, `kmalloc`, `vmalloc`, ...). Dynamic \
            allocation would make an extension's memory use unbounded and could fail or block in the kernel's \
            timer path, against the predictability requirement; freeing would open use-after-free bugs. \
            Extensions use globals and fixed-size arrays, sized at compile time.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int buf = kmalloc(64, 0);
    // fix: a global of static size: int buf[8];
}"#,
    },
    CodeDoc {
        code: "P0308",
        title: "`goto` or label",
        explanation: "Popcorn-SX has no `goto` and no statement labels. Control flow stays structured so that \
            every cycle is a declared loop whose header is charged fuel: that is how each invocation's run time \
            stays bounded (predictability). Use `while`, `for` or `do` with `break` and `continue`.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int tries = 0;
retry:
    tries += 1;
    if (get_attribute(app, "actual_cpu") == 0 && tries < 3) goto retry;
    // fix: do { tries += 1; } while (get_attribute(app, "actual_cpu") == 0 && tries < 3);
}"#,
    },
    CodeDoc {
        code: "P0309",
        title: "recursion",
        explanation: "A function calls itself, directly or through other functions. Without recursion the call \
            graph is acyclic, so the stack an invocation can use has a static bound the verifier checks, and \
            every call returns; a kernel stack overflow in the timer path would be fatal. Rewrite the \
            recursion as a loop.",
        example: r#"extension demo;
import cpu;

int sum_to(int n) {
    if (n == 0) return 0;
    return n + sum_to(n - 1);
}
// fix: int s = 0; for (int i = 1; i <= n; i++) s += i; return s;"#,
    },
    CodeDoc {
        code: "P0310",
        title: "variable read before it is assigned",
        explanation: "A local variable is read on a path where it has not been given a value: it was declared \
            without an initializer and assigned only on some paths (for example in one branch of an `if`). \
            Reading it would observe whatever the register or stack held, possibly kernel data, against the \
            integrity requirement. Initialize the variable where it is declared.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    int e;
    if (get_attribute(app, "actual_cpu") < get_attribute(app, "target_cpu")) e = 1;
    raise_event("Error", e);
    // fix: int e = 0;
}"#,
    },
    CodeDoc {
        code: "P0311",
        title: "write to a read-only attribute",
        explanation: "`set_attribute` names an attribute declared `readonly`. Read-only attributes report the \
            system's state and the application's contract (its period, the CPU time promised and received); \
            they belong to the service manager, and an extension that could write them could grant itself \
            more than it was promised, at other applications' cost. Adapt the service through the writable \
            attribute instead (for `cpu_qos`: `timeslice_adjustment`), which a guard checks.",
        example: r#"extension demo;
import cpu;

monitor void boost(cap<cpu_qos> app) {
    set_attribute(app, "target_cpu", get_attribute(app, "target_cpu") * 2);
    // fix: ask through the writable attribute: set_attribute(app, "timeslice_adjustment", 1000);
}"#,
    },
    CodeDoc {
        code: "P0312",
        title: "constant outside the attribute's range",
        explanation: "A constant written with `set_attribute` lies outside the range the class declares for the \
            attribute (`timeslice_adjustment` is `range(-1000000, 1000000)`). The range is part of the QoS \
            contract: the service manager never accepts values outside it, and a computed value outside it \
            raises `RangeError` at run time. A constant is known to be wrong now, so it is refused now; use a \
            value within the range.",
        example: r#"extension demo;
import cpu;

monitor void boost(cap<cpu_qos> app) {
    set_attribute(app, "timeslice_adjustment", 5000000);
    // fix: set_attribute(app, "timeslice_adjustment", 1000000);
}"#,
    },
    CodeDoc {
        code: "P0313",
        title: "guard outside the standard library",
        explanation: "An application declares a `guard`. Guards are the service manager's side of the QoS \
            contract: they check every write to an attribute and may clamp it or block the application, so \
            they are installed only from the loader's own standard library, never from the applications they \
            police. Write a monitor or handler that requests changes with `set_attribute`; the standard \
            guard decides.",
        example: r#"extension demo;
import cpu;

guard int always_yes(cap<cpu_qos> app, int value) for "timeslice_adjustment" {
    return value;
}
// fix: delete the guard: the service manager installs stdlib's timeslice_guard"#,
    },
    CodeDoc {
        code: "P0314",
        title: "`block()` outside a standard-library guard",
        explanation: "`block(app)` suspends an application; only the service manager's guards, compiled from \
            the standard library, may call it, through the guard right they alone receive. An application \
            that could block others (or itself at will) would break isolation and the QoS contract. Request a \
            change through a writable attribute instead; the guard decides whether to block.",
        example: r#"extension demo;
import cpu;

monitor void throttle(cap<cpu_qos> app) {
    if (get_attribute(app, "avg_util_2p") > get_attribute(app, "target_util")) block(app);
    // fix: set_attribute(app, "timeslice_adjustment", -1000);
}"#,
    },
    CodeDoc {
        code: "P0315",
        title: "`OutOfFuel` caught or raised",
        explanation: "`OutOfFuel` is not an exception a program can handle or raise. Running out of fuel (or \
            being drained by the deadline timer) always ends the invocation: if a handler could catch it, it \
            could keep running past its budget, and predictability would be lost. Raise the extension's \
            `budget` if it legitimately needs more work per invocation.",
        example: r#"extension demo;
import cpu;

int steps = 0;

monitor void sample(cap<cpu_qos> app) {
    try {
        while (true) steps += 1;
    } handle OutOfFuel {
        steps = 0;
    }
    // fix: bound the loop, and raise `budget N;` if it needs more fuel
}"#,
    },
    CodeDoc {
        code: "P0316",
        title: "capability misuse",
        explanation: "A capability is made from an integer or boolean, or used as a number: in arithmetic, in a \
            comparison, or where an `int` is expected. Capabilities are unforgeable, opaque handles given by \
            the host as entry-point parameters; one made from a number could name another application's \
            attributes (isolation), and one turned into a number could leak a kernel address (integrity). \
            Keep capabilities as they are received and pass them on.",
        example: r#"extension demo;
import cpu;

monitor void sample(cap<cpu_qos> app) {
    cap<cpu_qos> other = 0x1000;
    // fix: use only capabilities the host passes in: cap<cpu_qos> other = app;
    raise_event("Error", get_attribute(other, "actual_cpu"));
}"#,
    },
    CodeDoc {
        code: "P0317",
        title: "guard writes an attribute",
        explanation: "A guard calls `set_attribute`, or calls a function that writes attributes through the \
            guard's capability. A guard returns the value to store; a write from inside a guard would run the \
            guards again re-entrantly, with no bound the call graph shows, and guards never receive the write \
            right. Return the adjusted value instead.",
        example: r#"// flags: --stdlib
extension demo_guard;
import cpu;

guard int clamp_guard(cap<cpu_qos> app, int value) for "timeslice_adjustment" {
    set_attribute(app, "timeslice_adjustment", 0);
    return value;
    // fix: if (value > 500000) return 500000; return value;
}"#,
    },
    CodeDoc {
        code: "P0901",
        title: "handler for an event nothing raises (warning)",
        explanation: "A handler is declared on an event that nothing in this extension raises. It runs only if \
            another extension raises that event for the same application, which may be intended (one monitor \
            shared by several handlers) or a forgotten `raise_event`. This is a warning: the extension is \
            still compiled. If the handler should react to this extension's own measurements, raise the event \
            from a monitor.",
        example: r#"extension demo;
import cpu;

handler void adjust(cap<cpu_qos> app, int e) on "Error" {
    set_attribute(app, "timeslice_adjustment", e);
}
// fix, if this extension is meant to raise it:
// monitor void sample(cap<cpu_qos> app) {
//     raise_event("Error", get_attribute(app, "target_cpu") - get_attribute(app, "actual_cpu"));
// }"#,
    },
];

/// The documentation of `code` (`P0310`, `p0310`), if it is a front-end code.
pub fn explain(code: &str) -> Option<&'static CodeDoc> {
    stdlib::codes::lookup(CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        stdlib::codes::check_table(CODES, 'P', 6).unwrap();
    }

    #[test]
    fn every_emitted_code_is_documented_and_every_documented_code_is_emitted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dirs: Vec<std::path::PathBuf> = vec![root.join("popcorn-front/src")];
        let sources: Vec<std::path::PathBuf> = dirs.iter().flat_map(|d| stdlib::codes::rs_files(d)).collect();
        stdlib::codes::check_coverage(CODES, 'P', &sources).unwrap();
    }

    /// Codes whose example cannot be a short complete file.
    const NOT_COMPILED: &[&str] = &["P0004"];

    #[test]
    fn every_example_produces_its_code() {
        let mut failures = Vec::new();
        for d in CODES.iter().filter(|d| !NOT_COMPILED.contains(&d.code)) {
            let options = crate::Options {
                file_name: format!("{}.pop", d.code),
                stdlib: d.example.starts_with("// flags: --stdlib"),
                inline: true,
            };
            let compiled = crate::compile(d.example, &options);
            let codes: Vec<&str> = compiled.diagnostics.iter().map(|x| x.code).collect();
            if !codes.contains(&d.code) {
                failures.push(format!("{}: the example gives {codes:?}", d.code));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
