//! `parse(print(m)) == m` for arbitrary name-consistent modules: names are
//! identifiers, unique per namespace, and every named id is in range. Block
//! and value ids are arbitrary, since their scope is the verifier's business.

use proptest::prelude::*;
use proptest::strategy::Union;
use std::collections::HashSet;
use std::sync::Arc;
use tal_ir::text::{parse, parse_token_by_token, print};
use tal_ir::*;

/// Names that are also keywords or sigil-like words somewhere in the grammar.
const TRICKY: &[&str] = &[
    "i64",
    "bool",
    "nz",
    "evt",
    "cap",
    "idx",
    "in",
    "struct",
    "ref",
    "readonly",
    "range",
    "zero",
    "true",
    "false",
    "module",
    "class",
    "event",
    "global",
    "extern",
    "func",
    "monitor",
    "handler",
    "guard",
    "on",
    "for",
    "slot",
    "loop",
    "catch",
    "call",
    "helper",
    "asm",
    "cli",
    "ret",
    "jump",
    "v0",
    "v12",
    "block0",
    "block3",
    "r",
    "rw",
    "now_us",
    "get_attribute",
    "_",
];

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[A-Za-z_][A-Za-z0-9_]{0,6}", 1 => prop::sample::select(TRICKY).prop_map(str::to_owned)]
}

/// Up to `max` distinct identifiers, in generation order.
fn idents(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(ident(), 0..=max).prop_map(|names| {
        let mut seen = HashSet::new();
        names.into_iter().filter(|n| seen.insert(n.clone())).collect()
    })
}

fn small_or_any() -> impl Strategy<Value = u32> {
    prop_oneof![3 => 0..8u32, 1 => any::<u32>()]
}

fn value() -> impl Strategy<Value = ValueId> {
    small_or_any().prop_map(ValueId)
}

fn span() -> impl Strategy<Value = Option<Span>> {
    prop::option::of((any::<u32>(), any::<u32>()).prop_map(|(lo, hi)| Span { lo, hi }))
}

fn block_call() -> impl Strategy<Value = BlockCall> {
    (small_or_any(), prop::collection::vec(value(), 0..3)).prop_map(|(b, args)| BlockCall {
        block: BlockId(b),
        args,
    })
}

fn exc_kind() -> impl Strategy<Value = ExcKind> {
    prop::sample::select(&ExcKind::ALL[..])
}

fn rights() -> impl Strategy<Value = Rights> {
    (0u8..8).prop_map(|bits| Rights::from_bits(bits).expect("three bits"))
}

fn union<T: std::fmt::Debug + 'static>(arms: Vec<BoxedStrategy<T>>) -> BoxedStrategy<T> {
    Union::new(arms).boxed()
}

/// Everything declared at module level that functions refer to.
#[derive(Debug)]
struct Ctx {
    classes: usize,
    attrs: Vec<AttrRef>,
    events: usize,
    structs: Vec<StructDef>,
    globals: Vec<GlobalDef>,
    funcs: usize,
    externs: usize,
}

impl Ctx {
    fn scalar(&self) -> BoxedStrategy<ScalarType> {
        let mut arms = vec![Just(ScalarType::I64).boxed(), Just(ScalarType::Bool).boxed()];
        if self.classes > 0 {
            let cap = (0..self.classes as u32, rights()).prop_map(|(c, rights)| ScalarType::Cap {
                class: ClassId(c),
                rights,
            });
            arms.push(cap.boxed());
        }
        union(arms)
    }

    fn elem(&self) -> BoxedStrategy<ElemType> {
        let mut arms = vec![self.scalar().prop_map(ElemType::Scalar).boxed()];
        if !self.structs.is_empty() {
            arms.push(
                (0..self.structs.len() as u32)
                    .prop_map(|s| ElemType::Struct(StructId(s)))
                    .boxed(),
            );
        }
        union(arms)
    }

