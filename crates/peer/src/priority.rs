//! Piece priorities: what each piece is worth to us, from per-file priorities (file selection,
//! `--only`/`--skip`) and from the readers' windows (streaming). The picker keeps them; this
//! file holds the types and the file-to-piece mapping.

use std::ops::Range;

use crate::storage::Layout;

/// How much a piece or a file is wanted. [`Priority::SKIP`] (0) is never requested; higher values
/// are picked before lower ones, as libtorrent's 0..=7 file priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Priority {
    /// Not wanted: never requested (unless a reader's window covers it).
    pub const SKIP: Priority = Priority(0);
    /// The default.
    pub const NORMAL: Priority = Priority(4);
    /// The highest.
    pub const TOP: Priority = Priority(7);

    /// Whether the piece or file is wanted at all.
    pub fn is_wanted(self) -> bool {
        self.0 > 0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::NORMAL
    }
}

/// The priority of every piece of `layout` from its files' priorities (`files[i]` for file `i`;
/// missing entries are [`Priority::NORMAL`]): each piece takes the highest priority of the files it
/// holds bytes of, so the boundary pieces of a wanted file are wanted too. Pad files do not count.
pub fn piece_priorities(layout: &Layout, files: &[Priority]) -> Vec<Priority> {
    let mut out = vec![Priority::SKIP; layout.piece_count() as usize];
    for (i, f) in layout.files().iter().enumerate() {
        if f.pad {
            continue;
        }
        let prio = files.get(i).copied().unwrap_or_default();
        for p in layout.file_pieces(i) {
            let slot = &mut out[p as usize];
            *slot = (*slot).max(prio);
        }
    }
    out
}

/// One reader's window over the pieces: `pieces.start` is the piece a read waits for (urgent),
/// the rest the readahead, fetched in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The pieces, urgent one first.
    pub pieces: Range<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_pieces_take_the_highest_priority_of_their_files() {
        // Files of 5, 6 and 4 bytes in pieces of 4: a=0..5 (pieces 0,1), b=5..11 (1,2), c=11..15 (2,3).
        let layout = Layout::new([(["a"], 5u64), (["b"], 6), (["c"], 4)], 4).unwrap();
        let prios = piece_priorities(&layout, &[Priority::SKIP, Priority::TOP, Priority::SKIP]);
        assert_eq!(
            prios,
            [Priority::SKIP, Priority::TOP, Priority::TOP, Priority::SKIP]
        );
        let all = piece_priorities(&layout, &[]);
        assert!(all.iter().all(|p| *p == Priority::NORMAL));
    }
}
