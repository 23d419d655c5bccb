//! Rendering errors as ariadne reports on the text they point into.

use ariadne::{Color, Config, Label, Report, ReportKind, Source};
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
    let clamp = |r: &Range<usize>| {
        let start = r.start.min(text.len());
        start..r.end.clamp(start, text.len())
    };
    let span = clamp(&d.span);
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
        .with_config(Config::default().with_color(color));
    for (range, note) in &d.labels {
        report = report.with_label(Label::new((file, clamp(range))).with_message(note));
    }
    if let Some(help) = d.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    match report.finish().write((file, Source::from(text)), &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => format!(
            "error[{}]: {} ({file} bytes {}..{})\n",
            d.code, d.message, d.span.start, d.span.end
        ),
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
    use super::first_clause;

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
