//! `safexc verify`: TAL modules (text or binary), objects and signed
//! objects, told apart by their bytes (`\x7fELF`, `SXTAL`, the signature
//! trailer `SXSIG01`), not by their names. With `--pubkey` only signed
//! objects are accepted, and their signature is checked before the object.
//!
//! TAL is verified function by function as it is read
//! (`tal_ir::ModuleReader`, `verifier::Stream`), so that the whole module
//! never resides in memory: the declarations, a bounded number of
//! functions and the input do; a file of TAL text not even the input, only
//! a window of it (`tal_ir::text::Reader` reads the file itself). Reading
//! and verifying run on two threads that share the reading (a helper reads
//! a couple of functions ahead; the verifier reads the next one itself
//! rather than wait), so that on two cores neither idles. A module
//! so refused, or not so read, is read and verified whole ([`check_tal`])
//! for its diagnostics; binary TAL is printed as text only then, for
//! diagnostics to point into.

use crate::Checked;
use crate::diag::{Diagnostic, render};
use crate::files;
use crate::out::{Out, OutputError};
use crate::progress::Spinner;
use runtime::load::LoadError as LoadErr;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tal_ir::{FormatError, Function, Module, ModuleReader};

/// Verifies each file, one summary line per file on standard output and
/// diagnostics on standard error; exit 1 if any is rejected.
pub fn verify(
    out: &mut Out,
    paths: &[PathBuf],
    pubkey: Option<&Path>,
    config: &verifier::Config,
) -> Result<ExitCode, OutputError> {
    let mut inputs = paths.to_vec();
    inputs.extend(pubkey.map(Path::to_path_buf));
    if !files::stdin_at_most_once(&inputs) {
        return Ok(ExitCode::from(crate::USAGE));
    }
    let pubkey = match pubkey.map(files::read_input) {
        None => None,
        Some(Some(der)) => Some(der),
        Some(None) => return Ok(ExitCode::from(1)),
    };
    let mut all_ok = true;
    for path in paths {
        let verdict = verify_file(path, pubkey.as_deref(), config);
        writeln!(out, "{}", verdict.summary)?;
        all_ok &= verdict.accepted;
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A file's summary line, and whether it was accepted.
struct Verdict {
    summary: String,
    accepted: bool,
}

impl From<Checked> for Verdict {
    fn from(checked: Checked) -> Verdict {
        Verdict {
            accepted: checked.module.is_some(),
            summary: checked.summary,
        }
    }
}

fn verify_file(path: &Path, pubkey: Option<&[u8]>, config: &verifier::Config) -> Verdict {
    let name = files::display_name(path);
    let progress = Spinner::new(&format!("verifying {name}"));
    let streamed = match pubkey {
        None => stream_text_file(path, config, &progress),
        Some(_) => None,
    };
    if let Some(Some((functions, insts))) = streamed {
        return Verdict {
            summary: accepted_summary(&name, functions, insts),
            accepted: true,
        };
    }
    let Some(bytes) = files::read_input(path).map(files::without_bom) else {
        return Checked::rejected(&name, &["L0001"]).into();
    };
    let refused = |e: LoadErr| {
        crate::diag::plain_error(e.code, &format!("{name}: {}", e.message));
        Checked::rejected(&name, &[e.code])
    };
    if let Some(pubkey) = pubkey {
        // The signature first: nothing of an object whose signature does
        // not verify is looked at.
        return match runtime::signed::verify(&bytes, pubkey) {
            Ok(object) => check_object(&name, object, config, "signed object, signature verified"),
            Err(e) => refused(e),
        }
        .into();
    }
    match runtime::signed::split(&bytes) {
        Err(e) => refused(e).into(),
        Ok(Some((object, _))) => check_object(
            &name,
            object,
            config,
            "signed object, signature not checked without --pubkey",
        )
        .into(),
        Ok(None) if bytes.starts_with(b"\x7fELF") => check_object(&name, &bytes, config, "object").into(),
        // Text that was streamed from its file was refused: only its
        // diagnostics are left.
        Ok(None) => match streamed
            .is_none()
            .then(|| stream_tal(&bytes, config, &progress))
            .flatten()
        {
            Some((functions, insts)) => Verdict {
                summary: accepted_summary(&name, functions, insts),
                accepted: true,
            },
            None => check_tal(&name, &bytes, config).into(),
        },
    }
}

fn accepted_summary(name: &str, functions: usize, insts: usize) -> String {
    format!("{name}: ok ({functions} functions, {insts} instructions)")
}

/// Verifies a file of TAL text as [`stream_tal`] does, reading it through
/// a window rather than whole: `None` if it is not a file of TAL text, by
/// the bytes [`verify_file`] tells inputs apart by (a signature trailer at
/// its end; `\x7fELF` or `SXTAL` at its start, after a byte-order mark),
/// is not a regular file (a pipe cannot be read twice), or cannot be opened
/// (reading it whole will say why); else what `stream_tal` would say
/// (`None` if refused).
fn stream_text_file(path: &Path, config: &verifier::Config, progress: &Spinner) -> Option<Option<(usize, usize)>> {
    use std::io::{Read, Seek, SeekFrom};
    const BOM: &[u8] = "\u{feff}".as_bytes();
    if files::is_stdio(path) {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let trailer = runtime::signed::MAGIC;
    let mut head = [0u8; 16];
    let mut tail = [0u8; 8];
    // Shorter files are read whole.
    file.read_exact(&mut head).ok()?;
    file.seek(SeekFrom::End(-(tail.len() as i64))).ok()?;
    file.read_exact(&mut tail).ok()?;
    let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
    let text = &head[start..];
    if tail == *trailer || text.starts_with(b"\x7fELF") || text.starts_with(tal_ir::binary::MAGIC) {
        return None;
    }
    file.seek(SeekFrom::Start(start as u64)).ok()?;
    Some(
        tal_ir::text::Reader::new(file)
            .ok()
            .and_then(|reader| stream(reader, config, progress)),
    )
}

/// Instructions between two updates of the progress line.
const PROGRESS_EVERY: usize = 100_000;

/// Reads TAL (binary if it starts with `SXTAL`, else text) one function at
/// a time into a `verifier::Stream`: its functions and instructions if it
/// is accepted, `None` if it is refused or cannot be read so.
fn stream_tal(bytes: &[u8], config: &verifier::Config, progress: &Spinner) -> Option<(usize, usize)> {
    if bytes.starts_with(tal_ir::binary::MAGIC) {
        let reader = tal_ir::binary::Reader::new(bytes).ok()?;
        stream(Binary { reader, next: 0 }, config, progress)
    } else {
        stream(
            tal_ir::text::Reader::new(std::io::Cursor::new(bytes)).ok()?,
            config,
            progress,
        )
    }
}

/// Functions that may be read ahead of the one the verifier waits for.
const AHEAD: usize = 2;

/// A module reader in two halves, so that two threads can share reading:
/// *taking* a function's input, one thread at a time, in order or again
/// (a reread); and *making* the function of that input, on any thread.
trait Split: Send {
    /// A function's input as taken.
    type Input: Default + Send;
    /// What makes functions of inputs: one per thread.
    type Maker: Send;
    fn declarations(&self) -> &Module;
    fn functions(&self) -> usize;
    fn maker(&self) -> Self::Maker;
    /// Takes function `index`'s input, using `spare`'s allocations where
    /// this half makes the function.
    fn take(&mut self, index: usize, spare: &mut Option<Function>, input: &mut Self::Input) -> Result<(), FormatError>;
    /// Makes function `index` of its input, into `spare`'s allocations.
    fn make(
        maker: &mut Self::Maker,
        index: usize,
        input: &mut Self::Input,
        spare: Option<Function>,
    ) -> Result<Function, FormatError>;
    /// Checks the input ends after the last function.
    fn finish(&mut self) -> Result<(), FormatError>;
}

/// TAL text: a body's text is taken, and parsed on either thread.
impl<R: std::io::Read + std::io::Seek + Send> Split for tal_ir::text::Reader<R> {
    type Input = (String, usize);
    type Maker = tal_ir::text::BodyParser;
    fn declarations(&self) -> &Module {
        ModuleReader::declarations(self)
    }
    fn functions(&self) -> usize {
        ModuleReader::functions(self)
    }
    fn maker(&self) -> Self::Maker {
        self.body_parser()
    }
    fn take(
        &mut self,
        index: usize,
        _: &mut Option<Function>,
        (text, at): &mut Self::Input,
    ) -> Result<(), FormatError> {
        *at = self.body_text(index, text)?;
        Ok(())
    }
    fn make(
        parser: &mut Self::Maker,
        index: usize,
        (text, at): &mut Self::Input,
        spare: Option<Function>,
    ) -> Result<Function, FormatError> {
        parser.parse(index, text, *at, spare)
    }
    fn finish(&mut self) -> Result<(), FormatError> {
        Ok(())
    }
}

/// Binary TAL: a function is decoded as it is taken (where it starts is
/// known only once the one before it is decoded); making it hands it over.
struct Binary<'a> {
    reader: tal_ir::binary::Reader<'a>,
    /// Functions decoded in order so far.
    next: usize,
}

impl Split for Binary<'_> {
    type Input = Option<Function>;
    type Maker = ();
    fn declarations(&self) -> &Module {
        self.reader.declarations()
    }
    fn functions(&self) -> usize {
        self.reader.functions()
    }
    fn maker(&self) {}
    fn take(&mut self, index: usize, spare: &mut Option<Function>, input: &mut Self::Input) -> Result<(), FormatError> {
        *input = Some(if index == self.next {
            let function = self.reader.next_function_reusing(spare.take())?;
            self.next += 1;
            function.ok_or_else(|| FormatError {
                code: "V0052",
                message: format!("the input ends before function #{index}"),
                span: 0..0,
            })?
        } else {
            self.reader.function_again(tal_ir::FuncId(index as u32))?
        });
        Ok(())
    }
    fn make(_: &mut (), _: usize, input: &mut Self::Input, _: Option<Function>) -> Result<Function, FormatError> {
        input.take().ok_or_else(|| FormatError {
            code: "V0052",
            message: "no function was taken".to_owned(),
            span: 0..0,
        })
    }
    fn finish(&mut self) -> Result<(), FormatError> {
        match self.reader.next_function()? {
            None => Ok(()),
            Some(_) => Err(FormatError {
                code: "V0052",
                message: "the input has more functions than it declares".to_owned(),
                span: 0..0,
            }),
        }
    }
}

/// What the two threads of [`stream`] share.
struct Shared<S> {
    split: S,
    /// The next function no thread has taken.
    next: usize,
    /// The function the verifier waits for or checks.
    want: usize,
    /// Functions made and not yet verified, with their indices.
    made: Vec<(usize, Result<Function, FormatError>)>,
    /// Verified functions whose allocations may be reused.
    spares: Vec<Function>,
    /// Set when the verifier is done, or has given up.
    stop: bool,
}

impl<S: Split> Shared<S> {
    /// Whether a function may be taken now: it exists and is at most
    /// [`AHEAD`] past the one the verifier waits for.
    fn may_take(&self) -> bool {
        !self.stop && self.next < self.split.functions() && self.next <= self.want + AHEAD
    }
}

type Lock<'a, S> = std::sync::MutexGuard<'a, Shared<S>>;

/// The verifier's state lock, which is never poisoned: no thread panics
/// while holding it (a panic would be a bug, and the scope re-raises it).
fn lock<S>(shared: &std::sync::Mutex<Shared<S>>) -> Lock<'_, S> {
    shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the next function (`guard` must allow it), unlocks while making
/// it, and files it for the verifier.
fn read_one<'a, S: Split>(
    shared: &'a std::sync::Mutex<Shared<S>>,
    ready: &std::sync::Condvar,
    mut guard: Lock<'a, S>,
    maker: &mut S::Maker,
    input: &mut S::Input,
) {
    let index = guard.next;
    guard.next += 1;
    let mut spare = guard.spares.pop();
    let taken = guard.split.take(index, &mut spare, input);
    drop(guard);
    let made = taken.and_then(|()| S::make(maker, index, input, spare));
    lock(shared).made.push((index, made));
    ready.notify_all();
}

