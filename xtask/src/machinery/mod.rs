//! What several tasks share: the images (the OS image, the CA bundle, the base and dev
//! images), the pip cache and the kept wheels, the dev container a run composes, the
//! settings' services, the warm test worker, the data `serve` keeps, what a dead run left
//! (`lifecycle`) and what checkouts that are gone left (`orphans`). Each composes command values and hands them to the runner.

pub mod cache;
pub mod containers;
pub mod dev_container;
pub mod dev_image;
pub mod host;
pub mod images;
pub mod kept;
pub mod lifecycle;
pub mod orphans;
pub mod services;
pub mod stack;
pub mod swarm;
pub mod wheelhouse;
pub mod worker;
