//! Docker invocations as values. Pure: nothing here talks to an engine. Each function or
//! builder gives a `Cmd` whose argv the unit tests (`tests.rs`) assert exactly; the runner runs
//! them. Split by what they are about; every name is here, as `docker::NAME`.

mod containers;
mod images;
mod inspect;
mod labels;
mod objects;
mod swarm;

pub use containers::*;
pub use images::*;
pub use inspect::*;
pub use labels::*;
pub use objects::*;
pub use swarm::*;

#[cfg(test)]
mod tests;
