"""A libtorrent peer that finds others only through the torrent's tracker (DHT, LSD and PEX off).

Usage: /usr/bin/python3 tracker_lt_peer.py (seed|download) TORRENT DIR [--timeout S]
  seed:     DIR holds the data; prints `SEEDING port=P` once checked and announced, then seeds
            until killed or the timeout.
  download: saves into DIR; prints `COMPLETE` and exits 0 when done, exits 1 at the timeout.
Tracker replies and errors are printed as they come, so the log shows what the tracker said.
"""
import sys
import time

import libtorrent as lt
from lt_session import loopback_session


def main():
    mode, torrent, directory = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 120
    s = loopback_session(extra={"enable_dht": False, "enable_lsd": False})
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = directory
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    # No ut_pex: peers may only come from the tracker.
    p.flags |= lt.torrent_flags.disable_pex
    h = s.add_torrent(p)
    start = time.time()
    announced = False
    ready = False
    while time.time() - start < timeout:
        for a in s.pop_alerts():
            if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert, lt.tracker_warning_alert)):
                print(f"{type(a).__name__}: {a.message()}", flush=True)
            if isinstance(a, lt.tracker_reply_alert):
                announced = True
        st = h.status()
        if mode == "seed":
            if st.is_seeding and announced and not ready:
                print(f"SEEDING port={s.listen_port()}", flush=True)
                ready = True
            if st.state == lt.torrent_status.downloading and st.progress < 1.0 and st.num_pieces == 0 \
                    and st.total_wanted > 0 and time.time() - start > 10:
                print("ERROR: seed data missing", flush=True)
                return 2
        else:
            if st.is_seeding or (st.is_finished and st.progress >= 1.0):
                print(f"COMPLETE in {time.time() - start:.1f}s peers={st.num_peers}", flush=True)
                return 0
        time.sleep(0.2)
    print(f"TIMEOUT after {timeout}s state={h.status().state} progress={h.status().progress}", flush=True)
    return 0 if mode == "seed" else 1


if __name__ == "__main__":
    sys.exit(main())
