#!/usr/bin/python3
"""Exports MoE blocks written the way the Hugging Face modeling files write
them with torch.onnx.export (Debian's python3-torch), with float64 references.

usage: torch_moe.py OUT_DIR [CASE ...]
       torch_moe.py --list

Each case is torch[_STYLE]-VARIANT. It writes OUT_DIR/CASE/model.onnx and,
like moe_models.py, inputs and float64 references at 1, 7 and 40 tokens with
a manifest.json for ort_check.js and the e2e runner. The weights and the
reference are moe_models.py's (Weights, moe_ref): the reference is the
routing math of ../shared/reference, written independently of these modules.

The modules follow transformers' modeling files: the per-expert loop over
range(E) (F.one_hot(...).permute(2, 1, 0), torch.where, index_add_) of
Mixtral, Qwen2-MoE (with its sigmoid-gated shared expert), Qwen3-MoE (stacked
gate_up_proj split with chunk(2)) and OLMoE; DeepSeek-V3's noaux_tc
get_topk_indices (group top-2 sums, scatter_ group mask, masked_fill with
0.0) and its moe() loop; DeepSeek-V3's own inference code (torch_official
STYLE: the group mask marks the dropped groups and fills the [T, G, E/G]
view with -inf, then `y[idx] += expert(x[idx]) * weights[idx, top, None]`);
GPT-OSS's router (top-k on logits, softmax, scatter_ into [T, E]) with its
experts' CPU loop (torch_ STYLE) and its batched repeat/bmm path
(torch_batched STYLE).
"""

import json
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moe_models  # noqa: E402
from moe_models import ALPHA, LIMIT, VARIANTS, TOKEN_COUNTS  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

CASES = ("torch-mixtral", "torch-qwen2_moe", "torch-qwen3_moe", "torch-olmoe",
         "torch-deepseek_v3", "torch_official-deepseek_v3", "torch-gpt_oss",
         "torch_batched-gpt_oss")
OPSET = 17
TRACE_TOKENS = 64  # the example input; every expert sees tokens at this size


def param(array):
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(array)), requires_grad=False)


def linear(weight, bias=None):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer.weight = param(weight)
    if bias is not None:
        layer.bias = param(bias)
    return layer


class Mlp(nn.Module):
    """MixtralBlockSparseTop2MLP / Qwen2MoeMLP / OlmoeMLP."""

    def __init__(self, gate, up, down):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = linear(gate), linear(up), linear(down)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class SoftmaxMoe(nn.Module):
    """MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock, OlmoeSparseMoeBlock
    (transformers 4.4x), with Qwen2-MoE's shared expert when present."""

    def __init__(self, cfg, W):
        super().__init__()
        self.E, self.k, self.norm = cfg["E"], cfg["k"], cfg["normalize"]
        self.gate = linear(W.router)
        self.experts = nn.ModuleList(
            Mlp(W.gate[e], W.up[e], W.down[e]) for e in range(self.E))
        self.shared = None
        if cfg.get("shared"):
            self.shared = Mlp(W.sh_gate, W.sh_up, W.sh_down)
            self.shared_expert_gate = linear(W.sh_gate_w)

    def forward(self, hidden_states):
        _, hidden_dim = hidden_states.shape
        router_logits = self.gate(hidden_states)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.k, dim=-1)
        if self.norm:
            routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(hidden_states.dtype)
        final_hidden_states = torch.zeros_like(hidden_states)
        expert_mask = F.one_hot(selected_experts, num_classes=self.E).permute(2, 1, 0)
        for expert_idx in range(self.E):
            expert_layer = self.experts[expert_idx]
            idx, top_x = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[None, top_x].reshape(-1, hidden_dim)
            current_hidden_states = expert_layer(current_state) * routing_weights[top_x, idx, None]
            final_hidden_states.index_add_(0, top_x, current_hidden_states.to(hidden_states.dtype))
        if self.shared is not None:
            shared = self.shared(hidden_states)
            shared = torch.sigmoid(self.shared_expert_gate(hidden_states)) * shared
            final_hidden_states = final_hidden_states + shared
        return final_hidden_states


