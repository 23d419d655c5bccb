//! `safexc lsp`, driven as an editor drives it: the real binary, spoken to
//! in JSON-RPC over its standard input and output by a small client here
//! (its own framing and its own UTF-16 arithmetic, none of the server's).
//! Every read has a timeout, so a server that hangs fails the test.

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;
use common::{root, safexc, text};

/// How long any answer may take: the front-end checks these files in
/// milliseconds, so this only ends a hung server.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A language client talking to one `safexc lsp` process.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Result<Value, String>>,
    stderr: Option<JoinHandle<String>>,
    /// Messages read while waiting for another.
    pending: VecDeque<Value>,
    next_id: i64,
}

impl Client {
    fn start(args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_safexc"))
            .arg("lsp")
            .args(args)
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start safexc lsp");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let message = read_message(&mut reader);
                let end = !matches!(message, Ok(Some(_)));
                let sent = match message {
                    Ok(Some(v)) => sender.send(Ok(v)),
                    Ok(None) => sender.send(Err("the server closed its standard output".into())),
                    Err(e) => sender.send(Err(e)),
                };
                if sent.is_err() || end {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Client {
            stdin: child.stdin.take(),
            child,
            messages,
            stderr: Some(stderr),
            pending: VecDeque::new(),
            next_id: 1,
        }
    }

    /// A started and initialized server.
    fn initialized() -> Client {
        let mut client = Client::start(&[]);
        let response = client.request("initialize", json!({ "processId": null, "capabilities": {} }));
        assert!(response["result"]["capabilities"].is_object(), "{response}");
        client.notify("initialized", json!({}));
        client
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to the server");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.send_bytes(framed.as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response (the whole object).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.response(&json!(id))
    }

    /// The response with `id`, keeping the notifications read meanwhile.
    fn response(&mut self, id: &Value) -> Value {
        let mut skipped = VecDeque::new();
        let found = loop {
            let message = self.read();
            if message.get("method").is_none() && message.get("id") == Some(id) {
                break message;
            }
            skipped.push_back(message);
        };
        skipped.append(&mut self.pending);
        self.pending = skipped;
        assert_eq!(found["jsonrpc"], "2.0", "{found}");
        found
    }

    /// The next message, waiting at most [`TIMEOUT`].
    fn next(&mut self) -> Value {
        match self.pending.pop_front() {
            Some(message) => message,
            None => self.read(),
        }
    }

    fn read(&mut self) -> Value {
        match self.messages.recv_timeout(TIMEOUT) {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => panic!("{e}; standard error:\n{}", self.stderr_text()),
            Err(_) => panic!("no message from the server in {TIMEOUT:?}"),
        }
    }

    /// The diagnostics published for `uri` at `version` (`None`: without
    /// one, as after a close); earlier publications are skipped.
    fn diagnostics(&mut self, uri: &str, version: Option<i64>) -> Vec<Value> {
        loop {
            let message = self.next();
            if message["method"] != "textDocument/publishDiagnostics" || message["params"]["uri"] != uri {
                continue;
            }
            let params = &message["params"];
            if params.get("version").and_then(Value::as_i64) == version {
                return params["diagnostics"].as_array().expect("a diagnostics array").clone();
            }
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        let document = json!({ "uri": uri, "languageId": "popcorn", "version": 1, "text": text });
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn change(&mut self, uri: &str, version: i64, changes: Value) {
        let params = json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes });
        self.notify("textDocument/didChange", params);
    }

    /// A request at a position; its result.
    fn at(&mut self, method: &str, uri: &str, (line, character): (u32, u32)) -> Value {
        let params = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } });
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The text of the hover at a position; `None` for no hover.
    fn hover(&mut self, uri: &str, at: (u32, u32)) -> Option<String> {
        let result = self.at("textDocument/hover", uri, at);
        if result.is_null() {
            return None;
        }
        assert_eq!(result["contents"]["kind"], "markdown", "{result}");
        Some(result["contents"]["value"].as_str().expect("hover text").to_owned())
    }

    /// Where go to definition at a position leads: the range's start and
    /// end, as `(line, character)`; `None` for nowhere.
    fn definition(&mut self, uri: &str, at: (u32, u32)) -> Option<((u64, u64), (u64, u64))> {
        let result = self.at("textDocument/definition", uri, at);
        if result.is_null() {
            return None;
        }
        assert_eq!(result["uri"], uri, "{result}");
        Some(range(&result["range"]))
    }

    /// `shutdown`, then `exit`: the server's exit status.
    fn finish(mut self) -> ExitStatus {
        let response = self.request("shutdown", Value::Null);
        assert!(
            response.get("error").is_none() && response["result"].is_null(),
            "{response}"
        );
        self.notify("exit", Value::Null);
        self.wait()
    }

    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(start.elapsed() < TIMEOUT, "the server did not exit in {TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the server wrote on standard error (once it exited, or was killed).
    fn stderr_text(&mut self) -> String {
        let _ = self.child.kill();
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message from the server's standard output, which must carry nothing
/// else: `Content-Length` framing and a JSON body.
fn read_message(reader: &mut impl BufRead) -> Result<Option<Value>, String> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return if length.is_none() {
                Ok(None)
            } else {
                Err("end of output inside a header".into())
            };
        }
        if line == "\r\n" {
            break;
        }
        let value = line
            .strip_prefix("Content-Length: ")
            .and_then(|v| v.strip_suffix("\r\n"))
            .ok_or_else(|| format!("standard output carried {line:?}, not an LSP header"))?;
        length = Some(value.parse::<usize>().map_err(|e| e.to_string())?);
    }
    let mut body = vec![0; length.ok_or("no Content-Length")?];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("a body that is not JSON: {e}"))
}

