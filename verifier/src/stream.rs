//! Verifying a module whose functions arrive one at a time ([`Stream`]), so
//! that a reader can hand over each function as it decodes or parses it and
//! the whole module never resides in memory.
//!
//! The checks are [`crate::verify`]'s own — declarations, the function pass
//! (`func.rs`), fuel and deadline tests (`fuel.rs`), the stack bound — run in
//! another order: each function is checked once all its callees have been,
//! callees first, as the call-graph pass's post-order does. A function that
//! arrives before some callee is done waits, its body held while at most
//! [`MAX_HELD_INSTS`] instructions are held in all, else read again (by the
//! reader's callback) when it becomes ready. So memory is the declarations,
//! a few words per function and call, and at most that many instructions
//! besides the one function being checked (and up to [`MAX_SPARES`] bodies
//! already checked, of at most [`MAX_HELD_INSTS`] instructions together,
//! kept only for a reader to decode into: [`Stream::take_spare`]).
//!
//! Invariant: a stream accepts exactly the modules `verify` accepts.
//! Accepted, every function was checked after its callees, so the call graph
//! is acyclic (no V0501), and each function's fuel check saw the summaries
//! the call-graph pass computes for it; every other check is the same code
//! on the same data. A function still waiting when the stream ends is on a
//! call cycle (V0501) and was never checked. A body read again must call
//! the functions it called when it arrived (else V0053: the order of
//! checks rests on those calls); any other difference is checked like the
//! first arrival would have been. Rejected, the errors are a
//! subset of `verify`'s, possibly in another order and with shorter
//! messages: report with `verify`, which names cycles and call chains.

use crate::calls::CallGraph;
use crate::fuel::{self, Summary};
use crate::module::{self, Decls};
use crate::{Config, Sink, VerifyError, func};
use std::collections::HashSet;
use tal_ir::{Callee, FuncId, Function, InstKind, Location, Module};

/// The most instructions held in waiting functions' bodies; past it a
/// waiting function's body is dropped and read again when it is ready.
/// About 10 MB of IR: far above what callee-first or near-callee-first
/// modules hold (one function), small beside 1 M-instruction modules.
pub const MAX_HELD_INSTS: usize = 1 << 16;

/// How many checked bodies a stream keeps for [`Stream::take_spare`]: as
/// many as can be checked at once in a call chain of the usual shapes, so
/// that a reader seldom allocates a function afresh.
pub const MAX_SPARES: usize = 4;

/// A module being verified one function at a time. See the module doc.
pub struct Stream {
    config: Config,
    sink: Sink,
    /// The module's declarations, with the signature (no slots, no blocks)
    /// of each function that has arrived.
    declarations: Module,
    decls: Decls,
    /// How many functions the module has.
    functions: usize,
    names: HashSet<String>,
    graph: CallGraph,
    state: Vec<State>,
    /// Callers waiting for each function to be done.
    waiters: Vec<Vec<u32>>,
    summaries: Vec<Summary>,
    /// The deepest stack use of a call of each done function, own frame
    /// included (the call-graph pass's V0502 figure).
    deepest: Vec<u64>,
    called: Vec<bool>,
    /// The last function found calling each one, to list each callee once.
    last_caller: Vec<Option<u32>>,
    held_insts: usize,
    /// [`MAX_HELD_INSTS`]; tests lower it.
    max_held_insts: usize,
    /// The bodies checked last (at most [`MAX_SPARES`], the newest last),
    /// kept for [`Stream::take_spare`].
    spares: Vec<Function>,
}

enum State {
    NotArrived,
    /// Arrived; `pending` of its distinct callees are not done yet.
    Waiting {
        pending: usize,
        callees: Vec<u32>,
        /// `None` once dropped to stay within [`MAX_HELD_INSTS`].
        body: Option<Function>,
    },
    Done,
}