class StackedMoe(nn.Module):
    """Qwen3MoeSparseMoeBlock as transformers 5 writes it: a router module
    returning (weights, ids), experts stacked in gate_up_proj [E, 2I, H]
    (gate and up concatenated, chunk(2)) and down_proj [E, H, I]."""

    def __init__(self, cfg, W):
        super().__init__()
        self.E, self.k, self.norm = cfg["E"], cfg["k"], cfg["normalize"]
        self.router_weight = param(W.router)
        self.gate_up_proj = param(np.concatenate([W.gate, W.up], axis=1))
        self.down_proj = param(W.down)

    def forward(self, hidden_states):
        router_logits = F.linear(hidden_states, self.router_weight)
        router_probs = F.softmax(router_logits, dtype=torch.float, dim=-1)
        top_k_weights, top_k_index = torch.topk(router_probs, self.k, dim=-1)
        if self.norm:
            top_k_weights = top_k_weights / top_k_weights.sum(dim=-1, keepdim=True)
        final_hidden_states = torch.zeros_like(hidden_states)
        expert_mask = F.one_hot(top_k_index, num_classes=self.E).permute(2, 1, 0)
        for expert_idx in range(self.E):
            top_k_pos, token_idx = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[token_idx]
            gate, up = F.linear(current_state, self.gate_up_proj[expert_idx]).chunk(2, dim=-1)
            current_hidden_states = F.silu(gate) * up
            current_hidden_states = F.linear(current_hidden_states, self.down_proj[expert_idx])
            current_hidden_states = current_hidden_states * top_k_weights[token_idx, top_k_pos, None]
            final_hidden_states.index_add_(0, token_idx, current_hidden_states.to(final_hidden_states.dtype))
        return final_hidden_states


