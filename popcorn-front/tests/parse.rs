//! Lexer and parser: the language reference's examples, precedence, the
//! dangling `else`, the rejected constructs' nodes, error codes and spans,
//! error recovery, and robustness (no panic on any input, deep nesting).

use popcorn_front::ast::*;
use popcorn_front::{Diagnostic, parse};
use proptest::prelude::*;

// ------------------------------------------------------------------ helpers

fn ok(src: &str) -> SourceFile {
    match parse(src) {
        Ok(file) => file,
        Err(diags) => panic!("expected {src:?} to parse, got {diags:#?}"),
    }
}

fn errs(src: &str) -> Vec<Diagnostic> {
    match parse(src) {
        Ok(file) => panic!("expected {src:?} to fail, got {file:#?}"),
        Err(diags) => {
            assert!(!diags.is_empty(), "Err without diagnostics for {src:?}");
            diags
        }
    }
}

/// `(code, lo, hi)` of each diagnostic.
fn codes(diags: &[Diagnostic]) -> Vec<(&'static str, u32, u32)> {
    diags.iter().map(|d| (d.code, d.span.lo, d.span.hi)).collect()
}

/// Span of the `n`th (from 0) occurrence of `needle` in `src`.
fn at(src: &str, needle: &str, n: usize) -> Span {
    let lo = src
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("{needle:?} #{n} not in source"))
        .0;
    Span {
        lo: lo as u32,
        hi: (lo + needle.len()) as u32,
    }
}

fn ty(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Void(_) => "void".into(),
        TypeExpr::Int(_) => "int".into(),
        TypeExpr::Bool(_) => "bool".into(),
        TypeExpr::Struct(n, _) => format!("struct {}", n.name),
        TypeExpr::Cap(c, _) => format!("cap<{}>", c.name),
        TypeExpr::Pointer(t, _) => format!("{}*", ty(t)),
    }
}

/// An expression as an S-expression.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Var(v) => v.name.clone(),
        ExprKind::Unary(op, a) => {
            let op = match op {
                UnOp::Neg => "neg",
                UnOp::Not => "not",
                UnOp::BitNot => "bitnot",
            };
            format!("({op} {})", sx(a))
        }
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
        ExprKind::Assign(None, a, b) => format!("(= {} {})", sx(a), sx(b)),
        ExprKind::Assign(Some(op), a, b) => format!("({}= {} {})", op.symbol(), sx(a), sx(b)),
        ExprKind::IncDec {
            increment,
            prefix,
            target,
        } => {
            let op = if *increment { "++" } else { "--" };
            let fix = if *prefix { "pre" } else { "post" };
            format!("({fix}{op} {})", sx(target))
        }
        ExprKind::Call(f, args) => {
            let mut s = format!("(call {}", f.name);
            for a in args {
                s += " ";
                s += &sx(a);
            }
            s + ")"
        }
        ExprKind::Index(a, i) => format!("(index {} {})", sx(a), sx(i)),
        ExprKind::Field(a, f) => format!("(. {} {})", sx(a), f.name),
        ExprKind::Cast(t, a) => format!("(cast {} {})", ty(t), sx(a)),
        ExprKind::AddrOf(a) => format!("(& {})", sx(a)),
        ExprKind::Deref(a) => format!("(* {})", sx(a)),
        ExprKind::Arrow(a, f) => format!("(-> {} {})", sx(a), f.name),
    }
}

fn init(i: &Init) -> String {
    match i {
        Init::Expr(e) => sx(e),
        Init::List(es, _) => format!("{{{}}}", es.iter().map(sx).collect::<Vec<_>>().join(" ")),
    }
}

fn var(d: &VarDecl) -> String {
    let mut s = format!("{} {}", ty(&d.ty), d.name.name);
    if let Some(len) = &d.len {
        s += &format!("[{}]", sx(len));
    }
    if let Some(i) = &d.init {
        s += &format!(" = {}", init(i));
    }
    s
}

fn block(b: &Block) -> String {
    format!("{{{}}}", b.stmts.iter().map(st).collect::<Vec<_>>().join(" "))
}

