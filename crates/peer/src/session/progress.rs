//! What a running session shows to the outside: totals, rates and the peer list, sent on a
//! watch channel a few times a second for progress bars, status tables and live views; and the
//! numbers every display derives from them (share done, time left) with one rounding rule.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use torrentkit_wire::PeerId;

use crate::{Bitfield, PeerSource};

/// A snapshot of a running session, for progress displays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Pieces verified.
    pub have: u32,
    /// Bytes in the torrent (0 until the session's first report).
    pub total: u64,
    /// Bytes not yet verified.
    pub bytes_left: u64,
    /// Payload bytes downloaded this session.
    pub downloaded: u64,
    /// Payload bytes uploaded this session.
    pub uploaded: u64,
    /// Current download rate, bytes per second.
    pub download_rate: u64,
    /// Current upload rate, bytes per second.
    pub upload_rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Connected peers that are seeds.
    pub seeds: usize,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Every piece is verified; with file selection ([`Session::set_priorities`](super::Session::set_priorities),
    /// [`PickerConfig::priorities`](crate::PickerConfig::priorities)), every piece of priority above 0.
    pub complete: bool,
    /// Paused with [`Session::pause`](super::Session::pause): no connections until resumed.
    pub paused: bool,
    /// The verified pieces (for a resume file saved while the session runs).
    pub verified: Bitfield,
    /// Every connection, in the order they were made.
    pub peer_list: Vec<PeerInfo>,
    /// Every web seed (BEP 19/17), with its bytes and, once dropped, why.
    pub web_seeds: Vec<crate::webseed::WebSeedInfo>,
    /// While a magnet link's metadata is being fetched: how far it is (then nothing else
    /// is known yet).
    pub metadata: Option<MetadataProgress>,
}

/// The metadata phase of a magnet link, for progress displays ("fetching metadata").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataProgress {
    /// Peers asked for the metadata (they support ut_metadata) so far.
    pub peers_asked: usize,
    /// Connections open now.
    pub connections: usize,
    /// Metadata pieces (16 KiB) received.
    pub pieces: u32,
    /// Metadata pieces in all (0 until a peer gave the size).
    pub of: u32,
}

impl Progress {
    /// Verified bytes.
    pub fn done_bytes(&self) -> u64 {
        self.total - self.bytes_left.min(self.total)
    }

    /// The share of the data verified, from 0 to 1; exactly 1 only when [`complete`]
    /// (an incomplete torrent never reads as done, however little is left).
    ///
    /// [`complete`]: Progress::complete
    pub fn fraction_done(&self) -> f64 {
        if self.complete {
            1.0
        } else if self.total == 0 {
            0.0
        } else {
            (self.done_bytes() as f64 / self.total as f64).min(1.0 - f64::EPSILON)
        }
    }

    /// The share verified as a percentage for display, rounded down to a tenth: 100.0% only
    /// when [`complete`](Progress::complete).
    pub fn percent_done(&self) -> Percent {
        if self.complete {
            Percent::of(1, 1)
        } else {
            Percent::of(self.done_bytes(), self.total.max(1)).below_whole()
        }
    }

    /// Whether the session still needs data from peers: incomplete and not paused. Peers
    /// given by hand (with no tracker to name them again) are worth dialling again only then.
    pub fn wants_peers(&self) -> bool {
        !self.complete && !self.paused
    }

    /// Time until complete at the current download rate; `None` when complete, paused or not
    /// downloading at all.
    pub fn eta(&self) -> Option<Duration> {
        if self.complete || self.paused || self.download_rate == 0 {
            return None;
        }
        let (secs, rest) = (
            self.bytes_left / self.download_rate,
            self.bytes_left % self.download_rate,
        );
        // `rest < download_rate`, so the nanoseconds stay below one second.
        let nanos = u128::from(rest) * 1_000_000_000 / u128::from(self.download_rate.max(1));
        Some(Duration::new(secs, nanos as u32))
    }
}

/// A share for display, in tenths of a percent, always rounded down so that only a whole reads
/// `100.0%`; displays as `33.3%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent {
    tenths: u16,
}

impl Percent {
    /// `done` of `total`, rounded down to a tenth of a percent; an empty total is whole.
    pub fn of(done: u64, total: u64) -> Percent {
        if total == 0 {
            return Percent { tenths: 1000 };
        }
        let tenths = u128::from(done.min(total)) * 1000 / u128::from(total);
        Percent {
            tenths: tenths as u16,
        }
    }

    /// Tenths of a percent, 0 to 1000.
    pub fn tenths(self) -> u16 {
        self.tenths
    }

    /// At most 99.9%: for a share known not to be whole.
    fn below_whole(self) -> Percent {
        Percent {
            tenths: self.tenths.min(999),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padding and alignment apply to the whole `33.3%`.
        f.pad(&format!("{}.{}%", self.tenths / 10, self.tenths % 10))
    }
}

/// One connection as a live view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer's id, once its handshake arrived (`client()` names its program).
    pub peer_id: Option<PeerId>,
    /// We connected to it (rather than it to us).
    pub outgoing: bool,
    /// We are interested in its pieces.
    pub am_interested: bool,
    /// We choke it.
    pub am_choking: bool,
    /// It is interested in ours.
    pub peer_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It sends us nothing although we asked.
    pub snubbed: bool,
    /// Bytes per second we receive from it.
    pub download_rate: u64,
    /// Bytes per second we send it.
    pub upload_rate: u64,
    /// Payload bytes received from it.
    pub downloaded: u64,
    /// Payload bytes sent to it.
    pub uploaded: u64,
    /// Pieces it has announced.
    pub pieces: u32,
    /// The connection runs RC4 (protocol encryption, MSE/PE).
    pub encrypted: bool,
    /// The connection runs over uTP (BEP 29); else TCP.
    pub utp: bool,
    /// Where we learnt of it.
    pub source: PeerSource,
}

