//! The torrent's connection policy on its own: the pool and the cap, pausing and resuming, and
//! the refusal of banned addresses (bans themselves are exercised by the swarm simulation).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Action, Torrent, TorrentConfig};
use crate::{Bitfield, CloseReason, ConnId};

fn torrent(max_connections: usize) -> Torrent {
    let mut cfg = TorrentConfig::new([1; 20], [2; 20], 1 << 20, 1 << 16, 7);
    cfg.max_connections = max_connections;
    Torrent::new(cfg, &Bitfield::new(16))
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 6881))
}

fn actions(t: &mut Torrent) -> Vec<Action> {
    std::iter::from_fn(|| t.poll_action()).collect()
}

fn dials(t: &mut Torrent) -> Vec<(ConnId, SocketAddr)> {
    actions(t)
        .into_iter()
        .map(|a| match a {
            Action::Connect { conn, addr } => (conn, addr),
            other => panic!("expected only dials, got {other:?}"),
        })
        .collect()
}

#[test]
fn the_cap_holds_and_the_pool_fills_freed_slots() {
    let now = Instant::now();
    let mut t = torrent(2);
    for i in 1..=5 {
        t.add_peer(addr(i));
    }
    t.add_peer(addr(1));
    let first = dials(&mut t);
    assert_eq!(
        first.iter().map(|d| d.1).collect::<Vec<_>>(),
        [addr(1), addr(2)],
        "two dials at a cap of two, in the order given"
    );
    assert_eq!((t.dialling(), t.pool_len()), (2, 3));
    // A failed dial frees its slot for the next address.
    t.handle_connect_failed(first[0].0);
    let next = dials(&mut t);
    assert_eq!(next.iter().map(|d| d.1).collect::<Vec<_>>(), [addr(3)]);
    assert!(t.handle_connected(now, first[1].0));
    assert!(t.handle_connected(now, next[0].0));
    assert_eq!(t.connections().count(), 2);
    assert!(
        dials(&mut t).is_empty(),
        "at the cap: nothing more is dialled"
    );
    assert_eq!(
        t.handle_incoming(now, SocketAddr::from(([10, 0, 1, 1], 50000))),
        None,
        "an incoming peer at the cap is refused"
    );
    assert!(
        !t.handle_connected(now, first[0].0),
        "a report for a failed dial is ignored"
    );
    // A socket that closes frees its slot too.
    t.remove_connection(first[1].0);
    assert_eq!(
        dials(&mut t).iter().map(|d| d.1).collect::<Vec<_>>(),
        [addr(4)]
    );
    assert_eq!(t.connections().count(), 1);
}

