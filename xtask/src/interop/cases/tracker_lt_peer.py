"""A libtorrent peer that finds others only through the torrents' trackers (DHT, LSD and PEX off).

Usage: /usr/bin/python3 tracker_lt_peer.py (seed|download) TORRENT... DIR [--timeout S] [--rc4] [--utp] [--insecure-https] [--upload-rate BYTES]
  seed:     DIR holds the data of every TORRENT; prints `SEEDING port=P` once all are checked and
            announced, then seeds until killed or the timeout.
  download: saves into DIR; prints `COMPLETE` and exits 0 when all are done, exits 1 at the timeout.
  --rc4:    protocol encryption forced both ways, RC4 only (a plaintext peer is refused).
  --upload-rate BYTES: cap the session's upload to BYTES per second (streaming cases).
  --utp:    uTP only, TCP off both ways (shared/interop/lt_forced.py utp's settings); every
            peer met is printed once as `PEER ip:port utp=0|1`.
  --insecure-https: announce to https:// trackers whose certificate is the test's own CA's
            (libtorrent's validate_https_trackers off).
All torrents share one session (one listening port). Tracker replies and errors are printed as
they come, so the log shows what the tracker said.
"""
import sys
import time

import libtorrent as lt
from lt_session import loopback_session


def main():
    args = sys.argv[1:]
    timeout = 120.0
    if "--timeout" in args:
        at = args.index("--timeout")
        timeout = float(args[at + 1])
        del args[at:at + 2]
    rc4 = "--rc4" in args
    if rc4:
        args.remove("--rc4")
    utp = "--utp" in args
    if utp:
        args.remove("--utp")
    extra = {"enable_dht": False, "enable_lsd": False}
    if "--upload-rate" in args:
        at = args.index("--upload-rate")
        extra["upload_rate_limit"] = int(args[at + 1])
        del args[at:at + 2]
    if "--insecure-https" in args:
        args.remove("--insecure-https")
        extra["validate_https_trackers"] = False
    if len(args) < 3 or args[0] not in ("seed", "download"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, torrents, directory = args[0], args[1:-1], args[-1]
    s = loopback_session(extra=extra)
    if "upload_rate_limit" in extra:
        # Peers on 127.0.0.1 are in libtorrent's unlimited local class: put every address in
        # the global class so the cap applies on loopback too.
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        s.set_peer_class_filter(f)
    if rc4:
        # 0 = pe_forced for both policies; allowed_enc_level 2 = RC4 only.
        s.apply_settings({"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": True})
    if utp:
        s.apply_settings({"enable_outgoing_utp": True, "enable_incoming_utp": True,
                          "enable_outgoing_tcp": False, "enable_incoming_tcp": False})
    # peer_info::utp_socket (bit 17; the Python binding does not name it).
    utp_socket = 1 << 17
    met = set()
    handles = []
    for torrent in torrents:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(torrent)
        p.save_path = directory
        p.flags &= ~lt.torrent_flags.auto_managed
        p.flags &= ~lt.torrent_flags.paused
        # No ut_pex: peers may only come from the tracker.
        p.flags |= lt.torrent_flags.disable_pex
        handles.append(s.add_torrent(p))
    start = time.time()
    announced = set()
    ready = False
    while time.time() - start < timeout:
        for a in s.pop_alerts():
            if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert, lt.tracker_warning_alert)):
                print(f"{type(a).__name__}: {a.message()}", flush=True)
            if isinstance(a, lt.tracker_reply_alert):
                announced.add(str(a.handle.info_hashes().v1))
        if utp:
            for h in handles:
                for peer in h.get_peer_info():
                    key = (peer.ip, bool(peer.flags & utp_socket))
                    if key not in met:
                        met.add(key)
                        print(f"PEER {peer.ip[0]}:{peer.ip[1]} utp={int(key[1])}", flush=True)
        statuses = [h.status() for h in handles]
        if mode == "seed":
            if not ready and all(st.is_seeding for st in statuses) and len(announced) >= len(handles):
                print(f"SEEDING port={s.listen_port()}", flush=True)
                ready = True
            for st in statuses:
                if st.state == lt.torrent_status.downloading and st.progress < 1.0 and st.num_pieces == 0 \
                        and st.total_wanted > 0 and time.time() - start > 10:
                    print(f"ERROR: seed data missing for {st.name}", flush=True)
                    return 2
        else:
            if all(st.is_seeding or (st.is_finished and st.progress >= 1.0) for st in statuses):
                peers = sum(st.num_peers for st in statuses)
                print(f"COMPLETE in {time.time() - start:.1f}s peers={peers}", flush=True)
                return 0
        time.sleep(0.2)
    for h in handles:
        st = h.status()
        print(f"TIMEOUT after {timeout}s {st.name} state={st.state} progress={st.progress}", flush=True)
    return 0 if mode == "seed" else 1


if __name__ == "__main__":
    sys.exit(main())
