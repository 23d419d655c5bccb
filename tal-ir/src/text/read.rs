//! TAL text read one function at a time from a file, through a window of
//! it that is reused ([`Reader`]): memory is the window, the declarations
//! and the function being parsed, never the whole text.
//!
//! Two passes. The outline reads the input from its start: each item from
//! a text of its first bytes (a lookahead: 16 KiB), cut after a whitespace
//! byte, so that no token but a string or a comment runs past the cut, and
//! the lexer says if one did ([`Lexer::touched_end`]); a function's body,
//! after its header's `{`, is skipped by its braces over the bytes, however
//! many windows that takes, and where it ends is recorded. An item longer
//! than its text (the lexer reached the cut) may not be the whole input's:
//! the outline starts again with twice the lookahead, for declarations or
//! for the items after a function (headers, which are short), so that a
//! long declaration does not make every header's text long. Then each body
//! is parsed from a text that holds exactly it, read again into the
//! window. Only the bytes of items' texts and of bodies are checked to be
//! UTF-8, each once per pass.
//!
//! The input is read twice, but for what the window still holds: a file
//! changed in between may give other bodies than the outline saw, which are
//! parsed as they are then (each must still end at the `}` the outline
//! found), as a body read again for [`ModuleReader::function_again`] is.
//!
//! [`Lexer::touched_end`]: super::lexer::Lexer::touched_end

use super::parse::{Mode, Parser, Scope, skip_body};
use crate::{FormatError, FuncId, Function, Module, ModuleReader};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

/// The least an item's text holds from the item's start: longer items need
/// a second outline (or more, twice as long each time).
const LOOKAHEAD: usize = 16 << 10;

/// Bytes read at once (after the first few reads, which double up to it),
/// and the window's size for bodies up to it.
const CHUNK: usize = 1 << 20;

/// TAL text read one function at a time ([`crate::ModuleReader`]) from a
/// source that can be read again where it was ([`Read`] and [`Seek`]: a
/// file, or `std::io::Cursor` over bytes in memory): [`Reader::new`]
/// outlines it (the declarations and every function's signature, bodies
/// skipped); each body is parsed as it is asked for. The input starts at
/// the source's position when the reader is made. The functions are those
/// [`super::parse`] gives for the same text, or a reader refuses the
/// input: where `parse` finds an error, and, as it cannot number them, for
/// externs declared only by being called (the verifier refuses every
/// extern anyway). Its errors are not always `parse`'s (one in a skipped
/// body is found only when the body is read; input that cannot be read,
/// or that ends before a body the outline found, is `V0001`); use `parse`
/// to report them. Never panics.
pub struct Reader<R> {
    window: Window<R>,
    /// The declarations and each function's signature, and their names.
    scope: Scope,
    /// Each function's body, from after its `{` through its `}`.
    bodies: Vec<Range<usize>>,
    next: usize,
}

impl<R: Read + Seek> Reader<R> {
    pub fn new(source: R) -> Result<Reader<R>, FormatError> {
        Reader::with_sizes(source, LOOKAHEAD, CHUNK)
    }

    /// [`Reader::new`] with other sizes (tests make them tiny).
    pub(super) fn with_sizes(source: R, lookahead: usize, chunk: usize) -> Result<Reader<R>, FormatError> {
        let mut window = Window::new(source, chunk.max(1))?;
        // Before the first function, and after.
        let mut lookahead = [lookahead.max(1); 2];
        loop {
            match outline(&mut window, lookahead)? {
                Outline::Done(scope, bodies) => {
                    return Ok(Reader {
                        window,
                        scope: *scope,
                        bodies,
                        next: 0,
                    });
                }
                Outline::Longer(which) => lookahead[which] = lookahead[which].saturating_mul(2),
            }
        }
    }

    /// Parses the body of function `index`, reusing `spare`'s vectors.
    fn body(&mut self, index: usize, spare: Option<Function>) -> Result<Function, FormatError> {
        let range = self.body_range(index)?;
        let text = self.window.exactly(range.clone())?;
        parse_body(&mut self.scope, index, text, range.start, spare)
    }