impl Stream {
    /// Starts verifying a module of `functions` functions with these
    /// declarations; `declarations.funcs` is not looked at (functions
    /// arrive through [`Stream::function`]).
    pub fn new(mut declarations: Module, functions: usize, config: &Config) -> Stream {
        declarations.funcs.clear();
        let mut sink = Sink {
            errors: Vec::new(),
            max: config.max_errors.max(1),
        };
        let decls = module::check_declarations(&declarations, &mut sink);
        let externs = declarations.externs.len();
        Stream {
            config: config.clone(),
            sink,
            declarations,
            decls,
            functions,
            names: HashSet::new(),
            graph: CallGraph::new(functions, externs),
            state: (0..functions).map(|_| State::NotArrived).collect(),
            waiters: vec![Vec::new(); functions],
            summaries: vec![Summary::default(); functions],
            deepest: vec![0; functions],
            called: vec![false; functions],
            last_caller: vec![None; functions],
            held_insts: 0,
            max_held_insts: MAX_HELD_INSTS,
            spares: Vec::new(),
        }
    }

    /// A body this stream is done with, if any (the one checked last), for
    /// a reader to decode the next function into, reusing its allocations:
    /// nothing the stream looks at again.
    pub fn take_spare(&mut self) -> Option<Function> {
        self.spares.pop()
    }

    /// Whether an error has been found: the module will be rejected.
    pub fn rejected(&self) -> bool {
        !self.sink.errors.is_empty()
    }

    /// The next function of the module, in order. Checks it, or holds it
    /// until its callees are checked; checks the functions waiting for it
    /// that become ready, reading again with `reread` (by id) those whose
    /// bodies were dropped. An error of `reread` is returned as is.
    pub fn function<E>(
        &mut self,
        function: Function,
        reread: &mut dyn FnMut(FuncId) -> Result<Function, E>,
    ) -> Result<(), E> {
        let index = self.declarations.funcs.len();
        let id = FuncId(index as u32);
        if !self.names.insert(function.name.clone()) {
            self.sink.error(
                "V0101",
                Location::Func(id),
                format!("function `{}` is declared twice", function.name),
            );
        }
        module::check_signature(&self.declarations, &self.decls, id, &function, &mut self.sink);
        self.declarations.funcs.push(Function {
            name: function.name.clone(),
            kind: function.kind,
            params: function.params.clone(),
            ret: function.ret,
            slots: Vec::new(),
            blocks: Vec::new(),
        });
        if index >= self.functions {
            self.sink.error(
                "V0102",
                Location::Func(id),
                format!(
                    "function `@{}` is beyond the module's {} functions",
                    function.name, self.functions
                ),
            );
            return Ok(());
        }
        let callees = self.callees(id, &function);
        let pending: Vec<u32> = callees
            .iter()
            .copied()
            .filter(|&c| !matches!(self.state[c as usize], State::Done))
            .collect();
        if pending.is_empty() {
            return self.check_ready(id, function, callees, reread);
        }
        for &c in &pending {
            self.waiters[c as usize].push(id.0);
        }
        let insts = function.inst_count();
        let body = (self.held_insts + insts <= self.max_held_insts).then(|| {
            self.held_insts += insts;
            function
        });
        self.state[index] = State::Waiting {
            pending: pending.len(),
            callees,
            body,
        };
        Ok(())
    }

    /// Ends the stream: `Ok` if every function arrived, was checked and
    /// every invariant holds. See the module doc for what the errors are.
    pub fn finish(mut self) -> Result<(), Vec<VerifyError>> {
        for (index, state) in self.state.iter().enumerate() {
            let location = Location::Func(FuncId(index as u32));
            match state {
                State::NotArrived => self.sink.error(
                    "V0104",
                    location,
                    format!("function #{index} never arrived: the module has {}", self.functions),
                ),
                State::Waiting { .. } => self.sink.error(
                    "V0501",
                    location,
                    format!(
                        "`@{}` is on a call cycle (recursion): without recursion the stack bound is static and every \
                         call returns",
                        self.declarations.funcs[index].name
                    ),
                ),
                State::Done => {
                    if !self.called[index] && self.deepest[index] > self.config.stack_limit {
                        self.sink.error(
                            "V0502",
                            location,
                            format!(
                                "stack bound exceeded: a call of `@{}` uses {} bytes, limit {} bytes",
                                self.declarations.funcs[index].name, self.deepest[index], self.config.stack_limit
                            ),
                        );
                    }
                }
            }
        }
        module::check_unused_externs(&self.declarations, &self.graph, &mut self.sink);
        if self.sink.errors.is_empty() {
            Ok(())
        } else {
            Err(self.sink.errors)
        }
    }

