//! Case results, the table, and the raw run file.

use std::fmt::Write as _;

use super::stats::Samples;

/// How a figure compares with its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within budget.
    Pass,
    /// Over budget.
    Fail,
    /// A figure that is only reported.
    Info,
    /// The case could not be measured.
    Error,
}

impl Verdict {
    /// `PASS`, `FAIL`, `info`, `ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Info => "info",
            Verdict::Error => "ERROR",
        }
    }

    /// Whether `--check` fails on it.
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Error)
    }
}

/// One measured series, kept whole for the run file.
#[derive(Debug, Clone)]
pub struct Series {
    /// What was measured.
    pub label: String,
    /// Its unit.
    pub unit: &'static str,
    /// Decimals to print.
    pub decimals: usize,
    /// The samples, in order.
    pub samples: Samples,
}

impl Series {
    /// A series in milliseconds.
    pub fn ms(label: impl Into<String>, samples: &Samples) -> Series {
        Series {
            label: label.into(),
            unit: "ms",
            decimals: 3,
            samples: samples.clone(),
        }
    }

    /// A series in kibibytes.
    pub fn kib(label: impl Into<String>, samples: &Samples) -> Series {
        Series {
            label: label.into(),
            unit: "KiB",
            decimals: 0,
            samples: samples.clone(),
        }
    }
}

/// One row of the table, with what backs it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case.
    pub case: String,
    /// The measured figure.
    pub measured: String,
    /// The figure it is compared with.
    pub reference: String,
    /// The budget.
    pub budget: String,
    /// PASS, FAIL, …
    pub verdict: Verdict,
    /// The deciding number (a ratio, or the figure against the limit).
    pub detail: String,
    /// Raw samples.
    pub series: Vec<Series>,
    /// Anything worth knowing about how it was measured.
    pub notes: Vec<String>,
}

impl Row {
    /// A row for a case that could not be measured.
    pub fn error(case: &str, msg: &str) -> Row {
        Row {
            case: case.to_string(),
            measured: "-".into(),
            reference: "-".into(),
            budget: "-".into(),
            verdict: Verdict::Error,
            detail: String::new(),
            series: Vec::new(),
            notes: vec![format!("error: {msg}")],
        }
    }

    /// `PASS (1.21x)`.
    pub fn verdict_text(&self) -> String {
        if self.detail.is_empty() {
            self.verdict.as_str().to_string()
        } else {
            format!("{} ({})", self.verdict.as_str(), self.detail)
        }
    }
}

/// Decides a ratio budget: `measured / reference <= limit`.
pub fn ratio_verdict(measured: f64, reference: f64, limit: f64) -> (Verdict, String) {
    let r = measured / reference;
    let v = if r <= limit {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    (v, format!("{r:.2}x"))
}

/// Decides an absolute budget: `value <= limit` (both in `unit`).
pub fn limit_verdict(value: f64, limit: f64, unit: &str, decimals: usize) -> (Verdict, String) {
    if value <= limit {
        (Verdict::Pass, String::new())
    } else {
        (
            Verdict::Fail,
            format!("{value:.decimals$} {unit} > {limit} {unit}"),
        )
    }
}

/// `1.234 ms [1.100..1.800]`: median, then min and p90.
pub fn ms(s: &Samples) -> String {
    format!("{:.3} ms [{:.3}..{:.3}]", s.median(), s.min(), s.p90())
}

/// Kibibytes as decimal megabytes: `3.49 MB`.
pub fn mb_of_kib(kib: f64) -> String {
    format!("{:.2} MB", kib * 1024.0 / 1e6)
}

/// The table: case | measured | reference | budget | verdict.
pub fn table(rows: &[Row]) -> String {
    let head = ["case", "measured", "reference", "budget", "verdict"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.case.clone(),
                r.measured.clone(),
                r.reference.clone(),
                r.budget.clone(),
                r.verdict_text(),
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |cols: [&str; 5]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            let pad = w.saturating_sub(c.chars().count());
            s.push_str(c);
            if i < 4 {
                s.push_str(&" ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(head);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("-|-"));
    out.push('\n');
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4]]));
    }
    out
}

/// Every row's series (summary and every sample) and notes.
pub fn raw(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = writeln!(out, "## {} — {}", r.case, r.verdict_text());
        for n in &r.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        for s in &r.series {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                s.label,
                s.unit,
                s.samples.describe(s.decimals)
            );
            out.push_str(&s.samples.raw(s.decimals));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(ratio_verdict(1.4, 1.0, 1.5).0, Verdict::Pass);
        assert_eq!(
            ratio_verdict(1.6, 1.0, 1.5),
            (Verdict::Fail, "1.60x".into())
        );
        assert_eq!(limit_verdict(9.0, 10.0, "ms", 1).0, Verdict::Pass);
        assert_eq!(
            limit_verdict(12.34, 10.0, "ms", 1),
            (Verdict::Fail, "12.3 ms > 10 ms".into())
        );
    }

    #[test]
    fn table_aligns() {
        let mut r = Row::error("status", "boom");
        r.verdict = Verdict::Pass;
        let t = table(&[r]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].find(" | "), lines[2].find(" | "));
    }
}
