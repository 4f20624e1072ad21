//! Profiling aid: decode a document through one crate's serde path in a loop, so that
//! `valgrind --tool=callgrind` counts instructions for that path alone.
//! Usage: prof_serde (torrentkit|librqbit|bt_bencode) (reply|torrent) N
use torrentkit_bench::bencode::docs;
use torrentkit_bench::bencode::types::{Reply, ReplyOwned, Torrent};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let krate = args.get(1).map(String::as_str).unwrap_or("torrentkit");
    let doc = args.get(2).map(String::as_str).unwrap_or("reply");
    let n: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(2000);
    let bytes = match doc {
        "reply" => docs::tracker_reply().bytes,
        _ => docs::torrent_20kb().bytes,
    };
    let mut total = 0usize;
    for _ in 0..n {
        total += match (krate, doc) {
            ("torrentkit-owned", "reply") => torrentkit_bencode::from_bytes::<ReplyOwned>(&bytes).unwrap().peers.len(),
            ("librqbit-owned", "reply") => librqbit_bencode::from_bytes::<ReplyOwned>(&bytes).unwrap().peers.len(),
            ("torrentkit", "reply") => torrentkit_bencode::from_bytes::<Reply<'_>>(&bytes).unwrap().peers.len(),
            ("librqbit", "reply") => librqbit_bencode::from_bytes::<Reply<'_>>(&bytes).unwrap().peers.len(),
            ("bt_bencode", "reply") => bt_bencode::from_slice::<Reply<'_>>(&bytes).unwrap().peers.len(),
            ("torrentkit", _) => torrentkit_bencode::from_bytes::<Torrent<'_>>(&bytes).unwrap().info.files.len(),
            ("librqbit", _) => librqbit_bencode::from_bytes::<Torrent<'_>>(&bytes).unwrap().info.files.len(),
            ("bt_bencode", _) => bt_bencode::from_slice::<Torrent<'_>>(&bytes).unwrap().info.files.len(),
            _ => panic!("unknown crate"),
        };
    }
    println!("{total}");
}
