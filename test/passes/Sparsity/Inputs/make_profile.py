#!/usr/bin/python3
"""Writes a routing profile for the one-layer test modules of this directory.

usage: make_profile.py OUT.json [--experts E]

E = 4 experts (top_k 2, hidden 4, intermediate 2) seen on 50 tokens:
  routed tokens  [50, 5, 30, 15]     frequency order 0, 2, 3, 1
  saliency sums  [50, 20, 15, 30]    means 1, 4, 0.5, 2: order 1, 3, 0, 2
  ratio w2/w1    10 tokens below 0.05, 10 in [0.15, 0.2), 30 in [0.5, 0.55)
  mean outputs   experts 0 and 2 point the same way, 1 and 3 elsewhere
and OUT.safetensors beside it. With --experts other than 4, the profile
describes a model the test modules are not (for the mismatch error).
"""

import json
import struct
import sys

import numpy as np

out = sys.argv[1]
experts = int(sys.argv[3]) if len(sys.argv) > 3 else 4
H, I = 4, 2
routed = [50, 5, 30, 15] + [0] * (experts - 4)
saliency = [50.0, 20.0, 15.0, 30.0] + [0.0] * (experts - 4)
histogram = [0] * 20
histogram[0], histogram[3], histogram[10] = 10, 10, 30
co = np.zeros((experts, experts), dtype=int)
for e, n in enumerate(routed):
    co[e, e] = n
co[0, 2] = co[2, 0] = 25
co[0, 3] = co[3, 0] = 15
co[0, 1] = co[1, 0] = 5
layer = {
    "layer": 0, "experts": experts, "top_k": 2, "hidden": H,
    "intermediate": I, "tokens": 50, "routed_tokens": routed,
    "weight_sum": [0.5 * n for n in routed], "saliency_sum": saliency,
    "coselection": co.tolist(),
    "weight_ratio": [{"rank": 2, "count": 50, "sum": 17.0, "min": 0.01,
                      "max": 0.54, "histogram": histogram}],
}
sidecar = out[:-5] + ".safetensors"
profile = {"format": "moec-routing-profile", "version": 1, "model": "test",
           "sidecar": sidecar.rsplit("/", 1)[-1], "layers": [layer]}
with open(out, "w") as f:
    json.dump(profile, f)

directions = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0.01, 0, 0], [0, 0, 1, 0]],
                      dtype=np.float32)
tensors = {
    "layers.0.expert_output_mean": np.resize(directions, (experts, H)),
    "layers.0.expert_input_mean_abs": np.ones((experts, H), np.float32),
    "layers.0.expert_hidden_mean_abs": np.ones((experts, I), np.float32),
}
header, data = {}, b""
for name, value in tensors.items():
    raw = value.astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(value.shape),
                    "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sidecar, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
