//! What a running case gets: its scratch directory, its deadline, and process spawning that files
//! logs in that directory and ties every process to the case.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process::{Groups, Spawn};

/// Extra life given to a case's processes past the case deadline before `timeout` kills them,
/// should xtask itself die and not kill them first.
const LIFETIME_SLACK: Duration = Duration::from_secs(30);

/// One running case.
#[derive(Debug)]
pub(crate) struct Ctx {
    name: &'static str,
    dir: PathBuf,
    deadline: Instant,
    groups: Arc<Groups>,
}

impl Ctx {
    pub(crate) fn new(
        name: &'static str,
        dir: PathBuf,
        deadline: Instant,
        groups: Arc<Groups>,
    ) -> Self {
        Ctx {
            name,
            dir,
            deadline,
            groups,
        }
    }

    /// The case's name.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The case's scratch directory, `target/interop/CASE/`, empty when the case starts.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the case directory.
    pub(crate) fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.join(relative)
    }

    /// When the whole case must be done.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `within` from now, but never past the case deadline.
    pub(crate) fn deadline_in(&self, within: Duration) -> Instant {
        (Instant::now() + within).min(self.deadline)
    }

    /// A process logging into the case directory, killed when the case ends, and bounded in life
    /// by the case deadline even if xtask dies. Its state directory (`XDG_STATE_HOME`, where
    /// `bt` keeps its DHT routing table) is the case's, so no case reads another's or the
    /// user's saved state; a case may set its own after this.
    pub(crate) fn spawn(&self, name: &str, program: impl AsRef<OsStr>) -> Spawn {
        let lifetime = self.deadline.saturating_duration_since(Instant::now()) + LIFETIME_SLACK;
        Spawn::new(name, program, &self.dir)
            .lifetime(lifetime)
            .groups(self.groups.clone())
            .env("XDG_STATE_HOME", self.dir.join("xdg-state"))
    }

    /// The release `bt` binary under test.
    pub(crate) fn bt(&self) -> anyhow::Result<&'static Path> {
        super::bt::path()
    }

    /// Prints a progress note under the case's name.
    pub(crate) fn note(&self, message: impl std::fmt::Display) {
        println!("interop: {}: {message}", self.name);
    }
}
