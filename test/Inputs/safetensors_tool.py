#!/usr/bin/python3
"""Writes and dumps safetensors files for lit tests, independently of moec.

  safetensors_tool.py write OUT NAME=DTYPE:D0xD1... [...]
      Each tensor holds arange(n) * 0.5 (floats) or arange(n) % 100
      (integers), so tests can check exact values.
  safetensors_tool.py dump FILE
      One line per tensor: name, dtype, shape and the first four values.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}


def bf16_bytes(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return (bits >> 16).astype(np.uint16).tobytes()


def write(out, specs):
    header, blobs, offset = {}, [], 0
    for spec in specs:
        name, rest = spec.split("=", 1)
        dtype, dims = rest.split(":", 1)
        shape = [int(d) for d in dims.split("x")] if dims else []
        count = int(np.prod(shape)) if shape else 1
        if dtype == "BF16":
            data = bf16_bytes(np.arange(count) * 0.5)
        elif np.issubdtype(DTYPES[dtype], np.floating):
            data = (np.arange(count) * 0.5).astype(DTYPES[dtype]).tobytes()
        else:
            data = (np.arange(count) % 100).astype(DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def dump(path):
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    for name in sorted(k for k in header if k != "__metadata__"):
        entry = header[name]
        begin, end = entry["data_offsets"]
        raw = data[base + begin:base + end]
        if entry["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(raw, dtype=DTYPES[entry["dtype"]])
        shape = "x".join(str(d) for d in entry["shape"])
        print(name, entry["dtype"], shape,
              " ".join(repr(v.item()) for v in values[:4]))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        sys.exit(__doc__)