/// `(line, character)` of the start of the `nth` (from 0) occurrence of
/// `needle` in `text`, plus `extra` characters, counting UTF-16 code units.
fn pos(text: &str, needle: &str, nth: usize, extra: u32) -> (u32, u32) {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("no {nth}th {needle:?}"))
        .0;
    let before = &text[..at];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character = text[line_start..at].encode_utf16().count() as u32;
    (line, character + extra)
}

fn range(r: &Value) -> ((u64, u64), (u64, u64)) {
    let p = |p: &Value| {
        (
            p["line"].as_u64().expect("line"),
            p["character"].as_u64().expect("character"),
        )
    };
    (p(&r["start"]), p(&r["end"]))
}

const PID: &str = "\
extension pid;
import cpu;

// per-mille gains
const int KP = 500;
int e_prev = 0;
struct sample { int t; int v; }
struct sample hist[4];

int clamp(int v, int lo, int hi) {
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

monitor void watch(cap<cpu_qos> app) {
    int actual = get_attribute(app, \"actual_cpu\");
    hist[0].t = actual;
    raise_event(\"Error\", fx_mul(actual, 2));
}

handler void pid(cap<cpu_qos> app, int e) on \"Error\" {
    int u = clamp(KP * e - e_prev + hist[0].t, -1000, 1000);
    e_prev = e;
    set_attribute(app, \"timeslice_adjustment\", u);
}
";

#[test]
fn initialize_advertises_full_sync_hover_and_definition() {
    let mut client = Client::start(&[]);
    let response = client.request("initialize", json!({ "processId": null, "capabilities": {} }));
    let capabilities = &response["result"]["capabilities"];
    assert_eq!(capabilities["textDocumentSync"]["change"], 1, "{response}");
    assert_eq!(capabilities["textDocumentSync"]["openClose"], true, "{response}");
    assert_eq!(capabilities["hoverProvider"], true, "{response}");
    assert_eq!(capabilities["definitionProvider"], true, "{response}");
    assert_eq!(capabilities["positionEncoding"], "utf-16", "{response}");
    assert_eq!(response["result"]["serverInfo"]["name"], "safexc", "{response}");
    client.notify("initialized", json!({}));
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn diagnostics_follow_the_text_as_it_is_typed_and_go_with_it() {
    let mut client = Client::initialized();
    let uri = "file:///work/typing.pop";
    // `é` is one UTF-16 unit (two bytes), `𝄞` two (four bytes): `true`
    // starts at character 22, byte 25 of its line.
    let wrong = "extension t;\nint f(int v) {\n    /* é𝄞 */ int w = true;\n    return v + w;\n}\n";
    client.open(uri, wrong);
    let diagnostics = client.diagnostics(uri, Some(1));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!(d["code"], "P0201", "{d}");
    assert_eq!(d["severity"], 1, "{d}");
    assert_eq!(d["source"], "safexc", "{d}");
    assert_eq!(range(&d["range"]), ((2, 22), (2, 26)), "{d}");
    let message = d["message"].as_str().unwrap();
    assert!(message.starts_with("expected `int`, found `bool`"), "{message}");
    assert!(message.contains("`safexc explain P0201`"), "{message}");

    // Fixed: the diagnostics go.
    let fixed = wrong.replace("true", "1");
    client.change(uri, 2, json!([{ "text": fixed }]));
    assert_eq!(client.diagnostics(uri, Some(2)), Vec::<Value>::new());

    // A ranged change (`1` to `false`) brings one back, on the same place.
    let one = pos(&fixed, "1;", 0, 0);
    let edit = json!([{ "range": { "start": { "line": one.0, "character": one.1 },
                                   "end": { "line": one.0, "character": one.1 + 1 } },
                        "text": "false" }]);
    client.change(uri, 3, edit);
    let diagnostics = client.diagnostics(uri, Some(3));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(range(&diagnostics[0]["range"]), ((2, 22), (2, 27)), "{diagnostics:?}");

    // Closing clears them.
    client.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
    assert_eq!(client.diagnostics(uri, None), Vec::<Value>::new());
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn changes_that_arrive_together_end_with_the_last_version_s_diagnostics() {
    let mut client = Client::initialized();
    let uri = "file:///work/burst.pop";
    client.open(uri, "extension t;\n");
    for version in 2..40 {
        let text = format!(
            "extension t;\nint x = {};\n",
            if version % 2 == 0 { "true" } else { "2" }
        );
        client.change(uri, version, json!([{ "text": text }]));
    }
    client.change(uri, 40, json!([{ "text": "extension t;\nint x = false;\n" }]));
    let diagnostics = client.diagnostics(uri, Some(40));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "P0211", "{diagnostics:?}");
    assert_eq!(range(&diagnostics[0]["range"]), ((1, 8), (1, 13)), "{diagnostics:?}");
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn a_byte_order_mark_and_a_long_file() {
    let mut client = Client::initialized();
    let uri = "file:///work/long.pop";
    // The mark is one UTF-16 unit; `safexc check` skips it, and so does the
    // server. Thousands of comment lines are checked as well as a few.
    let source = format!(
        "\u{feff}extension t; int x = true;\n{}int y = false;\n",
        "// a comment line\n".repeat(5000)
    );
    client.open(uri, &source);
    let diagnostics = client.diagnostics(uri, Some(1));
    let places: Vec<_> = diagnostics
        .iter()
        .map(|d| (d["code"].clone(), range(&d["range"])))
        .collect();
    assert_eq!(
        places,
        [
            (json!("P0211"), ((0, 22), (0, 26))),
            (json!("P0211"), ((5001, 8), (5001, 13)))
        ],
        "{diagnostics:?}"
    );
    let x = client.hover(uri, (0, 18)).expect("hover on x");
    assert!(x.starts_with("```c\nint x = true\n```"), "{x}");
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn the_verifier_s_refusal_is_shown_on_the_source_line() {
    // The front-end accepts this; its stack frame is too large for the
    // verifier's bound (as `safexc check` reports it).
    let source = "extension big;\nimport cpu;\nint r = 0;\nint deep(int x) {\n    int a[600];\n    a[1] = x;\n    \
                  return a[1];\n}\nmonitor void m(cap<cpu_qos> app) { r = deep(2); }\n";
    let mut client = Client::initialized();
    let uri = "file:///work/big.pop";
    client.open(uri, source);
    let diagnostics = client.diagnostics(uri, Some(1));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!(d["code"], "V0502", "{d}");
    assert_eq!(d["severity"], 1, "{d}");
    assert_eq!(range(&d["range"]), ((4, 4), (4, 14)), "{d}");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.starts_with("stack bound exceeded: @m (") && message.contains("(in the TAL of `deep`)"),
        "{message}"
    );
    assert!(message.contains("`safexc explain V0502`"), "{message}");
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn warnings_and_second_places_are_published() {
    let source = "extension t;\nimport cpu;\nint twice = 1;\nbool twice = true;\n\
                  handler void h(cap<cpu_qos> app, int v) on \"Error\" { }\n";
    let mut client = Client::initialized();
    let uri = "file:///work/twice.pop";
    client.open(uri, source);
    let diagnostics = client.diagnostics(uri, Some(1));
    let codes: Vec<&Value> = diagnostics.iter().map(|d| &d["code"]).collect();
    assert_eq!(codes, [&json!("P0102"), &json!("P0901")], "{diagnostics:?}");
    let twice = &diagnostics[0];
    assert_eq!(range(&twice["range"]), ((3, 5), (3, 10)), "{twice}");
    let related = &twice["relatedInformation"][0];
    assert_eq!(related["message"], "first defined here", "{twice}");
    assert_eq!(related["location"]["uri"], uri, "{twice}");
    assert_eq!(range(&related["location"]["range"]), ((2, 4), (2, 9)), "{twice}");
    let warning = &diagnostics[1];
    assert_eq!(warning["severity"], 2, "{warning}");
    assert_eq!(range(&warning["range"]), ((4, 43), (4, 50)), "{warning}");
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn hover_shows_what_a_name_is_and_its_type() {
    let mut client = Client::initialized();
    let uri = "file:///work/pid.pop";
    client.open(uri, PID);
    assert_eq!(client.diagnostics(uri, Some(1)), Vec::<Value>::new());
    let mut hover = |needle: &str, nth: usize| {
        let at = pos(PID, needle, nth, 1);
        client
            .hover(uri, at)
            .unwrap_or_else(|| panic!("no hover on {needle:?} #{nth}"))
    };
    // A local, at a use.
    let u = hover("u)", 0);
    assert!(u.starts_with("```c\nint u\n```\nlocal variable of `pid`: `int`"), "{u}");
    // A parameter.
    let e = hover("e -", 0);
    assert!(e.contains("int e\n```\nparameter of `pid`: `int`"), "{e}");
    // A global, with its first value.
    let global = hover("e_prev +", 0);
    assert!(
        global.starts_with("```c\nint e_prev = 0\n```\nglobal variable: `int`"),
        "{global}"
    );
    // A constant, with its value and the comment above it.
    let kp = hover("KP *", 0);
    assert!(kp.starts_with("```c\nconst int KP = 500\n```\nconstant: `int`"), "{kp}");
    assert!(kp.ends_with("per-mille gains"), "{kp}");
    // A call of a function of the file, and one of the standard library's.
    let clamp = hover("clamp(KP", 0);
    assert!(
        clamp.starts_with("```c\nint clamp(int v, int lo, int hi)\n```\nfunction"),
        "{clamp}"
    );
    let fx = hover("fx_mul", 0);
    assert!(
        fx.contains("int fx_mul(int a, int b)") && fx.contains("from `import cpu;`"),
        "{fx}"
    );
    // An attribute of the imported class, by the string that names it.
    let actual = hover("\"actual_cpu\"", 0);
    assert!(
        actual.starts_with("```c\nint actual_cpu readonly\n```\nattribute of class `cpu_qos`"),
        "{actual}"
    );
    let adj = hover("\"timeslice_adjustment\"", 0);
    assert!(
        adj.contains("int timeslice_adjustment range(-1000000, 1000000)"),
        "{adj}"
    );
    // A field, through an array of structs; the array; the struct.
    let field = hover("t,", 0);
    assert!(field.contains("int t\n```\nfield of `struct sample`: `int`"), "{field}");
    let hist = hover("hist[0].t =", 0);
    assert!(
        hist.contains("struct sample hist[4]") && hist.contains("`struct sample[4]`"),
        "{hist}"
    );
    let sample = hover("sample hist", 0);
    assert!(
        sample.contains("struct sample {\n    int t;\n    int v;\n}"),
        "{sample}"
    );
    // An event, a class, a builtin.
    let event = hover("\"Error\", fx", 0);
    assert!(event.contains("event Error"), "{event}");
    let class = hover("cpu_qos> app) {", 0);
    assert!(class.contains("attribute class cpu_qos {"), "{class}");
    let get = hover("get_attribute", 0);
    assert!(get.contains("int get_attribute(cap<C> c, \"name\")"), "{get}");
    // Nothing: a keyword, a literal, blank space, past the end.
    for (needle, nth) in [("return", 0), ("1000", 0), ("\n\n", 0)] {
        let at = pos(PID, needle, nth, 1);
        assert_eq!(client.hover(uri, at), None, "{needle:?}");
    }
    assert_eq!(client.hover(uri, (1000, 0)), None);
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn definition_jumps_to_the_declaration() {
    let mut client = Client::initialized();
    let uri = "file:///work/pid.pop";
    client.open(uri, PID);
    let mut definition = |needle: &str, nth: usize| client.definition(uri, pos(PID, needle, nth, 1));
    // A local: `u` declared on line 22 (from 0), character 8.
    assert_eq!(definition("u)", 0), Some(((22, 8), (22, 9))));
    // A parameter.
    assert_eq!(definition("e -", 0), Some(((21, 39), (21, 40))));
    // A global.
    assert_eq!(definition("e_prev +", 0), Some(((5, 4), (5, 10))));
    // A constant.
    assert_eq!(definition("KP *", 0), Some(((4, 10), (4, 12))));
    // A function, from its call.
    assert_eq!(definition("clamp(KP", 0), Some(((9, 4), (9, 9))));
    // A struct and a field.
    assert_eq!(definition("sample hist", 0), Some(((6, 7), (6, 13))));
    assert_eq!(definition("t =", 0), Some(((6, 20), (6, 21))));
    // A declaration leads to itself.
    assert_eq!(definition("e_prev = 0", 0), Some(((5, 4), (5, 10))));
    // The standard library's and the builtins have no place in the file.
    assert_eq!(definition("fx_mul", 0), None);
    assert_eq!(definition("get_attribute", 0), None);
    assert_eq!(definition("\"actual_cpu\"", 0), None);
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn a_file_that_does_not_parse_gets_its_syntax_error_and_hover_still_works() {
    let mut client = Client::initialized();
    let uri = "file:///work/broken.pop";
    let source = "extension t;\nint g = 0;\nint f(int v) {\n    int w = v +;\n    return v + g;\n}\nint h(";
    client.open(uri, source);
    let diagnostics = client.diagnostics(uri, Some(1));
    assert!(!diagnostics.is_empty(), "{diagnostics:?}");
    assert!(diagnostics.iter().all(|d| d["code"] == "P0001"), "{diagnostics:?}");
    assert_eq!(range(&diagnostics[0]["range"]), ((3, 15), (3, 16)), "{diagnostics:?}");
    // What parsed around the error resolves.
    let v = client.hover(uri, pos(source, "v + g", 0, 0)).expect("hover on v");
    assert!(v.contains("parameter of `f`: `int`"), "{v}");
    assert_eq!(client.definition(uri, pos(source, "g;", 0, 0)), Some(((1, 4), (1, 5))));
    // Anywhere else: nothing, and no crash.
    for line in 0..8 {
        for character in [0, 3, 7, 12, 40] {
            client.hover(uri, (line, character));
            client.definition(uri, (line, character));
        }
    }
    // Typing on: every prefix of the file is checked without trouble.
    for (version, end) in (2..).zip((0..source.len()).step_by(3)) {
        client.change(uri, version, json!([{ "text": &source[..end] }]));
        client.hover(uri, (3, 8));
    }
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn malformed_and_untimely_messages_get_errors_and_the_server_goes_on() {
    let mut client = Client::start(&[]);
    // Before `initialize`.
    let early = client.request("textDocument/hover", json!({}));
    assert_eq!(early["error"]["code"], -32002, "{early}");
    client.request("initialize", json!({ "capabilities": {} }));
    client.notify("initialized", json!({}));
    // Not JSON: a parse error, with a null id.
    client.send_bytes(b"Content-Length: 9\r\n\r\n{not json");
    let parse_error = client.response(&Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    // JSON, but not JSON-RPC: a method that is not a string, an id that is
    // not one (answered with a null id).
    client.send(&json!({ "jsonrpc": "2.0", "id": 77, "method": 5 }));
    let invalid = client.response(&json!(77));
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    client.send(&json!({ "jsonrpc": "2.0", "id": [1], "method": "shutdown" }));
    let invalid = client.response(&Value::Null);
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    client.send(&json!([1, 2]));
    let invalid = client.response(&Value::Null);
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    // Unknown method; parameters of the wrong shape.
    let unknown = client.request("textDocument/frobnicate", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let bad = client.request("textDocument/hover", json!({ "textDocument": 3 }));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let no_position = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": "file:///x.pop" } }),
    );
    assert_eq!(no_position["error"]["code"], -32602, "{no_position}");
    // A second `initialize`.
    let again = client.request("initialize", json!({ "capabilities": {} }));
    assert_eq!(again["error"]["code"], -32600, "{again}");
    // Notifications with bad parameters, or about documents never opened,
    // are logged and dropped.
    client.notify("textDocument/didOpen", json!({ "textDocument": { "uri": 5 } }));
    client.change("file:///never.pop", 2, json!([{ "text": "x" }]));
    client.notify("$/cancelRequest", json!({ "id": 1 }));
    // A document that is not open has no hover.
    assert_eq!(client.hover("file:///never.pop", (0, 0)), None);
    // And the server still works.
    client.open("file:///ok.pop", "extension ok;\n");
    assert_eq!(client.diagnostics("file:///ok.pop", Some(1)), Vec::<Value>::new());
    // After `shutdown`, requests are errors; `exit` ends with 0.
    let shutdown = client.request("shutdown", Value::Null);
    assert!(
        shutdown["result"].is_null() && shutdown.get("error").is_none(),
        "{shutdown}"
    );
    let late = client.request("textDocument/hover", json!({}));
    assert_eq!(late["error"]["code"], -32600, "{late}");
    client.notify("exit", Value::Null);
    assert_eq!(client.wait().code(), Some(0));
    let stderr = client.stderr_text();
    assert!(stderr.contains("not open"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn exit_without_shutdown_and_a_closed_input_are_status_1() {
    let mut client = Client::initialized();
    client.notify("exit", Value::Null);
    assert_eq!(client.wait().code(), Some(1));

    let mut client = Client::initialized();
    client.stdin = None; // closes the server's standard input
    assert_eq!(client.wait().code(), Some(1));
    let stderr = client.stderr_text();
    assert!(stderr.contains("standard input ended"), "{stderr}");
}

#[test]
fn lsp_help_says_how_editors_start_it() {
    let out = safexc(&["lsp", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.starts_with("Run the language server for editors"), "{help}");
    assert!(help.contains("--stdlib") && help.contains("standard output"), "{help}");
    assert!(help.contains("cmd = { \"safexc\", \"lsp\" }"), "{help}");
    let out = safexc(&["--help"]);
    assert!(text(&out.stdout).contains("\n  lsp "), "{}", text(&out.stdout));
}
