#!/usr/bin/python3
"""Record real peer wire exchanges between libtorrent and aria2c on loopback, as fixture files.

Run with Debian's /usr/bin/python3 (python3-libtorrent imports only there) and aria2c installed:

    /usr/bin/python3 crates/wire/test_data/captures/record.py crates/wire/test_data/captures

Each scenario starts the real programs on 127.0.0.1 and makes the downloader reach the seed
through a recording TCP proxy (bound to port 0), which forwards bytes unchanged and appends each
direction to its own file: SCENARIO/<sender>.bin holds exactly what that program sent, in order.
aria2c learns the proxy's address from a tiny HTTP tracker in this script (it has no option to
add a peer directly); libtorrent is told with connect_peer. The torrent is written to
SCENARIO/test.torrent so the tests can check blocks and metadata against its hashes.

Every step has a deadline; nothing uses a fixed port. The captures are deterministic in shape
(which messages), not in bytes (peer ids and timing differ from run to run).
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import libtorrent as lt

FILE_LEN = 40000          # three pieces: 16384, 16384, 7232 bytes
PIECE_LEN = 16384
DEADLINE = 60.0
LOG = open(os.environ.get("CAPTURE_LOG", os.devnull), "ab")


def settings(port):
    return {
        "listen_interfaces": f"127.0.0.1:{port}",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True, "min_reconnect_time": 1,
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        # Plain BitTorrent only: no protocol encryption, so the capture is the wire protocol.
        "out_enc_policy": 2, "in_enc_policy": 2,
        "alert_mask": 0,
        # Keep seed-to-finished-peer connections open (the pex scenario needs them to last).
        "close_redundant_connections": False,
    }


def session():
    ses = lt.session(settings(0))
    return ses


def listen_port(ses):
    return ses.listen_port()


class Proxy:
    """Accepts connections on 127.0.0.1:0 and forwards them to `target`, recording both ways."""

    def __init__(self, target, downloader_name, seed_name, out_dir):
        self.target = target
        self.names = (downloader_name, seed_name)
        self.out_dir = out_dir
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.threads = []
        self.connections = 0
        self.done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.5)
        while not self.done.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            # Each connection is recorded apart; `close` keeps the one that spoke plain
            # BitTorrent (aria2c first tries an encrypted handshake, which the seed refuses).
            n = self.connections
            self.connections += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for src, dst, name in ((client, upstream, self.names[0]), (upstream, client, self.names[1])):
                t = threading.Thread(target=self._pump, args=(src, dst, f"{name}.{n}"), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, name):
        path = os.path.join(self.out_dir, f"{name}.bin")
        open(path, "ab").close()
        with open(path, "ab") as out:
            src.settimeout(1.0)
            while not self.done.is_set():
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                out.write(data)
                out.flush()
                try:
                    dst.sendall(data)
                except OSError:
                    break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.done.set()
        self.sock.close()
        for t in self.threads:
            t.join(timeout=5)
        kept = None
        for n in range(self.connections):
            paths = [os.path.join(self.out_dir, f"{name}.{n}.bin") for name in self.names]
            first = open(paths[0], "rb").read(20) if os.path.exists(paths[0]) else b""
            if kept is None and first == b"\x13BitTorrent protocol":
                kept = n
                for name, path in zip(self.names, paths):
                    os.replace(path, os.path.join(self.out_dir, f"{name}.bin"))
            else:
                for path in paths:
                    if os.path.exists(path):
                        os.remove(path)
        if kept is None:
            raise SystemExit(f"no plain BitTorrent connection among {self.connections} recorded")


class Tracker:
    """An HTTP tracker that answers every announce with one compact peer: the proxy."""

    def __init__(self):
        self.peer = None
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                peers = b""
                if tracker.peer:
                    peers = socket.inet_aton("127.0.0.1") + tracker.peer.to_bytes(2, "big")
                body = b"d8:intervali1800e5:peers%d:%se" % (len(peers), peers)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client hung up (a stopped event), nothing to do

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/announce"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def make_torrent(work, tracker_url):
    data_dir = os.path.join(work, "seed")
    os.makedirs(data_dir)
    # Deterministic content: SHA-1 chained blocks.
    content = bytearray()
    block = b"torrentkit-wire capture"
    while len(content) < FILE_LEN:
        block = hashlib.sha1(block).digest()
        content += block
    with open(os.path.join(data_dir, "data.bin"), "wb") as f:
        f.write(content[:FILE_LEN])
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(data_dir, "data.bin"))
    ct = lt.create_torrent(fs, PIECE_LEN, flags=lt.create_torrent.v1_only)
    ct.add_tracker(tracker_url)
    lt.set_piece_hashes(ct, data_dir)
    torrent = lt.bencode(ct.generate())
    path = os.path.join(work, "test.torrent")
    with open(path, "wb") as f:
        f.write(torrent)
    return path, data_dir


def wait(what, predicate, deadline=DEADLINE):
    end = time.time() + deadline
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def lt_seed(torrent, data_dir):
    ses = session()
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = data_dir
    h = ses.add_torrent(p)
    wait("libtorrent seed", lambda: h.status().is_seeding)
    return ses, h


def lt_download(torrent, save_dir, peer_port, magnet=False):
    ses = session()
    p = lt.add_torrent_params()
    ti = lt.torrent_info(torrent)
    if magnet:
        p.info_hashes = ti.info_hashes()
    else:
        p.ti = ti
    p.save_path = save_dir
    h = ses.add_torrent(p)
    h.connect_peer(("127.0.0.1", peer_port))
    wait("libtorrent download", lambda: h.status().is_seeding)
    return ses, h


def aria2(args, cwd):
    return subprocess.Popen(
        ["aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
         "--enable-peer-exchange=false", "--interface=127.0.0.1", "--bt-external-ip=127.0.0.1",
         "--no-conf=true", "--auto-save-interval=0", "--console-log-level=warn",
         "--summary-interval=0", "--bt-require-crypto=false", "--bt-min-crypto-level=plain",
         "--file-allocation=none", "--allow-overwrite=true"] + args,
        cwd=cwd, stdout=LOG, stderr=subprocess.STDOUT)


def scenario(name, out_root, run):
    out_dir = os.path.join(out_root, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    work = tempfile.mkdtemp(prefix="wire-capture-")
    tracker = Tracker()
    try:
        torrent, data_dir = make_torrent(work, tracker.url)
        shutil.copy(torrent, os.path.join(out_dir, "test.torrent"))
        run(out_dir, work, torrent, data_dir, tracker)
    finally:
        tracker.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{name}: " + ", ".join(
        f"{f} {os.path.getsize(os.path.join(out_dir, f))} bytes" for f in sorted(os.listdir(out_dir))))


def lt_to_lt(out_dir, work, torrent, data_dir, tracker, magnet=False):
    seed, _ = lt_seed(torrent, data_dir)
    proxy = Proxy(("127.0.0.1", listen_port(seed)), "downloader-libtorrent", "seed-libtorrent", out_dir)
    dl, _ = lt_download(torrent, os.path.join(work, "dl"), proxy.port, magnet=magnet)
    time.sleep(0)  # the download is complete; close both ends cleanly
    del dl
    proxy.close()
    del seed


def lt_to_aria2(out_dir, work, torrent, data_dir, tracker, magnet=False):
    seed, _ = lt_seed(torrent, data_dir)
    proxy = Proxy(("127.0.0.1", listen_port(seed)), "downloader-aria2", "seed-libtorrent", out_dir)
    tracker.peer = proxy.port
    dl_dir = os.path.join(work, "dl")
    os.makedirs(dl_dir)
    if magnet:
        ih = lt.torrent_info(torrent).info_hashes().v1
        target = f"magnet:?xt=urn:btih:{ih}&tr={urllib.parse.quote(tracker.url, safe='')}"
    else:
        target = torrent
    proc = aria2(["--dir", dl_dir, "--listen-port", str(free_port()), "--seed-time=0",
                  "--bt-stop-timeout=30", "--bt-save-metadata=false", target], work)
    try:
        proc.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("aria2c did not finish the download in time")
    if proc.returncode != 0:
        raise SystemExit(f"aria2c failed with status {proc.returncode}")
    proxy.close()
    del seed


def aria2_to_lt(out_dir, work, torrent, data_dir, tracker):
    port = free_port()
    proc = aria2(["--dir", data_dir, "--listen-port", str(port), "--check-integrity=true",
                  "--seed-ratio=0.0", "--seed-time=1", torrent], work)
    try:
        # Ready when its port accepts connections.
        def accepting():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait("aria2c seed listening", accepting)
        proxy = Proxy(("127.0.0.1", port), "downloader-libtorrent", "seed-aria2", out_dir)
        dl, _ = lt_download(torrent, os.path.join(work, "dl"), proxy.port)
        del dl
        proxy.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def lt_pex(out_dir, work, torrent, data_dir, tracker):
    """A seed connected to two peers that want nothing (all priorities 0) so the connections
    stay up until the seed's first ut_pex message (libtorrent sends one a minute)."""
    seed, _ = lt_seed(torrent, data_dir)
    proxy = Proxy(("127.0.0.1", listen_port(seed)), "peer-libtorrent", "seed-libtorrent", out_dir)
    peers = []
    for port in (proxy.port, listen_port(seed)):
        ses = session()
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(torrent)
        p.save_path = os.path.join(work, f"idle-{port}")
        p.file_priorities = [0]
        h = ses.add_torrent(p)
        h.connect_peer(("127.0.0.1", port))
        peers.append((ses, h))
    first = os.path.join(out_dir, "seed-libtorrent.0.bin")

    def seen_pex():
        # A ut_pex payload always carries the `added` key; the message may still be in flight
        # when it is first seen, so wait a moment after that.
        return os.path.exists(first) and b"5:added" in open(first, "rb").read()
    wait("the seed's ut_pex message", seen_pex, deadline=100)
    time.sleep(0.5)
    peers.clear()
    proxy.close()
    del seed


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    if shutil.which("aria2c") is None:
        raise SystemExit("aria2c not found: apt-get install -y aria2")
    only = set(sys.argv[2:])
    runs = [
        ("libtorrent-to-libtorrent", lt_to_lt),
        ("libtorrent-to-aria2", lt_to_aria2),
        ("aria2-to-libtorrent", aria2_to_lt),
        ("magnet-libtorrent-to-libtorrent", lambda *a: lt_to_lt(*a, magnet=True)),
        ("magnet-libtorrent-to-aria2", lambda *a: lt_to_aria2(*a, magnet=True)),
        ("pex-libtorrent", lt_pex),
    ]
    for name, run in runs:
        if not only or name in only:
            scenario(name, out_root, run)


if __name__ == "__main__":
    main()
