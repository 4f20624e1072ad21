"""libtorrent in the magnet and PEX interop cases: no tracker, DHT or LSD; peers only from
--peer (connect_peer) and, when PEX is on, from ut_pex.

Usage: /usr/bin/python3 lt_magnet.py MODE SOURCE DIR [options]
  seed TORRENT DIR      seeds DIR's data; prints `SEEDING port=P`, then seeds until killed.
  download TORRENT DIR  downloads from --peer peers; prints `COMPLETE` and exits 0.
  fetch MAGNET DIR      adds the magnet link, prints `METADATA seconds=S` when the metadata is in,
                        then `COMPLETE` (exits 0) once the data is, or exits at once with
                        --metadata-only.
Every mode first prints `LISTENING port=P`.
Options: --peer H:P (repeatable; connected to again every 2 s until connected), --pex (ut_pex on;
otherwise off), --upload-limit and --download-limit BYTES_PER_S, --timeout S, --watch-pex H:P (print
`PEX_PEER H:P source=N` once that peer shows in the peer list with the pex source flag, and exit
0), --metadata-only.
"""
import sys
import time

import libtorrent as lt
from lt_session import loopback_session


def take(args, flag, many=False, default=None):
    values = []
    while flag in args:
        at = args.index(flag)
        values.append(args[at + 1])
        del args[at:at + 2]
    return values if many else (values[-1] if values else default)


def flag(args, name):
    if name in args:
        args.remove(name)
        return True
    return False


def main():
    args = sys.argv[1:]
    peers = take(args, "--peer", many=True)
    timeout = float(take(args, "--timeout", default="120"))
    upload = int(take(args, "--upload-limit", default="0"))
    download = int(take(args, "--download-limit", default="0"))
    watch = take(args, "--watch-pex")
    pex = flag(args, "--pex")
    metadata_only = flag(args, "--metadata-only")
    if len(args) != 3 or args[0] not in ("seed", "download", "fetch"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, source, directory = args
    s = loopback_session(extra={"enable_dht": False, "enable_lsd": False})
    if mode == "fetch":
        p = lt.parse_magnet_uri(source)
    else:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(source)
    p.save_path = directory
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    if not pex:
        p.flags |= lt.torrent_flags.disable_pex
    if upload:
        p.upload_limit = upload
    if download:
        p.download_limit = download
    h = s.add_torrent(p)
    start = time.time()
    while s.listen_port() == 0 and time.time() - start < 10:
        time.sleep(0.01)
    print(f"LISTENING port={s.listen_port()}", flush=True)
    last_connect = 0.0
    have_metadata = mode != "fetch"
    announced = False
    while time.time() - start < timeout:
        for a in s.pop_alerts():
            if isinstance(a, lt.metadata_received_alert):
                have_metadata = True
                print(f"METADATA seconds={time.time() - start:.3f}", flush=True)
                if metadata_only:
                    return 0
        st = h.status()
        if time.time() - last_connect > 2 and st.num_peers < len(peers):
            last_connect = time.time()
            for peer in peers:
                host, port = peer.rsplit(":", 1)
                try:
                    h.connect_peer((host, int(port)))
                except Exception as e:  # a peer not there yet: try again later
                    print(f"connect_peer {peer}: {e}", flush=True)
        if mode == "seed" and not announced and st.is_seeding:
            print(f"SEEDING port={s.listen_port()}", flush=True)
            announced = True
        if watch:
            for pi in h.get_peer_info():
                addr = f"{pi.ip[0]}:{pi.ip[1]}"
                if addr == watch and pi.source & lt.peer_info.pex:
                    print(f"PEX_PEER {addr} source={pi.source}", flush=True)
                    return 0
        if mode != "seed" and have_metadata and not watch and (st.is_seeding or st.is_finished):
            print(f"COMPLETE in {time.time() - start:.1f}s", flush=True)
            return 0
        s.wait_for_alert(20)
    st = h.status()
    print(f"TIMEOUT after {timeout}s state={st.state} progress={st.progress} peers={st.num_peers}",
          flush=True)
    if watch:
        for pi in h.get_peer_info():
            print(f"peer {pi.ip[0]}:{pi.ip[1]} source={pi.source}", flush=True)
    return 0 if mode == "seed" else 1


if __name__ == "__main__":
    sys.exit(main())
