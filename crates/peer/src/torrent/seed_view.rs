//! The seed's own view of what it already gave out: a seed rejects (BEP 6) a request for a
//! piece another connected peer already took from it, once per peer and block, so N fast
//! downloaders take distinct pieces from the seed and trade the rest among themselves. A peer
//! that asks again (its picker had nothing else to ask us for: nobody else it knows has the
//! piece) is served, so no one is starved; peers without the fast extension (who cannot be
//! told "no") are always served.

use std::collections::HashSet;

use crate::{BlockRequest, ConnId};

/// Most refusals remembered; past it every request is served (a bound on memory).
const MAX_REFUSALS: usize = 1 << 16;

/// Which peer took each piece from us, and whom we refused what.
#[derive(Debug)]
pub(super) struct SeedView {
    /// Per piece, the connection that took it first (`None`: not given out, or its taker left).
    given_to: Vec<Option<ConnId>>,
    /// The blocks we refused once, per connection: asked for again, they are served.
    refused: HashSet<(ConnId, u32, u32)>,
}

impl SeedView {
    pub(super) fn new(pieces: u32) -> Self {
        SeedView {
            given_to: vec![None; pieces as usize],
            refused: HashSet::new(),
        }
    }

    /// Whether `id` may have a block of `piece` now; `true` also records `id` as its taker
    /// when it had none, `false` remembers the refusal (the next ask is served).
    pub(super) fn may_serve(&mut self, id: ConnId, r: BlockRequest) -> bool {
        let Some(slot) = self.given_to.get_mut(r.piece as usize) else {
            return true;
        };
        match *slot {
            None => {
                *slot = Some(id);
                true
            }
            Some(taker) if taker == id => true,
            // A block asked for again after its refusal is served (and forgotten).
            Some(_) => {
                self.refused.len() >= MAX_REFUSALS
                    || !self.refused.insert((id, r.piece, r.offset))
            }
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

    /// A connection closed: the pieces it took may have left with it, so they are free to give
    /// again.
    pub(super) fn remove_peer(&mut self, id: ConnId) {
        self.refused.retain(|&(c, _, _)| c != id);
        for slot in &mut self.given_to {
            if *slot == Some(id) {
                *slot = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_goes_to_one_taker_and_others_are_refused_once() {
        let (a, b) = (ConnId(1), ConnId(2));
        let blk = |piece, offset| BlockRequest {
            piece,
            offset,
            len: 16384,
        };
        let mut v = SeedView::new(2);
        assert!(v.may_serve(a, blk(0, 0)));
        assert!(v.may_serve(a, blk(0, 16384)), "the taker keeps getting its piece");
        assert!(!v.may_serve(b, blk(0, 0)), "another peer is refused piece 0");
        assert!(!v.may_serve(b, blk(0, 16384)), "every block of it, once");
        assert!(v.may_serve(b, blk(0, 0)), "asked again, a block is served");
        assert!(v.may_serve(b, blk(1, 0)), "piece 1 goes to b");
        assert!(!v.may_serve(a, blk(1, 0)));
        v.remove_peer(b);
        assert!(v.may_serve(a, blk(1, 16384)), "the taker left: piece 1 is free again");
    }
}
