#!/usr/bin/env python3
"""Known-answer vectors for torrentkit-wire's MSE, computed independently of the Rust code:
Diffie-Hellman with Python's own pow(), SHA-1 from hashlib, and RC4 written out here by hand.
Run `python3 make_vectors.py > vectors.txt` from this folder; the Rust tests read vectors.txt.
Lines are `name hex`. Every input is fixed, so the output never changes."""
import hashlib

P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374F"
    "E1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
G = 2


def rc4(key):
    """A generator of RC4 keystream bytes."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    while True:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        yield s[(s[i] + s[j]) % 256]


class Stream:
    def __init__(self, key):
        self.ks = rc4(key)
        for _ in range(1024):  # MSE discards the first 1,024 bytes
            next(self.ks)

    def apply(self, data):
        return bytes(b ^ next(self.ks) for b in data)


def sha1(*parts):
    return hashlib.sha1(b"".join(parts)).digest()


def be96(n):
    return n.to_bytes(96, "big")


xa = bytes(range(1, 21))            # initiator's private key (160 bits)
xb = bytes(range(101, 121))         # responder's private key
skey = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")  # the info-hash
pad_a = b"\xaa" * 5
pad_b = b"\xbb" * 7
# IA: a BitTorrent handshake (reserved bits zero, peer id "-TK0010-" + 12 x "p").
ia = b"\x13BitTorrent protocol" + b"\x00" * 8 + skey + b"-TK0010-" + b"p" * 12
payload_b = b"bitfield-from-b"      # what B sends after step 4
payload_a = b"request-from-a"       # what A sends after step 4

ya = be96(pow(G, int.from_bytes(xa, "big"), P))
yb = be96(pow(G, int.from_bytes(xb, "big"), P))
s = be96(pow(int.from_bytes(yb, "big"), int.from_bytes(xa, "big"), P))
assert s == be96(pow(int.from_bytes(ya, "big"), int.from_bytes(xb, "big"), P))

req1 = sha1(b"req1", s)
req23 = bytes(x ^ y for x, y in zip(sha1(b"req2", skey), sha1(b"req3", s)))
enc_a = Stream(sha1(b"keyA", s, skey))
enc_b = Stream(sha1(b"keyB", s, skey))
ks_a = Stream(sha1(b"keyA", s, skey)).apply(b"\x00" * 16)
ks_b = Stream(sha1(b"keyB", s, skey)).apply(b"\x00" * 16)

step1 = ya + pad_a
step2 = yb + pad_b
step3 = req1 + req23 + enc_a.apply(
    b"\x00" * 8 + (2).to_bytes(4, "big") + (0).to_bytes(2, "big") + len(ia).to_bytes(2, "big") + ia)
step4 = enc_b.apply(b"\x00" * 8 + (2).to_bytes(4, "big") + (0).to_bytes(2, "big")) + enc_b.apply(payload_b)
step5 = enc_a.apply(payload_a)

for name, value in [
    ("xa", xa), ("xb", xb), ("skey", skey), ("pad_a", pad_a), ("pad_b", pad_b), ("ia", ia),
    ("payload_a", payload_a), ("payload_b", payload_b),
    ("ya", ya), ("yb", yb), ("s", s), ("req1", req1), ("req2_xor_req3", req23),
    ("keystream_a", ks_a), ("keystream_b", ks_b),
    ("step1", step1), ("step2", step2), ("step3", step3), ("step4", step4), ("step5", step5),
]:
    print(name, value.hex())
