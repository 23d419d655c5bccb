//! The experiment's figures, as the paper draws them, in SVG and PNG, and
//! an `index.html` that shows them all.
//!
//! - `utilization-SETUP-POLICY.{svg,png}`: each process's CPU share per
//!   second over the run, its target dashed, the disturbance's bursts
//!   shaded; kernel-level management on the left, user-level on the right.
//! - `violations.{svg,png}`: the service violations of every setup and
//!   policy, kernel-level beside user-level.
//!
//! Text is drawn with DejaVu Sans, which the crate carries
//! (`fonts/DejaVuSans.ttf`, its licence beside it), so that the figures do
//! not depend on the fonts a machine has.

use crate::report::{self, Experiment, Run};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];
const BURST: RGBColor = RGBColor(225, 225, 225);

fn register() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the bundled font is invalid".into());
    });
    result
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// One panel: a run's utilization per second, targets and bursts.
fn utilization_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, run: &Run, title: &str) -> Drawn<DB> {
    let r = &run.result;
    let seconds = r.disturbance.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0f64..seconds, 0f64..100f64)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("CPU (%)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(r.bursts.iter().map(|&(start, end)| {
        let (s, e) = (start as f64 / 1e6, (end as f64 / 1e6).min(seconds));
        Rectangle::new([(s, 0.0), (e, 100.0)], BURST.filled())
    }))?;
    for (i, p) in r.processes.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let target = p.process.target as f64 * 100.0 / p.process.period as f64;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, target), (seconds, target)],
            6,
            4,
            color.stroke_width(1),
        ))?;
        chart
            .draw_series(LineSeries::new(
                p.utilization
                    .iter()
                    .enumerate()
                    .map(|(s, &u)| (s as f64 + 0.5, f64::from(u) / 10.0)),
                color.stroke_width(2),
            ))?
            .label(format!(
                "{} ({} ms / {} ms)",
                p.process.name,
                p.process.target / 1000,
                p.process.period / 1000
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

fn utilization_figure<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, kernel: &Run, user: &Run) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let name = |r: &Run| {
        format!(
            "setup {}, SCHED_{}, {}-level: {} violations",
            report::setup_name(r.config.setup),
            report::policy_name(r.config.policy),
            report::management_name(r.config.management),
            r.result.violations()
        )
    };
    utilization_panel(&left, kernel, &name(kernel))?;
    utilization_panel(&right, user, &name(user))?;
    root.present()
}