    /// The module's functions function `caller` (`f`) calls, each once.
    fn callees(&mut self, caller: FuncId, f: &Function) -> Vec<u32> {
        let mut callees = Vec::new();
        for inst in f.blocks.iter().flat_map(|b| &b.insts) {
            if let InstKind::Call {
                callee: Callee::Func(g),
                ..
            } = inst.kind
                && let Some(last) = self.last_caller.get_mut(g.index())
                && *last != Some(caller.0)
            {
                *last = Some(caller.0);
                callees.push(g.0);
            }
        }
        callees
    }

    /// Checks a function whose callees are all done, then every waiting
    /// function that becomes ready through it, and so on.
    fn check_ready<E>(
        &mut self,
        id: FuncId,
        body: Function,
        callees: Vec<u32>,
        reread: &mut dyn FnMut(FuncId) -> Result<Function, E>,
    ) -> Result<(), E> {
        let mut ready = vec![(id, body, callees)];
        while let Some((id, body, callees)) = ready.pop() {
            self.check(id, &body, &callees);
            // Kept only if small, so that spares add at most
            // `max_held_insts` instructions to the bound; the oldest goes:
            // the newest is the likeliest still in cache.
            if body.inst_count() <= self.max_held_insts / MAX_SPARES {
                if self.spares.len() == MAX_SPARES {
                    self.spares.remove(0);
                }
                self.spares.push(body);
            }
            for waiter in std::mem::take(&mut self.waiters[id.index()]) {
                let state = &mut self.state[waiter as usize];
                let now_ready = match state {
                    State::Waiting { pending, .. } => {
                        *pending -= 1;
                        *pending == 0
                    }
                    State::NotArrived | State::Done => false,
                };
                if !now_ready {
                    continue;
                }
                if let State::Waiting { callees, body, .. } = std::mem::replace(state, State::NotArrived) {
                    let waiter = FuncId(waiter);
                    let body = match body {
                        Some(body) => {
                            self.held_insts -= body.inst_count();
                            body
                        }
                        None => {
                            let again = self.reread(waiter, reread)?;
                            // The order of checks rests on the calls seen
                            // when the body first arrived: a body read
                            // again that calls otherwise is refused.
                            if sorted(distinct_callees(&again, self.functions)) != sorted(callees.clone()) {
                                self.sink.error(
                                    "V0053",
                                    Location::Func(waiter),
                                    format!(
                                        "`@{}` read again calls other functions than when it arrived: the input \
                                         changed while it was read",
                                        again.name
                                    ),
                                );
                                continue;
                            }
                            again
                        }
                    };
                    ready.push((waiter, body, callees));
                }
            }
        }
        Ok(())
    }

    /// A dropped body read again, under the signature it first arrived
    /// with (the one its callers were checked against).
    fn reread<E>(&self, id: FuncId, reread: &mut dyn FnMut(FuncId) -> Result<Function, E>) -> Result<Function, E> {
        let again = reread(id)?;
        let declared = &self.declarations.funcs[id.index()];
        Ok(Function {
            name: declared.name.clone(),
            kind: declared.kind,
            params: declared.params.clone(),
            ret: declared.ret,
            slots: again.slots,
            blocks: again.blocks,
        })
    }

    /// The function pass and the fuel pass on a function whose callees are
    /// done, and its stack use.
    fn check(&mut self, id: FuncId, body: &Function, callees: &[u32]) {
        let index = id.index();
        let frame = func::check_function(
            &self.declarations,
            &self.decls,
            id,
            body,
            &mut self.graph,
            &mut self.sink,
        );
        self.summaries[index] = fuel::check(
            &self.declarations,
            self.decls.layout(),
            id,
            body,
            &self.summaries,
            &mut self.sink,
        );
        let below = callees.iter().map(|&c| self.deepest[c as usize]).max().unwrap_or(0);
        self.deepest[index] = frame.saturating_add(below);
        for &c in callees {
            self.called[c as usize] = true;
        }
        self.state[index] = State::Done;
    }
}

