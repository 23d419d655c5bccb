//! `safexc lsp`: the Popcorn-SX language server, for editors.
//!
//! The server speaks the Language Server Protocol (JSON-RPC with
//! `Content-Length` headers) on standard input and standard output, which
//! carries nothing but protocol messages; its own messages go to standard
//! error. An editor starts it as `safexc lsp` (`--stdio` is accepted, as
//! some clients add it) and gets:
//!
//! - **Diagnostics as you type.** On every change of an open document the
//!   server compiles it as `safexc check` does and publishes the front-end's
//!   errors and warnings (`P0xxx`), and, when the front-end accepts the
//!   file, the verifier's verdict on the TAL it compiles to (`V0xxx`),
//!   placed on the source line that produced the refused code. Each has its
//!   code, `safexc` as source, its severity and its secondary places
//!   ("first defined here") as related information; its message ends with
//!   the help, if any, and "`safexc explain CODE` explains the code".
//!   Changes that arrive together are compiled once. Closing a document
//!   clears its diagnostics.
//! - **Hover:** what the name under the cursor is, with its type: locals and
//!   parameters (`int u`), globals with their initial value, constants with
//!   their value (`const int KP = 500`), functions with their signature,
//!   structs with their fields, fields, attribute classes, the attributes a
//!   `get_attribute`/`set_attribute` string names (`int period readonly`),
//!   events, the SafeX builtins and imported modules, and the `//` comment
//!   above the declaration.
//! - **Go to definition** of locals, parameters, globals, constants,
//!   functions, structs, fields, classes, attributes and events declared in
//!   the file. What the standard library declares (`import cpu;`) has no
//!   place in the file: hover shows it, go to definition finds nothing.
//!
//! Documents are synchronized whole (`TextDocumentSyncKind::Full`; ranged
//! changes are applied too); positions are in UTF-16 code units, as LSP's
//! default. A file that does not parse still gets its syntax errors, and
//! hover and go to definition work on what error recovery kept of it.
//! `safexc lsp --stdlib` checks files as part of the standard library
//! (guards and `block` allowed), as `safexc check --stdlib`.
//!
//! Not supported: completion, references, rename, document symbols,
//! formatting, code actions, workspace-wide diagnostics (each open document
//! is checked on its own), cancellation (requests are answered in order, and
//! fast), and position encodings other than UTF-16.
//!
//! # Editors
//!
//! Any editor with an LSP client can use it; associate `*.pop` files with
//! a language and start `safexc lsp` for it.
//!
//! **Neovim** (0.11 or later), in `init.lua`:
//!
//! ```lua
//! vim.filetype.add({ extension = { pop = "popcorn" } })
//! vim.lsp.config("safexc", { cmd = { "safexc", "lsp" }, filetypes = { "popcorn" }, root_markers = { ".git" } })
//! vim.lsp.enable("safexc")
//! ```
//!
//! **Helix**, in `languages.toml`:
//!
//! ```toml
//! [language-server.safexc]
//! command = "safexc"
//! args = ["lsp"]
//!
//! [[language]]
//! name = "popcorn"
//! scope = "source.popcorn"
//! file-types = ["pop"]
//! comment-token = "//"
//! language-servers = ["safexc"]
//! ```
//!
//! **Emacs** (Eglot):
//!
//! ```elisp
//! (define-derived-mode popcorn-mode c-mode "Popcorn-SX")
//! (add-to-list 'auto-mode-alist '("\\.pop\\'" . popcorn-mode))
//! (with-eval-after-load 'eglot
//!   (add-to-list 'eglot-server-programs '(popcorn-mode "safexc" "lsp")))
//! ```
//!
//! **VS Code**: an extension with `vscode-languageclient` whose server
//! options are `{ command: "safexc", args: ["lsp"] }` and whose document
//! selector is the language of `.pop` files.
//!
//! When diagnostics do not show, the server's standard error (the editor's
//! LSP log) says why: a message it could not read, or a document it was not
//! told about.

use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use lsp_types as lsp;
use popcorn_front::symbols::{SymbolKind, Symbols};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;

#[derive(clap::Args)]
pub struct LspArgs {
    /// Check documents as part of the standard library (guards and `block`
    /// allowed), as `safexc check --stdlib`.
    #[arg(long)]
    stdlib: bool,
    /// Speak on standard input and output (always; accepted because some
    /// editors' clients add it).
    #[arg(long)]
    stdio: bool,
}

