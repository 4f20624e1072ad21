//! Which peers an announce on the Redis store reads, planned by the tracker: plain `ZRANGE`
//! calls by rank, beside the announce script in the same pipeline, rather than a draw inside the
//! script. Redis answers a `ZRANGE` straight from the sorted set, while a script pays for every
//! member it touches as a Lua string (about 18 us of Redis CPU per announce at 50 peers).
//!
//! The plan comes from the counts this tracker last saw for the swarm, which may be a few
//! announces old; a stale count only shifts the window or makes it a little shorter or longer.
//! The counts in the announce's reply stay exact. Plain code, no I/O: the caller gives the start.

/// Ranks `start..=stop` of one sorted set, as `ZRANGE key start stop` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) stop: usize,
}

/// The spans to read from one sorted set: none, one, or two when the run wraps round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Spans([Option<Span>; 2]);

impl Spans {
    pub(crate) fn iter(&self) -> impl Iterator<Item = Span> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// What to read for one announce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) leechers: Spans,
    pub(crate) seeders: Spans,
}

/// `n` consecutive members (by announce time, wrapping round) of a set last seen with `size`
/// members, from rank `start % size`, as opentracker takes a run from a random start: each peer
/// is in with chance `n / size`; none for `n = 0`. A set seen no larger than `n` (empty included: peers may have
/// joined it since, through this tracker or another) is read from its start instead, ranks
/// `0..=cap`: the whole set and those that joined since, up to `cap + 1`.
fn run(size: usize, n: usize, start: u64, cap: usize) -> Spans {
    if n == 0 {
        return Spans::default();
    }
    if n >= size {
        return head(cap);
    }
    let r = (start % size as u64) as usize;
    let first = Span {
        // Past the end as seen: a set that grew since gives more here, one that shrank less.
        start: r,
        stop: r + n - 1,
    };
    let wrapped = (r + n > size).then(|| Span {
        start: 0,
        stop: r + n - 1 - size,
    });
    Spans([Some(first), wrapped])
}

/// Ranks `0..=cap`.
fn head(cap: usize) -> Spans {
    Spans([
        Some(Span {
            start: 0,
            stop: cap,
        }),
        None,
    ])
}

/// The share of `want` that comes from the seeders, in proportion to the swarm (opentracker's
/// and the in-memory store's rule); none for a requester given no seeds.
pub(crate) fn from_seeds(want: usize, seeders: usize, leechers: usize, no_seeds: bool) -> usize {
    if no_seeds || seeders == 0 {
        return 0;
    }
    seeders.min((want * seeders).div_ceil(seeders + leechers))
}

/// The reads for an announce asking `want` peers, from the counts last seen (`None`: this
/// tracker has not seen the swarm yet) and a random `start`. One more than wanted is read, for
/// the requester may be among them (the caller skips it).
pub(crate) fn plan(seen: Option<(usize, usize)>, want: usize, no_seeds: bool, start: u64) -> Plan {
    if want == 0 {
        return Plan::default();
    }
    let Some((seeders, leechers)) = seen else {
        // Nothing known: the first `want + 1` of each set.
        return Plan {
            leechers: head(want),
            seeders: if no_seeds {
                Spans::default()
            } else {
                head(want)
            },
        };
    };
    let want_seeds = from_seeds(want, seeders, leechers, no_seeds);
    let n_leechers = want - want_seeds + 1;
    let n_seeders = want + 1 - leechers.min(n_leechers);
    Plan {
        leechers: run(leechers, n_leechers, start, want),
        // A different start for the seeders: the two runs are drawn independently.
        seeders: if no_seeds {
            Spans::default()
        } else {
            run(seeders, n_seeders, start.rotate_left(32), want)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(s: Spans) -> Vec<(usize, usize)> {
        s.iter().map(|s| (s.start, s.stop)).collect()
    }

    #[test]
    fn a_run_inside_the_set_is_one_span_and_one_past_the_end_wraps() {
        let p = plan(Some((0, 100)), 50, false, 10);
        assert_eq!(spans(p.leechers), [(10, 60)]);
        // The leechers fill the draw: no seeder is read.
        assert_eq!(spans(p.seeders), []);
        let p = plan(Some((0, 100)), 50, false, 80);
        // 51 ranks from 80: 80..=99 then 0..=30 (ranks past 99 give the peers that joined since).
        assert_eq!(spans(p.leechers), [(80, 130), (0, 30)]);
        // The start is taken modulo the size.
        assert_eq!(
            plan(Some((0, 100)), 50, false, 310),
            plan(Some((0, 100)), 50, false, 10)
        );
    }

    #[test]
    fn small_or_unknown_sets_are_read_from_the_start_up_to_one_more_than_wanted() {
        let p = plan(Some((2, 3)), 50, false, 7);
        assert_eq!(spans(p.leechers), [(0, 50)]);
        assert_eq!(spans(p.seeders), [(0, 50)]);
        let p = plan(None, 10, false, 7);
        assert_eq!(
            (spans(p.leechers), spans(p.seeders)),
            (vec![(0, 10)], vec![(0, 10)])
        );
        let p = plan(None, 10, true, 7);
        assert_eq!(spans(p.seeders), []);
        // A set seen empty is read too: the seed seen alone is given the leecher that joined
        // through another tracker since.
        let p = plan(Some((1, 0)), 50, true, 7);
        assert_eq!(spans(p.leechers), [(0, 50)]);
        assert_eq!(plan(Some((5, 5)), 0, false, 1), Plan::default());
        // Seeders seen none but the leechers fall short: the seeders' first ones are read.
        assert_eq!(spans(plan(Some((0, 20)), 50, false, 1).seeders), [(0, 50)]);
    }

    #[test]
    fn seeds_get_their_share_in_proportion_and_none_for_a_seed() {
        assert_eq!(from_seeds(50, 100, 300, false), 13);
        assert_eq!(from_seeds(50, 100, 300, true), 0);
        assert_eq!(from_seeds(50, 0, 300, false), 0);
        assert_eq!(from_seeds(50, 3, 0, false), 3);
        // 1000 seeders, 1000 leechers, 50 wanted: 26 leecher ranks (25 + the requester's
        // place) and 25 seeder ranks.
        let p = plan(Some((1000, 1000)), 50, false, 0);
        assert_eq!(
            p.leechers
                .iter()
                .map(|s| s.stop - s.start + 1)
                .sum::<usize>(),
            26
        );
        assert_eq!(
            p.seeders
                .iter()
                .map(|s| s.stop - s.start + 1)
                .sum::<usize>(),
            25
        );
        let p = plan(Some((1000, 1000)), 50, true, 0);
        assert_eq!(
            p.leechers
                .iter()
                .map(|s| s.stop - s.start + 1)
                .sum::<usize>(),
            51
        );
        assert_eq!(spans(p.seeders), []);
    }

    #[test]
    fn every_rank_is_reached_by_some_start() {
        let mut hit = [false; 30];
        for start in 0..30 {
            for s in run(30, 4, start, 3).iter() {
                for r in s.start..=s.stop {
                    hit[r % 30] = true;
                }
            }
        }
        assert!(hit.iter().all(|&h| h));
    }
}