/// A statement as an S-expression.
fn st(s: &Stmt) -> String {
    let opt = |e: &Option<Expr>| e.as_ref().map_or("_".to_owned(), sx);
    match &s.kind {
        StmtKind::Local(d) => format!("(let {})", var(d)),
        StmtKind::Expr(e) => sx(e),
        StmtKind::If { cond, then, els: None } => format!("(if {} {})", sx(cond), st(then)),
        StmtKind::If {
            cond,
            then,
            els: Some(e),
        } => format!("(if {} {} {})", sx(cond), st(then), st(e)),
        StmtKind::While { cond, body } => format!("(while {} {})", sx(cond), st(body)),
        StmtKind::DoWhile { body, cond } => format!("(do {} {})", st(body), sx(cond)),
        StmtKind::For { init, cond, step, body } => {
            let init = init.as_ref().map_or("_".to_owned(), |s| st(s));
            format!("(for {init} {} {} {})", opt(cond), opt(step), st(body))
        }
        StmtKind::Switch { value, arms } => {
            let arms: Vec<String> = arms
                .iter()
                .map(|a| {
                    let label = match &a.label {
                        CaseLabel::Case(e) => format!("case {}", sx(e)),
                        CaseLabel::Default(_) => "default".into(),
                    };
                    let body: Vec<String> = a.body.iter().map(st).collect();
                    format!("({label}{}{})", if body.is_empty() { "" } else { " " }, body.join(" "))
                })
                .collect();
            format!("(switch {} {})", sx(value), arms.join(" "))
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(e) => format!("(return {})", opt(e)),
        StmtKind::Block(b) => block(b),
        StmtKind::Try { body, handlers } => {
            let hs: Vec<String> = handlers
                .iter()
                .map(|h| format!("(handle {} {})", h.exception.name, block(&h.body)))
                .collect();
            format!("(try {} {})", block(body), hs.join(" "))
        }
        StmtKind::Raise(e) => format!("(raise {})", e.name),
        StmtKind::Empty => ";".into(),
        StmtKind::Goto(l) => format!("(goto {})", l.name),
        StmtKind::Label(l) => format!("(label {})", l.name),
        StmtKind::Asm(s) => format!("(asm {:?})", s.value),
    }
}

/// The body of the only function of `src`.
fn body(src: &str) -> String {
    let file = ok(src);
    let funcs: Vec<&FuncDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Func(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(funcs.len(), 1, "{src}");
    block(&funcs[0].body)
}

/// `e` parsed as an expression statement.
fn expr(e: &str) -> String {
    let b = body(&format!("void f() {{ {e}; }}"));
    b[1..b.len() - 1].to_owned()
}

// ------------------------------------------------------------------ the reference's examples

const CPU_PID: &str = r#"extension cpu_pid;
import cpu;

const int KP = 500; const int KI = 100; const int KD = 50;   // per-mille gains
int e_prev = 0;
int u_prev = 0;

monitor void cpu_monitor(cap<cpu_qos> app) {
    int actual = get_attribute(app, "actual_cpu");
    int target = get_attribute(app, "target_cpu");
    raise_event("Error", target - actual);
}

handler void cpu_pid(cap<cpu_qos> app, int e) on "Error" {
    // u[n] = (Kp+Kd+Ki)·e[n] − Kd·e[n−1] + u[n−1]
    int u = ((KP + KD + KI) * e - KD * e_prev) / 1000 + u_prev;
    e_prev = e;
    u_prev = u;
    set_attribute(app, "timeslice_adjustment", u);
}
"#;

const GUARD: &str = r#"guard int timeslice_guard(cap<cpu_qos> app, int value) for "timeslice_adjustment" {
    // QoS safe: average utilization over two periods <= target utilization
    if (get_attribute(app, "avg_util_2p") <= get_attribute(app, "target_util")) {
        int t = get_attribute(app, "target_cpu") + value;
        if (t < 0) return 0;
        return t;                     // the new timeslice
    }
    block(app);                      // privileged guard-only API
    return 0;
}
"#;

/// The "Declarations" block, with bodies for its `{ ... }`.
const DECLARATIONS: &str = r#"extension cpu_pid;                 // object name
import cpu;                        // stdlib: attribute class cpu_qos, events, fixed-point helpers

const int KP = 600;                // compile-time constants
int e_prev = 0;                    // extension state: private, persists across invocations
int hist[16];
budget 10000;

int clamp(int v, int lo, int hi) { if (v < lo) return lo; if (v > hi) return hi; return v; }

monitor  void NAME(cap<cpu_qos> app) { }                 // run periodically by a service manager
handler  void NAME(cap<cpu_qos> app, int value) on "Error" { return; }  // run when the event is raised
guard    int  NAME(cap<cpu_qos> app, int value) for "timeslice_adjustment" { return value; } // stdlib only
attribute class cpu_qos {           // as the stdlib declares it; units: microseconds of CPU
    int period readonly;            //   the application's period
    int target_cpu readonly;        //   CPU time promised per period
    int actual_cpu readonly;        //   CPU time received in the last period
    int target_util readonly;       //   target_cpu / period, per-mille
    int avg_util_2p readonly;       //   average utilization over the last two periods, per-mille
    int timeslice_adjustment range(-1000000, 1000000);
}
"#;

#[test]
fn paper_cpu_pid() {
    let file = ok(CPU_PID);
    let kinds: Vec<&str> = file
        .items
        .iter()
        .map(|i| match i {
            Item::Extension(_) => "extension",
            Item::Import(_) => "import",
            Item::Const(_) => "const",
            Item::Global(_) => "global",
            Item::Func(_) => "func",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "extension",
            "import",
            "const",
            "const",
            "const",
            "global",
            "global",
            "func",
            "func"
        ]
    );
    let Item::Extension(name) = &file.items[0] else {
        unreachable!()
    };
    assert_eq!(name.name, "cpu_pid");
    assert_eq!(name.span, at(CPU_PID, "cpu_pid", 0));
    let Item::Const(kd) = &file.items[4] else {
        unreachable!()
    };
    assert_eq!(var(kd), "int KD = 50");
    assert_eq!(kd.name.span, at(CPU_PID, "KD", 0));
    assert_eq!(kd.span, at(CPU_PID, "int KD = 50", 0));

    let Item::Func(monitor) = &file.items[7] else {
        unreachable!()
    };
    assert_eq!(monitor.kind, FuncKind::Monitor);
    assert_eq!(monitor.name.name, "cpu_monitor");
    assert_eq!(ty(&monitor.ret), "void");
    assert_eq!(monitor.params.len(), 1);
    assert_eq!(ty(&monitor.params[0].ty), "cap<cpu_qos>");
    assert_eq!(monitor.params[0].span, at(CPU_PID, "cap<cpu_qos> app", 0));
    assert_eq!(
        block(&monitor.body),
        r#"{(let int actual = (call get_attribute app "actual_cpu")) (let int target = (call get_attribute app "target_cpu")) (call raise_event "Error" (- target actual))}"#
    );
    let start = CPU_PID.find("monitor").unwrap() as u32;
    let end = (CPU_PID.find("handler").unwrap() - 2) as u32;
    assert_eq!(monitor.span, Span { lo: start, hi: end });

    let Item::Func(handler) = &file.items[8] else {
        unreachable!()
    };
    let FuncKind::Handler { event } = &handler.kind else {
        panic!("{:?}", handler.kind)
    };
    assert_eq!(event.value, "Error");
    assert_eq!(event.span, at(CPU_PID, "\"Error\"", 1));
    assert_eq!(
        handler.params.iter().map(|p| p.name.name.as_str()).collect::<Vec<_>>(),
        ["app", "e"]
    );
    let first = &handler.body.stmts[0];
    assert_eq!(
        st(first),
        "(let int u = (+ (/ (- (* (+ (+ KP KD) KI) e) (* KD e_prev)) 1000) u_prev))"
    );
    assert_eq!(
        first.span,
        at(
            CPU_PID,
            "int u = ((KP + KD + KI) * e - KD * e_prev) / 1000 + u_prev;",
            0
        )
    );
    let StmtKind::Local(u) = &first.kind else {
        unreachable!()
    };
    let Some(Init::Expr(rhs)) = &u.init else { unreachable!() };
    assert_eq!(
        rhs.span,
        at(CPU_PID, "((KP + KD + KI) * e - KD * e_prev) / 1000 + u_prev", 0)
    );
    let ExprKind::Binary(BinOp::Add, div, _) = &rhs.kind else {
        unreachable!()
    };
    assert_eq!(div.span, at(CPU_PID, "((KP + KD + KI) * e - KD * e_prev) / 1000", 0));
    assert_eq!(
        handler.body.stmts[1..].iter().map(st).collect::<Vec<_>>(),
        [
            "(= e_prev e)",
            "(= u_prev u)",
            r#"(call set_attribute app "timeslice_adjustment" u)"#
        ]
    );
    assert_eq!(
        handler.body.stmts[3].span,
        at(CPU_PID, r#"set_attribute(app, "timeslice_adjustment", u);"#, 0)
    );
}

#[test]
fn stdlib_modules_parse() {
    assert!(!stdlib::POPCORN_MODULES.is_empty());
    for (name, src) in stdlib::POPCORN_MODULES {
        if let Err(d) = parse(src) {
            panic!("stdlib module {name}: {d:#?}");
        }
    }
}

#[test]
fn paper_guard() {
    let file = ok(GUARD);
    let [Item::Func(guard)] = &file.items[..] else {
        panic!("{file:#?}")
    };
    let FuncKind::Guard { attr } = &guard.kind else {
        panic!("{:?}", guard.kind)
    };
    assert_eq!(attr.value, "timeslice_adjustment");
    assert_eq!(attr.span, at(GUARD, "\"timeslice_adjustment\"", 0));
    assert_eq!(ty(&guard.ret), "int");
    assert_eq!(
        block(&guard.body),
        concat!(
            r#"{(if (<= (call get_attribute app "avg_util_2p") (call get_attribute app "target_util")) "#,
            r#"{(let int t = (+ (call get_attribute app "target_cpu") value)) (if (< t 0) (return 0)) (return t)}) "#,
            r#"(call block app) (return 0)}"#
        )
    );
    assert_eq!(
        guard.span,
        Span {
            lo: 0,
            hi: GUARD.trim_end().len() as u32
        }
    );
    assert_eq!(guard.body.span.hi, GUARD.trim_end().len() as u32);
    let StmtKind::If { cond, .. } = &guard.body.stmts[0].kind else {
        unreachable!()
    };
    assert_eq!(
        cond.span,
        at(
            GUARD,
            r#"get_attribute(app, "avg_util_2p") <= get_attribute(app, "target_util")"#,
            0
        )
    );
}

#[test]
fn reference_declarations() {
    let file = ok(DECLARATIONS);
    assert_eq!(file.items.len(), 11);
    let Item::Global(hist) = &file.items[4] else {
        panic!("{:?}", file.items[4])
    };
    assert_eq!(var(hist), "int hist[16]");
    let Item::Budget(b) = &file.items[5] else {
        panic!("{:?}", file.items[5])
    };
    assert_eq!(sx(b), "10000");
    let Item::Func(clamp) = &file.items[6] else {
        unreachable!()
    };
    assert_eq!(
        block(&clamp.body),
        "{(if (< v lo) (return lo)) (if (> v hi) (return hi)) (return v)}"
    );
    let Item::Class(class) = &file.items[10] else {
        panic!("{:?}", file.items[10])
    };
    assert_eq!(class.name.name, "cpu_qos");
    assert_eq!(class.attrs.len(), 6);
    assert!(class.attrs[..5].iter().all(|a| a.readonly && a.range.is_none()));
    let adj = &class.attrs[5];
    assert_eq!(adj.name.name, "timeslice_adjustment");
    assert!(!adj.readonly);
    let (lo, hi) = adj.range.as_ref().unwrap();
    assert_eq!((sx(lo), sx(hi)), ("(neg 1000000)".into(), "1000000".into()));
    assert_eq!(
        adj.span,
        at(DECLARATIONS, "int timeslice_adjustment range(-1000000, 1000000)", 0)
    );
    assert_eq!(
        class.span.lo,
        DECLARATIONS.find("attribute class cpu_qos {").unwrap() as u32
    );
}

#[test]
fn reference_statements_and_exceptions() {
    assert_eq!(
        body("void f() { try { u = total / count; } handle DivideByZero { u = 0; } raise Overflow; }"),
        "{(try {(= u (/ total count))} (handle DivideByZero {(= u 0)})) (raise Overflow)}"
    );
    assert_eq!(
        body("void f() { try { x(); } handle DivideByZero { y(); } handle Overflow { } }"),
        "{(try {(call x)} (handle DivideByZero {(call y)}) (handle Overflow {}))}"
    );
    assert_eq!(
        body("void f() { while (i < 10) i++; do { i--; } while (i); for (;;) break; continue; return; }"),
        "{(while (< i 10) (post++ i)) (do {(post-- i)} i) (for _ _ _ break) continue (return _)}"
    );
    assert_eq!(
        body("void f() { for (int i = 0; i < size(a); i += 1) s = s + a[i]; for (i = 0; ; ++i) { } }"),
        "{(for (let int i = 0) (< i (call size a)) (+= i 1) (= s (+ s (index a i)))) (for (= i 0) _ (pre++ i) {})}"
    );
    assert_eq!(
        body("void f() { int a[16]; struct s v; cap<c> h; int w[4] = {1, 2, 3, 4}; bool b = true; ; {} }"),
        "{(let int a[16]) (let struct s v) (let cap<c> h) (let int w[4] = {1 2 3 4}) (let bool b = true) ; {}}"
    );
    assert_eq!(
        body("void f() { int w[2] = {1, 2,}; int z[1] = {}; }"),
        "{(let int w[2] = {1 2}) (let int z[1] = {})}"
    );
}

#[test]
fn items() {
    let src = r#"
        struct sample { int t; int v; int h[4]; };
        struct s2 { int a; }
        attribute class c { int a readonly; int b range(-1000, 1000); int x readonly range(0, 1); int y range(0, 1) readonly; };
        event Error;
        extern int foo(int x);
        extern void bar(void);
        extern int get_attribute(cap<C> c, "name");
        extern int baz(int, int a[], int *);
        int f(void) { return 0; }
        void g(int a[], struct sample s) { }
        int w[4] = {1, 2, 3, 4};
        struct sample gs;
        ;
    "#;
    let file = ok(src);
    let Item::Struct(s) = &file.items[0] else { panic!() };
    assert_eq!(s.name.name, "sample");
    assert_eq!(
        s.fields.iter().map(var).collect::<Vec<_>>(),
        ["int t", "int v", "int h[4]"]
    );
    assert_eq!(s.span, at(src, "struct sample { int t; int v; int h[4]; }", 0));
    let Item::Struct(s2) = &file.items[1] else { panic!() };
    assert_eq!(s2.fields.len(), 1);
    let Item::Class(c) = &file.items[2] else { panic!() };
    let mods: Vec<(bool, Option<(String, String)>)> = c
        .attrs
        .iter()
        .map(|a| (a.readonly, a.range.as_ref().map(|(l, h)| (sx(l), sx(h)))))
        .collect();
    assert_eq!(
        mods,
        [
            (true, None),
            (false, Some(("(neg 1000)".into(), "1000".into()))),
            (true, Some(("0".into(), "1".into()))),
            (true, Some(("0".into(), "1".into()))),
        ]
    );
    let Item::Event(e) = &file.items[3] else { panic!() };
    assert_eq!(e.name, "Error");
    let Item::Extern(x) = &file.items[4] else { panic!() };
    assert_eq!((x.name.name.as_str(), ty(&x.ret)), ("foo", "int".into()));
    assert_eq!(x.span, at(src, "extern int foo(int x)", 0));
    assert!(matches!(&file.items[5], Item::Extern(x) if x.name.name == "bar"));
    assert!(matches!(&file.items[6], Item::Extern(x) if x.name.name == "get_attribute"));
    assert!(matches!(&file.items[7], Item::Extern(x) if x.name.name == "baz"));
    let Item::Func(f) = &file.items[8] else { panic!() };
    assert!(f.params.is_empty());
    let Item::Func(g) = &file.items[9] else { panic!() };
    assert_eq!(
        g.params.iter().map(|p| (ty(&p.ty), p.array)).collect::<Vec<_>>(),
        [("int".into(), true), ("struct sample".into(), false)]
    );
    assert_eq!(g.params[0].span, at(src, "int a[]", 1));
    let Item::Global(w) = &file.items[10] else { panic!() };
    assert_eq!(var(w), "int w[4] = {1 2 3 4}");
    let Some(Init::List(_, list_span)) = &w.init else {
        panic!()
    };
    assert_eq!(*list_span, at(src, "{1, 2, 3, 4}", 0));
    let Item::Global(gs) = &file.items[11] else { panic!() };
    assert_eq!(var(gs), "struct sample gs");
    assert_eq!(file.items.len(), 12);
}

#[test]
fn literals() {
    assert_eq!(expr("0x3e8 + 1000 + 0XFF + 0"), "(+ (+ (+ 1000 1000) 255) 0)");
    assert_eq!(expr("18446744073709551615"), "18446744073709551615");
    assert_eq!(expr("0xffffffffffffffff"), "18446744073709551615");
    assert_eq!(expr("-9223372036854775808"), "(neg 9223372036854775808)");
    assert_eq!(expr("true && !false"), "(&& true (not false))");
    assert_eq!(expr(r#"f("a\"b\\c\nd")"#), r#"(call f "a\"b\\c\nd")"#);
    assert_eq!(expr("a /* comment */ + // line\n b"), "(+ a b)");
    assert_eq!(expr("a /* not /* nested */ + b"), "(+ a b)");
    // `size` and `block` are plain identifiers; keywords are not.
    assert_eq!(expr("size(a) + block(x)"), "(+ (call size a) (call block x))");
    assert_eq!(expr("integer + int_ + _x9"), "(+ (+ integer int_) _x9)");
}

// ------------------------------------------------------------------ expressions

#[test]
fn precedence() {
    assert_eq!(expr("a + b * c"), "(+ a (* b c))");
    assert_eq!(expr("a * b + c"), "(+ (* a b) c)");
    assert_eq!(expr("a || b && c"), "(|| a (&& b c))");
    assert_eq!(expr("a && b || c"), "(|| (&& a b) c)");
    assert_eq!(expr("a = b = c"), "(= a (= b c))");
    assert_eq!(expr("a += b -= c"), "(+= a (-= b c))");
    assert_eq!(expr("-a * b"), "(* (neg a) b)");
    assert_eq!(expr("a < b == c"), "(== (< a b) c)");
    assert_eq!(expr("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr("a / b % c"), "(% (/ a b) c)");
    assert_eq!(expr("a | b ^ c & d"), "(| a (^ b (& c d)))");
    assert_eq!(expr("a & b == c"), "(& a (== b c))");
    assert_eq!(expr("a << b + c"), "(<< a (+ b c))");
    assert_eq!(expr("a < b << c"), "(< a (<< b c))");
    assert_eq!(expr("a >> b >= c"), "(>= (>> a b) c)");
    assert_eq!(expr("a != b || c <= d && e > f"), "(|| (!= a b) (&& (<= c d) (> e f)))");
    assert_eq!(expr("x = a || b"), "(= x (|| a b))");
    assert_eq!(expr("x <<= y >>= z"), "(<<= x (>>= y z))");
    assert_eq!(
        expr("x *= y /= z %= w &= v |= u ^= t"),
        "(*= x (/= y (%= z (&= w (|= v (^= u t))))))"
    );
    assert_eq!(expr("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(expr("!a == ~b"), "(== (not a) (bitnot b))");
    assert_eq!(expr("- -a"), "(neg (neg a))");
    assert_eq!(expr("-a[i]"), "(neg (index a i))");
    assert_eq!(expr("!f(x).y"), "(not (. (call f x) y))");
    assert_eq!(expr("++a[i]"), "(pre++ (index a i))");
    assert_eq!(expr("a++ + --b"), "(+ (post++ a) (pre-- b))");
    assert_eq!(expr("a+++b"), "(+ (post++ a) b)");
    assert_eq!(expr("f(a, g(b, c), -1)"), "(call f a (call g b c) (neg 1))");
    assert_eq!(expr("a[b][c].d.e"), "(. (. (index (index a b) c) d) e)");
}

#[test]
fn expression_spans() {
    let src = "void f() { x = a + b * c; }";
    let file = ok(src);
    let Item::Func(f) = &file.items[0] else { panic!() };
    let StmtKind::Expr(e) = &f.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(e.span, at(src, "x = a + b * c", 0));
    let ExprKind::Assign(None, lhs, rhs) = &e.kind else {
        panic!()
    };
    assert_eq!(lhs.span, at(src, "x", 0));
    assert_eq!(rhs.span, at(src, "a + b * c", 0));
    let ExprKind::Binary(BinOp::Add, _, mul) = &rhs.kind else {
        panic!()
    };
    assert_eq!(mul.span, at(src, "b * c", 0));
    assert_eq!(f.body.stmts[0].span, at(src, "x = a + b * c;", 0));
    assert_eq!(f.body.span, at(src, "{ x = a + b * c; }", 0));
    assert_eq!(
        f.span,
        Span {
            lo: 0,
            hi: src.len() as u32
        }
    );
}

// ------------------------------------------------------------------ statements

#[test]
fn dangling_else() {
    assert_eq!(body("void f() { if (a) if (b) x; else y; }"), "{(if a (if b x y))}");
    assert_eq!(
        body("void f() { if (a) { if (b) x; } else y; }"),
        "{(if a {(if b x)} y)}"
    );
    assert_eq!(
        body("void f() { if (a) x; else if (b) y; else z; }"),
        "{(if a x (if b y z))}"
    );
    assert_eq!(
        body("void f() { if (a) while (b) if (c) x; else y; }"),
        "{(if a (while b (if c x y)))}"
    );
    assert_eq!(
        body("void f() { if (a) for (;;) if (b) x; else y; else z; }"),
        "{(if a (for _ _ _ (if b x y)) z)}"
    );
    assert_eq!(
        body("void f() { if (a) if (b) if (c) x; else y; else z; }"),
        "{(if a (if b (if c x y) z))}"
    );
    assert_eq!(
        body("void f() { do if (a) x; else y; while (b); }"),
        "{(do (if a x y) b)}"
    );
    assert_eq!(body("void f() { do if (a) x; while (b); }"), "{(do (if a x) b)}");
}

#[test]
fn rejected_constructs_are_nodes() {
    assert_eq!(expr("(int) x"), "(cast int x)");
    assert_eq!(
        expr("(int *) (struct s *) p + 1"),
        "(+ (cast int* (cast struct s* p)) 1)"
    );
    assert_eq!(expr("(cap<c>) -1"), "(cast cap<c> (neg 1))");
    assert_eq!(expr("(x) - 1"), "(- x 1)");
    assert_eq!(expr("&x"), "(& x)");
    assert_eq!(expr("*p = *q * 2"), "(= (* p) (* (* q) 2))");
    assert_eq!(expr("a & &b"), "(& a (& b))");
    assert_eq!(expr("p->f->g"), "(-> (-> p f) g)");
    assert_eq!(expr("spin_lock(&l)"), "(call spin_lock (& l))");
    assert_eq!(
        body("void f() { goto out; out: return; }"),
        "{(goto out) (label out) (return _)}"
    );
    assert_eq!(body("void f() { a: b: ; }"), "{(label a) (label b) ;}");
    assert_eq!(
        body(r#"void f() { asm("cli"); __asm__ volatile ("sti"); asm volatile goto ("a" "b" : : : "memory" : l); }"#),
        r#"{(asm "cli") (asm "sti") (asm "ab")}"#
    );
    assert_eq!(
        body(r#"void f() { __asm__ __volatile__ ("mov %1, %0" : "=r"(x) : [in] "r"(y + 1)); }"#),
        r#"{(asm "mov %1, %0")}"#
    );
    assert_eq!(
        body("void f() { int *p; int **q = 0; }"),
        "{(let int* p) (let int** q = 0)}"
    );
    let src = "extern int foo(int x); int *g; void *h(int *p) { }";
    let file = ok(src);
    let [Item::Extern(e), Item::Global(g), Item::Func(h)] = &file.items[..] else {
        panic!("{file:#?}")
    };
    assert_eq!(e.name.name, "foo");
    assert_eq!(var(g), "int* g");
    let TypeExpr::Pointer(inner, span) = &g.ty else {
        panic!()
    };
    assert!(matches!(**inner, TypeExpr::Int(_)));
    assert_eq!(*span, at(src, "int *", 0));
    assert_eq!((ty(&h.ret), ty(&h.params[0].ty)), ("void*".into(), "int*".into()));
    let src = "void f() { p->x = (int) &y; }";
    let file = ok(src);
    let Item::Func(f) = &file.items[0] else { panic!() };
    let StmtKind::Expr(Expr {
        kind: ExprKind::Assign(_, lhs, rhs),
        ..
    }) = &f.body.stmts[0].kind
    else {
        panic!()
    };
    assert_eq!(lhs.span, at(src, "p->x", 0));
    assert_eq!(rhs.span, at(src, "(int) &y", 0));
    let ExprKind::Cast(t, inner) = &rhs.kind else { panic!() };
    assert_eq!(ty(t), "int");
    assert_eq!(inner.span, at(src, "&y", 0));
    let src = "void f() { l: goto l; asm(\"nop\"); }";
    let file = ok(src);
    let Item::Func(f) = &file.items[0] else { panic!() };
    assert_eq!(f.body.stmts[0].span, at(src, "l:", 0));
    assert_eq!(f.body.stmts[1].span, at(src, "goto l;", 0));
    let StmtKind::Asm(s) = &f.body.stmts[2].kind else {
        panic!()
    };
    assert_eq!(s.span, at(src, "\"nop\"", 0));
    assert_eq!(f.body.stmts[2].span, at(src, "asm(\"nop\");", 0));
}

// ------------------------------------------------------------------ errors

#[test]
fn unexpected_token() {
    let src = "void f() { x = 1 }";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0001", at(src, "}", 0).lo, at(src, "}", 0).hi)]);
    assert_eq!(d[0].message, "expected `;`, found `}`");

    let src = "int x = ;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0001", 8, 9)]);
    assert_eq!(d[0].message, "expected one of `{`, expression, found `;`");

    let src = "void f() { return }";
    assert_eq!(errs(src)[0].message, "expected one of `;`, expression, found `}`");

    let src = "int f(int x,) { }";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0001", 12, 13)]);
    assert_eq!(d[0].message, "expected type, found `)`");

    let src = "extension 5;";
    let d = errs(src);
    assert_eq!(d[0].message, "expected identifier, found integer literal `5`");
    assert_eq!(codes(&d), [("P0001", 10, 11)]);

    let src = "void f() { if x { } }";
    assert_eq!(errs(src)[0].message, "expected `(`, found identifier `x`");

    let src = "cap<c h;";
    assert_eq!(errs(src)[0].message, "expected `>`, found identifier `h`");
}

#[test]
fn end_of_file() {
    let src = "void f() { x = 1; ";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0001", src.len() as u32, src.len() as u32)]);
    assert_eq!(d[0].message, "expected one of `}`, statement, found end of file");
    let src = "int x = 1  /* trailing */ ";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0001", src.len() as u32, src.len() as u32)]);
    assert_eq!(d[0].message, "expected one of `;`, `,`, operator, found end of file");
}

#[test]
fn lexical_errors() {
    let src = "int x = 1; /* never closed\n int y;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", 11, 13)]);
    assert_eq!(d[0].message, "unterminated block comment");

    let src = "void f() { g(\"abc); }\nint y;";
    let d = errs(src);
    let lo = src.find('"').unwrap() as u32;
    assert_eq!(codes(&d)[0], ("P0002", lo, src.find('\n').unwrap() as u32));
    assert_eq!(d[0].message, "unterminated string literal");

    let src = "int x = \"abc";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", 8, src.len() as u32)]);

    let src = r#"void f() { g("a\tb"); }"#;
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", at(src, "\\t", 0).lo, at(src, "\\t", 0).hi)]);
    assert_eq!(d[0].message, "unknown escape `\\t` in string literal");

    let src = "int x = 1 @ 2;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", 10, 11)]);
    assert_eq!(d[0].message, "unexpected character `@`");

    let src = "int x = a ? b : c;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", 10, 11)]);
    assert!(d[0].help.as_deref().unwrap().contains("?:"));

    // A run of bad characters is one error; non-ASCII is one character.
    let src = "int é = 1; int x = 1 $$$;";
    let d = errs(src);
    assert_eq!(
        codes(&d),
        [("P0002", 4, 6), ("P0002", at(src, "$$$", 0).lo, at(src, "$$$", 0).hi)]
    );
    assert_eq!(d[0].message, "unexpected character `é`");
    assert_eq!(d[1].message, "unexpected characters `$$$`");

    let src = "int x = 18446744073709551616;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0003", 8, 28)]);
    assert_eq!(d[0].message, "integer literal too large");
    let src = "int x = 0x10000000000000000;";
    assert_eq!(codes(&errs(src)), [("P0003", 8, 27)]);

    let src = "int x = 10u; int y = 0x; int z = 1e5; int w = 007;";
    let d = errs(src);
    assert_eq!(
        codes(&d),
        [
            ("P0002", at(src, "10u", 0).lo, at(src, "10u", 0).hi),
            ("P0002", at(src, "0x", 0).lo, at(src, "0x", 0).hi),
            ("P0002", at(src, "1e5", 0).lo, at(src, "1e5", 0).hi),
            ("P0002", at(src, "007", 0).lo, at(src, "007", 0).hi),
        ]
    );
    assert!(d[3].message.contains("leading zero"));

    // A preprocessor line is skipped whole: the next line parses normally.
    let src = "#define N 4\nint f() { return 'a'; }\n#include <x.h>\nint g() { return 1 }";
    let d = errs(src);
    assert_eq!(
        codes(&d),
        [
            ("P0002", 0, 7),
            ("P0002", at(src, "'a'", 0).lo, at(src, "'a'", 0).hi),
            ("P0002", 36, 44),
            ("P0001", 70, 71)
        ],
        "{d:#?}"
    );
    assert_eq!(d[0].message, "preprocessor directive `#define`");

    let src = "int x = 'a' + 1.5;";
    let d = errs(src);
    assert_eq!(codes(&d), [("P0002", 8, 11), ("P0002", 14, 17)]);
    assert_eq!(d[0].message, "character literal `'a'`");
    assert_eq!(d[1].message, "floating-point literal `1.5`");
}

