//! The call-graph pass: no recursion, and a static stack bound.

use crate::fuel::{self, Summary};
use crate::{Config, Sink};
use tal_ir::layout::Layout;
use tal_ir::{BlockId, Callee, ExternId, FuncId, InstKind, Location, Module};

/// Calls found by the function pass, and each function's frame size.
pub(crate) struct CallGraph {
    callees: Vec<Vec<u32>>,
    frames: Vec<u64>,
    called_externs: Vec<bool>,
}

impl CallGraph {
    pub fn new(funcs: usize, externs: usize) -> Self {
        CallGraph {
            callees: vec![Vec::new(); funcs],
            frames: vec![0; funcs],
            called_externs: vec![false; externs],
        }
    }

    /// Records a call; `callee` has been checked to exist.
    pub fn add_call(&mut self, caller: FuncId, callee: FuncId) {
        self.callees[caller.index()].push(callee.0);
    }

    /// Records a call to an extern; `e` has been checked to exist.
    pub fn add_extern_call(&mut self, e: ExternId) {
        self.called_externs[e.index()] = true;
    }

    pub fn extern_called(&self, e: ExternId) -> bool {
        self.called_externs[e.index()]
    }

    pub fn set_frame(&mut self, f: FuncId, bytes: u64) {
        self.frames[f.index()] = bytes;
    }

    /// One iterative depth-first walk over all functions: reports every cycle
    /// (recursion) it closes and, in post-order, checks each function's fuel
    /// and deadline tests with its callees' summaries (`crate::fuel`) and computes the deepest stack
    /// use below it. Then checks the functions nothing calls (entry
    /// points and dead code) against the limit, naming the deepest chain.
    pub fn check(&self, m: &Module, layout: &Layout, config: &Config, sink: &mut Sink) {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Open,
            Done,
        }
        let n = self.callees.len();
        let mut state = vec![State::New; n];
        let mut deepest = vec![0u64; n];
        let mut via: Vec<Option<u32>> = vec![None; n];
        let mut called = vec![false; n];
        let mut summaries = vec![Summary::default(); n];
        for root in 0..n {
            if state[root] != State::New {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = State::Open;
            while let Some(&mut (f, ref mut next)) = stack.last_mut() {
                if let Some(&callee) = self.callees[f].get(*next) {
                    *next += 1;
                    let c = callee as usize;
                    called[c] = true;
                    match state[c] {
                        State::New => {
                            state[c] = State::Open;
                            stack.push((c, 0));
                        }
                        State::Open => {
                            let start = stack.iter().position(|&(g, _)| g == c).unwrap_or(0);
                            let cycle: Vec<&str> = stack[start..]
                                .iter()
                                .map(|&(g, _)| m.funcs[g].name.as_str())
                                .chain([m.funcs[c].name.as_str()])
                                .collect();
                            let what = if cycle.len() == 2 {
                                "recursion"
                            } else {
                                "mutual recursion"
                            };
                            sink.error(
                                "V0501",
                                call_site(m, f, c),
                                format!(
                                    "{what}: @{}; without recursion the stack bound is static and every call returns",
                                    cycle.join(" -> @")
                                ),
                            );
                        }
                        State::Done => {}
                    }
                    continue;
                }
                stack.pop();
                state[f] = State::Done;
                summaries[f] = fuel::check(m, layout, FuncId(f as u32), &m.funcs[f], &summaries, sink);
                let below = self.callees[f]
                    .iter()
                    .filter(|&&c| state[c as usize] == State::Done && c as usize != f)
                    .max_by_key(|&&c| deepest[c as usize]);
                via[f] = below.copied();
                deepest[f] = self.frames[f].saturating_add(below.map_or(0, |&c| deepest[c as usize]));
            }
        }
        for f in (0..n).filter(|&f| !called[f] && deepest[f] > config.stack_limit) {
            let mut chain = Vec::new();
            let mut at = Some(f as u32);
            // Reported at the largest frame of the chain: what to shrink.
            let mut largest = f as u32;
            while let Some(g) = at.filter(|_| chain.len() <= n) {
                chain.push(format!("@{} ({} B)", m.funcs[g as usize].name, self.frames[g as usize]));
                if self.frames[g as usize] > self.frames[largest as usize] {
                    largest = g;
                }
                at = via[g as usize];
            }
            sink.error(
                "V0502",
                Location::Func(FuncId(largest)),
                format!(
                    "stack bound exceeded: {} = {} bytes, limit {} bytes",
                    chain.join(" -> "),
                    deepest[f],
                    config.stack_limit
                ),
            );
        }
    }
}

/// Where function `f` first calls function `callee` (its signature if it
/// does not: never, for a callee found in its body).
fn call_site(m: &Module, f: usize, callee: usize) -> Location {
    let id = FuncId(f as u32);
    m.funcs[f]
        .blocks
        .iter()
        .enumerate()
        .find_map(|(b, block)| {
            let i = block.insts.iter().position(
                |inst| matches!(inst.kind, InstKind::Call { callee: Callee::Func(c), .. } if c.index() == callee),
            )?;
            Some(Location::Inst(id, BlockId(b as u32), i))
        })
        .unwrap_or(Location::Func(id))
}