/// `safexc lsp --help`'s last part.
pub const HELP: &str = "\
The server reads LSP messages on standard input and writes them on standard output; its own messages go \
to standard error. It publishes the front-end's and the verifier's diagnostics as documents change, and \
answers hover (types, signatures, constants' values) and go to definition. Editors start it as `safexc \
lsp` for `*.pop` files; for example, in Neovim:

    vim.lsp.config(\"safexc\", { cmd = { \"safexc\", \"lsp\" }, filetypes = { \"popcorn\" } })

and in Helix's languages.toml:

    [language-server.safexc]
    command = \"safexc\"
    args = [\"lsp\"]";

/// Runs the server until the client says `exit` or closes standard input:
/// status 0 after a `shutdown` request, 1 otherwise (as LSP says).
pub fn lsp(args: LspArgs) -> ExitCode {
    let _ = args.stdio;
    let (sender, receiver) = mpsc::channel();
    // Standard input is read on a thread of its own, so that the server can
    // tell when no message is waiting (and only then compile).
    let reader = std::thread::Builder::new()
        .name("lsp-input".into())
        .spawn(move || read_input(&sender));
    if let Err(e) = reader {
        errln!("safexc lsp: cannot start the input thread: {e}");
        return ExitCode::from(1);
    }
    let mut server = Server::new(args.stdlib);
    match server.run(&receiver) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errln!("error[L0002]: cannot write to standard output: {e}");
            ExitCode::from(1)
        }
    }
}

// ---------------------------------------------------------------- input

/// What the input thread hands over.
enum Incoming {
    Message(Message),
    /// A message that is not valid JSON-RPC: the error to answer it with, and
    /// its request id if it had one.
    Malformed {
        id: Option<Value>,
        code: ErrorCode,
        message: String,
    },
    /// Standard input ended, or lost its framing (why).
    End(Option<String>),
}

/// The largest message body read; a larger one is skipped and answered with
/// an error. Sources are limited to 4 GiB of spans anyway.
const MAX_BODY: usize = 1 << 28;
/// The longest header line.
const MAX_HEADER_LINE: u64 = 4096;

fn read_input(sender: &mpsc::Sender<Incoming>) {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    loop {
        let incoming = match read_frame(&mut input) {
            Ok(None) => Incoming::End(None),
            Ok(Some(Ok(body))) => parse_message(&body),
            Ok(Some(Err(length))) => Incoming::Malformed {
                id: None,
                code: ErrorCode::InvalidRequest,
                message: format!("message of {length} bytes, more than the {MAX_BODY} this server reads"),
            },
            Err(e) => Incoming::End(Some(e.to_string())),
        };
        let end = matches!(incoming, Incoming::End(_));
        if sender.send(incoming).is_err() || end {
            return;
        }
    }
}

/// One message's body; `Err(length)` for a body too large (skipped); `None`
/// at the end of the input.
fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Result<Vec<u8>, usize>>> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let mut length = None;
    let mut headers = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let n = input.by_ref().take(MAX_HEADER_LINE).read_line(&mut line)?;
        if n == 0 {
            if headers == 0 {
                return Ok(None);
            }
            return Err(invalid("the input ended inside a message's headers".into()));
        }
        if !line.ends_with('\n') {
            return Err(invalid(format!("a header line longer than {MAX_HEADER_LINE} bytes")));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            if headers == 0 {
                continue; // blank lines between messages
            }
            break;
        }
        headers += 1;
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header {header:?}")))?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|e| invalid(format!("malformed Content-Length {value:?}: {e}")))?;
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| invalid("a message without Content-Length".into()))?;
    if length > MAX_BODY {
        io::copy(&mut input.by_ref().take(length as u64), &mut io::sink())?;
        return Ok(Some(Err(length)));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(Ok(body)))
}