#[test]
fn multiple_errors_in_one_run() {
    let src = "void f() {\n    x = 1 y = 2;\n    foo(a b c);\n    if (x y) { z; }\n    ok();\n}\nint g( { }\nint h = 1;\nint = 2;\n";
    let d = errs(src);
    assert_eq!(
        codes(&d),
        [
            ("P0001", at(src, "y", 0).lo, at(src, "y", 0).hi),
            ("P0001", at(src, "b", 0).lo, at(src, "b", 0).hi),
            ("P0001", at(src, "y", 1).lo, at(src, "y", 1).hi),
            ("P0001", at(src, "{", 2).lo, at(src, "{", 2).hi),
            ("P0001", at(src, "int = 2", 0).lo + 4, at(src, "int = 2", 0).lo + 5),
        ],
        "{d:#?}"
    );
    assert_eq!(
        d[1].message,
        "expected one of `,`, `)`, `(`, operator, found identifier `b`"
    );
    assert_eq!(d[3].message, "expected one of `)`, type, found `{`");
    assert_eq!(d[4].message, "expected one of `*`, identifier, found `=`");
    // Lexical and syntax errors together, in source order.
    let src = "int x = @;\nint y = 99999999999999999999999\nint z = 1;\nvoid f() { return 1 }";
    let d = errs(src);
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["P0002", "P0003", "P0001", "P0001"],
        "{d:#?}"
    );
    assert!(d.windows(2).all(|w| w[0].span.lo <= w[1].span.lo));
}