/// The module's functions (ids below `functions`) `f` calls, in no
/// particular order.
fn distinct_callees(f: &Function, functions: usize) -> Vec<u32> {
    f.blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter_map(|inst| match inst.kind {
            InstKind::Call {
                callee: Callee::Func(g),
                ..
            } if g.index() < functions => Some(g.0),
            _ => None,
        })
        .collect()
}

fn sorted(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The stream's verdict on `m`, its functions arriving in order with at
    /// most `max_held` instructions held; and how many were read again.
    fn stream(m: &Module, max_held: usize) -> (Result<(), Vec<VerifyError>>, usize) {
        let mut stream = Stream::new(m.clone(), m.funcs.len(), &Config::default());
        stream.max_held_insts = max_held;
        let mut rereads = 0;
        for f in &m.funcs {
            let mut reread = |id: FuncId| {
                rereads += 1;
                Ok::<_, ()>(m.funcs[id.index()].clone())
            };
            stream.function(f.clone(), &mut reread).expect("rereads do not fail");
        }
        (stream.finish(), rereads)
    }

    fn parse(text: &str) -> Module {
        tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{}", e[0])).0
    }

    /// `@f0` calls `@f1`, …, `@f{n-1}`: every caller arrives before its
    /// callee; `cycle` makes the last call the first.
    fn chain(n: usize, cycle: bool) -> Module {
        let mut text = String::from("module chain\n");
        for i in 0..n {
            let call = match (i + 1 < n, cycle) {
                (true, _) => format!("    v1 = call @f{}(v0)\n    ret v1", i + 1),
                (false, true) => "    v1 = call @f0(v0)\n    ret v1".to_owned(),
                (false, false) => "    ret v0".to_owned(),
            };
            text += &format!("func @f{i}(i64) -> i64 {{\nblock0(v0: i64):\n{call}\n}}\n");
        }
        parse(&text)
    }

    #[test]
    fn accepts_what_verify_accepts_on_every_test_module() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut modules = 0;
        for dir in ["verifier/tests/accept", "verifier/tests/reject", "examples/tal"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("test directory") {
                let path = entry.expect("entry").path();
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Ok((m, _)) = tal_ir::text::parse(&text) else {
                    continue;
                };
                let verdict = crate::verify(&m, &Config::default()).is_ok();
                for max_held in [MAX_HELD_INSTS, 0] {
                    let (streamed, _) = stream(&m, max_held);
                    assert_eq!(streamed.is_ok(), verdict, "{}: {streamed:?}", path.display());
                }
                modules += 1;
            }
        }
        assert!(modules > 100, "{modules} modules");
    }

    #[test]
    fn callers_before_callees_wait_held_or_read_again() {
        let m = chain(10, false);
        assert_eq!(crate::verify(&m, &Config::default()), Ok(()));
        assert_eq!(stream(&m, MAX_HELD_INSTS), (Ok(()), 0));
        assert_eq!(stream(&m, 0), (Ok(()), 9));
        // Room for one waiting body: the others are read again.
        assert_eq!(stream(&m, 2), (Ok(()), 8));
    }

    /// Spares are bodies already checked, at most `MAX_SPARES`, never one
    /// still waiting for its callees.
    #[test]
    fn spares_are_checked_bodies_only() {
        let m = chain(10, false);
        let mut stream = Stream::new(m.clone(), m.funcs.len(), &Config::default());
        let mut reread = |id: FuncId| Ok::<_, ()>(m.funcs[id.index()].clone());
        for f in &m.funcs[..9] {
            stream.function(f.clone(), &mut reread).expect("no reread");
            assert!(stream.take_spare().is_none(), "a waiting body given back");
        }
        stream.function(m.funcs[9].clone(), &mut reread).expect("no reread");
        let mut spares = Vec::new();
        while let Some(f) = stream.take_spare() {
            spares.push(f);
        }
        assert_eq!(spares.len(), MAX_SPARES);
        // The last checked first: `@f0`, then its callees back from it.
        assert_eq!(spares, m.funcs[..MAX_SPARES]);
        assert_eq!(stream.finish(), Ok(()));
    }

    /// A body larger than its share of the bound is not kept: spares add
    /// at most `max_held_insts` instructions to what a stream holds.
    #[test]
    fn large_bodies_are_not_kept_as_spares() {
        let m = chain(3, false);
        let mut stream = Stream::new(m.clone(), m.funcs.len(), &Config::default());
        let share = m.funcs.iter().map(Function::inst_count).min().unwrap();
        stream.max_held_insts = MAX_SPARES * share - 1;
        let mut reread = |id: FuncId| Ok::<_, ()>(m.funcs[id.index()].clone());
        for f in &m.funcs {
            stream.function(f.clone(), &mut reread).expect("checks");
        }
        assert!(stream.take_spare().is_none());
        assert_eq!(stream.finish(), Ok(()));
    }

    #[test]
    fn a_call_cycle_leaves_functions_waiting_and_is_rejected() {
        let m = chain(4, true);
        let codes = |r: Result<(), Vec<VerifyError>>| r.unwrap_err().iter().map(|e| e.code).collect::<Vec<_>>();
        assert!(codes(crate::verify(&m, &Config::default())).contains(&"V0501"));
        assert_eq!(codes(stream(&m, MAX_HELD_INSTS).0), ["V0501"; 4]);
    }

    #[test]
    fn missing_and_extra_functions_are_rejected() {
        let m = chain(3, false);
        let mut short = Stream::new(m.clone(), 3, &Config::default());
        short.function(m.funcs[2].clone(), &mut |_| Err(())).unwrap();
        assert!(short.finish().unwrap_err().iter().any(|e| e.code == "V0104"));

        let mut long = Stream::new(m.clone(), 0, &Config::default());
        long.function(m.funcs[2].clone(), &mut |_| Err(())).unwrap();
        assert!(long.rejected());
    }

    /// The call in `f`'s first block, made to call `callee` instead.
    fn redirect_call(f: &mut Function, callee: FuncId) {
        for inst in &mut f.blocks[0].insts {
            if let InstKind::Call { callee: c, .. } = &mut inst.kind {
                *c = Callee::Func(callee);
            }
        }
    }

    #[test]
    fn a_call_past_the_last_function_is_rejected_not_waited_for() {
        // Hostile: a callee id no function will ever have, so nothing
        // makes the caller ready; it must be checked (and refused) at once.
        let mut m = chain(2, false);
        redirect_call(&mut m.funcs[0], FuncId(7));
        assert!(crate::verify(&m, &Config::default()).is_err());
        for max_held in [MAX_HELD_INSTS, 0] {
            assert!(stream(&m, max_held).0.is_err());
        }
    }

    #[test]
    fn a_body_read_again_is_checked_again_not_trusted() {
        // Hostile reader: the caller's body first arrives valid, is
        // dropped (no room to hold it), and comes back calling itself
        // once its callee is done. The body read again is what gets
        // checked, so the recursion is found.
        let m = chain(2, false);
        let mut hostile = m.funcs[0].clone();
        redirect_call(&mut hostile, FuncId(0));
        let mut stream = Stream::new(m.clone(), 2, &Config::default());
        stream.max_held_insts = 0;
        stream
            .function(m.funcs[0].clone(), &mut |_| Ok::<_, ()>(hostile.clone()))
            .unwrap();
        stream
            .function(m.funcs[1].clone(), &mut |_| Ok::<_, ()>(hostile.clone()))
            .unwrap();
        assert!(stream.finish().is_err());
    }

    #[test]
    fn an_error_of_reread_is_returned() {
        let m = chain(2, false);
        let mut stream = Stream::new(m.clone(), 2, &Config::default());
        stream.max_held_insts = 0;
        stream.function(m.funcs[0].clone(), &mut |_| Err("unused")).unwrap();
        assert_eq!(stream.function(m.funcs[1].clone(), &mut |_| Err("gone")), Err("gone"));
    }
}
