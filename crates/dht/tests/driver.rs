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

/// Restart: a node that saved its state comes back on a new port with the saved id and table
/// and finds peers with no bootstrap router at all.
#[tokio::test]
async fn a_restarted_node_looks_up_from_its_saved_table_without_bootstrap() {
    use torrentkit_dht::{SavedState, SearchEvent};
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let a = Dht::bind(loopback, config(11)).await.unwrap();
    let info_hash = NodeId([0x42; 20]);
    // c announces through a, which stores it.
    let c = Dht::bind(loopback, config(13)).await.unwrap();
    c.bootstrap(&[a.local_addr()]).await.unwrap();
    assert_eq!(c.announce(info_hash, 7000, false).await.unwrap(), 1);

    let b = Dht::bind(loopback, config(12)).await.unwrap();
    b.bootstrap(&[a.local_addr()]).await.unwrap();
    let saved = SavedState::decode(&b.saved_state().await.unwrap().encode()).unwrap();
    assert!(saved.nodes.iter().any(|n| n.addr == a.local_addr()));
    drop(b);

    let mut restarted = config(99);
    restarted.id = Some(saved.id);
    let b = Dht::bind(loopback, restarted).await.unwrap();
    b.restore(saved.nodes.clone()).unwrap();
    let mut events = b.search(info_hash, None).unwrap();
    let mut peers = Vec::new();
    let mut done = None;
    while let Some(event) = events.recv().await {
        match event {
            SearchEvent::Peers(p) => peers.extend(p),
            SearchEvent::Done { nodes } => done = Some(nodes),
            other => panic!("a plain search does not announce: {other:?}"),
        }
    }
    // The saved table holds a and c (a named c): both answer.
    assert_eq!(saved.nodes.len(), 2);
    assert_eq!(done, Some(2), "the saved nodes answered");
    assert_eq!(peers, vec![SocketAddr::from(([127, 0, 0, 1], 7000))]);
    assert_eq!(
        b.stats().await.unwrap().queries_sent,
        4,
        "a ping and a get_peers to each saved node, no bootstrap"
    );
}
