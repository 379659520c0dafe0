//! The labels the project sets on what it makes, and selects by.

/// The label every image and container of the project carries (as the course's Makefile did).
/// Containers made from a project image inherit it, so it never selects what to remove.
pub const PROJECT_LABEL: (&str, &str) = ("application", "todobackend");

/// Set explicitly on every container and network a run makes: the checkout that made it,
/// and the run. Selection for removal uses these alone, never a label an image passes on.
pub const CHECKOUT_LABEL: &str = "todobackend.checkout";

pub const RUN_LABEL: &str = "todobackend.run";

/// On a volume that keeps what `serve` served, between runs: the settings it is for.
pub const DATA_LABEL: &str = "todobackend.data";

/// Set on the images a checkout builds, so its `clean` finds its dangling ones. Under a key
/// of its own: containers made from the image inherit it, and it selects no container.
pub const BUILT_IN_LABEL: &str = "todobackend.built-in";

/// Set on an image built as one stage alone (`Build::stage`): the stage. The images built
/// on it are not its descendants but its siblings, also built here (see `clean`).
pub const STAGE_LABEL: &str = "todobackend.stage";

/// Set on the pip cache container: the volume it holds.
pub const CACHE_LABEL: &str = "todobackend.cache";
