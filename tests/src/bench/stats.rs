//! Repeated samples and their summary statistics.

use std::fmt::Write as _;

/// The samples of one series, in the order they were taken.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    /// No samples yet.
    pub fn new() -> Samples {
        Samples::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, v: f64) {
        self.values.push(v);
    }

    /// The samples, in the order they were taken.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The value at quantile `q` (0..=1), nearest rank; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.is_empty() {
            return f64::NAN;
        }
        let v = self.sorted();
        let rank = (q * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    /// The median (mean of the two middle values for an even count); NaN when empty.
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// The smallest sample.
    pub fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::NAN, f64::min)
    }

    /// The largest sample.
    pub fn max(&self) -> f64 {
        self.values.iter().copied().fold(f64::NAN, f64::max)
    }

    /// The 90th percentile.
    pub fn p90(&self) -> f64 {
        self.quantile(0.9)
    }

    /// `median 1.234 (min 1.1, p90 1.5, max 2.0, n=200)`, each with `decimals` decimals.
    pub fn describe(&self, decimals: usize) -> String {
        format!(
            "median {:.d$}  min {:.d$}  p90 {:.d$}  max {:.d$}  n={}",
            self.median(),
            self.min(),
            self.p90(),
            self.max(),
            self.len(),
            d = decimals
        )
    }

    /// Every sample, in order, separated by spaces, ten to a line, each line indented.
    pub fn raw(&self, decimals: usize) -> String {
        let mut out = String::new();
        for chunk in self.values.chunks(10) {
            out.push_str("    ");
            for (i, v) in chunk.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{v:.decimals$}");
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary() {
        let mut s = Samples::new();
        for v in [5.0, 1.0, 4.0, 2.0, 3.0] {
            s.push(v);
        }
        assert_eq!(s.median(), 3.0);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.max(), 5.0);
        assert_eq!(s.p90(), 5.0);
        s.push(6.0);
        assert_eq!(s.median(), 3.5);
        assert!(Samples::new().median().is_nan());
    }
}
