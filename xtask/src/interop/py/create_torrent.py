"""Create a .torrent with libtorrent (lt.create_torrent) and print its v1 info-hash in hex
(with --both, its v1 and v2 info-hashes, separated by a space; a v2-only torrent's v1 is zeros).

Usage: /usr/bin/python3 create_torrent.py [--piece-size N] [--tracker URL] [--comment TEXT]
           [--v1-only | --v2-only] [--both] SOURCE OUT
"""
import argparse
import os

import libtorrent as lt


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--piece-size", type=int, default=32768)
    p.add_argument("--tracker", action="append", default=[])
    p.add_argument("--comment")
    p.add_argument("--v1-only", action="store_true")
    p.add_argument("--v2-only", action="store_true")
    p.add_argument("--both", action="store_true")
    p.add_argument("source")
    p.add_argument("out")
    a = p.parse_args()

    fs = lt.file_storage()
    lt.add_files(fs, a.source)
    if fs.num_files() == 0:
        raise SystemExit(f"{a.source}: no files to put in a torrent")
    flags = lt.create_torrent.v1_only if a.v1_only else 0
    if a.v2_only:
        flags = lt.create_torrent.v2_only
    t = lt.create_torrent(fs, a.piece_size, flags=flags)
    for url in a.tracker:
        t.add_tracker(url)
    if a.comment:
        t.set_comment(a.comment)
    t.set_creator("torrentkit interop (libtorrent " + lt.__version__ + ")")
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(a.source)))
    with open(a.out, "wb") as f:
        f.write(lt.bencode(t.generate()))
    hashes = lt.torrent_info(a.out).info_hashes()
    if a.both:
        print(hashes.v1, hashes.v2, flush=True)
    else:
        print(hashes.v1, flush=True)


if __name__ == "__main__":
    main()
