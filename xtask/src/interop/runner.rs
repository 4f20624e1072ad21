//! Runs one case: a fresh scratch directory, the case on its own thread, and a watchdog that
//! ends the case's processes if it overruns its deadline.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};

use super::cases::Case;
use super::context::Ctx;
use super::process::Groups;

/// How long past its deadline a case may take to give up on its own before the watchdog kills
/// its processes (the helpers' waits all end at the deadline, so this is rarely needed).
const GRACE: Duration = Duration::from_secs(10);

/// How long the watchdog then waits for the case to return.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// Runs `case` with its scratch directory `interop_dir/NAME` wiped first; `Err` means it failed.
pub(crate) fn run_case(case: &Case, interop_dir: &Path) -> anyhow::Result<()> {
    let dir = interop_dir.join(case.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let groups = Arc::new(Groups::default());
    let ctx = Ctx::new(
        case.name,
        dir.clone(),
        Instant::now() + case.timeout,
        groups.clone(),
    );
    let run = case.run;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("interop-{}", case.name))
        .spawn(move || {
            let result = run(&ctx);
            drop(ctx);
            let _ = tx.send(result);
        })
        .context("starting the case's thread")?;

    let result = match rx.recv_timeout(case.timeout + GRACE) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(anyhow!("the case panicked (see above)")),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let killed = groups.kill_all();
            let limit = case.timeout.as_secs();
            match rx.recv_timeout(AFTER_KILL) {
                Ok(result) => Err(result.err().unwrap_or_else(|| anyhow!("it finished late")))
                    .with_context(|| format!("timed out after {limit} s ({killed} process groups killed)")),
                Err(_) => bail!(
                    "timed out after {limit} s and did not stop after its {killed} process groups were \
                     killed; its thread is left behind"
                ),
            }
        }
    };
    let outcome = match &result {
        Ok(()) => "passed\n".to_owned(),
        Err(err) => format!("failed: {err:#}\n"),
    };
    let _ = std::fs::write(dir.join("outcome.txt"), outcome);
    result
}
