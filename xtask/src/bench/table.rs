//! The comparison table every benchmark prints: one row per case with torrentkit's time and
//! throughput, each other implementation's time, the speed ratio against the fastest of them
//! (`fastest other time / torrentkit time`, so above 1 means torrentkit is faster), the target
//! ratio and PASS/FAIL.

use crate::bench::criterion::Estimate;

/// A table under construction.
pub(crate) struct Table {
    /// Headers of the label columns that start every row (`document`, `operation`).
    label_headers: Vec<&'static str>,
    /// Names of the other implementations, one time column each.
    others: Vec<&'static str>,
    rows: Vec<Row>,
}

/// One case.
pub(crate) struct Row {
    /// One cell per label column.
    pub(crate) labels: Vec<String>,
    /// torrentkit's measurement, if it was measured.
    pub(crate) ours: Option<Estimate>,
    /// The other implementations' measurements, in column order; `None` where not measured.
    pub(crate) others: Vec<Option<Estimate>>,
    /// The speed ratio torrentkit must reach.
    pub(crate) target: f64,
}

/// How a row came out.
enum Verdict {
    Pass(f64),
    Fail(f64),
    /// No other implementation was measured: nothing to compare against.
    Alone,
    NotMeasured,
}

impl Row {
    fn verdict(&self) -> Verdict {
        let Some(ours) = self.ours else {
            return Verdict::NotMeasured;
        };
        let fastest_other = self
            .others
            .iter()
            .flatten()
            .map(|e| e.mean_ns)
            .min_by(f64::total_cmp);
        match fastest_other {
            None => Verdict::Alone,
            Some(other) => {
                let ratio = other / ours.mean_ns;
                if ratio >= self.target {
                    Verdict::Pass(ratio)
                } else {
                    Verdict::Fail(ratio)
                }
            }
        }
    }
}

impl Table {
    pub(crate) fn new(label_headers: Vec<&'static str>, others: Vec<&'static str>) -> Self {
        Self {
            label_headers,
            others,
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Row) {
        debug_assert_eq!(row.labels.len(), self.label_headers.len());
        debug_assert_eq!(row.others.len(), self.others.len());
        self.rows.push(row);
    }

    /// One line per row that missed its target or was not measured.
    pub(crate) fn failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|row| {
                let case = row.labels.join(" ");
                match row.verdict() {
                    Verdict::Fail(ratio) => Some(format!(
                        "{case}: {} is below the target {}",
                        ratio_cell(ratio),
                        ratio_cell(row.target)
                    )),
                    Verdict::NotMeasured => Some(format!("{case}: torrentkit was not measured")),
                    Verdict::Pass(_) | Verdict::Alone => None,
                }
            })
            .collect()
    }

    /// The table as markdown, columns padded so it also reads well in a terminal.
    pub(crate) fn markdown(&self) -> String {
        let mut header: Vec<String> = self.label_headers.iter().map(|h| h.to_string()).collect();
        header.push("torrentkit".into());
        header.push("throughput".into());
        header.extend(self.others.iter().map(|o| o.to_string()));
        header.extend(["ratio".into(), "target".into(), "result".into()]);
        let mut lines = vec![header];
        for row in &self.rows {
            let mut cells = row.labels.clone();
            cells.push(row.ours.map_or_else(dash, |e| time_cell(e.mean_ns)));
            cells.push(
                row.ours
                    .and_then(|e| e.bytes.map(|b| throughput_cell(b, e.mean_ns)))
                    .unwrap_or_else(dash),
            );
            cells.extend(
                row.others
                    .iter()
                    .map(|o| o.map_or_else(dash, |e| time_cell(e.mean_ns))),
            );
            let (ratio, result) = match row.verdict() {
                Verdict::Pass(ratio) => (ratio_cell(ratio), "PASS".to_string()),
                Verdict::Fail(ratio) => (ratio_cell(ratio), "FAIL".to_string()),
                Verdict::Alone => (dash(), "no comparison".to_string()),
                Verdict::NotMeasured => (dash(), "not measured".to_string()),
            };
            cells.extend([ratio, format!(">= {}", ratio_cell(row.target)), result]);
            lines.push(cells);
        }
        render(&lines, self.label_headers.len())
    }
}

