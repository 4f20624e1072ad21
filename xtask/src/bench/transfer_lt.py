"""libtorrent seed or download for `cargo xtask bench transfer`, loopback only, no tracker.

Usage: /usr/bin/python3 transfer_lt.py seed TORRENT DIR [--rc4] [--utp]
       /usr/bin/python3 transfer_lt.py download TORRENT DIR --peer HOST:PORT [--rc4] [--utp]
  --rc4:    protocol encryption forced both ways, RC4 only.
  --utp:    uTP only, TCP off both ways (shared/interop/lt_forced.py utp's settings).
  seed:     trusts the data in DIR (seed mode), prints `SEEDING port=P`, serves until killed.
  download: connects to the peer, exits 0 once complete (prints `COMPLETE`), 1 after 300 s.
"""
import sys
import time

import libtorrent as lt


def main():
    mode, torrent, directory = sys.argv[1], sys.argv[2], sys.argv[3]
    peer = sys.argv[sys.argv.index("--peer") + 1] if "--peer" in sys.argv else None
    s = lt.high_performance_seed() if mode == "seed" else lt.default_settings()
    s.update({
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "min_reconnect_time": 1,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": lt.alert_category.error,
    })
    if "--rc4" in sys.argv:
        # 0 = pe_forced for both policies; allowed_enc_level 2 = RC4 only.
        s.update({"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": True})
    if "--utp" in sys.argv:
        s.update({"enable_outgoing_utp": True, "enable_incoming_utp": True,
                  "enable_outgoing_tcp": False, "enable_incoming_tcp": False})
    ses = lt.session(s)
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = directory
    if mode == "seed":
        p.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(p)
    if peer:
        host, port = peer.rsplit(":", 1)
        h.connect_peer((host, int(port)))
    start = time.time()
    ready = False
    while time.time() - start < 300:
        st = h.status()
        if st.errc.value() != 0:
            print(f"ERROR: {st.errc.message()}", flush=True)
            return 2
        if mode == "seed":
            if st.is_seeding and not ready:
                print(f"SEEDING port={ses.listen_port()}", flush=True)
                ready = True
            time.sleep(0.2)
        else:
            if st.is_seeding or (st.is_finished and st.progress >= 1.0):
                print(f"COMPLETE in {time.time() - start:.2f}s", flush=True)
                return 0
            time.sleep(0.02)
    return 0 if mode == "seed" else 1


if __name__ == "__main__":
    sys.exit(main())