fn parse_message(body: &[u8]) -> Incoming {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            return Incoming::Malformed {
                id: None,
                code: ErrorCode::ParseError,
                message: format!("the message is not JSON: {e}"),
            };
        }
    };
    if !value.is_object() {
        // Serde would read some arrays as messages; LSP sends no batches.
        return Incoming::Malformed {
            id: None,
            code: ErrorCode::InvalidRequest,
            message: "a JSON-RPC message is an object".into(),
        };
    }
    let has_id = value.get("id").is_some_and(|id| !id.is_null());
    let has_method = value.get("method").is_some();
    // The id to answer a malformed request with: JSON-RPC's `null` when it
    // has none that could be an id.
    let id = value.get("id").filter(|id| id.is_number() || id.is_string()).cloned();
    let invalid = |message: String| Incoming::Malformed {
        id,
        code: ErrorCode::InvalidRequest,
        message,
    };
    match serde_json::from_value::<Message>(value) {
        // An id that is neither a 32-bit integer nor a string makes a
        // request parse as a notification; it still needs an answer.
        Ok(Message::Notification(n)) if has_id => {
            invalid(format!("`{}`: a request id is a 32-bit integer or a string", n.method))
        }
        // A method that is not a string makes a request parse as a response.
        Ok(Message::Response(_)) if has_method => invalid("a request's method is a string".into()),
        Ok(message) => Incoming::Message(message),
        Err(e) => invalid(format!("not a JSON-RPC request, response or notification: {e}")),
    }
}

// ---------------------------------------------------------------- output

fn write_message(message: &Message) -> io::Result<()> {
    message.write(&mut io::stdout().lock())
}

/// An error answer to a message `Message` could not hold (its id may be
/// `null`, or a number that is not an `i32`).
fn write_raw_error(id: Option<Value>, code: ErrorCode, message: &str) -> io::Result<()> {
    let object = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": { "code": code as i32, "message": message },
    });
    let text = object.to_string();
    let mut out = io::stdout().lock();
    write!(out, "Content-Length: {}\r\n\r\n{text}", text.len())?;
    out.flush()
}

// ---------------------------------------------------------------- the server

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Waiting for `initialize`.
    Uninitialized,
    Running,
    /// After `shutdown`: only `exit` is expected.
    ShutDown,
}

/// An answer's error: an LSP code and a message.
type Failure = (ErrorCode, String);

struct Server {
    stdlib: bool,
    state: State,
    /// The open documents, by URI.
    docs: HashMap<String, Document>,
    /// The documents whose diagnostics are to be published, once no message
    /// is waiting.
    dirty: BTreeSet<String>,
    /// The codes `safexc explain` documents.
    documented: HashSet<&'static str>,
}

struct Document {
    uri: lsp::Uri,
    version: i32,
    text: String,
    /// Of the current text; made when first needed.
    analysis: Option<Analysis>,
}

/// What the server knows of one version of a document.
struct Analysis {
    lines: LineIndex,
    diagnostics: Vec<lsp::Diagnostic>,
    symbols: Symbols,
}

impl Document {
    fn analysis(&mut self, stdlib: bool, documented: &HashSet<&'static str>) -> &Analysis {
        let (uri, text) = (&self.uri, &self.text);
        self.analysis
            .get_or_insert_with(|| analyze(uri, text, stdlib, documented))
    }

    fn set_text(&mut self, text: String) {
        self.text = text;
        self.analysis = None;
    }
}

impl Server {
    fn new(stdlib: bool) -> Server {
        Server {
            stdlib,
            state: State::Uninitialized,
            docs: HashMap::new(),
            dirty: BTreeSet::new(),
            documented: crate::diag::code_docs().into_iter().map(|d| d[0]).collect(),
        }
    }