#[test]
fn recovery_inside_bodies() {
    // A bad statement in a nested block does not end the function early.
    let src = "void f() { if (a) { b c; d; } e; }\nvoid g() { h i; }\nint k;";
    let d = errs(src);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0].span, at(src, "c", 0));
    assert_eq!(d[1].span.lo, at(src, "h i", 0).lo + 2);
    // Bad struct fields and class attributes.
    let src = "struct s { int a int b; int c; }\nattribute class k { int a readonly readonly; int b; }\nint z = 1 2;";
    let d = errs(src);
    assert_eq!(d.len(), 3, "{d:#?}");
}

#[test]
fn error_count_is_capped() {
    let src = "void f() { ".to_owned() + &"a b; ".repeat(1000) + "}";
    let d = errs(&src);
    assert_eq!(d.len(), 100);
    assert!(d[99].help.as_deref().unwrap().contains("stopped after 100"));
    let src = "@ ; ".repeat(1000);
    assert_eq!(errs(&src).len(), 100);
}

// ------------------------------------------------------------------ robustness

#[test]
fn deep_nesting_is_refused() {
    let n = 10_000;
    for (src, what) in [
        (format!("int x = {}1{};", "(".repeat(n), ")".repeat(n)), "parentheses"),
        (format!("void f() {{ {} }}", "{".repeat(n)), "unclosed blocks"),
        (format!("void f() {{ {}{} }}", "{".repeat(n), "}".repeat(n)), "blocks"),
        (format!("int x = {}1{};", "a[".repeat(n), "]".repeat(n)), "indexing"),
        (format!("int x = {}1;", "-".repeat(n)), "unary minus"),
        (format!("int x = {}1;", "- ".repeat(n)), "unary minus"),
        (format!("int x = {}1;", "(int)".repeat(n)), "casts"),
        (format!("int x = 1{};", " + 1".repeat(n)), "a long sum"),
        (format!("int x = {}1;", "a = ".repeat(n)), "a long assignment chain"),
        (format!("void f() {{ {} x; }}", "if (a) ".repeat(n)), "nested ifs"),
        (
            format!("void f() {{ if (a) x; {} }}", "else if (a) x; ".repeat(n)),
            "an else-if ladder",
        ),
        (format!("void f() {{ {} x; }}", "while (a) ".repeat(n)), "nested loops"),
        (
            format!("void f() {{ {} x; {} }}", "do ".repeat(n), "while (a); ".repeat(n)),
            "nested do",
        ),
        (format!("int x = a{};", ".f".repeat(n)), "field chain"),
        (format!("int x = a{};", "++".repeat(n)), "postfix chain"),
        (format!("int {}p;", "*".repeat(n)), "pointer type"),
        (
            format!("extern int f(int {});", "*".repeat(n)),
            "pointer type in an extern",
        ),
    ] {
        let d = errs(&src);
        assert!(d.iter().any(|d| d.code == "P0004"), "{what}: {d:#?}");
        assert!(d.len() <= 101, "{what}: {} diagnostics", d.len());
    }
    // Just within the limit is fine.
    ok(&format!("int x = {}1{};", "(".repeat(200), ")".repeat(200)));
    ok(&format!("int x = 1{};", " + 1".repeat(200)));
    ok(&format!("void f() {{ {}{} }}", "{".repeat(200), "}".repeat(200)));
}

