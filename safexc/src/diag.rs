//! Rendering errors as ariadne reports on the text they point into.

use ariadne::{Config, Label, Report, ReportKind, Source};
use std::io::IsTerminal;
use std::ops::Range;

/// One error to show: a code, a message, and where it is in `text`.
pub struct Diagnostic<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub span: Range<usize>,
}

/// Renders a report on `text` (named `file`) to a string, with colours only
/// when standard error is a terminal.
pub fn render(file: &str, text: &str, d: &Diagnostic) -> String {
    let end = text.len();
    let span = d.span.start.min(end)..d.span.end.clamp(d.span.start.min(end), end);
    let label = Label::new((file, span.clone())).with_message(first_clause(d.message));
    let mut out = Vec::new();
    let written = Report::build(ReportKind::Error, (file, span))
        .with_code(d.code)
        .with_message(d.message)
        .with_label(label)
        .with_config(Config::default().with_color(std::io::stderr().is_terminal()))
        .finish()
        .write((file, Source::from(text)), &mut out);
    match written {
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