    /// Serves until `exit` or the end of the input; the exit status.
    fn run(&mut self, receiver: &mpsc::Receiver<Incoming>) -> io::Result<u8> {
        loop {
            let incoming = if self.dirty.is_empty() {
                receiver.recv().unwrap_or(Incoming::End(None))
            } else {
                match receiver.try_recv() {
                    Ok(incoming) => incoming,
                    Err(mpsc::TryRecvError::Empty) => {
                        self.publish_dirty()?;
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => Incoming::End(None),
                }
            };
            match incoming {
                Incoming::Message(Message::Request(request)) => self.request(request)?,
                Incoming::Message(Message::Notification(n)) if n.method == "exit" => return Ok(self.exit_status()),
                Incoming::Message(Message::Notification(n)) => self.notification(n)?,
                // The server sends no requests, so expects no responses.
                Incoming::Message(Message::Response(_)) => {}
                Incoming::Malformed { id, code, message } => {
                    errln!("safexc lsp: {message}");
                    write_raw_error(id, code, &message)?;
                }
                Incoming::End(why) => {
                    if let Some(why) = why {
                        errln!("safexc lsp: cannot read standard input: {why}");
                    } else if self.state != State::ShutDown {
                        errln!("safexc lsp: standard input ended without `shutdown` and `exit`");
                    }
                    return Ok(self.exit_status());
                }
            }
        }
    }

    fn exit_status(&self) -> u8 {
        if self.state == State::ShutDown { 0 } else { 1 }
    }

    fn request(&mut self, request: Request) -> io::Result<()> {
        let Request { id, method, params } = request;
        let result = match (self.state, method.as_str()) {
            (State::Uninitialized, "initialize") => {
                self.state = State::Running;
                to_json(initialize_result())
            }
            (State::Uninitialized, _) => Err((
                ErrorCode::ServerNotInitialized,
                format!("`{method}` before `initialize`"),
            )),
            (_, "initialize") => Err((ErrorCode::InvalidRequest, "a second `initialize`".into())),
            (State::ShutDown, _) => Err((
                ErrorCode::InvalidRequest,
                format!("`{method}` after `shutdown`: only `exit` is expected"),
            )),
            (State::Running, "shutdown") => {
                self.state = State::ShutDown;
                Ok(Value::Null)
            }
            (State::Running, "textDocument/hover") => {
                params_of::<lsp::HoverParams>(&method, params).and_then(|p| to_json(self.hover(p)))
            }
            (State::Running, "textDocument/definition") => {
                params_of::<lsp::GotoDefinitionParams>(&method, params).and_then(|p| to_json(self.definition(p)))
            }
            (State::Running, _) => Err((ErrorCode::MethodNotFound, format!("unknown method `{method}`"))),
        };
        self.respond(id, result)
    }

    fn respond(&self, id: RequestId, result: Result<Value, Failure>) -> io::Result<()> {
        let response = match result {
            Ok(value) => Response {
                id,
                result: Some(value),
                error: None,
            },
            Err((code, message)) => Response {
                id,
                result: None,
                error: Some(ResponseError {
                    code: code as i32,
                    message,
                    data: None,
                }),
            },
        };
        write_message(&Message::Response(response))
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) -> io::Result<()> {
        let params = serde_json::to_value(params)?;
        write_message(&Message::Notification(Notification {
            method: method.to_owned(),
            params,
        }))
    }

    fn notification(&mut self, n: Notification) -> io::Result<()> {
        if self.state != State::Running {
            return Ok(()); // LSP: dropped before `initialize` (and after `shutdown`)
        }
        let Notification { method, params } = n;
        let handled = match method.as_str() {
            "textDocument/didOpen" => params_of(&method, params).map(|p| self.did_open(p)),
            "textDocument/didChange" => params_of(&method, params).map(|p| self.did_change(p)),
            "textDocument/didSave" => params_of(&method, params).map(|p| self.did_save(p)),
            "textDocument/didClose" => match params_of(&method, params) {
                Ok(p) => return self.did_close(p),
                Err(e) => Err(e),
            },
            // `initialized`, `$/cancelRequest`, `$/setTrace`, settings: nothing to do.
            _ => Ok(()),
        };
        if let Err((_, message)) = handled {
            errln!("safexc lsp: {message}");
        }
        Ok(())
    }

    // ---- documents ---------------------------------------------------------

    fn did_open(&mut self, p: lsp::DidOpenTextDocumentParams) {
        let item = p.text_document;
        let key = item.uri.as_str().to_owned();
        self.docs.insert(
            key.clone(),
            Document {
                uri: item.uri,
                version: item.version,
                text: item.text,
                analysis: None,
            },
        );
        self.dirty.insert(key);
    }

    fn did_change(&mut self, p: lsp::DidChangeTextDocumentParams) {
        let key = p.text_document.uri.as_str();
        let Some(doc) = self.docs.get_mut(key) else {
            errln!("safexc lsp: a change of {key}, which is not open");
            return;
        };
        let mut text = std::mem::take(&mut doc.text);
        for change in p.content_changes {
            match change.range {
                None => text = change.text,
                Some(range) => {
                    let lines = LineIndex::new(&text);
                    let start = lines.offset(&text, range.start);
                    let end = lines.offset(&text, range.end).max(start);
                    text.replace_range(start..end, &change.text);
                }
            }
        }
        doc.set_text(text);
        doc.version = p.text_document.version;
        self.dirty.insert(key.to_owned());
    }

    fn did_save(&mut self, p: lsp::DidSaveTextDocumentParams) {
        let key = p.text_document.uri.as_str();
        if let (Some(doc), Some(text)) = (self.docs.get_mut(key), p.text)
            && doc.text != text
        {
            doc.set_text(text);
            self.dirty.insert(key.to_owned());
        }
    }

    fn did_close(&mut self, p: lsp::DidCloseTextDocumentParams) -> io::Result<()> {
        let key = p.text_document.uri.as_str();
        self.docs.remove(key);
        self.dirty.remove(key);
        let params = lsp::PublishDiagnosticsParams {
            uri: p.text_document.uri,
            diagnostics: Vec::new(),
            version: None,
        };
        self.notify("textDocument/publishDiagnostics", params)
    }

    fn publish_dirty(&mut self) -> io::Result<()> {
        for key in std::mem::take(&mut self.dirty) {
            let Some(doc) = self.docs.get_mut(&key) else { continue };
            let diagnostics = doc.analysis(self.stdlib, &self.documented).diagnostics.clone();
            let params = lsp::PublishDiagnosticsParams {
                uri: doc.uri.clone(),
                diagnostics,
                version: Some(doc.version),
            };
            self.notify("textDocument/publishDiagnostics", params)?;
        }
        Ok(())
    }

    // ---- requests on positions -----------------------------------------------

    /// The document at `uri`, its analysis, and the byte offset of `position`.
    fn at(&mut self, uri: &lsp::Uri, position: lsp::Position) -> Option<(&Document, &Analysis, usize)> {
        let doc = self.docs.get_mut(uri.as_str())?;
        doc.analysis(self.stdlib, &self.documented);
        let doc = &*doc;
        let analysis = doc.analysis.as_ref()?;
        let offset = analysis.lines.offset(&doc.text, position);
        Some((doc, analysis, offset))
    }

    fn hover(&mut self, p: lsp::HoverParams) -> Option<lsp::Hover> {
        let p = p.text_document_position_params;
        let (doc, analysis, offset) = self.at(&p.text_document.uri, p.position)?;
        let (occurrence, def) = analysis.symbols.at(u32::try_from(offset).ok()?)?;
        let mut value = format!("```c\n{}\n```\n", def.detail);
        let mut what = def.kind.describe().to_owned();
        match (def.kind, &def.container) {
            (SymbolKind::Local | SymbolKind::Param, Some(f)) => what += &format!(" of `{f}`"),
            (SymbolKind::Field, Some(s)) => what += &format!(" of `{s}`"),
            (SymbolKind::Attribute, Some(c)) => what += &format!(" of class `{c}`"),
            _ => {}
        }
        if let Some(module) = def.module.as_ref().filter(|_| def.kind != SymbolKind::Module) {
            what += &format!(", from `import {module};`");
        }
        if matches!(
            def.kind,
            SymbolKind::Local | SymbolKind::Param | SymbolKind::Global | SymbolKind::Const | SymbolKind::Field
        ) || def.kind == SymbolKind::Attribute
        {
            what += &format!(": `{}`", def.ty);
        }
        value += &what;
        if let Some(doc) = &def.doc {
            value += "\n\n";
            value += doc;
        }
        Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value,
            }),
            range: Some(analysis.lines.range(&doc.text, occurrence.span)),
        })
    }

    fn definition(&mut self, p: lsp::GotoDefinitionParams) -> Option<lsp::GotoDefinitionResponse> {
        let p = p.text_document_position_params;
        let (doc, analysis, offset) = self.at(&p.text_document.uri, p.position)?;
        let (_, def) = analysis.symbols.at(u32::try_from(offset).ok()?)?;
        let span = def.span?;
        Some(lsp::GotoDefinitionResponse::Scalar(lsp::Location {
            uri: doc.uri.clone(),
            range: analysis.lines.range(&doc.text, span),
        }))
    }
}

