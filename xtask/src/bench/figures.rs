//! The figures a bench run gathers: each scenario's times over the rounds.

use std::time::Duration;

/// The figures of one scenario, over the rounds.
#[derive(Default)]
pub struct Times(pub Vec<Duration>);

impl Times {
    pub fn min(&self) -> f64 {
        self.0.iter().min().map_or(f64::NAN, Duration::as_secs_f64)
    }

    pub fn median(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).map_or(f64::NAN, Duration::as_secs_f64)
    }

    pub fn cell(&self) -> String {
        if self.0.is_empty() {
            return format!("{:>15}", "-");
        }
        format!("{:>6.2} / {:>6.2}", self.min(), self.median())
    }
}

/// `a`'s median over `b`'s.
pub fn ratio(a: &Times, b: &Times) -> f64 {
    a.median() / b.median()
}

#[derive(Default)]
pub struct Results {
    pub from_nothing: Times,
    pub cold_lab: Times,
    pub cold: Times,
    pub edit_lab: Times,
    pub edit_native: Times,
    pub edit: Times,
    pub unchanged_lab: Times,
    pub unchanged: Times,
    pub settings_test: Times,
    pub ready: Times,
    pub floor: Times,
    /// What the requirements change was, e.g. `sqlparse 0.6.1 -> 0.6.0`.
    pub bump: String,
    pub requirements: Times,
    /// The tests the suite ran, as checked out and SCALE times larger.
    pub tests: Option<usize>,
    pub scaled_tests: Option<usize>,
    pub scaled_native: Times,
    pub scaled: Times,
    pub scaled_parallel_native: Times,
    pub scaled_parallel: Times,
    pub help: Times,
    pub clean_build: Times,
    /// The machine's 1-minute load average before the first scenario and after the last:
    /// other work on it moves every figure.
    pub load: (Option<f64>, Option<f64>),
}

/// One row of the table: the lab's flow, the native run and `cargo xtask`, where measured.
pub type Row<'a> = (String, Option<&'a Times>, Option<&'a Times>, &'a Times);
