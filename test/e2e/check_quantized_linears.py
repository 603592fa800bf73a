#!/usr/bin/python3
"""--quantize on whole models: every dense layer, against float64 numpy.

For test checkpoints of each family (test/models/hf_models.py), compile
with `--quantize=SCHEME` (which also quantizes the attention projections,
dense and shared-expert MLPs and the LM head: --quantize-linears' default)
and run the binary on the case's ids, as one prompt and token by token
(--chunk 1). The reference is the case's float64 forward pass (the HF
semantics of hf_models.py) on weights replaced by numpy's emulation of the
scheme (check_quant.quantize): every expert matrix and every 2-D weight of
those roles, along its input dimension; the router, the shared-expert gate,
norms, biases and the embedding table keep their stored values (a tied LM
head is quantized as a copy; the embedding still reads the stored table).
DeepSeek runs in both MLA forms: decompressed, kv_b_proj is a linear like
the others; compressed (the default), it is split into the per-head
products of the absorbed form and stays as stored.

Tolerance: max|y - ref| <= 1e-5 * max|ref|, the checkpoint suite's fp32
tolerance (run_checkpoints.py): the dequantized weights are exact in both,
only summation order differs. The same logits must miss the reference in
which only the experts are quantized by more than 100x the tolerance, so
a dense layer left in float cannot pass.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_quant  # noqa: E402

TOLERANCE = 1e-5
# (case, extra moec flags)
CASES = (("llama", []), ("qwen2_moe", []), ("olmoe", []), ("deepseek_v3", []),
         ("deepseek_v3", ["--mla=decompressed"]), ("gpt_oss", []), ("mixtral-bf16", []))
SCHEMES = ("int8", "int4-g32")

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj", "q_a_proj", "q_b_proj",
             "kv_a_proj_with_mqa", "kv_b_proj")


def role(name, compressed_mla):
    """What moec's --quantize-linears calls the weight `name`, or "experts"
    for an expert matrix, or None for a tensor that stays as stored."""
    if not name.endswith(".weight") and "experts." not in name:
        return None
    if compressed_mla and name.endswith("kv_b_proj.weight"):
        return None
    if ".experts." in name:
        if name.endswith("_bias"):
            return None
        return "experts"
    parts = name.split(".")
    if "self_attn" in parts and parts[-2] in ATTENTION:
        return "attention"
    if "shared_expert" in parts or "shared_experts" in parts:
        return "shared_expert"
    if parts[-2] in ("gate_proj", "up_proj", "down_proj") and "mlp" in parts:
        return "mlp"
    if name == "lm_head.weight":
        return "lm_head"
    return None


def quantized_weights(W, cfg, scheme, roles, compressed_mla=False):
    out = dict(W)
    for name, w in W.items():
        r = role(name, compressed_mla)
        if r not in roles:
            continue
        if name.endswith("gate_up_proj") or name.endswith("experts.down_proj"):
            # GPT-OSS's [E, K, N] (x @ W): rows of the transpose.
            out[name] = check_quant.quantize(w.transpose(0, 2, 1), scheme).transpose(0, 2, 1)
        else:
            out[name] = check_quant.quantize(w, scheme)
    if "lm_head" in roles and cfg["tie_word_embeddings"]:
        out["lm_head.weight"] = check_quant.quantize(W["model.embed_tokens.weight"], scheme)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec", required=True)
    ap.add_argument("--models", required=True, help="hf_models.py")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(args.models))
    import hf_models
    failed = 0
    for case, extra in CASES:
        d = hf_models.write_case(args.out, case)
        cfg, W = hf_models.load_case(d)
        ids = np.load(os.path.join(d, "ids.npy"))
        head_cfg = dict(cfg, tie_word_embeddings=False)
        compressed = "kv_lora_rank" in cfg and "--mla=decompressed" not in extra
        name = " ".join([case] + extra)
        for scheme in SCHEMES:
            every = quantized_weights(W, cfg, scheme,
                                      ("experts", "attention", "mlp", "shared_expert", "lm_head"),
                                      compressed)
            if cfg["tie_word_embeddings"]:
                ref = hf_models.forward(head_cfg, every, ids)
            else:
                ref = hf_models.forward(cfg, every, ids)
            experts_only = hf_models.forward(cfg, quantized_weights(W, cfg, scheme, ("experts",)), ids)
            binary = os.path.join(d, "model-" + scheme + "".join(extra))
            c = subprocess.run([args.moec, "-q", d, "--quantize=" + scheme, "-o", binary] + extra,
                               capture_output=True, text=True)
            if c.returncode != 0:
                print(f"FAILED: {name} {scheme}: compile: {c.stderr.strip()}")
                failed += 1
                continue
            errors = []
            for chunk in (None, 1):
                out = os.path.join(d, f"q-{scheme}{''.join(extra)}-{chunk}.npy")
                flags = ["--chunk", str(chunk)] if chunk else []
                r = subprocess.run([binary, "--tokens", os.path.join(d, "ids.npy"),
                                    "--logits", out] + flags, capture_output=True, text=True)
                if r.returncode != 0:
                    errors = None
                    print(f"FAILED: {name} {scheme}: run: {r.stderr.strip()}")
                    break
                y = np.load(out)
                errors.append(np.abs(y - ref).max() / np.abs(ref).max())
            if errors is None:
                failed += 1
                continue
            distinct = np.abs(y - experts_only).max() / np.abs(experts_only).max()
            ok = max(errors) <= TOLERANCE and distinct > 100 * TOLERANCE
            failed += not ok
            print(f"{'ok' if ok else 'FAILED'}: {name} {scheme}: prefill {errors[0]:.1e}, "
                  f"chunk 1 {errors[1]:.1e}; experts-only reference {distinct:.1e}")
    # --act=int8 puts the same layers on the int8 dot-product kernels: a
    # loose check of that path (its exact emulation is check_quant.py's, on
    # MoE layers), within 5e-2 of the float-activation logits on the dense
    # Llama (no routing a rounding could flip; measured 2.3e-2: per-row
    # int8 steps of max|x|/127 through every layer of a 64-wide model).
    d = os.path.join(args.out, "llama")
    binary = os.path.join(d, "model-act8")
    subprocess.run([args.moec, "-q", d, "--quantize=int8", "--act=int8", "-o", binary],
                   check=True)
    out = os.path.join(d, "act8.npy")
    subprocess.run([binary, "--tokens", os.path.join(d, "ids.npy"), "--logits", out],
                   check=True)
    y, fp32 = np.load(out), np.load(os.path.join(d, "q-int8-None.npy"))
    act_error = np.abs(y - fp32).max() / np.abs(fp32).max()
    act_ok = 0 < act_error < 5e-2
    failed += not act_ok
    print(f"{'ok' if act_ok else 'FAILED'}: llama int8 --act=int8 against --act=fp32: "
          f"{act_error:.1e}")
    total = len(CASES) * len(SCHEMES) + 1
    print(f"quantized linears: {total - failed} of {total} passed; "
          f"tolerance {TOLERANCE:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