/// Verifies the functions `split` reads, in a pipeline on two threads that
/// share the reading: a helper reads (parses or decodes) up to [`AHEAD`]
/// functions ahead of the one the verifier waits for, and the verifier,
/// rather than wait, reads the next one itself; so on two cores both stay
/// busy whichever of reading and verifying is slower. The verifier sees
/// the same functions in the same order, and serves its own rereads.
/// Memory grows by the functions read ahead.
fn stream<S: Split>(split: S, config: &verifier::Config, progress: &Spinner) -> Option<(usize, usize)> {
    let functions = split.functions();
    let mut verifier = verifier::Stream::new(split.declarations().clone(), functions, config);
    let (mut maker, mut helper_maker) = (split.maker(), split.maker());
    let shared = std::sync::Mutex::new(Shared {
        split,
        next: 0,
        want: 0,
        made: Vec::with_capacity(AHEAD + 2),
        spares: Vec::new(),
        stop: false,
    });
    let ready = std::sync::Condvar::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut input = S::Input::default();
            loop {
                let mut guard = lock(&shared);
                while !guard.stop && !guard.may_take() {
                    guard = ready.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                if guard.stop {
                    return;
                }
                read_one(&shared, &ready, guard, &mut helper_maker, &mut input);
            }
        });
        let verdict = (|| {
            let mut input = S::Input::default();
            let (mut insts, mut shown) = (0usize, 0usize);
            for want in 0..functions {
                let function = loop {
                    let mut guard = lock(&shared);
                    guard.want = want;
                    if let Some(at) = guard.made.iter().position(|(index, _)| *index == want) {
                        break guard.made.swap_remove(at).1;
                    }
                    if guard.may_take() {
                        read_one(&shared, &ready, guard, &mut maker, &mut input);
                    } else {
                        drop(ready.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner));
                    }
                };
                let function = function.ok()?;
                let spare = verifier.take_spare();
                lock(&shared).spares.extend(spare);
                // The helper may now read one further ahead.
                ready.notify_all();
                insts += function.inst_count();
                if insts - shown >= PROGRESS_EVERY {
                    shown = insts;
                    progress.set(&format!("{insts} instructions"));
                }
                let mut reread = |id: tal_ir::FuncId| {
                    let taken = lock(&shared).split.take(id.index(), &mut None, &mut input);
                    taken
                        .and_then(|()| S::make(&mut maker, id.index(), &mut input, None))
                        .map_err(|_| ())
                };
                verifier.function(function, &mut reread).ok()?;
                if verifier.rejected() {
                    return None;
                }
            }
            lock(&shared).split.finish().ok()?;
            verifier.finish().ok()?;
            Some((functions, insts))
        })();
        lock(&shared).stop = true;
        ready.notify_all();
        verdict
    })
}

