"""Print, as one JSON object, the file paths libtorrent gives every torrent it loads:
{"FILE.torrent": [["path/of/file", is_pad], ...], ...}. Torrents it rejects are left out.

Usage: /usr/bin/python3 lt_paths.py TORRENT...
"""
import json
import os
import sys

import libtorrent as lt

out = {}
for path in sys.argv[1:]:
    try:
        ti = lt.torrent_info(path)
    except RuntimeError:
        continue
    fs = ti.files()
    out[os.path.basename(path)] = [
        [fs.file_path(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)]
        for i in range(fs.num_files())
    ]
print(json.dumps(out))
