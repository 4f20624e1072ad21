"""Load each torrent in libtorrent, check its data on disk, and print one line per torrent:
`V2 NAME HASH HAVE NUM_PIECES NUM_FILES TOTAL_SIZE` (V2: the v2 info-hash, `-` for a v1
torrent; HASH: the v1 one, zeros for a v2-only torrent; HAVE: pieces that passed libtorrent's
check).

Usage: /usr/bin/python3 check_data.py SAVE_PATH TORRENT...

Exits 1 if libtorrent cannot load a torrent or the check does not finish in 60 s.
"""
import sys
import time

import libtorrent as lt

from lt_session import loopback_session


def main():
    save_path = sys.argv[1]
    session = loopback_session()
    for path in sys.argv[2:]:
        ti = lt.torrent_info(path)
        params = lt.add_torrent_params()
        params.ti = ti
        params.save_path = save_path
        # Check only: never announce or connect anywhere.
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        params.flags |= lt.torrent_flags.upload_mode
        handle = session.add_torrent(params)
        deadline = time.time() + 60
        checked = False
        while not checked:
            if time.time() > deadline:
                sys.exit(f"{path}: libtorrent's check did not finish in 60 s")
            session.wait_for_alert(100)
            for alert in session.pop_alerts():
                if isinstance(alert, lt.torrent_checked_alert) and alert.handle == handle:
                    checked = True
                elif isinstance(alert, lt.torrent_error_alert) and alert.handle == handle:
                    sys.exit(f"{path}: libtorrent: {alert.message()}")
        st = handle.status()
        fs = ti.files()
        hashes = ti.info_hashes()
        print(hashes.v2 if hashes.has_v2() else "-", ti.name(), hashes.v1, st.num_pieces, ti.num_pieces(), fs.num_files(),
              fs.total_size(), flush=True)
        session.remove_torrent(handle)


if __name__ == "__main__":
    main()
