//! The seed's own view of what it already gave out: for [`REFUSAL_WINDOW`] after a piece went
//! to one connected peer, a seed rejects (BEP 6, with a suggest of a piece it has not given out)
//! requests for it from others, so N fast downloaders take distinct pieces from the seed and
//! trade the rest among themselves, whatever client they run. After the window the piece is
//! served to anyone who still asks (nobody they know had it), so no one is starved; peers
//! without the fast extension (who cannot be told "no") are always served. Only a torrent that
//! started complete (the original seed, whose upload is scarce) refuses: one that became a seed
//! by downloading serves everyone.

use std::time::{Duration, Instant};

use crate::{BlockRequest, ConnId};

/// How long a piece given to one peer is refused to the others.
pub(super) const REFUSAL_WINDOW: Duration = Duration::from_secs(30);

/// Which peer took each piece from us, and when.
#[derive(Debug)]
pub(super) struct SeedView {
    /// Per piece, the connection that took it first and when (`None`: not given out, or its
    /// taker left).
    given_to: Vec<Option<(ConnId, Instant)>>,
    /// Whether refusals are made at all (the torrent started complete).
    active: bool,
}

impl SeedView {
    pub(super) fn new(pieces: u32, active: bool) -> Self {
        SeedView {
            given_to: vec![None; pieces as usize],
            active,
        }
    }

    /// Whether `id` may have the block `r` at `now`; `true` also records `id` as the piece's
    /// taker when it had none.
    pub(super) fn may_serve(&mut self, now: Instant, id: ConnId, r: BlockRequest) -> bool {
        let Some(slot) = self
            .given_to
            .get_mut(r.piece as usize)
            .filter(|_| self.active)
        else {
            return true;
        };
        match *slot {
            None => {
                *slot = Some((id, now));
                true
            }
            Some((taker, _)) if taker == id => true,
            Some((_, at)) => now >= at + REFUSAL_WINDOW,
        }
    }

    /// A piece never given out that `id` lacks, searched from `after` on: what to suggest
    /// with a refusal, so the peer asks for something we will serve.
    pub(super) fn suggestion(&self, after: u32, lacks: impl Fn(u32) -> bool) -> Option<u32> {
        let n = self.given_to.len() as u32;
        (1..=n)
            .map(|k| (after + k) % n)
            .find(|&p| self.given_to[p as usize].is_none() && lacks(p))
    }

    /// A connection closed: the pieces it took and had not announced (`had` says which it
    /// had) left with it, so they are free to give again; the others are in the swarm.
    pub(super) fn remove_peer(&mut self, id: ConnId, had: impl Fn(u32) -> bool) {
        for (piece, slot) in self.given_to.iter_mut().enumerate() {
            if slot.is_some_and(|(taker, _)| taker == id) && !had(piece as u32) {
                *slot = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_goes_to_one_taker_and_others_are_refused_for_a_while() {
        let t0 = Instant::now();
        let (a, b) = (ConnId(1), ConnId(2));
        let blk = |piece, offset| BlockRequest {
            piece,
            offset,
            len: 16384,
        };
        let mut became = SeedView::new(3, false);
        assert!(became.may_serve(t0, a, blk(0, 0)) && became.may_serve(t0, b, blk(0, 0)));
        let mut v = SeedView::new(3, true);
        assert!(v.may_serve(t0, a, blk(0, 0)));
        assert!(
            v.may_serve(t0, a, blk(0, 16384)),
            "the taker keeps getting its piece"
        );
        assert!(
            !v.may_serve(t0, b, blk(0, 0)),
            "another peer is refused piece 0"
        );
        assert_eq!(
            v.suggestion(0, |_| true),
            Some(1),
            "and told to take piece 1"
        );
        let later = t0 + REFUSAL_WINDOW;
        assert!(
            v.may_serve(later, b, blk(0, 0)),
            "after the window it is served"
        );
        assert!(v.may_serve(t0, b, blk(1, 0)), "piece 1 goes to b");
        assert!(!v.may_serve(t0, a, blk(1, 0)));
        v.remove_peer(a, |p| p == 0);
        assert!(
            !v.may_serve(t0, b, blk(0, 16384)),
            "a left with piece 0: it is in the swarm"
        );
        v.remove_peer(b, |_| false);
        assert!(
            v.may_serve(t0, a, blk(1, 16384)),
            "b left without piece 1: it is free again"
        );
    }
}