fn params_of<P: serde::de::DeserializeOwned>(method: &str, params: Value) -> Result<P, Failure> {
    serde_json::from_value(params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("`{method}`: invalid parameters: {e}")))
}

fn to_json(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn initialize_result() -> lsp::InitializeResult {
    lsp::InitializeResult {
        capabilities: lsp::ServerCapabilities {
            position_encoding: Some(lsp::PositionEncodingKind::UTF16),
            text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::FULL),
                save: Some(lsp::TextDocumentSyncSaveOptions::SaveOptions(lsp::SaveOptions {
                    include_text: Some(true),
                })),
                ..lsp::TextDocumentSyncOptions::default()
            })),
            hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lsp::OneOf::Left(true)),
            ..lsp::ServerCapabilities::default()
        },
        server_info: Some(lsp::ServerInfo {
            name: "safexc".into(),
            version: Some(crate::version()),
        }),
    }
}

// ---------------------------------------------------------------- checking

/// The stack of the thread that checks a document.
const CHECK_STACK: usize = 64 << 20;

/// Compiles and verifies a document as `safexc check` does, and resolves its
/// names. The front-end is not expected to panic on any input; if it does,
/// the document gets one diagnostic saying so, and the server goes on.
fn analyze(uri: &lsp::Uri, text: &str, stdlib: bool, documented: &HashSet<&'static str>) -> Analysis {
    let lines = LineIndex::new(text);
    // A byte-order mark (which `safexc check` skips) becomes three spaces:
    // the same bytes, so spans stay offsets into `text`.
    let source = match text.strip_prefix('\u{feff}') {
        Some(rest) => std::borrow::Cow::Owned(format!("   {rest}")),
        None => std::borrow::Cow::Borrowed(text),
    };
    // On a thread of its own: a panic ends only that thread, and the stack is
    // roomy (the passes recurse over the tree, which the parser keeps at
    // most 256 deep; a debug build's lexer recurses once per comment).
    let checked = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("lsp-check".into())
            .stack_size(CHECK_STACK)
            .spawn_scoped(scope, || check(&source, stdlib))
            .map(|thread| thread.join())
    });
    let (found, symbols) = match checked {
        Ok(Ok(found)) => found,
        Err(e) => {
            errln!("safexc lsp: cannot start a thread to check {}: {e}", uri.as_str());
            (Vec::new(), Symbols::default())
        }
        Ok(Err(_)) => {
            errln!("safexc lsp: the front-end panicked on {}", uri.as_str());
            let bug = Found {
                code: "P0000",
                warning: false,
                message: "internal error: the compiler failed on this file (a bug in safexc; its standard error \
                          says where)"
                    .into(),
                help: None,
                span: 0..0,
                labels: Vec::new(),
            };
            (vec![bug], Symbols::default())
        }
    };
    let diagnostics = found
        .into_iter()
        .map(|f| f.to_lsp(uri, text, &lines, documented))
        .collect();
    Analysis {
        lines,
        diagnostics,
        symbols,
    }
}