    fn obj(&self) -> BoxedStrategy<ObjType> {
        prop_oneof![
            self.elem().prop_map(ObjType::Elem),
            (self.elem(), prop::option::of(any::<u32>())).prop_map(|(elem, len)| ObjType::Array { elem, len }),
        ]
        .boxed()
    }

    /// A root; `slots` and `params` bias slot and parameter numbers towards
    /// ones that exist, so that places through them get fields.
    fn root(&self, slots: usize, params: usize) -> BoxedStrategy<Root> {
        let mut arms = vec![
            (0..slots as u32 + 1).prop_map(|s| Root::Slot(SlotId(s))).boxed(),
            (0..params as u32 + 1).prop_map(Root::Param).boxed(),
            any::<u32>().prop_map(|s| Root::Slot(SlotId(s))).boxed(),
            any::<u32>().prop_map(Root::Param).boxed(),
        ];
        if !self.globals.is_empty() {
            arms.push(
                (0..self.globals.len() as u32)
                    .prop_map(|g| Root::Global(GlobalId(g)))
                    .boxed(),
            );
        }
        union(arms)
    }

    fn attr(&self) -> Option<BoxedStrategy<AttrRef>> {
        (!self.attrs.is_empty()).then(|| prop::sample::select(self.attrs.clone()).boxed())
    }

    fn ty(&self) -> BoxedStrategy<Type> {
        let mut arms = vec![
            Just(Type::I64).boxed(),
            Just(Type::Bool).boxed(),
            Just(Type::NonZero).boxed(),
            Just(Type::Event).boxed(),
            self.root(2, 2).prop_map(Type::Index).boxed(),
        ];
        if let Some(attr) = self.attr() {
            arms.push(attr.prop_map(Type::InRange).boxed());
        }
        if self.classes > 0 {
            let cap = (0..self.classes as u32, rights(), any::<bool>());
            arms.push(
                cap.prop_map(|(c, rights, nullable)| Type::Cap {
                    class: ClassId(c),
                    rights,
                    nullable,
                })
                .boxed(),
            );
        }
        union(arms)
    }

    fn kind(&self) -> BoxedStrategy<FuncKind> {
        let mut arms = vec![Just(FuncKind::Plain).boxed(), Just(FuncKind::Monitor).boxed()];
        if self.events > 0 {
            arms.push(
                (0..self.events as u32)
                    .prop_map(|e| FuncKind::Handler { event: EventId(e) })
                    .boxed(),
            );
        }
        if let Some(attr) = self.attr() {
            arms.push(attr.prop_map(|attr| FuncKind::Guard { attr }).boxed());
        }
        union(arms)
    }

    /// The element type field paths start from, as the parser resolves them.
    fn root_elem(&self, frame: &Frame, root: Root) -> Option<ElemType> {
        let obj = match root {
            Root::Global(g) => self.globals.get(g.index()).map(|g| g.ty),
            Root::Slot(s) => frame.slots.get(s.index()).copied(),
            Root::Param(n) => match frame.params.get(n as usize) {
                Some(ParamType::Ref(obj)) => Some(*obj),
                _ => None,
            },
        }?;
        Some(match obj {
            ObjType::Elem(elem) | ObjType::Array { elem, .. } => elem,
        })
    }
}

#[derive(Debug)]
struct Frame {
    params: Vec<ParamType>,
    slots: Vec<ObjType>,
}

