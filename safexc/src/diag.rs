//! Rendering errors as ariadne reports on the text they point into.

use ariadne::{Config, Label, Report, ReportKind, Source};
use std::io::IsTerminal;
use std::ops::Range;

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

/// Renders a report on `text` (named `file`) to a string, with colours only
/// when standard error is a terminal.
pub fn render(file: &str, text: &str, d: &Diagnostic) -> String {
    let clamp = |r: &Range<usize>| {
        let start = r.start.min(text.len());
        start..r.end.clamp(start, text.len())
    };
    let span = clamp(&d.span);
    let kind = if d.warning {
        ReportKind::Warning
    } else {
        ReportKind::Error
    };
    let mut report = Report::build(kind, (file, span.clone()))
        .with_code(d.code)
        .with_message(d.message)
        .with_label(Label::new((file, span)).with_message(first_clause(d.message)))
        .with_config(Config::default().with_color(std::io::stderr().is_terminal()));
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

/// The part of a message before its explanation, for the label.
fn first_clause(message: &str) -> &str {
    message.split([':', ';']).next().unwrap_or(message)
}