impl PeerInfo {
    /// The classic client's flag letters: `D`/`d` we download from it / are interested but
    /// choked, `U`/`u` we upload to it / it is interested but choked, `S` snubbed, `I`
    /// incoming, `E` encrypted (RC4), `P` uTP (libtorrent's letter for it).
    pub fn flags(&self) -> String {
        let mut f = String::new();
        match (self.am_interested, self.peer_choking) {
            (true, false) => f.push('D'),
            (true, true) => f.push('d'),
            _ => {}
        }
        match (self.peer_interested, self.am_choking) {
            (true, false) => f.push('U'),
            (true, true) => f.push('u'),
            _ => {}
        }
        if self.snubbed {
            f.push('S');
        }
        if !self.outgoing {
            f.push('I');
        }
        if self.encrypted {
            f.push('E');
        }
        if self.utp {
            f.push('P');
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerInfo {
        PeerInfo {
            addr: "127.0.0.1:6881".parse().unwrap(),
            peer_id: None,
            outgoing: true,
            am_interested: false,
            am_choking: true,
            peer_interested: false,
            peer_choking: true,
            snubbed: false,
            download_rate: 0,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            pieces: 0,
            encrypted: false,
            utp: false,
            source: PeerSource::Manual,
        }
    }

    #[test]
    fn percentages_round_down_so_only_complete_is_100() {
        let p = |done, total| Percent::of(done, total).to_string();
        assert_eq!(p(0, 10), "0.0%");
        assert_eq!(p(1, 3), "33.3%");
        assert_eq!(p(9_999, 10_000), "99.9%");
        assert_eq!(p(10_000, 10_000), "100.0%");
        assert_eq!(p(5, 0), "100.0%");
        assert_eq!(p(u64::MAX, u64::MAX), "100.0%");
        assert_eq!(format!("{:>6}|", Percent::of(1, 2)), " 50.0%|");
    }

    #[test]
    fn progress_is_whole_only_when_complete() {
        // 99.96% verified: a rounding display would show 100.0%.
        let mut p = Progress {
            total: 10_000,
            bytes_left: 4,
            ..Progress::default()
        };
        assert_eq!(p.done_bytes(), 9_996);
        assert_eq!(p.percent_done().to_string(), "99.9%");
        assert!(p.fraction_done() < 1.0 && p.fraction_done() > 0.999);
        p.bytes_left = 0; // all bytes in, the last piece not yet verified
        assert_eq!(p.percent_done().to_string(), "99.9%");
        assert!(p.fraction_done() < 1.0);
        p.complete = true;
        assert_eq!(p.percent_done().to_string(), "100.0%");
        assert_eq!(p.fraction_done(), 1.0);
        // Before the first report nothing is known: nothing is done.
        assert_eq!(Progress::default().fraction_done(), 0.0);
        assert_eq!(Progress::default().percent_done().to_string(), "0.0%");
        // An empty torrent is done once the session says so.
        let empty = Progress {
            complete: true,
            ..Progress::default()
        };
        assert_eq!(empty.percent_done().to_string(), "100.0%");
    }

    #[test]
    fn eta_is_bytes_left_over_the_rate_while_downloading() {
        let mut p = Progress {
            total: 50_000,
            bytes_left: 33_616,
            download_rate: 1000,
            ..Progress::default()
        };
        assert_eq!(p.eta(), Some(Duration::from_millis(33_616)));
        p.download_rate = 3;
        assert_eq!(p.eta(), Some(Duration::new(11_205, 333_333_333)));
        p.paused = true;
        assert_eq!(p.eta(), None, "paused: not downloading");
        p.paused = false;
        p.download_rate = 0;
        assert_eq!(p.eta(), None, "stalled");
        p.download_rate = 1000;
        assert!(p.wants_peers());
        p.paused = true;
        assert!(!p.wants_peers());
        p.paused = false;
        p.complete = true;
        assert_eq!(p.eta(), None, "done");
        assert!(!p.wants_peers());
    }

    #[test]
    fn flags_follow_the_classic_letters() {
        assert_eq!(peer().flags(), "");
        let downloading = PeerInfo {
            am_interested: true,
            peer_choking: false,
            ..peer()
        };
        assert_eq!(downloading.flags(), "D");
        let waiting_both_ways = PeerInfo {
            am_interested: true,
            peer_interested: true,
            outgoing: false,
            snubbed: true,
            ..peer()
        };
        assert_eq!(waiting_both_ways.flags(), "duSI");
        let uploading = PeerInfo {
            peer_interested: true,
            am_choking: false,
            ..peer()
        };
        assert_eq!(uploading.flags(), "U");
        let encrypted_in = PeerInfo {
            encrypted: true,
            outgoing: false,
            ..peer()
        };
        assert_eq!(encrypted_in.flags(), "IE");
        let over_utp = PeerInfo {
            utp: true,
            encrypted: true,
            ..peer()
        };
        assert_eq!(over_utp.flags(), "EP");
    }
}
