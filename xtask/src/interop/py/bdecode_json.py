"""Decode bencoded files with libtorrent's own decoder and write them as JSON, with the same
conventions as `bt decode`: UTF-8 byte strings become strings, others {"$hex": "..."}, non-UTF-8
dictionary keys "$hex:...", integers stay integers.

Usage: /usr/bin/python3 bdecode_json.py IN OUT [IN OUT ...]
"""
import json
import sys

import libtorrent as lt


def text_or_none(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def key(k):
    if isinstance(k, str):
        return k
    text = text_or_none(k)
    return text if text is not None else "$hex:" + k.hex()


def to_json(v):
    if isinstance(v, bool):
        raise TypeError("libtorrent decoded a bool, which bencode cannot hold")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        text = text_or_none(v)
        return text if text is not None else {"$hex": v.hex()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {key(k): to_json(x) for k, x in v.items()}
    raise TypeError(f"unexpected {type(v).__name__} from lt.bdecode")


def main(args):
    if not args or len(args) % 2:
        sys.exit("usage: bdecode_json.py IN OUT [IN OUT ...]")
    for src, dst in zip(args[0::2], args[1::2]):
        with open(src, "rb") as f:
            raw = f.read()
        try:
            value = lt.bdecode(raw)
        except RuntimeError as err:
            sys.exit(f"{src}: libtorrent cannot decode it: {err}")
        if value is None:
            sys.exit(f"{src}: libtorrent cannot decode it")
        with open(dst, "w", encoding="utf-8") as f:
            json.dump(to_json(value), f)
        print(f"decoded {src}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