    fn body_range(&self, index: usize) -> Result<Range<usize>, FormatError> {
        (self.bodies.get(index).cloned()).ok_or_else(|| error(0..0, format!("the module has no function #{index}")))
    }

    /// The text of function `index`'s body (from after its `{` through its
    /// `}`), copied into `into`, which is emptied first; returns where it
    /// starts in the input. With a [`BodyParser`] the bodies can be parsed
    /// on other threads than the one that reads them.
    pub fn body_text(&mut self, index: usize, into: &mut String) -> Result<usize, FormatError> {
        let range = self.body_range(index)?;
        into.clear();
        into.push_str(self.window.exactly(range.clone())?);
        Ok(range.start)
    }

    /// A parser of this module's bodies, as [`Reader::body_text`] gives
    /// them: it holds its own copy of the declarations, so that it can be
    /// moved to another thread.
    pub fn body_parser(&self) -> BodyParser {
        BodyParser {
            scope: self.scope.clone(),
        }
    }
}

/// Parses the bodies of one module's functions ([`Reader::body_parser`]):
/// what [`Reader`] gives for the same function, or the same error.
pub struct BodyParser {
    scope: Scope,
}

impl BodyParser {
    /// Function `index`, from the text and start [`Reader::body_text`]
    /// gave, reusing `spare`'s vectors.
    pub fn parse(
        &mut self,
        index: usize,
        text: &str,
        at: usize,
        spare: Option<Function>,
    ) -> Result<Function, FormatError> {
        parse_body(&mut self.scope, index, text, at, spare)
    }
}

/// Function `index` of `scope`'s module, from its body's text, which starts
/// at input byte `at`.
fn parse_body(
    scope: &mut Scope,
    index: usize,
    text: &str,
    at: usize,
    spare: Option<Function>,
) -> Result<Function, FormatError> {
    let mut parser = Parser::new(text, at, Mode::Outline, std::mem::take(scope));
    let body = parser.body(index, spare);
    *scope = parser.s;
    body
}

/// What an outline found.
enum Outline {
    /// The declarations and signatures, and where each body is.
    Done(Box<Scope>, Vec<Range<usize>>),
    /// An item longer than `lookahead[0]` (before the first function) or
    /// `lookahead[1]` (after).
    Longer(usize),
}

/// Outlines the input, each item read from a text of its first
/// `lookahead[0]` bytes, or `lookahead[1]` after a function.
fn outline<R: Read + Seek>(window: &mut Window<R>, lookahead: [usize; 2]) -> Result<Outline, FormatError> {
    let mut scope = Scope::default();
    let mut bodies = Vec::new();
    let mut at = 0;
    let mut first = true;
    loop {
        let which = usize::from(!bodies.is_empty());
        let (text, complete) = window.item_text(at, lookahead[which])?;
        let mut parser = Parser::new(text, at, Mode::Outline, scope);
        let step = match if first {
            parser.header().map(|()| true)
        } else {
            parser.item()
        } {
            Ok(false) => parser.end().map(|()| false),
            step => step,
        };
        if parser.lex.touched_end && !complete {
            return Ok(Outline::Longer(which));
        }
        let (next, body_at) = (parser.lex.last_end, parser.body_at);
        scope = parser.s;
        if !step? {
            return Ok(Outline::Done(Box::new(scope), bodies));
        }
        first = false;
        at = match body_at {
            Some(from) => {
                let Some(end) = window.skip_body(from)? else {
                    let name = scope.module.funcs.last().map_or("", |f| f.name.as_str());
                    let message = format!("the body of `@{}` has no closing `}}`", super::parse::snippet(name));
                    return Err(FormatError {
                        code: "V0001",
                        message,
                        span: from - 1..from,
                    });
                };
                bodies.push(from..end);
                end
            }
            None => next,
        };
    }
}

impl<R: Read + Seek> ModuleReader for Reader<R> {
    fn declarations(&self) -> &Module {
        &self.scope.module
    }

    fn functions(&self) -> usize {
        self.bodies.len()
    }

    fn next_function(&mut self) -> Result<Option<Function>, FormatError> {
        self.next_function_reusing(None)
    }