#[test]
fn pause_closes_everything_and_resume_dials_the_same_peers_again() {
    let now = Instant::now();
    let mut t = torrent(10);
    t.add_peer(addr(1));
    t.add_peer(addr(2));
    let d = dials(&mut t);
    assert!(t.handle_connected(now, d[0].0));
    let incoming = SocketAddr::from(([10, 0, 0, 9], 50000));
    let inc = t.handle_incoming(now, incoming).expect("accepted");
    assert_eq!(t.peer_addr(inc), Some(incoming));
    assert_eq!(t.is_outgoing(inc), Some(false));
    assert_eq!(t.is_outgoing(d[0].0), Some(true));

    t.pause();
    assert!(t.is_paused());
    let closed: Vec<ConnId> = actions(&mut t)
        .into_iter()
        .map(|a| match a {
            Action::Close {
                conn,
                reason: CloseReason::Local,
            } => conn,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(closed, [d[0].0, inc]);
    assert_eq!((t.connections().count(), t.dialling()), (0, 0));
    assert!(
        !t.handle_connected(now, d[1].0),
        "a dial that completes during the pause is dropped"
    );
    assert_eq!(t.handle_incoming(now, incoming), None, "paused: refused");
    t.add_peer(addr(3));
    assert!(dials(&mut t).is_empty(), "paused: nothing is dialled");

    t.resume();
    assert_eq!(
        dials(&mut t).iter().map(|d| d.1).collect::<Vec<_>>(),
        [addr(1), addr(2), addr(3)],
        "the peers we had dialled first (not the one that dialled us), then the pool"
    );
}

#[test]
fn banned_addresses_are_refused_and_never_dialled() {
    let now = Instant::now();
    let mut t = torrent(10);
    let bad = SocketAddr::from(([10, 0, 0, 66], 50000));
    let id = t.handle_incoming(now, bad).expect("accepted");
    t.add_peer(SocketAddr::from(([10, 0, 0, 66], 6881)));
    t.ban(id);
    let acts = actions(&mut t);
    assert!(
        acts.first()
            .is_some_and(|a| matches!(a, Action::Connect { addr, .. } if addr.ip() == bad.ip())),
        "the dial started before the ban: {acts:?}"
    );
    assert!(acts.contains(&Action::Ban { conn: id }));
    assert!(acts.contains(&Action::Close {
        conn: id,
        reason: CloseReason::BadData
    }));
    assert!(t.is_banned(bad.ip()));
    let dial = match acts[0] {
        Action::Connect { conn, .. } => conn,
        _ => unreachable!(),
    };
    assert!(
        !t.handle_connected(now, dial),
        "a dial to a banned address that completes after the ban is dropped"
    );
    assert_eq!(t.handle_incoming(now, bad), None);
    t.add_peer(SocketAddr::from(([10, 0, 0, 66], 6882)));
    assert!(
        actions(&mut t).is_empty(),
        "no port of a banned address is dialled"
    );
}

/// Moves bytes between the torrent's connection `id` and a remote connection until both are
/// quiet.
fn exchange(now: Instant, t: &mut Torrent, id: ConnId, remote: &mut crate::connection::Connection) {
    loop {
        let mut busy = false;
        while let Some(b) = t.poll_transmit(id) {
            busy = true;
            remote.handle_bytes(now, b.into());
        }
        while let Some(b) = remote.poll_transmit() {
            busy = true;
            t.handle_bytes(now, id, b.into());
        }
        if !busy {
            return;
        }
    }
}

/// BEP 6: a peer that chokes us but allows piece 3 fast is asked for piece 3's blocks (and
/// only those) while it keeps choking.
#[test]
fn a_choked_downloader_requests_its_allowed_fast_pieces() {
    use crate::connection::{ConnEvent, Connection, ConnectionConfig};
    let now = Instant::now();
    let mut t = torrent(4);
    let mut remote = Connection::new(ConnectionConfig::new([1; 20], [9; 20], 16), now);
    let id = t.handle_incoming(now, addr(7)).unwrap();
    exchange(now, &mut t, id, &mut remote);
    assert!(remote.fast(), "both sides speak the fast extension");
    remote.send_bitfield(now, &Bitfield::full(16));
    exchange(now, &mut t, id, &mut remote);
    let requested = |remote: &mut Connection| {
        std::iter::from_fn(|| remote.poll_event())
            .filter_map(|e| match e {
                ConnEvent::ReadBlock(r) => Some(r),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(
        requested(&mut remote).is_empty(),
        "choked: nothing requested"
    );
    remote.send_allowed_fast(now, 3);
    exchange(now, &mut t, id, &mut remote);
    let reqs = requested(&mut remote);
    assert_eq!(reqs.len(), 4, "piece 3's four blocks: {reqs:?}");
    assert!(reqs.iter().all(|r| r.piece == 3), "{reqs:?}");
    for r in reqs {
        remote.send_block(now, r, &vec![0u8; r.len as usize]);
    }
    exchange(now, &mut t, id, &mut remote);
    let verify: Vec<Action> = actions(&mut t)
        .into_iter()
        .filter(|a| matches!(a, Action::Disk(crate::DiskJob::Verify { piece: 3 })))
        .collect();
    assert_eq!(verify.len(), 1, "piece 3 arrived whole while choked");
}

/// PEX: received peers join the pool with their source, at most 100 per family and never with
/// port 0; a private torrent (BEP 27) takes none.
#[test]
fn pex_peers_join_the_pool_bounded_and_never_for_private_torrents() {
    use std::net::SocketAddrV4;
    use torrentkit_wire::{PexFlags, PexMessage};
    let now = Instant::now();
    let mut msg = PexMessage::default();
    for i in 0..3000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a01_0000 + i);
        msg.added.push((SocketAddrV4::new(ip, 6881), PexFlags(0)));
    }
    msg.added
        .insert(0, (SocketAddrV4::new([10, 9, 9, 9].into(), 0), PexFlags(0)));
    let mut t = torrent(1);
    t.pex_received(&msg);
    assert_eq!(
        t.dialling() + t.pool_len(),
        99,
        "100 taken, the port-0 one skipped"
    );
    let (conn, first) = dials(&mut t)[0];
    assert!(t.handle_connected(now, conn));
    assert_eq!(t.peer_addr(conn), Some(first));
    assert_eq!(t.peer_source(conn), Some(crate::PeerSource::Pex));

    let mut cfg = TorrentConfig::new([1; 20], [2; 20], 1 << 20, 1 << 16, 7);
    cfg.connection.pex = false;
    let mut private = Torrent::new(cfg, &Bitfield::new(16));
    private.pex_received(&msg);
    assert_eq!(private.dialling() + private.pool_len(), 0);
}

#[test]
fn pex_flags_are_truthful() {
    let f = super::pex_flags(true, true, false, true);
    assert_eq!(f.0, 0x01 | 0x02 | 0x10);
    assert_eq!(super::pex_flags(false, false, false, false).0, 0);
    // A peer reached over uTP (the driver's `set_utp`) gets BEP 11's 0x04.
    assert_eq!(super::pex_flags(false, false, true, true).0, 0x04 | 0x10);
}