/// Loads TAL (binary if it starts with `SXTAL`, else text) whole and
/// verifies it, showing each error on the TAL text.
pub fn check_tal(name: &str, bytes: &[u8], config: &verifier::Config) -> Checked {
    let loaded = if bytes.starts_with(tal_ir::binary::MAGIC) {
        load_binary(bytes)
    } else {
        load_text(bytes)
    };
    let (module, shown) = match loaded {
        Ok(loaded) => loaded,
        Err((text, errors)) => {
            for e in &errors {
                err!(
                    "{}",
                    render(name, &text, &Diagnostic::error(e.code, &e.message, e.span.clone()))
                );
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            crate::diag::tally(name, &codes, 0);
            if crate::pop::looks_like_popcorn(bytes) {
                crate::diag::help(
                    "this is Popcorn-SX, not TAL: `safexc check FILE` compiles and verifies it, `safexc compile FILE \
                     -o FILE.o` makes an object",
                );
            }
            return Checked::rejected(name, &codes);
        }
    };
    match verifier::verify(&module, config) {
        Ok(()) => {
            let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
            Checked {
                summary: accepted_summary(name, module.funcs.len(), insts),
                module: Some(module),
            }
        }
        Err(errors) => {
            let (text, map) = shown.unwrap_or_else(|| canonical_text(&module));
            for e in &errors {
                let span = map.span(e.location).unwrap_or(0..0);
                err!("{}", render(name, &text, &Diagnostic::error(e.code, &e.message, span)));
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            Checked::rejected(name, &codes)
        }
    }
}

/// An object is accepted when it passes every check a host makes
/// (`runtime::load::check`: it reads back cleanly, was built with fuel
/// checks, its TAL verifies, and its code is exactly what that TAL compiles
/// to); every error found is shown, verifier errors on the object's TAL.
/// `what` names the input in the summary line (`object`, `signed object, …`).
pub fn check_object(name: &str, bytes: &[u8], config: &verifier::Config, what: &str) -> Checked {
    let parts = match runtime::load::check(bytes, config) {
        Ok(parts) => parts,
        Err(refused) => {
            let shown = refused.parts.as_ref().map(|p| canonical_text(&p.module));
            for e in refused.errors() {
                match (&shown, e.location) {
                    (Some((text, map)), Some(location)) => {
                        let span = map.span(location).unwrap_or(0..0);
                        err!(
                            "{}",
                            render(
                                &format!("{name} (.safex.tal)"),
                                text,
                                &Diagnostic::error(e.code, &e.message, span)
                            )
                        );
                    }
                    _ => errln!("{e}"),
                }
            }
            let codes: Vec<&str> = refused.errors().map(|e| e.code).collect();
            return Checked::rejected(name, &codes);
        }
    };
    Checked {
        summary: format!(
            "{name}: ok ({what}: {} functions, {} bytes of code)",
            parts.module.funcs.len(),
            parts.text.len()
        ),
        module: Some(parts.module),
    }
}

/// A module, and the text it was read from with where each item is (none
/// for binary TAL, whose text is printed only for a diagnostic).
type Loaded<'a> = (Module, Option<Shown<'a>>);
/// Text that diagnostics point into, and where each item is in it.
type Shown<'a> = (Cow<'a, str>, tal_ir::TextMap);
type LoadError = (String, Vec<tal_ir::FormatError>);

