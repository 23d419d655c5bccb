//! A realistic module: what it parses to, and where the text map says its
//! items are.

use tal_ir::text::{parse, print};
use tal_ir::*;

/// The PID handler of docs/tal.md, with a few externs and a forward call.
const PID: &str = r#"; The PID handler of docs/tal.md.
; expect: ok
module cpu_pid                      ; extension name
source "examples/cpu_pid.pop"
budget 10000

class cpu_qos {
    period: i64 readonly
    target_cpu: i64 readonly
    timeslice_adjustment: i64 range(-1000000, 1000000)
    enabled: bool
}

event Error

struct sample { t: i64, v: i64, owner: cap<cpu_qos, r> }

global @e_prev: i64 = 0
global @u_prev: i64 = 0
global @hist: [i64; 16] = zero      ; inside brackets `;` is not a comment
global @weights: [i64; 4] = [1, 2, 3, 0x4]
global @samples: [struct sample; 8] = zero

extern spin_lock

handler @cpu_pid(cap<cpu_qos, rw>, i64) on Error {
    slot $0: struct sample
block0(v0: cap<cpu_qos, rw>, v1: i64):
    fuel 20
    init $0
    v2 = iconst 650                 ; Kp + Kd + Ki, per mille
    v3 = imul v2, v1 !catch(Overflow -> block1) @120..150
    v4 = load @e_prev
    store $0.v, v4
    call @spin_lock()
    v5 = call @clamp(v3, v4, v1)
    v6 = call @ktime()
    helper kmalloc(v5)
    cli
    v7 = helper now_us()
    v8 = check.range v5, #cpu_qos.timeslice_adjustment
    helper set_attribute(v0, #cpu_qos.timeslice_adjustment, v8)
    store @e_prev, v1
    ret @150..160
block1:
    raise Overflow
}

func @clamp(i64, i64, i64) -> i64 {
block0(v0: i64, v1: i64, v2: i64):
    fuel 9
    v3 = icmp lt v0, v1
    brif v3, block1(v1), block2(v0, v2)
block1(v4: i64):
    ret v4
block2(v5: i64, v6: i64) loop(block2):
    v7 = icmp gt v5, v6
    brif v7, block1(v6), block1(v5)
}
"#;

#[test]
fn text_map_ranges_point_at_their_items() {
    let (_, map) = parse(PID).unwrap_or_else(|e| panic!("{}", e[0]));
    let at = |range: &std::ops::Range<usize>| &PID[range.clone()];
    assert_eq!(at(&map.module), "module cpu_pid");
    assert!(at(&map.classes[0]).starts_with("class cpu_qos {\n"));
    assert!(at(&map.classes[0]).ends_with("enabled: bool\n}"));
    assert_eq!(
        at(&map.structs[0]),
        "struct sample { t: i64, v: i64, owner: cap<cpu_qos, r> }"
    );
    assert_eq!(at(&map.globals[2]), "global @hist: [i64; 16] = zero");
    assert_eq!(at(&map.globals[3]), "global @weights: [i64; 4] = [1, 2, 3, 0x4]");
    // Implicit externs are where they are first mentioned.
    let externs: Vec<&str> = map.externs.iter().map(at).collect();
    assert_eq!(externs, ["extern spin_lock", "@ktime", "kmalloc"]);

    let handler = &map.funcs[0];
    assert_eq!(
        at(&handler.header),
        "handler @cpu_pid(cap<cpu_qos, rw>, i64) on Error {"
    );
    assert_eq!(at(&handler.blocks[0].header), "block0(v0: cap<cpu_qos, rw>, v1: i64):");
    assert_eq!(at(&handler.blocks[0].insts[2]), "v2 = iconst 650");
    assert_eq!(
        at(&handler.blocks[0].insts[3]),
        "v3 = imul v2, v1 !catch(Overflow -> block1) @120..150"
    );
    assert_eq!(at(&handler.blocks[0].insts[10]), "cli");
    assert_eq!(at(&handler.blocks[0].term), "ret @150..160");
    assert_eq!(at(&handler.blocks[1].header), "block1:");
    assert_eq!(at(&handler.blocks[1].term), "raise Overflow");

    let span = |loc| map.span(loc).map(|r| &PID[r]);
    assert_eq!(
        span(Location::Func(FuncId(1))),
        Some("func @clamp(i64, i64, i64) -> i64 {")
    );
    assert_eq!(
        span(Location::Block(FuncId(1), BlockId(2))),
        Some("block2(v5: i64, v6: i64) loop(block2):")
    );
    assert_eq!(
        span(Location::Inst(FuncId(1), BlockId(2), 0)),
        Some("v7 = icmp gt v5, v6")
    );
    assert_eq!(
        span(Location::Term(FuncId(1), BlockId(2))),
        Some("brif v7, block1(v6), block1(v5)")
    );
    assert_eq!(span(Location::Extern(ExternId(2))), Some("kmalloc"));
}

#[test]
fn realistic_module_parses_to_what_it_says() {
    let (m, _) = parse(PID).unwrap_or_else(|e| panic!("{}", e[0]));
    assert_eq!(m.name, "cpu_pid");
    assert_eq!(m.source.as_deref(), Some("examples/cpu_pid.pop"));
    assert_eq!(m.budget, Some(10000));
    assert_eq!(m.classes[0].attrs[2].range, Some((-1_000_000, 1_000_000)));
    assert!(m.classes[0].attrs[0].readonly && !m.classes[0].attrs[2].readonly);
    assert_eq!(
        m.globals[2].ty,
        ObjType::Array {
            elem: ElemType::Scalar(ScalarType::I64),
            len: Some(16)
        }
    );
    assert_eq!(m.globals[3].init, GlobalInit::Ints(vec![1, 2, 3, 4]));
    assert_eq!(
        m.globals[4].ty,
        ObjType::Array {
            elem: ElemType::Struct(StructId(0)),
            len: Some(8)
        }
    );
    assert_eq!(m.externs, ["spin_lock", "ktime", "kmalloc"]);

    let handler = &m.funcs[0];
    assert_eq!(handler.kind, FuncKind::Handler { event: EventId(0) });
    let insts: Vec<&InstKind> = handler.blocks[0].insts.iter().map(|i| &i.kind).collect();
    assert_eq!(
        *insts[5],
        InstKind::Store {
            place: Place {
                root: Root::Slot(SlotId(0)),
                index: None,
                fields: vec![1]
            },
            value: ValueId(4)
        }
    );
    assert_eq!(
        *insts[6],
        InstKind::Call {
            callee: Callee::Extern(ExternId(0)),
            args: vec![],
            result: false
        }
    );
    // A call before the callee's definition.
    let clamp_args = vec![Arg::Value(ValueId(3)), Arg::Value(ValueId(4)), Arg::Value(ValueId(1))];
    assert_eq!(
        *insts[7],
        InstKind::Call {
            callee: Callee::Func(FuncId(1)),
            args: clamp_args,
            result: true
        }
    );
    assert_eq!(
        *insts[8],
        InstKind::Call {
            callee: Callee::Extern(ExternId(1)),
            args: vec![],
            result: true
        }
    );
    // A helper name that is not a helper is an extern.
    let kmalloc_args = vec![Arg::Value(ValueId(5))];
    assert_eq!(
        *insts[9],
        InstKind::Call {
            callee: Callee::Extern(ExternId(2)),
            args: kmalloc_args,
            result: false
        }
    );
    assert_eq!(*insts[10], InstKind::InlineAsm("cli".into()));
    assert_eq!(
        *insts[11],
        InstKind::Helper {
            id: 3,
            args: vec![],
            result: true
        }
    );
    let attr = AttrRef {
        class: ClassId(0),
        attr: 2,
    };
    assert_eq!(
        *insts[12],
        InstKind::CheckRange {
            value: ValueId(5),
            attr
        }
    );
    let inst3 = &handler.blocks[0].insts[3];
    assert_eq!(
        inst3.catches,
        [Catch {
            kind: ExcKind::Overflow,
            target: BlockCall {
                block: BlockId(1),
                args: vec![]
            }
        }]
    );
    assert_eq!(inst3.span, Some(Span { lo: 120, hi: 150 }));
    assert_eq!(handler.blocks[0].term_span, Some(Span { lo: 150, hi: 160 }));
    assert_eq!(m.funcs[1].blocks[2].loop_end, Some(BlockId(2)));

    let (again, _) = parse(&print(&m)).unwrap_or_else(|e| panic!("{}", e[0]));
    assert_eq!(again, m);
}

#[test]
fn keywords_can_be_names() {
    let text = "module module\nclass class {\n    readonly: i64 readonly\n    range: bool range(0, 1)\n    x: i64\n}\n\
                event on\nstruct struct { struct: struct struct }\nglobal @global: struct struct = zero\n\
                guard @v0(cap<class, ->) -> i64 for class.range {\nblock0(v0: cap<class, - >):\n    \
                v1 = load @global.struct.struct.struct\n    ret v1\n}\n";
    let (m, _) = parse(text).unwrap_or_else(|e| panic!("{}", e[0]));
    let attrs: Vec<_> = m.classes[0]
        .attrs
        .iter()
        .map(|a| (a.name.as_str(), a.readonly, a.range))
        .collect();
    assert_eq!(
        attrs,
        [
            ("readonly", true, None),
            ("range", false, Some((0, 1))),
            ("x", false, None)
        ]
    );
    assert_eq!(
        m.funcs[0].params,
        [ParamType::Value(Type::Cap {
            class: ClassId(0),
            rights: Rights::NONE,
            nullable: false
        })]
    );
    assert_eq!(parse(&print(&m)).unwrap().0, m);
}

#[test]
fn unknown_helper_ids_print_as_numbers() {
    let text = "module m\n\nfunc @f(i64) {\nblock0(v0: i64):\n    helper 99(v0)\n    ret\n}\n";
    let (m, _) = parse(text).unwrap();
    assert_eq!(
        m.funcs[0].blocks[0].insts[0].kind,
        InstKind::Helper {
            id: 99,
            args: vec![HelperArg::Value(ValueId(0))],
            result: false
        }
    );
    assert_eq!(print(&m), text);
}
