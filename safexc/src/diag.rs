//! Rendering errors as ariadne reports on the text they point into.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};
use std::io::IsTerminal;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

/// When reports are coloured (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When standard error is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    Always,
    Never,
}

/// The process's choice, set once from the command line.
static COLOR: AtomicU8 = AtomicU8::new(ColorChoice::Auto as u8);

/// How diagnostics are written on standard error (`--message-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    /// Reports on the source, for people.
    Human,
    /// One JSON object per line, in rustc's shape (`$message_type`,
    /// `message`, `code`, `level`, `spans`, `children`, `rendered`), with
    /// [`SCHEMA`]; after a rejected input, a `summary` object.
    Json,
}

/// The version of the JSON objects' shape, in each as `schema`.
pub const SCHEMA: u32 = 1;

static FORMAT: AtomicU8 = AtomicU8::new(MessageFormat::Human as u8);

pub fn set_message_format(format: MessageFormat) {
    FORMAT.store(format as u8, Ordering::Relaxed);
}

pub fn json() -> bool {
    FORMAT.load(Ordering::Relaxed) == MessageFormat::Json as u8
}

/// (code, title, explanation, example) of every documented code, of every
/// family (front-end, verifier, code generator, loader and hosts, the
/// daemon). A daemon's code added before safexc has an example for it has
/// an empty one.
pub fn code_docs() -> Vec<[&'static str; 4]> {
    let front = popcorn_front::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, d.example]);
    let verifier = verifier::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, d.example]);
    let codegen = codegen::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, d.example]);
    let runtime = runtime::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, d.example]);
    // The daemon's (`safexd`, `safex::codes`), with safexc's examples.
    let daemon = safex::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, crate::daemon::example(d.code)]);
    front
        .chain(verifier)
        .chain(codegen)
        .chain(runtime)
        .chain(daemon)
        .collect()
}

/// A code's explanation (`safexc explain`'s), for the JSON objects.
fn explanation(code: &str) -> Option<&'static str> {
    code_docs().into_iter().find(|d| d[0] == code).map(|d| d[2])
}

/// An error without a place in a text (`error[L0001]: cannot read …`), as
/// the message format says, on standard error.
pub fn plain_error(code: &str, message: &str) {
    if json() {
        let object = serde_json::json!({
            "$message_type": "diagnostic",
            "schema": SCHEMA,
            "message": message,
            "code": { "code": code, "explanation": explanation(code) },
            "level": "error",
            "spans": [],
            "children": [],
            "rendered": format!("error[{code}]: {message}\n"),
        });
        errln!("{object}");
    } else {
        errln!("error[{code}]: {message}");
    }
}

/// A status line on standard error (`compile`'s `NAME: ok (…)`), as the
/// message format says.
pub fn status(line: &str) {
    message_line("status", line, line);
}

/// A help line after an input's reports (`help: …`), as the message
/// format says, on standard error.
pub fn help(message: &str) {
    message_line("help", message, &format!("help: {message}"));
}

/// `human` on standard error, or in JSON `{"$message_type": kind,
/// "schema", "message"}`.
fn message_line(kind: &str, message: &str, human: &str) {
    if json() {
        let object = serde_json::json!({ "$message_type": kind, "schema": SCHEMA, "message": message });
        errln!("{object}");
    } else {
        errln!("{human}");
    }
}

pub fn set_color(choice: ColorChoice) {
    COLOR.store(choice as u8, Ordering::Relaxed);
}