/// A place whose field path follows the struct types from its root (as far
/// as the random choices and the types allow).
fn place(ctx: Arc<Ctx>, frame: Arc<Frame>) -> BoxedStrategy<Place> {
    let globals = (0..ctx.globals.len() as u32).map(|g| Root::Global(GlobalId(g)));
    let slots = (0..frame.slots.len() as u32).map(|s| Root::Slot(SlotId(s)));
    let params = (0..frame.params.len() as u32).map(Root::Param);
    let struct_roots: Vec<Root> = globals
        .chain(slots)
        .chain(params)
        .filter(|&root| matches!(ctx.root_elem(&frame, root), Some(ElemType::Struct(_))))
        .collect();
    let mut roots = vec![(1, ctx.root(frame.slots.len(), frame.params.len()))];
    if !struct_roots.is_empty() {
        roots.push((3, prop::sample::select(struct_roots).boxed()));
    }
    (
        Union::new_weighted(roots),
        prop::option::of(value()),
        prop::collection::vec(any::<u32>(), 0..4),
    )
        .prop_map(move |(root, index, choices)| {
            let mut fields = Vec::new();
            let mut elem = ctx.root_elem(&frame, root);
            for choice in choices {
                let Some(ElemType::Struct(s)) = elem else {
                    break;
                };
                let def = &ctx.structs[s.index()];
                if def.fields.is_empty() {
                    break;
                }
                let field = choice % def.fields.len() as u32;
                fields.push(field);
                elem = Some(def.fields[field as usize].ty);
            }
            Place { root, index, fields }
        })
        .boxed()
}

fn inst_kind(ctx: Arc<Ctx>, frame: Arc<Frame>) -> BoxedStrategy<InstKind> {
    let root = ctx.root(frame.slots.len(), frame.params.len());
    let binary = prop::sample::select(vec![
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Xor,
        BinaryOp::Shl,
        BinaryOp::Shr,
    ]);
    let cond = prop::sample::select(vec![Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge]);
    let unary = prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]);
    // Places get more weight: their field paths are the subtle part.
    let place_weight = 4;
    let mut arms = vec![
        (1, any::<u64>().prop_map(InstKind::Fuel).boxed()),
        (1, any::<i64>().prop_map(InstKind::Iconst).boxed()),
        (1, any::<bool>().prop_map(InstKind::Bconst).boxed()),
        (
            1,
            (unary, value())
                .prop_map(|(op, arg)| InstKind::Unary { op, arg })
                .boxed(),
        ),
        (
            1,
            (binary, value(), value())
                .prop_map(|(op, lhs, rhs)| InstKind::Binary { op, lhs, rhs })
                .boxed(),
        ),
        (
            1,
            (cond, value(), value())
                .prop_map(|(cond, lhs, rhs)| InstKind::Icmp { cond, lhs, rhs })
                .boxed(),
        ),
        (1, value().prop_map(InstKind::CheckNonZero).boxed()),
        (
            1,
            (value(), root.clone())
                .prop_map(|(value, root)| InstKind::CheckBounds { value, root })
                .boxed(),
        ),
        (1, value().prop_map(InstKind::CheckNull).boxed()),
        (
            place_weight,
            place(ctx.clone(), frame.clone()).prop_map(InstKind::Load).boxed(),
        ),
        (
            place_weight,
            (place(ctx.clone(), frame.clone()), value())
                .prop_map(|(place, value)| InstKind::Store { place, value })
                .boxed(),
        ),
        (1, small_or_any().prop_map(|s| InstKind::Init(SlotId(s))).boxed()),
        (1, root.clone().prop_map(InstKind::Size).boxed()),
        (
            1,
            prop_oneof![Just("cli".to_owned()), Just("sti".to_owned()), any::<String>()]
                .prop_map(InstKind::InlineAsm)
                .boxed(),
        ),
    ];
    if ctx.events > 0 {
        arms.push((
            1,
            (0..ctx.events as u32).prop_map(|e| InstKind::Event(EventId(e))).boxed(),
        ));
    }
    let mut helper_arg = vec![value().prop_map(HelperArg::Value).boxed()];
    if let Some(attr) = ctx.attr() {
        arms.push((
            1,
            (value(), attr.clone())
                .prop_map(|(value, attr)| InstKind::CheckRange { value, attr })
                .boxed(),
        ));
        helper_arg.push(attr.prop_map(HelperArg::Attr).boxed());
    }
    let helper_id = prop_oneof![0..stdlib::HELPERS.len() as u16 + 1, any::<u16>()];
    let helper = (helper_id, prop::collection::vec(union(helper_arg), 0..4), any::<bool>());
    arms.push((
        2,
        helper
            .prop_map(|(id, args, result)| InstKind::Helper { id, args, result })
            .boxed(),
    ));
    let mut callees = Vec::new();
    if ctx.funcs > 0 {
        callees.push((0..ctx.funcs as u32).prop_map(|f| Callee::Func(FuncId(f))).boxed());
    }
    if ctx.externs > 0 {
        callees.push(
            (0..ctx.externs as u32)
                .prop_map(|e| Callee::Extern(ExternId(e)))
                .boxed(),
        );
    }
    if !callees.is_empty() {
        let arg = prop_oneof![value().prop_map(Arg::Value), root.prop_map(Arg::Ref)];
        let call = (union(callees), prop::collection::vec(arg, 0..4), any::<bool>());
        arms.push((
            2,
            call.prop_map(|(callee, args, result)| InstKind::Call { callee, args, result })
                .boxed(),
        ));
    }
    Union::new_weighted(arms).boxed()
}