#[test]
fn empty_and_trivial_inputs() {
    assert_eq!(ok("").items.len(), 0);
    assert_eq!(ok("  // only a comment\n/* and another */ ").items.len(), 0);
    assert_eq!(ok(";;").items.len(), 0);
    errs("}");
    errs("{");
    errs(")");
    errs("/*");
    errs("\"");
    errs("0x");
}

/// The language's tokens, for token soup.
#[rustfmt::skip]
const VOCABULARY: &[&str] = &[
    "extension", "import", "const", "budget", "struct", "attribute", "class", "readonly", "range", "event",
    "monitor", "handler", "guard", "on", "for", "if", "else", "while", "do", "break", "continue", "return", "try",
    "handle", "raise", "true", "false", "int", "bool", "void", "cap", "extern", "goto", "asm", "__asm__",
    "volatile", "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "~", "!", "&&", "||", "==", "!=", "<", "<=",
    ">", ">=", "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "++", "--", "->", ".", ",", ";",
    ":", "(", ")", "{", "}", "[", "]", "x", "app", "size", "0", "42", "0x3e8", "\"Error\"", "\"a\\n\"", "/* c */",
    "// c\n", "@", "\"open", "99999999999999999999999",
];

fn check_no_panic(src: &str) {
    match parse(src) {
        Ok(_) => {}
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in &diags {
                assert!(
                    d.span.lo <= d.span.hi && d.span.hi as usize <= src.len(),
                    "{d:?} in {src:?}"
                );
                assert!(src.is_char_boundary(d.span.lo as usize) && src.is_char_boundary(d.span.hi as usize));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn byte_soup_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..300)) {
        check_no_panic(&tokens.join(" "));
    }

    #[test]
    fn mutated_program_never_panics(pos in 0..CPU_PID.len(), len in 0usize..20, tok in proptest::sample::select(VOCABULARY)) {
        let mut src = CPU_PID.to_owned();
        let pos = (0..=pos).rev().find(|&p| src.is_char_boundary(p)).unwrap_or(0);
        let end = (pos + len..=src.len()).find(|&p| src.is_char_boundary(p)).unwrap_or(src.len());
        src.replace_range(pos..end, tok);
        check_no_panic(&src);
    }
}