class DeepseekV3Moe(nn.Module):
    """DeepseekV3MoE with DeepseekV3TopkRouter (noaux_tc)."""

    def __init__(self, cfg, W):
        super().__init__()
        self.E, self.k = cfg["E"], cfg["k"]
        self.n_group, self.topk_group = cfg["n_group"], cfg["topk_group"]
        self.norm_topk_prob, self.routed_scaling_factor = cfg["normalize"], cfg["scale"]
        self.weight = param(W.router)
        self.e_score_correction_bias = param(W.sel_bias)
        self.experts = nn.ModuleList(
            Mlp(W.gate[e], W.up[e], W.down[e]) for e in range(self.E))
        self.shared_experts = Mlp(W.sh_gate, W.sh_up, W.sh_down)

    def get_topk_indices(self, scores):
        scores_for_choice = scores.view(-1, self.E) + self.e_score_correction_bias.unsqueeze(0)
        group_scores = (
            scores_for_choice.view(-1, self.n_group, self.E // self.n_group)
            .topk(2, dim=-1)[0]
            .sum(dim=-1)
        )
        group_idx = torch.topk(group_scores, k=self.topk_group, dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores)
        group_mask.scatter_(1, group_idx, 1)
        score_mask = (
            group_mask.unsqueeze(-1)
            .expand(-1, self.n_group, self.E // self.n_group)
            .reshape(-1, self.E)
        )
        scores_for_choice = scores_for_choice.masked_fill(~score_mask.bool(), 0.0)
        return torch.topk(scores_for_choice, k=self.k, dim=-1, sorted=False)[1]

    def route(self, hidden_states):
        router_logits = F.linear(hidden_states.type(torch.float32), self.weight.type(torch.float32))
        scores = router_logits.sigmoid()
        topk_indices = self.get_topk_indices(scores)
        topk_weights = scores.gather(1, topk_indices)
        if self.norm_topk_prob:
            denominator = topk_weights.sum(dim=-1, keepdim=True) + 1e-20
            topk_weights /= denominator
        topk_weights = topk_weights * self.routed_scaling_factor
        return topk_indices, topk_weights

    def moe(self, hidden_states, topk_indices, topk_weights):
        final_hidden_states = torch.zeros_like(hidden_states, dtype=topk_weights.dtype)
        expert_mask = F.one_hot(topk_indices, num_classes=self.E).permute(2, 0, 1)
        # transformers skips experts without tokens (`if token_indices.numel()
        # > 0`); a trace would keep only the experts its example input hit, so
        # the exported loop runs every expert.
        for expert_idx in range(self.E):
            token_indices, weight_indices = torch.where(expert_mask[expert_idx])
            expert_weights = topk_weights[token_indices, weight_indices]
            expert_input = hidden_states[token_indices]
            expert_output = self.experts[expert_idx](expert_input)
            weighted_output = expert_output * expert_weights.unsqueeze(-1)
            final_hidden_states.index_add_(0, token_indices, weighted_output)
        return final_hidden_states.type(hidden_states.dtype)

    def forward(self, hidden_states):
        residuals = hidden_states
        topk_indices, topk_weights = self.route(hidden_states)
        hidden_states = self.moe(hidden_states, topk_indices, topk_weights)
        return hidden_states + self.shared_experts(residuals)


class DeepseekV3Official(nn.Module):
    """Gate and MoE of deepseek-ai/DeepSeek-V3 inference/model.py (one rank,
    no expert-parallel all-reduce)."""

    def __init__(self, cfg, W):
        super().__init__()
        self.n_routed_experts, self.topk = cfg["E"], cfg["k"]
        self.n_groups, self.topk_groups = cfg["n_group"], cfg["topk_group"]
        self.route_scale = cfg["scale"]
        self.weight = param(W.router)
        self.bias = param(W.sel_bias)
        self.experts = nn.ModuleList(
            Mlp(W.gate[e], W.up[e], W.down[e]) for e in range(self.n_routed_experts))
        self.shared_experts = Mlp(W.sh_gate, W.sh_up, W.sh_down)

    def gate(self, x):
        scores = F.linear(x, self.weight).sigmoid()
        original_scores = scores
        scores = scores + self.bias
        scores = scores.view(x.size(0), self.n_groups, -1)
        group_scores = scores.topk(2, dim=-1)[0].sum(dim=-1)
        indices = group_scores.topk(self.topk_groups, dim=-1)[1]
        # scatter_(1, indices, False) upstream; torch 1.13 cannot trace a
        # bool scalar there, and 0 writes the same False.
        mask = scores.new_ones(x.size(0), self.n_groups, dtype=bool).scatter_(1, indices, 0)
        scores = scores.masked_fill_(mask.unsqueeze(-1), float("-inf")).flatten(1)
        indices = torch.topk(scores, self.topk, dim=-1)[1]
        weights = original_scores.gather(1, indices)
        weights /= weights.sum(dim=-1, keepdim=True)
        weights *= self.route_scale
        return weights.type_as(x), indices

    def forward(self, x):
        weights, indices = self.gate(x)
        y = torch.zeros_like(x)
        # The original skips experts without tokens (counts from bincount),
        # which a trace would bake in; every expert runs here.
        for i in range(self.n_routed_experts):
            idx, top = torch.where(indices == i)
            y[idx] += self.experts[i](x[idx]) * weights[idx, top, None]
        return y + self.shared_experts(x)


class GptOssMoe(nn.Module):
    """GptOssMLP: GptOssTopKRouter and GptOssExperts, whose bf16 weights are
    stored as used, x @ W: gate_up_proj [E, H, 2I] (gate and up interleaved
    along the last axis) and down_proj [E, I, H]."""

    def __init__(self, cfg, W, batched):
        super().__init__()
        self.E, self.k, self.batched = cfg["E"], cfg["k"], batched
        self.router = linear(W.router, W.router_bias)
        gu, gub = W.interleaved()
        self.gate_up_proj = param(gu.transpose(0, 2, 1))
        self.gate_up_proj_bias = param(gub)
        self.down_proj = param(W.down.transpose(0, 2, 1))
        self.down_proj_bias = param(W.down_b)
        self.alpha, self.limit = ALPHA, LIMIT

    def experts_loop(self, hidden_states, router_indices, routing_weights):
        next_states = torch.zeros_like(hidden_states)
        expert_mask = F.one_hot(router_indices, num_classes=self.E).permute(2, 1, 0)
        for expert_idx in range(self.E):
            _, token_idx = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[token_idx]
            gate_up = current_state @ self.gate_up_proj[expert_idx] + self.gate_up_proj_bias[expert_idx]
            gate, up = gate_up[..., ::2], gate_up[..., 1::2]
            gate = gate.clamp(min=None, max=self.limit)
            up = up.clamp(min=-self.limit, max=self.limit)
            glu = gate * torch.sigmoid(gate * self.alpha)
            gated_output = (up + 1) * glu
            out = gated_output @ self.down_proj[expert_idx] + self.down_proj_bias[expert_idx]
            weighted_output = out * routing_weights[token_idx, expert_idx, None]
            next_states.index_add_(0, token_idx, weighted_output.to(hidden_states.dtype))
        return next_states

    def experts_batched(self, hidden_states, routing_weights):
        num_tokens = hidden_states.shape[0]
        hidden_states = hidden_states.repeat(self.E, 1)
        hidden_states = hidden_states.view(self.E, -1, hidden_states.shape[-1])
        gate_up = torch.bmm(hidden_states, self.gate_up_proj) + self.gate_up_proj_bias[..., None, :]
        gate, up = gate_up[..., ::2], gate_up[..., 1::2]
        gate = gate.clamp(min=None, max=self.limit)
        up = up.clamp(min=-self.limit, max=self.limit)
        glu = gate * torch.sigmoid(gate * self.alpha)
        next_states = torch.bmm(((up + 1) * glu), self.down_proj)
        next_states = next_states + self.down_proj_bias[..., None, :]
        next_states = next_states.view(self.E, num_tokens, -1)
        next_states = next_states * routing_weights.transpose(0, 1).view(self.E, num_tokens)[..., None]
        return next_states.sum(dim=0)

    def forward(self, hidden_states):
        router_logits = self.router(hidden_states)
        router_top_value, router_indices = torch.topk(router_logits, self.k, dim=-1)
        router_top_value = F.softmax(router_top_value, dim=1, dtype=router_top_value.dtype)
        router_scores = torch.zeros_like(router_logits).scatter_(1, router_indices, router_top_value)
        if self.batched:
            return self.experts_batched(hidden_states, router_scores)
        return self.experts_loop(hidden_states, router_indices, router_scores)


def module_for(case, cfg, W):
    style, variant = case.split("-", 1)
    if variant == "deepseek_v3" and style == "torch_official":
        return DeepseekV3Official(cfg, W)
    if variant == "deepseek_v3":
        return DeepseekV3Moe(cfg, W)
    if variant == "gpt_oss":
        return GptOssMoe(cfg, W, batched=style == "torch_batched")
    if variant == "qwen3_moe":
        return StackedMoe(cfg, W)
    return SoftmaxMoe(cfg, W)


def write_case(root, case):
    variant = case.split("-", 1)[1]
    rng = np.random.default_rng(sum(map(ord, case)))
    cfg = dict(VARIANTS[variant])
    if case.startswith("torch_official"):
        cfg["group_fill"] = -np.inf  # masked_fill(mask, -inf): ineligible
    W = moe_models.Weights(cfg, rng)
    module = module_for(case, cfg, W).eval()
    d = os.path.join(root, case)
    os.makedirs(d, exist_ok=True)
    example = torch.from_numpy(
        moe_models.draw_tokens(cfg, W, TRACE_TOKENS, rng).astype(np.float32))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), os.path.join(d, "model.onnx"),
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "T"}, "y": {0: "T"}},
                          opset_version=OPSET)
    manifest = {"case": case, "model": "model.onnx", "runs": []}
    for n in TOKEN_COUNTS:
        x = moe_models.draw_tokens(cfg, W, n, rng)
        y = moe_models.moe_ref(cfg, W, x)
        # The module itself must agree with the reference: a check of this
        # file, not of what reads its export.
        with torch.no_grad():
            y_torch = module(torch.from_numpy(x.astype(np.float32))).double().numpy()
        err = np.abs(y_torch - y).max() / np.abs(y).max()
        if err > 1e-5:
            raise SystemExit(f"torch_moe.py: {case}: module differs from the "
                             f"reference by {err:.2e} at {n} tokens")
        x.astype(np.float32).tofile(os.path.join(d, f"x_{n}.bin"))
        y.astype(np.float64).tofile(os.path.join(d, f"y_{n}.bin"))
        manifest["runs"].append({"tokens": n, "input": f"x_{n}.bin",
                                 "reference": f"y_{n}.bin",
                                 "shape": [n, moe_models.HIDDEN]})
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def main(argv):
    return moe_models.cli(argv, CASES, write_case, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