fn block(ctx: Arc<Ctx>, frame: Arc<Frame>) -> BoxedStrategy<Block> {
    let catch = (exc_kind(), block_call()).prop_map(|(kind, target)| Catch { kind, target });
    let inst = (
        inst_kind(ctx.clone(), frame),
        prop::collection::vec(catch, 0..3),
        span(),
    )
        .prop_map(|(kind, catches, span)| Inst { kind, catches, span });
    let term = prop_oneof![
        block_call().prop_map(Terminator::Jump),
        (value(), block_call(), block_call())
            .prop_map(|(cond, then_to, else_to)| { Terminator::Brif { cond, then_to, else_to } }),
        prop::option::of(value()).prop_map(Terminator::Return),
        exc_kind().prop_map(Terminator::Raise),
    ];
    let loop_end = prop::option::of(small_or_any().prop_map(BlockId));
    (
        prop::collection::vec(ctx.ty(), 0..3),
        loop_end,
        prop::collection::vec(inst, 0..6),
        term,
        span(),
    )
        .prop_map(|(params, loop_end, insts, term, term_span)| Block {
            params,
            loop_end,
            insts,
            term,
            term_span,
        })
        .boxed()
}

fn function(ctx: Arc<Ctx>, name: String) -> BoxedStrategy<Function> {
    let param = prop_oneof![ctx.ty().prop_map(ParamType::Value), ctx.obj().prop_map(ParamType::Ref)];
    let header = (
        ctx.kind(),
        prop::collection::vec(param, 0..4),
        prop::option::of(ctx.ty()),
    );
    (header, prop::collection::vec(ctx.obj(), 0..3))
        .prop_flat_map(move |((kind, params, ret), slots)| {
            let frame = Arc::new(Frame {
                params: params.clone(),
                slots: slots.clone(),
            });
            let name = name.clone();
            prop::collection::vec(block(ctx.clone(), frame), 0..4).prop_map(move |blocks| Function {
                name: name.clone(),
                kind,
                params: params.clone(),
                ret,
                slots: slots.clone(),
                blocks,
            })
        })
        .boxed()
}

fn class(name: String) -> impl Strategy<Value = ClassDef> {
    let attr = |name| {
        let range = prop::option::of((any::<i64>(), any::<i64>()));
        (
            prop::sample::select(vec![AttrType::I64, AttrType::Bool]),
            any::<bool>(),
            range,
        )
            .prop_map(move |(ty, readonly, range)| AttrDef {
                name: String::clone(&name),
                ty,
                readonly,
                range,
            })
    };
    idents(4)
        .prop_flat_map(move |names| names.into_iter().map(attr).collect::<Vec<_>>())
        .prop_map(move |attrs| ClassDef {
            name: name.clone(),
            attrs,
        })
}