/// Whether reports on standard error are coloured now.
fn colored() -> bool {
    match COLOR.load(Ordering::Relaxed) {
        c if c == ColorChoice::Always as u8 => true,
        c if c == ColorChoice::Never as u8 => false,
        _ => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// One error or warning to show: a code, a message, and where it is.
pub struct Diagnostic<'a> {
    pub code: &'a str,
    pub warning: bool,
    pub message: &'a str,
    pub span: Range<usize>,
    /// Secondary places with notes.
    pub labels: Vec<(Range<usize>, &'a str)>,
    pub help: Option<&'a str>,
}

impl<'a> Diagnostic<'a> {
    pub fn error(code: &'a str, message: &'a str, span: Range<usize>) -> Self {
        Diagnostic {
            code,
            warning: false,
            message,
            span,
            labels: Vec::new(),
            help: None,
        }
    }
}

impl<'a> From<&'a popcorn_front::Diagnostic> for Diagnostic<'a> {
    fn from(d: &'a popcorn_front::Diagnostic) -> Self {
        Diagnostic {
            code: d.code,
            warning: !d.is_error(),
            message: &d.message,
            span: d.span.lo as usize..d.span.hi as usize,
            labels: d
                .labels
                .iter()
                .map(|(s, note)| (s.lo as usize..s.hi as usize, note.as_str()))
                .collect(),
            help: d.help.as_deref(),
        }
    }
}

/// Renders a report on `text` (named `file`) to a string, headed
/// `error[CODE]: message` (or `warning[CODE]`) as every other error of
/// safexc, coloured as `--color` says.
pub fn render(file: &str, text: &str, d: &Diagnostic) -> String {
    let human = render_human(file, text, d);
    if json() {
        format!("{}\n", json_report(file, text, d, &human))
    } else {
        human
    }
}

/// The report as a JSON object (see [`MessageFormat::Json`]): spans with
/// byte offsets and 1-based lines and columns (in characters), the first
/// primary; the help as a child.
fn json_report(file: &str, text: &str, d: &Diagnostic, human: &str) -> serde_json::Value {
    let line_col = |at: usize| {
        let at = at.min(text.len());
        let before = text.get(..at).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    };
    let span = |r: &Range<usize>, primary: bool, label: &str| {
        let ((line_start, column_start), (line_end, column_end)) = (line_col(r.start), line_col(r.end));
        serde_json::json!({
            "file_name": file,
            "byte_start": r.start,
            "byte_end": r.end,
            "line_start": line_start,
            "line_end": line_end,
            "column_start": column_start,
            "column_end": column_end,
            "is_primary": primary,
            "label": label,
        })
    };
    let mut spans = vec![span(&d.span, true, first_clause(d.message))];
    spans.extend(d.labels.iter().map(|(r, note)| span(r, false, note)));
    let children: Vec<serde_json::Value> = d
        .help
        .iter()
        .map(|h| serde_json::json!({ "message": h, "code": null, "level": "help", "spans": [], "children": [], "rendered": null }))
        .collect();
    // The rendered text without colours, as rustc's.
    let plain = String::from_utf8_lossy(&strip_ansi(human.as_bytes())).into_owned();
    serde_json::json!({
        "$message_type": "diagnostic",
        "schema": SCHEMA,
        "message": d.message,
        "code": { "code": d.code, "explanation": explanation(d.code) },
        "level": if d.warning { "warning" } else { "error" },
        "spans": spans,
        "children": children,
        "rendered": plain,
    })
}

/// `bytes` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < bytes.len() && !bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// [`render`] for people.
fn render_human(file: &str, text: &str, d: &Diagnostic) -> String {
    let marks = std::iter::once(&d.span)
        .chain(d.labels.iter().map(|(r, _)| r))
        .flat_map(|r| [r.start, r.end]);
    let shown = Shown::of(text, marks);
    let span = shown.range(&d.span);
    let color = colored();
    if color {
        yansi::enable();
    } else {
        yansi::disable();
    }
    let head = format!("{}[{}]", if d.warning { "warning" } else { "error" }, d.code);
    let kind = ReportKind::Custom(&head, if d.warning { Color::Yellow } else { Color::Red });
    let mut report = Report::build(kind, (file, span.clone()))
        .with_message(d.message)
        .with_label(Label::new((file, span)).with_message(first_clause(d.message)))
        .with_config(Config::default().with_color(color).with_index_type(IndexType::Char));
    for (range, note) in &d.labels {
        report = report.with_label(Label::new((file, shown.range(range))).with_message(note));
    }
    if let Some(help) = d.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    match report
        .finish()
        .write((file, Source::from(shown.text.as_str())), &mut out)
    {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => format!(
            "error[{}]: {} ({file} bytes {}..{})\n",
            d.code, d.message, d.span.start, d.span.end
        ),
    }
}

/// The longest tail of a line shown past the last place a report marks on
/// it, in bytes; the rest is `…`.
const TAIL: usize = 120;

/// A source as a report shows it, and where the marked byte offsets of
/// the source fall in it, in characters (ariadne's default index).
struct Shown {
    text: String,
    /// (byte offset in the source, character index in `text`), sorted.
    marks: Vec<(usize, usize)>,
}

impl Shown {
    /// `text` as a report shows it: control characters but tab and newline
    /// as their Unicode control pictures (`␛` for ESC), which a terminal
    /// shows instead of obeying; and a line's tail longer than [`TAIL`]
    /// past the last marked place on it cut to `…` (a generated file of one
    /// 50 MB line would otherwise be printed whole).
    fn of(text: &str, marks: impl IntoIterator<Item = usize>) -> Shown {
        let mut pending: Vec<usize> = marks.into_iter().map(|m| m.min(text.len())).collect();
        pending.sort_unstable();
        pending.dedup();
        let mut shown = Shown {
            text: String::with_capacity(text.len().min(1 << 16)),
            marks: Vec::with_capacity(pending.len()),
        };
        let mut next = 0;
        let mut chars = 0;
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let body_end = line_start + body.len();
            let last_mark = pending.iter().filter(|&&m| m >= line_start && m <= body_end).max();
            let keep = line_start + last_mark.map_or(0, |&m| m - line_start) + TAIL;
            for (i, c) in body.char_indices() {
                let at = line_start + i;
                while next < pending.len() && pending[next] <= at {
                    shown.marks.push((pending[next], chars));
                    next += 1;
                }
                if at >= keep && body_end - at > 3 {
                    shown.text.push('…');
                    while next < pending.len() && pending[next] < body_end {
                        shown.marks.push((pending[next], chars));
                        next += 1;
                    }
                    chars += 1;
                    break;
                }
                shown.text.push(match c {
                    '\t' => c,
                    '\u{7f}' => '\u{2421}',
                    c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
                    c => c,
                });
                chars += 1;
            }
            while next < pending.len() && pending[next] <= body_end {
                shown.marks.push((pending[next], chars));
                next += 1;
            }
            if line.len() > body.len() {
                shown.text.push('\n');
                chars += 1;
            }
            line_start += line.len();
        }
        while next < pending.len() {
            shown.marks.push((pending[next], chars));
            next += 1;
        }
        shown
    }

    /// Where source range `r` falls in the shown text, in characters.
    fn range(&self, r: &Range<usize>) -> Range<usize> {
        let at = |b: usize| {
            let i = self.marks.partition_point(|&(m, _)| m < b);
            self.marks.get(i).map_or(0, |&(_, c)| c)
        };
        let start = at(r.start);
        start..at(r.end).max(start)
    }
}

