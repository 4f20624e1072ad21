//! Per-file progress: how many of each file's bytes lie in verified pieces.

use torrentkit_peer::Bitfield;

/// For each file given as `(offset, length)` in the torrent's concatenated data, the number of
/// its bytes covered by pieces in `verified` (piece `i` covers `[i * piece_length, (i + 1) *
/// piece_length)`, the last one cut short by the end of the data). An empty file counts 0 bytes
/// (and is complete); a zero `piece_length` counts nothing.
pub(super) fn verified_bytes(
    files: impl IntoIterator<Item = (u64, u64)>,
    verified: &Bitfield,
    piece_length: u64,
) -> Vec<u64> {
    files
        .into_iter()
        .map(|(offset, length)| file_bytes(offset, length, verified, piece_length))
        .collect()
}

fn file_bytes(offset: u64, length: u64, verified: &Bitfield, piece_length: u64) -> u64 {
    if length == 0 || piece_length == 0 {
        return 0;
    }
    let end = offset.saturating_add(length);
    let first = offset / piece_length;
    let last = (end - 1) / piece_length;
    (first..=last)
        .filter(|&piece| u32::try_from(piece).is_ok_and(|p| verified.contains(p)))
        .map(|piece| {
            let start = piece.saturating_mul(piece_length);
            let stop = start.saturating_add(piece_length);
            stop.min(end) - start.max(offset)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have(pieces: u32, set: &[u32]) -> Bitfield {
        let mut b = Bitfield::new(pieces);
        for &p in set {
            b.insert(p).unwrap();
        }
        b
    }

    #[test]
    fn a_file_spanning_pieces_counts_only_its_share_of_each() {
        // Pieces of 10 bytes; 35 bytes of data: pieces 0..=3, the last one 5 bytes long.
        // Files: a [0, 12), b [12, 27), c [27, 35).
        let files = [(0, 12), (12, 15), (27, 8)];
        assert_eq!(verified_bytes(files, &have(4, &[]), 10), [0, 0, 0]);
        // Piece 1 = [10, 20): 2 bytes of a, 8 of b.
        assert_eq!(verified_bytes(files, &have(4, &[1]), 10), [2, 8, 0]);
        // Piece 2 = [20, 30): 7 bytes of b, 3 of c.
        assert_eq!(verified_bytes(files, &have(4, &[2]), 10), [0, 7, 3]);
        // Every piece: every file complete.
        assert_eq!(
            verified_bytes(files, &have(4, &[0, 1, 2, 3]), 10),
            [12, 15, 8]
        );
    }

    #[test]
    fn the_short_last_piece_counts_its_real_length() {
        // 25 bytes in pieces of 10: the last piece [20, 25) is 5 bytes.
        let files = [(0, 25)];
        assert_eq!(verified_bytes(files, &have(3, &[2]), 10), [5]);
        assert_eq!(verified_bytes(files, &have(3, &[0, 2]), 10), [15]);
        // A file wholly inside the short last piece.
        assert_eq!(verified_bytes([(21, 4)], &have(3, &[2]), 10), [4]);
    }

    #[test]
    fn empty_files_count_nothing_and_do_not_disturb_their_neighbours() {
        // a [0, 10), empty at 10, b [10, 20), empty at 20 (the very end).
        let files = [(0, 10), (10, 0), (10, 10), (20, 0)];
        assert_eq!(verified_bytes(files, &have(2, &[1]), 10), [0, 0, 10, 0]);
        assert_eq!(verified_bytes(files, &have(2, &[0, 1]), 10), [10, 0, 10, 0]);
    }

    #[test]
    fn files_inside_one_piece_and_a_file_ending_on_a_boundary() {
        // Three small files in piece 0, then one ending exactly at the end of piece 1.
        let files = [(0, 3), (3, 3), (6, 4), (10, 10)];
        assert_eq!(verified_bytes(files, &have(2, &[0]), 10), [3, 3, 4, 0]);
        assert_eq!(verified_bytes(files, &have(2, &[1]), 10), [0, 0, 0, 10]);
    }

    #[test]
    fn a_bitfield_that_does_not_cover_the_pieces_counts_nothing_missing() {
        // Before the session reports, `verified` may still be empty: nothing is verified.
        assert_eq!(verified_bytes([(0, 30)], &Bitfield::new(0), 10), [0]);
        assert_eq!(verified_bytes([(0, 30)], &have(3, &[0]), 0), [0]);
    }

    #[test]
    fn large_offsets_do_not_overflow() {
        let piece = 1 << 22;
        let offset = (1u64 << 40) + 7;
        let first = u32::try_from(offset / piece).unwrap();
        let got = verified_bytes([(offset, piece)], &have(first + 2, &[first]), piece);
        assert_eq!(got, [piece - 7]);
    }
}
