"""A BEP 17 HTTP seed (the BitTornado protocol) for one single-file torrent, for tests.

Usage: /usr/bin/python3 http_seed.py TORRENT DATA_FILE PORT
Answers GET /seed?info_hash=H&piece=N[&ranges=A-B,...] with the bytes of piece N (or those
ranges of it), 404 for another info-hash, 400 for a bad query. TORRENT is read at the first
request (so it may be written after the server starts). Prints `LISTENING port=P`.
"""
import hashlib
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def bdecode(data, i=0):
    """Minimal bencode decoder: returns (value, end); dictionaries keep the raw info span."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        i, out = i + 1, []
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i, out = i + 1, {}
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            start = i
            v, i = bdecode(data, i)
            out[k] = v
            if k == b"info":
                out[b"__info_raw"] = data[start:i]
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


class Seed(BaseHTTPRequestHandler):
    torrent = None
    data = None
    meta = None

    def log_message(self, fmt, *args):
        sys.stderr.write("http_seed: " + fmt % args + "\n")

    def do_GET(self):
        if Seed.meta is None:
            t, _ = bdecode(open(Seed.torrent, "rb").read())
            Seed.meta = (hashlib.sha1(t[b"__info_raw"]).digest(), t[b"info"][b"piece length"])
        info_hash, piece_length = Seed.meta
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            got = urllib.parse.unquote_to_bytes(url.query.split("info_hash=")[1].split("&")[0])
            piece = int(q["piece"][0])
        except (IndexError, KeyError, ValueError):
            return self.reply(400, b"bad query")
        if got != info_hash:
            return self.reply(404, b"unknown info_hash")
        with open(Seed.data, "rb") as f:
            f.seek(piece * piece_length)
            whole = f.read(piece_length)
        out = b""
        for r in (q.get("ranges", [""])[0] or f"0-{len(whole) - 1}").split(","):
            a, b = (int(x) for x in r.split("-"))
            out += whole[a:b + 1]
        self.reply(200, out)

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    Seed.torrent, Seed.data = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), Seed)
    print(f"LISTENING port={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
