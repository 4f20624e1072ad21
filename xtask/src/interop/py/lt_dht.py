"""libtorrent with the DHT on, on loopback (after ../shared/interop/lt_dht.py).

Usage: lt_dht.py node --port P [--bootstrap H:P] [--time S] [--flood-ok]
       lt_dht.py seed TORRENT DATA_DIR --port P --bootstrap H:P [--time S]
       lt_dht.py get MAGNET SAVE_DIR --port P --bootstrap H:P [--timeout S]

What libtorrent 2.0 needs to run a DHT on 127.0.0.1 (found by trying, see crates/dht/README.md):
`dht_restrict_routing_ips`, `dht_restrict_search_ips`, `dht_enforce_node_id`,
`dht_prefer_verified_node_ids` and `dht_ignore_dark_internet` off, and the bootstrap node added
with `add_dht_node` (entries of `dht_bootstrap_nodes` are only routers and never enter its
routing table). A seed is announced with `force_dht_announce` once the nodes have met.

`node` prints `NODE port=P dht_nodes=N live=H:P,...` every second (its routing table's nodes,
from `dht_live_nodes` asked with our node's id); `--flood-ok` lifts its per-IP rate limit for the benchmark. `seed`
prints `SEEDING port=P` and re-announces every 2 s; `get` exits 0 once complete (`RESULT ok`).
"""
import argparse
import sys
import time

import libtorrent as lt
from lt_session import loopback_session

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["node", "seed", "get"])
ap.add_argument("args", nargs="*")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--bootstrap", default="")
ap.add_argument("--time", type=float, default=120)
ap.add_argument("--timeout", type=float, default=120)
ap.add_argument("--flood-ok", action="store_true")
a = ap.parse_args()

settings = {
    "enable_dht": True,
    "dht_bootstrap_nodes": "",
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_enforce_node_id": False,
    "dht_prefer_verified_node_ids": False,
    "dht_ignore_dark_internet": False,
    "alert_mask": lt.alert_category.dht | lt.alert_category.status | lt.alert_category.error,
}
if a.flood_ok:
    # The benchmark floods from one address: no per-IP blocking, room for many torrents.
    # The benchmark floods from one address: no per-IP blocking, no DHT upload cap (8 kB/s by
    # default), room for many torrents.
    settings.update({"dht_block_ratelimit": 1000000, "dht_upload_rate_limit": 100000000,
                     "dht_max_torrents": 100000, "dht_max_peers": 100000,
                     "dht_max_dht_items": 100000})
ses = loopback_session(a.port, extra=settings)
port = ses.listen_port()
if a.bootstrap:
    host, p = a.bootstrap.rsplit(":", 1)
    ses.add_dht_node((host, int(p)))
t0 = time.time()


def dht_nodes():
    return getattr(ses.status(), "dht_nodes", -1)


live = []


def pump():
    """Reads alerts: the live nodes answer, and the announce replies."""
    global live
    said = False
    for al in ses.pop_alerts():
        if isinstance(al, lt.dht_live_nodes_alert):
            live = [f"{n['endpoint'][0]}:{n['endpoint'][1]}" for n in al.nodes]
        if isinstance(al, lt.dht_reply_alert):
            said = True
    return said


if a.mode == "node":
    while time.time() - t0 < a.time:
        # The live nodes of our own node: its id is the first 20 bytes of `node-id` in the
        # saved state (the last 4 are its address).
        ids = ses.save_state().get(b"dht state", {}).get(b"node-id", [])
        if ids:
            ses.dht_live_nodes(lt.sha1_hash(ids[0][:20]))
        time.sleep(1)
        pump()
        print(f"NODE port={port} dht_nodes={dht_nodes()} live={','.join(live)}", flush=True)
    sys.exit(0)

if a.mode == "seed":
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.args[0])
    p.trackers = []
else:
    p = lt.parse_magnet_uri(a.args[0])
p.save_path = a.args[1]
h = ses.add_torrent(p)
said_seeding = False
limit = a.time if a.mode == "seed" else a.timeout
last_announce = 0.0
while time.time() - t0 < limit:
    time.sleep(0.2)
    if pump():
        print("ANNOUNCED", flush=True)
    st = h.status()
    if a.mode == "seed":
        if st.is_seeding and not said_seeding:
            print(f"SEEDING port={port} dht_nodes={dht_nodes()}", flush=True)
            said_seeding = True
        if st.is_seeding and time.time() - last_announce > 2:
            h.force_dht_announce()
            last_announce = time.time()
    elif st.is_seeding or st.progress >= 1.0:
        print(f"RESULT ok {time.time() - t0:.1f}s dht_nodes={dht_nodes()}", flush=True)
        sys.exit(0)
print(f"RESULT timeout state={h.status().state} progress={h.status().progress:.3f} "
      f"dht_nodes={dht_nodes()}", flush=True)
sys.exit(0 if a.mode == "seed" else 1)