// ------------------------------------------------------------------ habits of C

/// The first diagnostic's message and help, for a function body.
fn first_help(body: &str) -> (String, String) {
    let diags = errs(&format!("extension e;\n{body}\n"));
    (diags[0].message.clone(), diags[0].help.clone().unwrap_or_default())
}

#[test]
fn habits_of_c_and_keywords_as_names_say_what_to_write_instead() {
    let cases = [
        (
            "int f() { int while = 1; return 0; }",
            "found keyword `while`",
            "`while` is a keyword",
        ),
        ("int int = 3;", "found keyword `int`", "`int` is a keyword"),
        (
            "unsigned int g = 0;",
            "found identifier `unsigned`",
            "one integer type, `int`",
        ),
        (
            "int f() { uint32_t x = 1; return x; }",
            "found identifier `x`",
            "one integer type, `int`",
        ),
        ("int m[3][4];", "found `[`", "arrays have one dimension"),
        (
            "int f() { return sizeof(int); }",
            "found keyword `int`",
            "there is no `sizeof`",
        ),
        (
            "int f(int x) { return x ? 1 : 2; }",
            "unexpected character `?`",
            "no conditional operator `?:`",
        ),
    ];
    for (src, message, help) in cases {
        let (m, h) = first_help(src);
        assert!(m.contains(message), "{src}: {m}");
        assert!(h.contains(help), "{src}: {h}");
    }
    // An ordinary error gets no such help.
    let (_, h) = first_help("int f() { return 1 }");
    assert_eq!(h, "");
}