    fn next_function_reusing(&mut self, spare: Option<Function>) -> Result<Option<Function>, FormatError> {
        if self.next == self.bodies.len() {
            return Ok(None);
        }
        self.next += 1;
        self.body(self.next - 1, spare).map(Some)
    }

    fn function_again(&mut self, id: FuncId) -> Result<Function, FormatError> {
        self.body(id.index(), None)
    }
}

/// A `V0001` error: input the reader cannot read, or that ends too soon.
fn error(span: Range<usize>, message: String) -> FormatError {
    FormatError {
        code: "V0001",
        message,
        span,
    }
}

/// Whitespace between tokens, after which a text may be cut.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
}

/// Some consecutive bytes of the input, read from a source into one buffer
/// that is reused.
struct Window<R> {
    source: R,
    /// The source's position of the input's first byte.
    origin: u64,
    /// Input bytes `start..start + filled` are `buf[..filled]`; the rest of
    /// `buf` is room to read into.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Whether the input ends at `start + filled`.
    eof: bool,
    /// The input byte the source is at, if known.
    pos: Option<usize>,
    /// The most read at once: once the buffer has grown to it, the least.
    chunk: usize,
}

impl<R: Read + Seek> Window<R> {
    fn new(mut source: R, chunk: usize) -> Result<Window<R>, FormatError> {
        let origin = source.stream_position().map_err(|e| read_error(&e, 0))?;
        Ok(Window {
            source,
            origin,
            buf: Vec::new(),
            start: 0,
            filled: 0,
            eof: false,
            pos: Some(0),
            chunk,
        })
    }

    /// Makes the window hold input bytes `from..until`, or from `from` to
    /// the end of the input if it ends first; bytes before `from` may go.
    fn hold(&mut self, from: usize, until: usize) -> Result<(), FormatError> {
        if from < self.start || from > self.start + self.filled {
            self.start = from;
            self.filled = 0;
            self.eof = false;
        }
        if self.eof || until <= self.start + self.filled {
            return Ok(());
        }
        self.buf.copy_within(from - self.start..self.filled, 0);
        self.filled -= from - self.start;
        self.start = from;
        // Reads grow to a chunk as the buffer does, doubling, so that a
        // small input needs no large buffer; past a chunk the buffer grows
        // only as it fills, so it is never much larger than what it holds.
        let read = self.chunk.min((2 * self.buf.len()).max(4096));
        if self.buf.len() < self.filled + read {
            self.buf.resize(self.filled + read, 0);
        }
        let end = self.start + self.filled;
        if self.pos != Some(end) {
            self.pos = None;
            self.source
                .seek(SeekFrom::Start(self.origin.saturating_add(end as u64)))
                .map_err(|e| read_error(&e, end))?;
            self.pos = Some(end);
        }
        while self.start + self.filled < until {
            if self.filled == self.buf.len() {
                self.buf.resize(2 * self.filled, 0);
            }
            match self.source.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.filled += n;
                    self.pos = Some(self.start + self.filled);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos = None;
                    return Err(read_error(&e, self.start + self.filled));
                }
            }
        }
        Ok(())
    }

    /// The text of an item starting at input byte `at`: its first
    /// `lookahead` bytes cut after their last whitespace byte, or all of
    /// the rest of the input if shorter (then `true`).
    fn item_text(&mut self, at: usize, lookahead: usize) -> Result<(&str, bool), FormatError> {
        self.hold(at, at.saturating_add(lookahead))?;
        let held = &self.buf[at - self.start..self.filled];
        let (bytes, complete) = if self.eof && held.len() <= lookahead {
            (held, true)
        } else {
            let held = &held[..lookahead.min(held.len())];
            (
                &held[..held.iter().rposition(|&b| is_space(b)).map_or(0, |i| i + 1)],
                false,
            )
        };
        Ok((utf8(bytes, at)?, complete))
    }

    /// Where the body that starts at input byte `from` (after its `{`)
    /// ends ([`skip_body`]): `None` if the input ends first. Reads on,
    /// twice as much each time, until it finds out.
    fn skip_body(&mut self, from: usize) -> Result<Option<usize>, FormatError> {
        let mut until = from;
        loop {
            self.hold(from, until)?;
            if let Some(end) = skip_body(&self.buf[from - self.start..self.filled], 0) {
                return Ok(Some(from + end));
            }
            if self.eof {
                return Ok(None);
            }
            until = from + (2 * (self.start + self.filled - from)).max(self.chunk);
        }
    }

    /// The text of input bytes `range`, which must all be there.
    fn exactly(&mut self, range: Range<usize>) -> Result<&str, FormatError> {
        self.hold(range.start, range.end)?;
        let held = &self.buf[range.start - self.start..self.filled];
        let Some(bytes) = held.get(..range.len()) else {
            let message = "the input ends inside a function's body: it changed since it was outlined".to_owned();
            return Err(error(range.start..self.start + self.filled, message));
        };
        utf8(bytes, range.start)
    }
}

