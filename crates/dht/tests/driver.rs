//! The tokio driver between two instances on 127.0.0.1, port 0.

use std::net::SocketAddr;

use torrentkit_dht::{Config, Dht, NodeId};

fn config(seed: u64) -> Config {
    let mut config = Config::default();
    config.seed = seed;
    config
}

#[tokio::test]
async fn two_drivers_on_loopback_bootstrap_and_announce() {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let a = Dht::bind(loopback, config(1)).await.unwrap();
    let b = Dht::bind(loopback, config(2)).await.unwrap();
    assert_ne!(a.local_addr().port(), 0);

    let joined = a.bootstrap(&[b.local_addr()]).await.unwrap();
    assert_eq!(
        joined.closest.iter().map(|n| n.addr).collect::<Vec<_>>(),
        vec![b.local_addr()]
    );
    // b learnt a from its query.
    assert_eq!(
        b.nodes()
            .await
            .unwrap()
            .iter()
            .map(|n| n.addr)
            .collect::<Vec<_>>(),
        vec![a.local_addr()]
    );

    let info_hash = NodeId([0x77; 20]);
    assert_eq!(
        a.announce(info_hash, 6881, false).await.unwrap(),
        1,
        "b took the announce"
    );
    let stats = b.stats().await.unwrap();
    assert_eq!((stats.stored_info_hashes, stats.stored_peers), (1, 1));

    // b looks the torrent up; a has no peers for it, so b only learns a's id and a token.
    let found = b.get_peers(info_hash).await.unwrap();
    assert_eq!(
        found.closest.iter().map(|n| n.addr).collect::<Vec<_>>(),
        vec![a.local_addr()]
    );
    assert!(found.peers.is_empty());
    // With a third node that asks b, the announced peer is found.
    let c = Dht::bind(loopback, config(3)).await.unwrap();
    c.bootstrap(&[b.local_addr()]).await.unwrap();
    let found = c.get_peers(info_hash).await.unwrap();
    assert_eq!(found.peers, vec![SocketAddr::from(([127, 0, 0, 1], 6881))]);
    assert!(a.stats().await.unwrap().answers_sent >= 1);
}