fn violations_figure<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, e: &Experiment) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let groups: Vec<(String, u64, u64)> = e
        .pairs()
        .map(|(k, u)| {
            (
                format!(
                    "{} {}",
                    report::setup_name(k.config.setup),
                    report::policy_name(k.config.policy)
                ),
                k.result.violations(),
                u.result.violations(),
            )
        })
        .collect();
    let most = groups.iter().map(|g| g.1.max(g.2)).max().unwrap_or(0).max(1) as f64 * 1.15;
    let n = groups.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("service violations, kernel-level and user-level", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..n, 0f64..most)?;
    let labels: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len().max(1) * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-9 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("violations (periods below target)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    for (offset, color, label, pick) in [
        (0.1, COLORS[0], "kernel-level", 1usize),
        (0.5, COLORS[1], "user-level", 2usize),
    ] {
        chart
            .draw_series(groups.iter().enumerate().map(move |(i, g)| {
                let v = if pick == 1 { g.1 } else { g.2 } as f64;
                let x = i as f64 + offset;
                Rectangle::new([(x, 0.0), (x + 0.4, v)], color.filled())
            }))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

/// Writes every figure, SVG and PNG, and `index.html` into `dir`; returns
/// the paths written. `table` is the violations table as HTML rows' source
/// (`Experiment::table`), `notes` a sentence on how the run was made.
pub fn write(e: &Experiment, dir: &Path, notes: &str) -> Result<Vec<PathBuf>, String> {
    register()?;
    let err = |what: &str, e: &dyn std::fmt::Display| format!("cannot draw {what}: {e}");
    let mut written = Vec::new();
    let mut figures = Vec::new();
    for (kernel, user) in e.pairs() {
        let stem = format!(
            "utilization-{}-{}",
            report::setup_name(kernel.config.setup).to_lowercase(),
            report::policy_name(kernel.config.policy).to_lowercase()
        );
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        utilization_figure(SVGBackend::new(&svg, (1400, 460)).into_drawing_area(), kernel, user)
            .map_err(|e| err(&stem, &e))?;
        utilization_figure(BitMapBackend::new(&png, (1400, 460)).into_drawing_area(), kernel, user)
            .map_err(|e| err(&stem, &e))?;
        figures.push((stem, kernel, user));
        written.extend([svg, png]);
    }
    let svg = dir.join("violations.svg");
    let png = dir.join("violations.png");
    violations_figure(SVGBackend::new(&svg, (800, 420)).into_drawing_area(), e).map_err(|e| err("violations", &e))?;
    violations_figure(BitMapBackend::new(&png, (800, 420)).into_drawing_area(), e)
        .map_err(|e| err("violations", &e))?;
    written.extend([svg, png]);

    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>SafeX: the QoS experiment</title>\n\
         <style>body{font-family:sans-serif;max-width:1450px;margin:1em auto}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>\n\
         <h1>Kernel-level vs user-level CPU service management</h1>\n",
    );
    let _ = writeln!(html, "<p>{}</p>", escape(notes));
    html.push_str("<img src=\"violations.svg\" alt=\"violations\">\n<table>\n<tr><th>setup</th><th>policy</th><th>process</th><th>target</th><th>periods</th><th>violations, kernel-level</th><th>violations, user-level</th></tr>\n");
    for (kernel, user) in e.pairs() {
        for (k, u) in kernel.result.processes.iter().zip(&user.result.processes) {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms / {} ms</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                report::setup_name(kernel.config.setup),
                report::policy_name(kernel.config.policy),
                escape(&k.process.name),
                k.process.target / 1000,
                k.process.period / 1000,
                k.periods,
                k.violations,
                u.violations
            );
        }
    }
    html.push_str("</table>\n");
    for (stem, kernel, _) in &figures {
        let _ = writeln!(
            html,
            "<h2>Setup {}, SCHED_{}</h2>\n<p>CPU share per second; dashed: targets; grey: disturbance bursts. \
             Left kernel-level, right user-level. <a href=\"{stem}.png\">PNG</a></p>\n<img src=\"{stem}.svg\" alt=\"{stem}\">",
            report::setup_name(kernel.config.setup),
            report::policy_name(kernel.config.policy)
        );
    }
    html.push_str(
        "<p>Data: <a href=\"violations.csv\">violations.csv</a>, <a href=\"bursts.csv\">bursts.csv</a>, \
         utilization-*.csv.</p>\n</body></html>\n",
    );
    let index = dir.join("index.html");
    std::fs::write(&index, html).map_err(|e| format!("cannot write {}: {e}", index.display()))?;
    written.push(index);
    Ok(written)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{Management, RunConfig, Setup};
    use crate::sched::Policy;

    #[test]
    fn figures_and_the_index_are_written_and_the_same_run_draws_the_same_svg() {
        let base = RunConfig {
            length: 15_000_000,
            ..RunConfig::new(Setup::B, Policy::Fifo, Management::Kernel)
        };
        let e = report::run(report::configs(&base, &[Setup::B], &[Policy::Fifo]), |_| {}).unwrap();
        let dir = std::env::temp_dir().join(format!("qos-plot-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let files = write(&e, &a, "test").unwrap();
        write(&e, &b, "test").unwrap();
        assert_eq!(files.len(), 2 + 2 + 1);
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(bytes.len() > 1000, "{f:?}");
            if f.extension().is_some_and(|x| x == "svg") {
                let text = String::from_utf8(bytes.clone()).unwrap();
                assert!(text.contains("<svg") && text.contains("violations"), "{f:?}");
                assert_eq!(bytes, std::fs::read(b.join(f.file_name().unwrap())).unwrap());
            }
        }
        let png = std::fs::read(a.join("violations.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let index = std::fs::read_to_string(a.join("index.html")).unwrap();
        assert!(index.contains("utilization-b-fifo.svg") && index.contains("<td>P2</td>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
