//! The steps a task announces (`=> ...`), and what each took, said when the run is over.

use std::cell::RefCell;
use std::time::Instant;

use crate::console::{paint, say};

/// Each step announced so far, and when it began.
#[derive(Default)]
pub struct Steps(RefCell<Vec<(String, Instant)>>);

/// Says `what` as a step is said.
pub fn announce(what: &str) {
    say!("{} {}", paint("1;36", "=>"), paint("1", what));
}

impl Steps {
    /// Announces a step; it lasts until the next one.
    pub fn begin(&self, what: &str) {
        announce(what);
        self.0.borrow_mut().push((what.to_string(), Instant::now()));
    }

    /// Each step's duration, once the run is over.
    pub fn summary(&self) {
        let steps = self.0.take();
        let Some((_, first)) = steps.first() else {
            return;
        };
        let ends = steps.iter().skip(1).map(|(_, began)| *began).chain([Instant::now()]);
        let total = first.elapsed().as_secs_f64();
        say!("{} {}", paint("1;36", "=>"), paint("1", &format!("Took {total:.1} s")));
        for ((what, began), end) in steps.iter().zip(ends) {
            say!("   {:>6.1} s  {what}", (end - *began).as_secs_f64());
        }
    }
}