/// Renders rows of cells as a markdown table; label columns are left-aligned, the rest right.
fn render(lines: &[Vec<String>], label_columns: usize) -> String {
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push('|');
        for (c, cell) in line.iter().enumerate() {
            if c < label_columns {
                out.push_str(&format!(" {cell:<w$} |", w = widths[c]));
            } else {
                out.push_str(&format!(" {cell:>w$} |", w = widths[c]));
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (c, width) in widths.iter().enumerate() {
                let dashes = "-".repeat(*width);
                if c < label_columns {
                    out.push_str(&format!(" {dashes} |"));
                } else {
                    out.push_str(&format!(" {}: |", &dashes[1..]));
                }
            }
            out.push('\n');
        }
    }
    out
}

fn dash() -> String {
    "—".into()
}

/// A time with three significant digits in the unit that suits it.
fn time_cell(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

/// Bytes per second in binary units, as criterion reports them.
fn throughput_cell(bytes: u64, ns: f64) -> String {
    let per_second = bytes as f64 / (ns / 1e9);
    let (value, unit) = if per_second < 1024.0 * 1024.0 * 1024.0 {
        (per_second / (1024.0 * 1024.0), "MiB/s")
    } else {
        (per_second / (1024.0 * 1024.0 * 1024.0), "GiB/s")
    };
    format!("{} {unit}", three_digits(value))
}

fn ratio_cell(ratio: f64) -> String {
    format!("{ratio:.2}x")
}

fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(mean_ns: f64) -> Option<Estimate> {
        Some(Estimate {
            mean_ns,
            bytes: Some(1000),
        })
    }

    fn row(ours: Option<Estimate>, others: Vec<Option<Estimate>>, target: f64) -> Row {
        Row {
            labels: vec!["doc".into(), "op".into()],
            ours,
            others,
            target,
        }
    }

    /// The trimmed cells of line `index` (0 is the header, 1 the separator).
    fn cells(markdown: &str, index: usize) -> Vec<String> {
        let line = markdown
            .lines()
            .nth(index)
            .expect("the table has that line");
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_string()).collect()
    }

    #[test]
    fn ratio_is_against_the_fastest_other_and_decides_the_verdict() {
        let mut table = Table::new(vec!["document", "operation"], vec!["a", "b"]);
        // Fastest other takes 300 ns, torrentkit 200 ns: 1.5x, short of a 2.0 target.
        table.push(row(
            estimate(200.0),
            vec![estimate(300.0), estimate(900.0)],
            2.0,
        ));
        table.push(row(estimate(100.0), vec![None, estimate(150.0)], 1.5));
        let failures = table.failures();
        assert_eq!(failures, ["doc op: 1.50x is below the target 2.00x"]);
        let markdown = table.markdown();
        assert_eq!(
            cells(&markdown, 2),
            [
                "doc",
                "op",
                "200 ns",
                "4.66 GiB/s",
                "300 ns",
                "900 ns",
                "1.50x",
                ">= 2.00x",
                "FAIL"
            ]
        );
        assert_eq!(
            cells(&markdown, 3),
            [
                "doc",
                "op",
                "100 ns",
                "9.31 GiB/s",
                "—",
                "150 ns",
                "1.50x",
                ">= 1.50x",
                "PASS"
            ]
        );
    }

    #[test]
    fn unmeasured_torrentkit_fails_and_missing_others_show_a_dash() {
        let mut table = Table::new(vec!["document", "operation"], vec!["a"]);
        table.push(row(None, vec![estimate(5.0)], 1.0));
        table.push(row(estimate(5.0), vec![None], 1.0));
        assert_eq!(table.failures(), ["doc op: torrentkit was not measured"]);
        let markdown = table.markdown();
        assert_eq!(
            cells(&markdown, 2)[2..],
            ["—", "—", "5.00 ns", "—", ">= 1.00x", "not measured"]
        );
        assert_eq!(
            cells(&markdown, 3)[4..],
            ["—", "—", ">= 1.00x", "no comparison"]
        );
    }

    #[test]
    fn times_and_throughputs_use_fitting_units() {
        assert_eq!(time_cell(812.0), "812 ns");
        assert_eq!(time_cell(12_345.0), "12.3 µs");
        assert_eq!(time_cell(1_234_567.0), "1.23 ms");
        assert_eq!(throughput_cell(1 << 30, 1e9), "1.00 GiB/s");
        assert_eq!(throughput_cell(1 << 20, 1e9), "1.00 MiB/s");
    }
}
