//! The BEP 5 `nodes` key of a trackerless torrent: DHT contacts as `[host, port]` pairs,
//! read leniently (entries that are not a string and a port are skipped, as libtorrent does)
//! and written by [`TorrentBuilder::dht_node`](crate::TorrentBuilder::dht_node).

use torrentkit_bencode::{decode, Value};

use crate::torrent::Torrent;

/// The most `nodes` entries read from a torrent: contacts to start from, not a routing table.
pub(crate) const MAX_NODES: usize = 64;

impl Torrent {
    /// The torrent's DHT contacts (BEP 5 `nodes`: `[["host", port], ...]`), at most 64;
    /// malformed entries are skipped.
    pub fn dht_nodes(&self) -> Vec<(String, u16)> {
        let Some(bytes) = self.entry(b"nodes") else {
            return Vec::new();
        };
        let Ok(value) = decode(bytes) else {
            return Vec::new();
        };
        let Some(list) = value.as_list() else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|entry| {
                let [host, port] = entry.as_list()? else {
                    return None;
                };
                let host = host.as_str().filter(|h| !h.is_empty())?;
                let port = u16::try_from(port.as_int()?).ok().filter(|p| *p != 0)?;
                Some((host.to_owned(), port))
            })
            .take(MAX_NODES)
            .collect()
    }
}

/// The `nodes` value for `nodes`.
pub(crate) fn nodes_value(nodes: &[(String, u16)]) -> Value<'_> {
    Value::List(
        nodes
            .iter()
            .map(|(host, port)| {
                Value::List(vec![
                    Value::from(host.as_str()),
                    Value::Int(i64::from(*port)),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use crate::{Torrent, TorrentBuilder};

    #[test]
    fn nodes_round_trip_and_bad_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"hello").unwrap();
        let t = TorrentBuilder::new(dir.path().join("a"))
            .dht_node("127.0.0.1", 6881)
            .dht_node("router.example", 1)
            .build()
            .unwrap();
        assert_eq!(
            t.dht_nodes(),
            [
                ("127.0.0.1".to_owned(), 6881),
                ("router.example".to_owned(), 1)
            ]
        );
        let again = Torrent::from_bytes(&t.to_bytes()).unwrap();
        assert_eq!(again.dht_nodes(), t.dht_nodes());
        let info =
            "4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let odd = format!("d{info}5:nodesll1:hi70000eei5el1:hi7eeee");
        let t = Torrent::from_bytes(odd.as_bytes()).unwrap();
        assert_eq!(t.dht_nodes(), [("h".to_owned(), 7)]);
    }
}