/// Declarations that refer to nothing, then types over them, then functions.
fn module() -> impl Strategy<Value = Module> {
    let header = (
        ident(),
        prop::option::of(any::<String>()),
        prop::option::of(any::<u64>()),
    );
    let classes = idents(3).prop_flat_map(|names| names.into_iter().map(class).collect::<Vec<_>>());
    let structs = idents(3).prop_flat_map(|names| names.into_iter().map(|n| (Just(n), idents(3))).collect::<Vec<_>>());
    // Functions and externs share a namespace.
    let callables = idents(6).prop_flat_map(|names| {
        let n = names.len();
        (Just(names), 0..=n)
    });
    (header, classes, idents(3), structs, idents(3), callables)
        .prop_flat_map(|(header, classes, events, structs, globals, (callables, split))| {
            // Types only need to know how many classes and structs there are.
            let ctx = Ctx {
                classes: classes.len(),
                attrs: Vec::new(),
                events: events.len(),
                structs: structs
                    .iter()
                    .map(|(name, _)| StructDef {
                        name: name.clone(),
                        fields: Vec::new(),
                    })
                    .collect(),
                globals: Vec::new(),
                funcs: 0,
                externs: 0,
            };
            let field_types: Vec<_> = structs
                .iter()
                .map(|(_, fields)| prop::collection::vec(ctx.elem(), fields.len()))
                .collect();
            let init = prop_oneof![
                Just(GlobalInit::Zero),
                any::<i64>().prop_map(GlobalInit::Int),
                any::<bool>().prop_map(GlobalInit::Bool),
                prop::collection::vec(any::<i64>(), 0..4).prop_map(GlobalInit::Ints),
            ];
            let global_types = prop::collection::vec((ctx.obj(), init), globals.len());
            let decls = (
                Just(header),
                Just(classes),
                Just(events),
                Just(structs),
                Just(globals),
                Just((callables, split)),
            );
            (decls, field_types, global_types)
        })
        .prop_flat_map(
            |((header, classes, events, structs, globals, (mut callables, split)), field_types, global_types)| {
                let funcs = callables.split_off(split);
                let externs = callables;
                let structs: Vec<StructDef> = structs
                    .into_iter()
                    .zip(field_types)
                    .map(|((name, fields), types)| StructDef {
                        name,
                        fields: fields
                            .into_iter()
                            .zip(types)
                            .map(|(name, ty)| FieldDef { name, ty })
                            .collect(),
                    })
                    .collect();
                let globals: Vec<GlobalDef> = globals
                    .into_iter()
                    .zip(global_types)
                    .map(|(name, (ty, init))| GlobalDef { name, ty, init })
                    .collect();
                let attrs = classes
                    .iter()
                    .enumerate()
                    .flat_map(|(c, class)| {
                        (0..class.attrs.len()).map(move |a| AttrRef {
                            class: ClassId(c as u32),
                            attr: a as u32,
                        })
                    })
                    .collect();
                let ctx = Arc::new(Ctx {
                    classes: classes.len(),
                    attrs,
                    events: events.len(),
                    structs: structs.clone(),
                    globals: globals.clone(),
                    funcs: funcs.len(),
                    externs: externs.len(),
                });
                let bodies: Vec<_> = funcs.into_iter().map(|name| function(ctx.clone(), name)).collect();
                let (name, source, budget) = header;
                bodies.prop_map(move |funcs| Module {
                    name: name.clone(),
                    source: source.clone(),
                    budget,
                    classes: classes.clone(),
                    events: events.clone(),
                    structs: structs.clone(),
                    globals: globals.clone(),
                    externs: externs.clone(),
                    funcs,
                })
            },
        )
}