fn load_text(bytes: &[u8]) -> Result<Loaded<'_>, LoadError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let err = tal_ir::FormatError {
                code: "V0001",
                message: "the file is not UTF-8 text".into(),
                span: at..at + 1,
            };
            return Err((text, vec![err]));
        }
    };
    match tal_ir::text::parse(text) {
        Ok((module, map)) => Ok((module, Some((Cow::Borrowed(text), map)))),
        Err(errors) => Err((text.to_owned(), errors)),
    }
}

fn load_binary(bytes: &[u8]) -> Result<Loaded<'_>, LoadError> {
    let module = tal_ir::binary::decode(bytes).map_err(|e| {
        let text = format!("<{} bytes of binary TAL>", bytes.len());
        let span = 0..text.len();
        (text, vec![tal_ir::FormatError { span, ..e }])
    })?;
    Ok((module, None))
}

/// A module's canonical text, so that diagnostics on binary TAL point at
/// readable lines.
fn canonical_text(module: &Module) -> Shown<'static> {
    let text = tal_ir::text::print(module);
    let map = tal_ir::text::parse(&text).map(|(_, map)| map).unwrap_or_default();
    (Cow::Owned(text), map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A text reader that counts the rereads it serves: inputs taken
    /// again.
    struct Counting<R> {
        inner: R,
        taken: Vec<bool>,
        again: Arc<AtomicUsize>,
    }

    impl<R: Split> Split for Counting<R> {
        type Input = R::Input;
        type Maker = R::Maker;
        fn declarations(&self) -> &Module {
            self.inner.declarations()
        }
        fn functions(&self) -> usize {
            self.inner.functions()
        }
        fn maker(&self) -> R::Maker {
            self.inner.maker()
        }
        fn take(
            &mut self,
            index: usize,
            spare: &mut Option<Function>,
            input: &mut R::Input,
        ) -> Result<(), FormatError> {
            if std::mem::replace(&mut self.taken[index], true) {
                self.again.fetch_add(1, Ordering::Relaxed);
            }
            self.inner.take(index, spare, input)
        }
        fn make(
            maker: &mut R::Maker,
            index: usize,
            input: &mut R::Input,
            spare: Option<Function>,
        ) -> Result<Function, FormatError> {
            R::make(maker, index, input, spare)
        }
        fn finish(&mut self) -> Result<(), FormatError> {
            self.inner.finish()
        }
    }

    /// `n` functions of 2,000 instructions, each waiting for the last, a
    /// leaf: more than the verifier holds, so that it reads some again.
    fn waiters(n: usize, leaf_returns: &str) -> String {
        let mut text = String::from("module waiters\n");
        for i in 0..n {
            text += &format!("func @f{i}() -> i64 {{\n");
            for b in 0..20 {
                text += &format!("block{b}:\n    fuel 110\n");
                for j in 0..100 {
                    text += &format!("    v{} = iconst {j}\n", b * 100 + j);
                }
                text += &format!("    jump block{}\n", b + 1);
            }
            text += "block20:\n    fuel 10\n    v2000 = call @leaf()\n    ret v2000\n}\n";
        }
        text + &format!("func @leaf() -> i64 {{\nblock0:\n    fuel 3\n    v0 = {leaf_returns}\n    ret v0\n}}\n")
    }

    fn streamed(text: &str) -> (Option<(usize, usize)>, usize) {
        let again = Arc::new(AtomicUsize::new(0));
        let inner = tal_ir::text::Reader::new(std::io::Cursor::new(text.as_bytes())).unwrap();
        let reader = Counting {
            taken: vec![false; Split::functions(&inner)],
            inner,
            again: Arc::clone(&again),
        };
        let result = stream(reader, &verifier::Config::default(), &Spinner::new("test"));
        (result, again.load(Ordering::Relaxed))
    }

    #[test]
    fn the_pipeline_serves_the_verifier_s_rereads_and_passes_its_verdict() {
        let (accepted, rereads) = streamed(&waiters(34, "iconst 7"));
        // Per caller 20 blocks of fuel, 100 constants and a jump, then fuel, call, ret.
        assert_eq!(accepted, Some((35, 34 * 2043 + 3)));
        assert!(rereads > 0, "the verifier held every body: no reread was tested");
        // The leaf returns a bool: every caller's `ret` is refused.
        let (refused, _) = streamed(&waiters(34, "bconst true"));
        assert_eq!(refused, None);
    }

    /// Binary TAL, decoded as it is taken: the same verdicts, and an input
    /// cut inside its last function is refused.
    #[test]
    fn the_pipeline_decodes_binary_tal() {
        let binary = |leaf_returns| tal_ir::binary::encode(&tal_ir::text::parse(&waiters(34, leaf_returns)).unwrap().0);
        let streamed = |bytes: &[u8]| {
            let reader = tal_ir::binary::Reader::new(bytes).unwrap();
            stream(
                Binary { reader, next: 0 },
                &verifier::Config::default(),
                &Spinner::new("test"),
            )
        };
        let accepted = binary("iconst 7");
        assert_eq!(streamed(&accepted), Some((35, 34 * 2043 + 3)));
        assert_eq!(streamed(&accepted[..accepted.len() - 1]), None);
        assert_eq!(streamed(&binary("bconst true")), None);
    }
}