/// One diagnostic, on byte offsets of the source.
struct Found {
    code: &'static str,
    warning: bool,
    message: String,
    help: Option<String>,
    span: std::ops::Range<usize>,
    labels: Vec<(std::ops::Range<usize>, String)>,
}

fn check(source: &str, stdlib: bool) -> (Vec<Found>, Symbols) {
    let options = popcorn_front::Options {
        file_name: String::new(),
        stdlib,
        inline: true,
    };
    let compiled = popcorn_front::compile(source, &options);
    let span = |s: tal_ir::Span| s.lo as usize..s.hi as usize;
    let mut found: Vec<Found> = compiled
        .diagnostics
        .iter()
        .map(|d| Found {
            code: d.code,
            warning: !d.is_error(),
            message: d.message.clone(),
            help: d.help.clone(),
            span: span(d.span),
            labels: d.labels.iter().map(|(s, note)| (span(*s), note.clone())).collect(),
        })
        .collect();
    // The front-end is not trusted: what it emits must pass the verifier,
    // and a refusal is shown on the source that produced the code.
    if let Some(module) = &compiled.module
        && let Err(errors) = verifier::verify(module, &verifier::Config::default())
    {
        for e in errors {
            found.push(Found {
                code: e.code,
                warning: false,
                message: format!(
                    "{} (in the TAL of `{}`)",
                    e.message,
                    crate::pop::location_name(module, e.location)
                ),
                help: None,
                span: popcorn_front::source_span(module, e.location).map_or(0..0, span),
                labels: Vec::new(),
            });
        }
    }
    (found, popcorn_front::symbols::symbols(source))
}