/// After a rejected input's reports: how many errors and warnings, and
/// where to read about their codes (`codes`: the errors', in order).
pub fn tally(name: &str, codes: &[&str], warnings: usize) {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut line = format!("error: {name} was rejected: {}", plural(codes.len(), "error"));
    if warnings > 0 {
        line += &format!(", {}", plural(warnings, "warning"));
    }
    let mut distinct: Vec<&str> = Vec::new();
    for code in codes {
        if !distinct.contains(code) {
            distinct.push(code);
        }
    }
    if json() {
        let object = serde_json::json!({
            "$message_type": "summary",
            "schema": SCHEMA,
            "file_name": name,
            "errors": codes.len(),
            "warnings": warnings,
            "codes": distinct,
        });
        errln!("{object}");
        return;
    }
    match distinct.as_slice() {
        [] => errln!("{line}"),
        [one] => errln!("{line}\nhelp: `safexc explain {one}` explains the code"),
        [first, ..] => errln!(
            "{line}\nhelp: `safexc explain CODE` explains each code ({}), e.g. `safexc explain {first}`",
            distinct.join(", ")
        ),
    }
}

/// The part of a message before its explanation, for the label: up to the
/// first `: ` or `; ` outside backquotes (`expected `;`, found `}``
/// stays whole).
fn first_clause(message: &str) -> &str {
    let mut quoted = false;
    let bytes = message.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => quoted = !quoted,
            b':' | b';' if !quoted && bytes.get(i + 1).is_none_or(|&c| c == b' ') => return &message[..i],
            _ => {}
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::{Shown, TAIL, first_clause};

    #[test]
    fn control_characters_are_pictured_and_offsets_become_character_indices() {
        let text = "é\u{1b}[31m x\u{7f}\n y";
        let x = text.find('x').unwrap();
        let y = text.find('y').unwrap();
        let shown = Shown::of(text, [x, x + 1, y, text.len()]);
        assert_eq!(shown.text, "é␛[31m x␡\n y");
        // `é` is two bytes, one character.
        assert_eq!(shown.range(&(x..x + 1)), 7..8);
        assert_eq!(shown.range(&(y..text.len())), 11..12);
        assert_eq!(shown.text.chars().nth(11), Some('y'));
    }

    #[test]
    fn a_long_tail_past_the_last_mark_is_cut() {
        let line = format!("ab{}", "x".repeat(5 * TAIL));
        let text = format!("{line}\nnext");
        let shown = Shown::of(&text, [1, 2, text.len()]);
        let first = shown.text.lines().next().unwrap();
        assert_eq!(first.chars().count(), 2 + TAIL + 1);
        assert!(first.ends_with('…'));
        assert!(shown.text.ends_with("\nnext"));
        assert_eq!(shown.range(&(1..2)), 1..2);
        assert_eq!(
            shown.range(&(text.len()..text.len())),
            2 + TAIL + 1 + 1 + 4..2 + TAIL + 1 + 1 + 4
        );
        // A mark far into the line keeps the line up to it, and a tail.
        let shown = Shown::of(&text, [3 * TAIL]);
        assert_eq!(shown.text.lines().next().unwrap().chars().count(), 4 * TAIL + 1);
        // Short lines and tails are left alone.
        assert_eq!(Shown::of("short\n", [0]).text, "short\n");
    }

    #[test]
    fn a_label_is_the_first_clause_outside_backquotes() {
        assert_eq!(first_clause("expected `;`, found `}`"), "expected `;`, found `}`");
        assert_eq!(
            first_clause("expected one of `;`, operator, found `int`"),
            "expected one of `;`, operator, found `int`"
        );
        assert_eq!(
            first_clause("unknown attribute `x`: declare it first"),
            "unknown attribute `x`"
        );
        assert_eq!(first_clause("too deep; split it"), "too deep");
        assert_eq!(first_clause("`a::b` is not a name"), "`a::b` is not a name");
        assert_eq!(first_clause("ends with a colon:"), "ends with a colon");
    }
}
