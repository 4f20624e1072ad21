"""Print the v1 info-hash (hex) of each .torrent, as libtorrent computes it, one per line.

Usage: /usr/bin/python3 infohash.py TORRENT...
"""
import sys

import libtorrent as lt

for path in sys.argv[1:]:
    print(lt.torrent_info(path).info_hashes().v1, flush=True)
