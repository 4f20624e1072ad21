//! The dfile on disk, part of the serving shell: [`Tracker::load_dfile`] and
//! [`Tracker::save_dfile`] read the clocks and the file and hand the bytes and the time to the
//! format (`dfile.rs`), which is plain code.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::dfile;
use crate::error::Error;
use crate::files::write_atomic;
use crate::tracker::{DfileStatus, Tracker};

/// Seconds since 1970, the dfile's `saved` stamp and the suffix of a corrupt file moved aside.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads a dfile; `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::file(path, "reading", e)),
    }
}

/// Moves a corrupt dfile aside to `PATH.corrupt-UNIXTIME` (never overwriting an earlier one) and
/// returns the new name.
pub fn move_aside(path: &Path, unix_now: u64) -> Result<PathBuf, Error> {
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            format!(".corrupt-{unix_now}")
        } else {
            format!(".corrupt-{unix_now}-{n}")
        };
        let mut to = path.as_os_str().to_owned();
        to.push(suffix);
        let to = PathBuf::from(to);
        if !to.exists() {
            std::fs::rename(path, &to).map_err(|e| Error::file(path, "moving aside", e))?;
            return Ok(to);
        }
        n += 1;
    }
}

/// Why a dfile and a shared store do not mix.
const DFILE_WITH_REDIS: &str = "a dfile cannot be used with a Redis store: the swarms are in \
     Redis, kept across restarts by Redis's own persistence (RDB or AOF)";

impl Tracker {
    /// Reads the configured dfile into the store. A missing file is created (empty); a corrupt
    /// one is renamed to `PATH.corrupt-UNIXTIME` and the tracker starts empty; both are reported
    /// in the returned status (also kept for [`Tracker::dfile_status`]). Errors are I/O failures.
    /// With a shared store (Redis) a dfile is refused: Redis's own persistence keeps the swarms.
    pub fn load_dfile(&self) -> Result<DfileStatus, Error> {
        let Some(path) = self.config().dfile.clone() else {
            return Ok(DfileStatus::None);
        };
        if self.is_shared() {
            return Err(Error::Conflict(DFILE_WITH_REDIS));
        }
        let (now, unix_now) = (Instant::now(), unix_now());
        let status = match read(&path)? {
            None => {
                self.save_dfile()?;
                DfileStatus::Created
            }
            Some(bytes) => match dfile::restore(self.store(), &bytes, now, unix_now) {
                Ok(restored) => DfileStatus::Loaded(restored),
                Err(error) => {
                    let to = move_aside(&path, unix_now)?;
                    DfileStatus::MovedAside { error, to }
                }
            },
        };
        self.set_dfile_status(status.clone());
        Ok(status)
    }

    /// Writes the store to the configured dfile atomically (nothing without a dfile).
    pub fn save_dfile(&self) -> Result<(), Error> {
        let Some(path) = &self.config().dfile else {
            return Ok(());
        };
        if self.is_shared() {
            return Err(Error::Conflict(DFILE_WITH_REDIS));
        }
        let bytes = dfile::snapshot(self.store(), Instant::now(), unix_now());
        write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::files::tests::scratch;

    #[test]
    fn read_and_move_aside() {
        let dir = scratch("dfile-aside");
        let path = dir.join("state");
        assert_eq!(read(&path).unwrap(), None);
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b"two"[..]));
        let moved = move_aside(&path, 77).unwrap();
        assert!(moved.ends_with("state.corrupt-77"));
        write_atomic(&path, b"three").unwrap();
        assert!(move_aside(&path, 77)
            .unwrap()
            .ends_with("state.corrupt-77-1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_creates_a_missing_file_and_moves_a_corrupt_one_aside() {
        let dir = scratch("dfile-load");
        let path = dir.join("state");
        let tracker = |dfile: &Path| {
            let config = Config {
                dfile: Some(dfile.to_path_buf()),
                ..Config::default()
            };
            Tracker::new(config, Instant::now())
        };
        assert_eq!(tracker(&path).load_dfile().unwrap(), DfileStatus::Created);
        let t = tracker(&path);
        assert!(matches!(t.load_dfile().unwrap(), DfileStatus::Loaded(_)));
        assert!(matches!(t.dfile_status(), DfileStatus::Loaded(_)));
        std::fs::write(&path, b"junk").unwrap();
        let status = tracker(&path).load_dfile().unwrap();
        let DfileStatus::MovedAside { error, to } = status else {
            panic!("{status:?}");
        };
        assert!(
            error.to_string().starts_with("corrupt dfile: bencode:"),
            "{error}"
        );
        assert_eq!(std::fs::read(to).unwrap(), b"junk");
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