/// `range` is a whole line of `text` after `indent`.
fn is_line(text: &str, range: &std::ops::Range<usize>, indent: &str) -> bool {
    let before = &text[..range.start];
    (before.is_empty() || before.ends_with(&format!("\n{indent}"))) && text[range.end..].starts_with('\n')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_parse_round_trips(module in module()) {
        let text = print(&module);
        let (parsed, map) = match parse(&text) {
            Ok(parsed) => parsed,
            Err(errors) => return Err(TestCaseError::fail(format!("{}\n{text}", errors[0]))),
        };
        prop_assert_eq!(&parsed, &module, "{}", text);
        prop_assert_eq!(print(&parsed), text.as_str());
        // The parser's fast paths give what it gives token by token.
        prop_assert_eq!(parse_token_by_token(&text), Ok((parsed.clone(), map.clone())));
        // Binary TAL read function by function, each into the one before.
        let bytes = binary::encode(&module);
        let mut reader = binary::Reader::new(&bytes).expect("header");
        let mut spare = None;
        for f in &module.funcs {
            let next = reader.next_function_reusing(spare.take()).expect("decodes");
            prop_assert_eq!(next.as_ref(), Some(f));
            spare = next;
        }
        prop_assert_eq!(reader.next_function_reusing(spare).expect("ends"), None);

        // The text map has a range per item, each exactly its printed line(s).
        prop_assert!(is_line(&text, &map.module, ""));
        prop_assert_eq!(map.classes.len(), module.classes.len());
        prop_assert_eq!(map.structs.len(), module.structs.len());
        prop_assert_eq!(map.globals.len(), module.globals.len());
        prop_assert_eq!(map.externs.len(), module.externs.len());
        for range in map.classes.iter().chain(&map.structs).chain(&map.globals).chain(&map.externs) {
            prop_assert!(is_line(&text, range, ""), "{:?} in\n{}", range, text);
        }
        prop_assert_eq!(map.funcs.len(), module.funcs.len());
        for (func, func_text) in module.funcs.iter().zip(&map.funcs) {
            prop_assert!(is_line(&text, &func_text.header, ""));
            prop_assert_eq!(func_text.blocks.len(), func.blocks.len());
            for (block, block_text) in func.blocks.iter().zip(&func_text.blocks) {
                prop_assert!(is_line(&text, &block_text.header, ""));
                prop_assert_eq!(block_text.insts.len(), block.insts.len());
                for range in block_text.insts.iter().chain([&block_text.term]) {
                    prop_assert!(is_line(&text, range, "    "), "{:?} in\n{}", range, text);
                }
            }
        }
    }
}

/// One edit of printed text, by line.
#[derive(Clone, Debug)]
enum Edit {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    DeleteWord(prop::sample::Index, prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        any::<prop::sample::Index>().prop_map(Edit::Duplicate),
        any::<(prop::sample::Index, prop::sample::Index)>().prop_map(|(a, b)| Edit::Swap(a, b)),
        any::<(prop::sample::Index, prop::sample::Index)>().prop_map(|(a, b)| Edit::DeleteWord(a, b)),
    ]
}

proptest! {
    /// Whatever text parses prints to text that parses to the same module
    /// (what the `tal_parse` fuzz target checks), here on edited modules.
    #[test]
    fn edited_text_that_parses_round_trips(module in module(), edits in prop::collection::vec(edit(), 1..4)) {
        let text = print(&module);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for edit in edits {
            if lines.is_empty() {
                break;
            }
            match edit {
                Edit::Delete(i) => {
                    lines.remove(i.index(lines.len()));
                }
                Edit::Duplicate(i) => {
                    let i = i.index(lines.len());
                    lines.insert(i, lines[i].clone());
                }
                Edit::Swap(a, b) => {
                    let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                    lines.swap(a, b);
                }
                Edit::DeleteWord(i, w) => {
                    let i = i.index(lines.len());
                    let mut words: Vec<&str> = lines[i].split(' ').collect();
                    words.remove(w.index(words.len()));
                    lines[i] = words.join(" ");
                }
            }
        }
        let edited = lines.join("\n");
        prop_assert_eq!(parse(&edited), parse_token_by_token(&edited), "{}", edited);
        if let Ok((parsed, _)) = parse(&edited) {
            let reprinted = print(&parsed);
            prop_assert_eq!(parse(&reprinted).map(|(m, _)| m), Ok(parsed), "{}", edited);
        }
    }
}