/// `bytes`, which are input bytes from `at`, as text.
fn utf8(bytes: &[u8], at: usize) -> Result<&str, FormatError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = at + e.valid_up_to();
        error(at..at + 1, "the input is not UTF-8 text".to_owned())
    })
}

fn read_error(e: &io::Error, at: usize) -> FormatError {
    error(at..at, format!("cannot read the input: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// The module a reader reads from `source` with these sizes.
    fn read<R: Read + Seek>(source: R, lookahead: usize, chunk: usize) -> Result<Module, FormatError> {
        let mut reader = Reader::with_sizes(source, lookahead, chunk)?;
        let mut funcs = Vec::new();
        let mut spare = None;
        while let Some(f) = reader.next_function_reusing(spare.take())? {
            funcs.push(f.clone());
            spare = Some(f);
        }
        for (i, f) in funcs.iter().enumerate() {
            assert_eq!(&reader.function_again(FuncId(i as u32))?, f);
        }
        Ok(Module {
            funcs,
            ..reader.declarations().clone()
        })
    }

    /// A module of `n` functions of about `insts` instructions each, with
    /// declarations, calls of functions before and after, comments and
    /// strings with braces.
    fn module(n: usize, insts: usize) -> String {
        let mut text = String::from(
            "module m\nsource \"a } b\" ; { not a body\nclass c { a: i64 range(0, 9) }\nevent e\n\
             struct s { x: i64 }\nglobal @g: [i64; 4] = [1, 2, 3, 4]\n",
        );
        for f in 0..n {
            let callee = if f % 2 == 0 { (f + 1) % n } else { f - 1 };
            text += &format!("func @f{f}(i64) -> i64 {{\n    slot $0: [i64; 2]\nblock0(v0: i64):\n    fuel 9\n");
            for i in 1..=insts {
                text += &format!("    v{i} = iadd v{}, v0 ; }} {{ [\n", i - 1);
            }
            text += &format!(
                "    asm \"}} {{ \\\" ;\"\n    jump block1(v{insts})\nblock1(v{}: i64):\n",
                insts + 1
            );
            text += &format!(
                "    v{} = call @f{callee}(v{})\n    ret v{}\n}}\n",
                insts + 2,
                insts + 1,
                insts + 2
            );
        }
        text
    }

    fn parsed(text: &str) -> Module {
        crate::text::parse(text).expect("parses").0
    }

    #[test]
    fn bodies_across_windows_read_as_parsed() {
        let text = module(12, 30);
        let expected = parsed(&text);
        // Windows smaller than a line, a body, several bodies, the file.
        for (lookahead, chunk) in [(1, 1), (3, 7), (16, 64), (100, 1000), (4096, 1 << 16)] {
            let read = read(Cursor::new(text.as_bytes()), lookahead, chunk);
            assert_eq!(read.as_ref(), Ok(&expected), "lookahead {lookahead}, chunk {chunk}");
        }
    }

    #[test]
    fn a_function_larger_than_the_window_is_read_whole() {
        let text = module(3, 2000);
        let mut reader = Reader::with_sizes(Cursor::new(text.as_bytes()), 64, 256).unwrap();
        let f = reader.next_function().unwrap().unwrap();
        assert_eq!(f.inst_count(), 2005);
        assert_eq!(read(Cursor::new(text.as_bytes()), 64, 256), Ok(parsed(&text)));
    }

    #[test]
    fn crlf_long_lines_and_a_one_line_module() {
        let text = module(4, 10);
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(read(Cursor::new(crlf.as_bytes()), 5, 11), Ok(parsed(&crlf)));
        // Every body on one line, and a declaration of 40 KB on one line.
        let one_line = text.replace('\n', " ").replace(" ; } { [ ", " ");
        let one_line = one_line.replacen("\"a } b\" ; { not a body ", "\"a } b\" ", 1);
        assert_eq!(read(Cursor::new(one_line.as_bytes()), 5, 11), Ok(parsed(&one_line)));
        let values: Vec<String> = (0..8000).map(|i| i.to_string()).collect();
        let long = text.replacen(
            "global @g: [i64; 4] = [1, 2, 3, 4]",
            &format!("global @g: [i64; 8000] = [{}]", values.join(", ")),
            1,
        );
        for (lookahead, chunk) in [(16, 64), (LOOKAHEAD, CHUNK)] {
            assert_eq!(read(Cursor::new(long.as_bytes()), lookahead, chunk), Ok(parsed(&long)));
        }
    }

    #[test]
    fn errors_and_ends_inside_items_and_bodies() {
        let text = module(3, 5);
        // Cut anywhere, and with an open string or a bad byte anywhere: an
        // error where parse errs, never a panic.
        for at in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            for edit in ["", "\"", "\u{0}", "é"] {
                let mut edited = text[..at].to_owned() + edit;
                if !edit.is_empty() {
                    edited += &text[at..];
                }
                let read = read(Cursor::new(edited.as_bytes()), 4, 9);
                match crate::text::parse(&edited) {
                    // A call of a function cut off is of an implicit
                    // extern, which only `parse` numbers.
                    Ok((module, _)) if !module.externs.is_empty() => assert!(read.is_err(), "{edited}"),
                    Ok((module, _)) => assert_eq!(read, Ok(module), "{edited}"),
                    Err(_) => assert!(read.is_err(), "{edited}"),
                }
            }
        }
        let mut bad = text.clone().into_bytes();
        let at = text.find("iadd").unwrap();
        bad[at] = 0xff;
        let error = read(Cursor::new(&bad), 16, 64).unwrap_err();
        assert_eq!((error.code, error.span), ("V0001", at..at + 1));
    }

    /// A source whose bytes are `first` until it has been read to its end,
    /// then `then`: a file written to between the outline and the bodies.
    struct Changing {
        first: Vec<u8>,
        then: Vec<u8>,
        changed: bool,
        at: usize,
    }

    impl Read for Changing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let bytes = if self.changed { &self.then } else { &self.first };
            let rest = bytes.get(self.at..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.at += n;
            self.changed |= n == 0;
            Ok(n)
        }
    }

    impl Seek for Changing {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            match to {
                SeekFrom::Start(at) => self.at = at as usize,
                SeekFrom::Current(0) => {}
                _ => return Err(io::Error::other("only from the start")),
            }
            Ok(self.at as u64)
        }
    }

    #[test]
    fn a_file_that_changes_after_its_outline() {
        let text = module(4, 8);
        let changing = |then: &str| Changing {
            first: text.clone().into_bytes(),
            then: then.as_bytes().to_vec(),
            changed: false,
            at: 0,
        };
        // Cut inside the third body: the first two are read, then an error.
        let cut = text.match_indices("func @f2").next().unwrap().0 + 60;
        let mut reader = Reader::with_sizes(changing(&text[..cut]), 256, 64).unwrap();
        assert!(reader.next_function().unwrap().is_some() && reader.next_function().unwrap().is_some());
        assert_eq!(reader.next_function().unwrap_err().code, "V0001");
        // A body changed in place: read as it is now.
        let then = text.replacen("v3 = iadd v2, v0", "v3 = isub v2, v0", 1);
        assert_eq!(read(changing(&then), 256, 64), Ok(parsed(&then)));
        // A body that no longer ends where it did: refused.
        let then = text.replacen("v3 = iadd v2, v0", "v3 = iadd v2, v00", 1);
        assert!(read(changing(&then), 256, 64).is_err());
    }
}