impl Found {
    fn to_lsp(&self, uri: &lsp::Uri, text: &str, lines: &LineIndex, documented: &HashSet<&str>) -> lsp::Diagnostic {
        let mut message = self.message.clone();
        if let Some(help) = &self.help {
            message += "\nhelp: ";
            message += help;
        }
        if documented.contains(self.code) {
            message += &format!("\n`safexc explain {}` explains the code", self.code);
        }
        let range = |r: &std::ops::Range<usize>| lsp::Range {
            start: lines.position(text, r.start),
            end: lines.position(text, r.end.max(r.start)),
        };
        let related: Vec<lsp::DiagnosticRelatedInformation> = self
            .labels
            .iter()
            .map(|(r, note)| lsp::DiagnosticRelatedInformation {
                location: lsp::Location {
                    uri: uri.clone(),
                    range: range(r),
                },
                message: note.clone(),
            })
            .collect();
        lsp::Diagnostic {
            range: range(&self.span),
            severity: Some(if self.warning {
                lsp::DiagnosticSeverity::WARNING
            } else {
                lsp::DiagnosticSeverity::ERROR
            }),
            code: Some(lsp::NumberOrString::String(self.code.to_owned())),
            source: Some("safexc".into()),
            message,
            related_information: Some(related).filter(|r| !r.is_empty()),
            ..lsp::Diagnostic::default()
        }
    }
}

// ---------------------------------------------------------------- positions

/// Where the lines of a text start, to turn byte offsets into LSP positions
/// (line, UTF-16 code unit) and back. Lines end at `\n`, `\r\n` or `\r`,
/// as LSP says.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    fn position(&self, text: &str, offset: usize) -> lsp::Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0).min(offset);
        let character = text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
        lsp::Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            character: u32::try_from(character).unwrap_or(u32::MAX),
        }
    }

    fn range(&self, text: &str, span: tal_ir::Span) -> lsp::Range {
        lsp::Range {
            start: self.position(text, span.lo as usize),
            end: self.position(text, span.hi as usize),
        }
    }

    /// The byte offset of a position: a character past the end of its line
    /// is the line's end, a line past the last is the end of the text, and
    /// the middle of a surrogate pair is its character's start.
    fn offset(&self, text: &str, p: lsp::Position) -> usize {
        let line = p.line as usize;
        let Some(&start) = self.starts.get(line) else {
            return text.len();
        };
        let end = self.starts.get(line + 1).copied().unwrap_or(text.len());
        let body = text.get(start..end).unwrap_or("");
        let body = body.strip_suffix('\n').unwrap_or(body);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let want = p.character as usize;
        let mut units = 0;
        for (i, c) in body.char_indices() {
            units += c.len_utf16();
            if units > want {
                return start + i;
            }
        }
        start + body.len()
    }
}

#[cfg(test)]
mod tests {
    use super::{LineIndex, lsp};

    fn pos(line: u32, character: u32) -> lsp::Position {
        lsp::Position { line, character }
    }

    #[test]
    fn positions_count_utf16_units_and_every_line_ending() {
        // `é` is 2 bytes and 1 unit, `𝄞` 4 bytes and 2 units.
        let text = "aé𝄞b\r\nx\ry\n\nz";
        let lines = LineIndex::new(text);
        let b = text.find('b').unwrap();
        assert_eq!(lines.position(text, b), pos(0, 4));
        assert_eq!(lines.offset(text, pos(0, 4)), b);
        // Inside the surrogate pair: the character's start.
        assert_eq!(lines.offset(text, pos(0, 3)), text.find('𝄞').unwrap());
        // Past the end of a line: its end, before `\r\n`.
        assert_eq!(lines.offset(text, pos(0, 99)), b + 1);
        assert_eq!(lines.position(text, text.find('x').unwrap()), pos(1, 0));
        assert_eq!(
            lines.position(text, text.find('y').unwrap()),
            pos(2, 0),
            "a lone \\r ends a line"
        );
        assert_eq!(lines.position(text, text.find('z').unwrap()), pos(4, 0));
        assert_eq!(lines.offset(text, pos(9, 0)), text.len());
        // Offsets inside a character or past the end are clamped.
        assert_eq!(lines.position(text, 2), pos(0, 1));
        assert_eq!(lines.position(text, 1000), pos(4, 1));
        for (i, _) in text.char_indices() {
            if text[..i].ends_with('\r') {
                continue; // between `\r` and `\n`: no position
            }
            assert_eq!(lines.offset(text, lines.position(text, i)), i, "round trip at {i}");
        }
    }
}