#[test]
fn a_declaration_may_name_several_variables_of_one_type() {
    let src = "extension e;\nint g, h[4], k = 3;\nint f() { int a, b = 2, c[3]; return b; }\n";
    let file = ok(src);
    let globals: Vec<(String, bool, bool)> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Global(g) => Some((g.name.name.clone(), g.len.is_some(), g.init.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(
        globals,
        [
            ("g".into(), false, false),
            ("h".into(), true, false),
            ("k".into(), false, true)
        ]
    );
    let Some(Item::Func(f)) = file.items.iter().find(|i| matches!(i, Item::Func(_))) else {
        panic!("no function");
    };
    let locals: Vec<(String, String, Span)> = f
        .body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Local(d) => Some((d.name.name.clone(), ty(&d.ty), s.span)),
            _ => None,
        })
        .collect();
    assert_eq!(locals.len(), 3);
    assert!(locals.iter().all(|(_, t, _)| t == "int"));
    // The first from its type, the others from their names.
    assert_eq!(locals[0].2.lo, at(src, "int a", 0).lo);
    assert_eq!(locals[1].2.lo, at(src, "b = 2", 0).lo);
    assert_eq!(locals[2].2.lo, at(src, "c[3]", 0).lo);
}

#[test]
fn a_switch_has_arms_of_one_label_each() {
    assert_eq!(
        body("int f(int x) { switch (x + 1) { case 1: case 2: x = 3; break; default: { x = 4; } } return x; }"),
        "{(switch (+ x 1) (case 1) (case 2 (= x 3) break) (default {(= x 4)})) (return x)}"
    );
    assert_eq!(body("void f(int x) { switch (x) { } }"), "{(switch x )}");
    // `case`, `default` and `switch` are keywords now.
    let d = errs("extension e;\nint default = 1;\n");
    assert!(d[0].message.contains("found keyword `default`"), "{}", d[0].message);
}
