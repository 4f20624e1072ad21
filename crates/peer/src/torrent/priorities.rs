//! File selection and the readers' windows on a [`Torrent`]: the picker keeps the priorities;
//! here every peer's interest and requests are brought up to date at once when they change, so
//! a seek re-prioritises without waiting for a timer.

use std::ops::Range;
use std::time::Instant;

use super::Torrent;
use crate::Priority;

impl Torrent {
    /// Sets every piece's priority (see [`Picker::set_priorities`](crate::Picker::set_priorities)).
    pub fn set_priorities(&mut self, now: Instant, priorities: Vec<Priority>) {
        self.picker.set_priorities(priorities);
        self.refresh_interest(now);
    }

    /// Sets or removes reader `reader`'s window (see
    /// [`Picker::set_window`](crate::Picker::set_window)); requests go out at once.
    pub fn set_window(&mut self, now: Instant, reader: u64, pieces: Option<Range<u32>>) {
        self.picker.set_window(reader, pieces);
        self.refresh_interest(now);
    }

    /// Whether some reader has a window open.
    pub fn has_windows(&self) -> bool {
        self.picker.windows().next().is_some()
    }

    /// Whether every piece of priority above 0 is verified.
    pub fn wanted_complete(&self) -> bool {
        self.picker.wanted_complete()
    }

    /// Bytes of the selected pieces still missing.
    pub fn wanted_bytes_left(&self) -> u64 {
        self.picker.wanted_bytes_left()
    }

    fn refresh_interest(&mut self, now: Instant) {
        let ids: Vec<_> = self.peers.keys().copied().collect();
        for id in ids {
            self.update_interest(now, id);
        }
    }
}
