#!/usr/bin/env python3
"""Make strata's model parity fixtures: tiny random checkpoints + transformers' float32 reference logits.

Usage (needs torch, transformers 5.x, safetensors; CPU is enough and is what the reference must use):
    CUDA_VISIBLE_DEVICES= HF_HUB_OFFLINE=1 python3 tools/make_fixtures.py --out tests/fixtures/models

For every fixture in FIXTURES this writes OUT/<name>/:
    config.json, model.safetensors   the checkpoint exactly as `save_pretrained` writes it (bf16 weights)
    input_ids.safetensors            `input_ids` [B, L] int64, random ids (first rows pinned to 0 and V-1)
    logits.safetensors               `logits` [B, L, V] float32: one full-batch forward of transformers'
                                     CPU (torch) path in float32 over the bf16 weights read back from disk
    meta.json                        versions, seeds, what the fixture covers, sanity statistics

The weights are drawn in float32 from a fixed seed, rounded to bf16 (`.to(bfloat16)`), saved, and the
reference model is loaded back from that directory and upcast to float32, so the engine sees exactly the
weights the reference used; the script checks the round trip bit for bit. Nothing else is written.

Known deviation from transformers, on purpose: transformers' Mamba2 gated RMSNorm normalises over the whole
inner width and ignores n_groups; strata (like mamba_ssm, Megatron, llama.cpp and transformers' own
Nemotron-H) normalises per group. For Mamba2 fixtures with n_groups > 1 the reference logits are computed
with each mixer's norm replaced by a per-group float32 version; meta.json records this and how far the
unpatched transformers output is from it.
"""
import argparse
import copy
import inspect
import json
import math
import os
import sys
import traceback
import types

import torch
import torch.nn.functional as F

SEED_BASE = 20260101


# ---------------------------------------------------------------------------------------------------------
# Fixture definitions. Dimensions are small and deliberately "odd": several B/C groups, chunk sizes that do
# not divide L, GQA, MoE with grouped routing, a latent MoE, untied heads.
# ---------------------------------------------------------------------------------------------------------
FIXTURES = [
    dict(
        name="mamba2_g1",
        family="mamba2",
        batch=3,
        length=29,
        config=dict(
            vocab_size=150, hidden_size=64, expand=2, num_heads=8, head_dim=16, state_size=16, n_groups=1,
            conv_kernel=4, chunk_size=8, num_hidden_layers=3, tie_word_embeddings=True, use_conv_bias=True,
            use_bias=False, residual_in_fp32=True, layer_norm_epsilon=1e-5,
            pad_token_id=0, bos_token_id=0, eos_token_id=0,
        ),
        dt_bias_special={},
        covers=[
            "pure Mamba2, n_groups=1 (transformers is the oracle unmodified)",
            "tied embeddings: lm_head.weight absent from the file",
            "chunk_size 8 with L=29 (last chunk partial)",
            "conv bias, residual_in_fp32, default time_step_limit (0, inf)",
        ],
    ),
    dict(
        name="mamba2_g2",
        family="mamba2",
        batch=2,
        length=31,
        config=dict(
            vocab_size=101, hidden_size=48, expand=2, num_heads=8, head_dim=12, state_size=12, n_groups=2,
            conv_kernel=4, chunk_size=6, num_hidden_layers=3, tie_word_embeddings=False, use_conv_bias=True,
            use_bias=False, residual_in_fp32=True, layer_norm_epsilon=1e-5, time_step_limit=(0.02, 1.5),
            pad_token_id=0, bos_token_id=0, eos_token_id=0,
        ),
        # heads whose dt sits mostly below / above the time_step_limit, so both clamps are exercised
        dt_bias_special={0: 0.004, 1: 0.01, 6: 1.9, 7: 2.6},
        covers=[
            "pure Mamba2, n_groups=2 (2 B/C groups, 4 heads each), head_dim 12, state 12",
            "reference gated norm is PER GROUP (transformers' full-width Mamba2 norm monkeypatched out)",
            "untied lm_head.weight",
            "time_step_limit [0.02, 1.5] with dt_bias chosen so dt is clamped at both ends",
            "chunk_size 6 with L=31",
        ],
    ),
    dict(
        name="nemotron_h_hybrid",
        family="nemotron_h",
        batch=3,
        length=37,
        config=dict(
            vocab_size=137, hidden_size=72, hybrid_override_pattern="M*-MEM*E",
            num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            intermediate_size=112, mlp_hidden_act="relu2", mlp_bias=False,
            mamba_num_heads=6, mamba_head_dim=16, ssm_state_size=12, n_groups=2, conv_kernel=4, chunk_size=8,
            use_conv_bias=True, use_bias=False, mamba_hidden_act="silu",
            n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=40,
            moe_shared_expert_intermediate_size=56, n_group=2, topk_group=1, norm_topk_prob=True,
            routed_scaling_factor=2.5, layer_norm_epsilon=1e-5, tie_word_embeddings=False,
            use_mamba_kernels=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        dt_bias_special={},
        covers=[
            "Nemotron-H hybrid pattern M*-MEM*E: Mamba2, attention, relu2 MLP, MoE (8 layers)",
            "Mamba2 mixer with n_groups=2 (3 heads per group), E=96 != hidden 72, chunk_size 8 with L=37",
            "GQA attention 4 q heads / 2 kv heads, head_dim 16 (q width 64 != hidden 72), no RoPE",
            "MoE: 8 routed experts, top-2, sigmoid router, grouped routing n_group=2/topk_group=1, "
            "nonzero e_score_correction_bias (selection only), norm_topk_prob, routed_scaling_factor 2.5, "
            "shared expert; inputs chosen so routing decisions have a clear margin",
        ],
    ),
    dict(
        name="nemotron_h_latent",
        family="nemotron_h",
        batch=2,
        length=23,
        config=dict(
            vocab_size=97, hidden_size=56, hybrid_override_pattern="ME*EM",
            num_attention_heads=2, num_key_value_heads=1, head_dim=24,
            intermediate_size=64, mlp_hidden_act="relu2", mlp_bias=False,
            mamba_num_heads=4, mamba_head_dim=14, ssm_state_size=8, n_groups=1, conv_kernel=4, chunk_size=5,
            use_conv_bias=True, use_bias=False, mamba_hidden_act="silu",
            n_routed_experts=6, num_experts_per_tok=3, moe_intermediate_size=32,
            moe_shared_expert_intermediate_size=40, moe_latent_size=24, n_group=1, topk_group=1,
            norm_topk_prob=False, routed_scaling_factor=1.0, layer_norm_epsilon=1e-5,
            tie_word_embeddings=False, use_mamba_kernels=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        dt_bias_special={},
        covers=[
            "Nemotron-H pattern ME*EM with MoE latent projection (moe_latent_size 24: fc1/fc2_latent_proj)",
            "ungrouped routing (n_group=1), top-3 of 6 experts, norm_topk_prob=false, scaling 1.0",
            "MQA attention (2 q heads, 1 kv head), head_dim 24; Mamba2 n_groups=1, chunk_size 5 with L=23",
        ],
    ),
    dict(
        name="granite_moe_hybrid",
        family="granitemoehybrid",
        batch=2,
        length=27,
        config=dict(
            vocab_size=131, hidden_size=64, intermediate_size=40, shared_intermediate_size=48,
            num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2, hidden_act="silu",
            max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False,
            embedding_multiplier=3.0, logits_scaling=2.5, residual_multiplier=0.6, attention_multiplier=0.3,
            num_local_experts=6, num_experts_per_tok=2, position_embedding_type="nope",
            layer_types=["mamba", "attention", "mamba", "mamba", "attention"],
            mamba_n_heads=4, mamba_n_groups=1, mamba_d_state=16, mamba_d_head=16, mamba_d_conv=4,
            mamba_expand=1, mamba_chunk_size=8, mamba_conv_bias=True, mamba_proj_bias=False,
            attention_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["layer_types"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Granite-4.0-H MoE: layer_types mamba/attention, every layer {mixer, MoE + shared MLP}",
            "6 experts top-2 (softmax over the top-k router logits), fused gate|up expert weights",
            "multipliers: embedding 3.0, residual 0.6, attention (softmax scale) 0.3, logits_scaling 2.5",
            "position_embedding_type nope; Mamba2 n_groups=1 (transformers' full-width gated norm agrees)",
            "chunk_size 8 with L=27; final norm scaled by a power of two so logits have std ~1",
        ],
    ),
    dict(
        name="granite_dense_hybrid",
        family="granitemoehybrid",
        batch=2,
        length=21,
        config=dict(
            vocab_size=97, hidden_size=48, intermediate_size=32, shared_intermediate_size=56,
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=1, hidden_act="silu",
            max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=True,
            embedding_multiplier=2.0, logits_scaling=4.0, residual_multiplier=0.5, attention_multiplier=0.4,
            num_local_experts=0, num_experts_per_tok=0, position_embedding_type="rope",
            rope_parameters=dict(rope_type="default", rope_theta=5000.0),
            layer_types=["mamba", "mamba", "attention", "mamba"],
            mamba_n_heads=6, mamba_n_groups=1, mamba_d_state=8, mamba_d_head=8, mamba_d_conv=4,
            mamba_expand=1, mamba_chunk_size=5, mamba_conv_bias=True, mamba_proj_bias=False,
            attention_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["layer_types", "rope_parameters"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Granite-4.0-H dense (num_local_experts 0): every layer {mixer, shared MLP (SwiGLU)}",
            "position_embedding_type rope, rope_theta 5000; MQA (4 q heads, 1 kv head); tied embeddings",
            "multipliers: embedding 2.0, residual 0.5, attention 0.4, logits_scaling 4.0",
            "chunk_size 5 with L=21",
        ],
    ),
    dict(
        name="bamba",
        family="bamba",
        batch=2,
        length=25,
        config=dict(
            vocab_size=113, hidden_size=64, intermediate_size=72, num_hidden_layers=4,
            num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", rms_norm_eps=1e-5,
            tie_word_embeddings=False, max_position_embeddings=256, attn_layer_indices=[1, 3],
            mamba_n_heads=8, mamba_d_head=16, mamba_n_groups=1, mamba_d_state=16, mamba_d_conv=4,
            mamba_expand=2, mamba_chunk_size=8, mamba_conv_bias=True, mamba_proj_bias=False,
            rope_parameters=dict(rope_type="default", rope_theta=10000.0, partial_rotary_factor=0.5),
            attention_bias=False, mlp_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["rope_parameters"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Bamba: attention at attn_layer_indices [1, 3], Mamba2 elsewhere, every layer {mixer, SwiGLU MLP}",
            "partial RoPE (partial_rotary_factor 0.5 of head_dim 16), rope_theta 10000, GQA 4/2",
            "Mamba2 n_groups=1, expand 2, chunk_size 8 with L=25",
        ],
    ),
    dict(
        name="falcon_h1_norm",
        family="falcon_h1",
        batch=2,
        length=23,
        config=dict(
            vocab_size=107, hidden_size=64, intermediate_size=80, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", rms_norm_eps=1e-5,
            tie_word_embeddings=False, max_position_embeddings=256,
            mamba_d_ssm=96, mamba_n_heads=6, mamba_d_head=16, mamba_n_groups=2, mamba_d_state=8,
            mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=6, mamba_conv_bias=True, mamba_proj_bias=False,
            mamba_rms_norm=True, mamba_norm_before_gate=False, projectors_bias=False,
            rope_parameters=dict(rope_type="default", rope_theta=20000.0),
            embedding_multiplier=1.5, lm_head_multiplier=0.625, mlp_multipliers=[0.75, 1.25],
            key_multiplier=0.875, attention_out_multiplier=0.625, attention_in_multiplier=1.5,
            ssm_multipliers=[0.5, 1.25, 0.75, 1.5, 0.875], ssm_in_multiplier=1.25, ssm_out_multiplier=0.75,
            attention_bias=False, mlp_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["rope_parameters"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Falcon-H1: attention ‖ Mamba2 in parallel in every layer, then SwiGLU MLP",
            "every muP multiplier non-trivial (bf16-exact): embedding, lm_head, mlp gate/down, key, attention in/out, "
            "ssm in/out, ssm_multipliers on z, x, B, C, dt",
            "mamba_rms_norm true with mamba_norm_before_gate false (gate, then per-group norm), n_groups 2",
            "mamba_d_ssm 96 (not expand·hidden), 6 heads of 16; chunk_size 6 with L=23; GQA 4/2, RoPE theta 20000",
        ],
    ),
    dict(
        name="falcon_h1_gate",
        family="falcon_h1",
        batch=2,
        length=19,
        config=dict(
            vocab_size=89, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, hidden_act="silu", rms_norm_eps=1e-6,
            tie_word_embeddings=True, max_position_embeddings=256,
            mamba_d_ssm=None, mamba_n_heads=4, mamba_d_head="auto", mamba_n_groups=1, mamba_d_state=16,
            mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=8, mamba_conv_bias=True, mamba_proj_bias=False,
            mamba_rms_norm=False, mamba_norm_before_gate=True, projectors_bias=False,
            rope_parameters=dict(rope_type="default", rope_theta=10000.0),
            embedding_multiplier=0.75, lm_head_multiplier=1.5, mlp_multipliers=[1.25, 0.5],
            key_multiplier=1.25, attention_out_multiplier=0.875, attention_in_multiplier=0.75,
            ssm_multipliers=[1.25, 0.75, 1.5, 0.625, 1.125], ssm_in_multiplier=0.875, ssm_out_multiplier=1.25,
            attention_bias=False, mlp_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["rope_parameters", "mamba_d_head", "mamba_d_ssm"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Falcon-H1 with mamba_rms_norm false (y·silu(z), no norm weight) and tied embeddings",
            "mamba_d_ssm null and mamba_d_head auto (expand 2 · hidden 48 over 4 heads); MHA 4/4",
            "every muP multiplier non-trivial and different from falcon_h1_norm; chunk_size 8 with L=19",
        ],
    ),
    dict(
        name="falcon_h1_norm_first",
        family="falcon_h1",
        batch=2,
        length=17,
        config=dict(
            vocab_size=79, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, hidden_act="silu", rms_norm_eps=1e-5,
            tie_word_embeddings=False, max_position_embeddings=256,
            mamba_d_ssm=64, mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=2, mamba_d_state=8,
            mamba_d_conv=3, mamba_expand=2, mamba_chunk_size=5, mamba_conv_bias=True, mamba_proj_bias=False,
            mamba_rms_norm=True, mamba_norm_before_gate=True, projectors_bias=False,
            rope_parameters=dict(rope_type="default", rope_theta=10000.0),
            embedding_multiplier=1.25, lm_head_multiplier=0.75, mlp_multipliers=[0.875, 1.5],
            key_multiplier=0.75, attention_out_multiplier=1.25, attention_in_multiplier=0.875,
            ssm_multipliers=[0.75, 1.5, 1.25, 0.625, 0.5], ssm_in_multiplier=1.5, ssm_out_multiplier=0.625,
            attention_bias=False, mlp_bias=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["rope_parameters"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Falcon-H1 with mamba_rms_norm true and mamba_norm_before_gate true (per-group norm, then the gate)",
            "n_groups 2, conv kernel 3, MQA 2/1, chunk_size 5 with L=17; every muP multiplier non-trivial",
        ],
    ),
    dict(
        name="zamba2",
        family="zamba2",
        batch=2,
        length=21,
        config=dict(
            vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=6,
            layers_block_type=["mamba", "hybrid", "mamba", "hybrid", "hybrid", "mamba"],
            num_mem_blocks=2, use_shared_attention_adapter=True, adapter_rank=8, use_mem_rope=True,
            rope_theta=5000, num_attention_heads=4, num_key_value_heads=4, hidden_act="gelu",
            mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=2, n_mamba_heads=8, chunk_size=8,
            use_conv_bias=True, add_bias_linear=False, rms_norm_eps=1e-5, tie_word_embeddings=True,
            max_position_embeddings=256, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        ),
        config_unchecked=["rope_theta", "layers_block_type"],
        scale_logits=True,
        dt_bias_special={},
        covers=[
            "Zamba2: 3 Mamba2 layers and 3 hybrid layers using 2 shared blocks in turn (blocks 0, 1, 0)",
            "shared block: RMSNorm over concat(hidden, embeddings), attention 2·hidden wide (head_dim 32, "
            "scale (head_dim/2)^-1/2, RoPE theta 5000, MHA 4/4: transformers adds 2·hidden-wide k/v adapters, so GQA with "
            "adapters does not run there), RMSNorm, GeGLU MLP; per-use adapters (rank 8) "
            "on q, k, v and gate|up; per-layer linear into the Mamba2 input",
            "Mamba2 n_groups 2 (Zamba2's gated norm is per group, like strata); chunk_size 8 with L=21",
        ],
    ),
]


# ---------------------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------------------
def inverse_softplus(y):
    return y + math.log(-math.expm1(-y))


def init_weights(model, fixture, generator):
    """Overwrite every parameter with sensible random values: logits not degenerate, dt well inside range."""
    decisions = {}
    hidden = model.config.hidden_size

    def normal(shape, std):
        return torch.randn(shape, generator=generator, dtype=torch.float32) * std

    def uniform(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=generator, dtype=torch.float32)

    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            shape = tuple(p.shape)
            if leaf == "A_log":
                value, rule = torch.log(uniform(shape, 0.5, 4.0)), "log U(0.5,4)"
            elif leaf == "dt_bias":
                dt0 = uniform(shape, 0.05, 0.5)
                for head, dt in fixture["dt_bias_special"].items():
                    dt0[head] = dt
                value = torch.tensor([inverse_softplus(float(v)) for v in dt0])
                rule = "inverse_softplus(U(0.05,0.5)) + special heads %s" % fixture["dt_bias_special"]
            elif leaf == "D" and p.ndim == 1:
                value, rule = uniform(shape, 0.5, 1.5), "U(0.5,1.5)"
            elif "conv1d" in name and leaf == "weight":
                value, rule = normal(shape, 0.3), "N(0,0.3)"
            elif "conv1d" in name and leaf == "bias":
                value, rule = normal(shape, 0.1), "N(0,0.1)"
            elif "embed" in name:
                value, rule = normal(shape, 0.3), "N(0,0.3)"
            elif name.endswith("lm_head.weight"):
                value, rule = normal(shape, 2.0 / math.sqrt(shape[-1])), "N(0,2/sqrt(fan_in))"
            elif name.endswith("gate.weight") and p.ndim == 2:
                value, rule = normal(shape, 2.0 / math.sqrt(shape[-1])), "router N(0,2/sqrt(fan_in))"
            elif p.ndim == 1 and leaf == "weight":
                value, rule = uniform(shape, 0.8, 1.2), "norm U(0.8,1.2)"
            elif p.ndim == 1:
                value, rule = normal(shape, 0.05), "bias N(0,0.05)"
            else:
                value, rule = normal(shape, 0.8 / math.sqrt(shape[-1])), "linear N(0,0.8/sqrt(fan_in))"
                if name.endswith("in_proj.weight"):
                    # dt rows are the last num_heads rows ([z | xBC | dt]); keep dt_raw small so
                    # softplus(dt_raw + dt_bias) stays far above Nemotron-H's time_step_min clamp
                    c = fixture["config"]
                    heads = (c.get("num_heads") or c.get("mamba_num_heads") or c.get("mamba_n_heads")
                             or c["n_mamba_heads"])
                    value[-heads:] = normal((heads, shape[-1]), 0.5 / math.sqrt(shape[-1]))
                    rule += "; dt rows N(0,0.5/sqrt(fan_in))"
            p.copy_(value)
            decisions[name] = rule
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                # bf16-representable, so it is exact whether the file keeps it fp32 or not
                b.copy_(normal(tuple(b.shape), 0.05).to(torch.bfloat16).float())
                decisions[name] = "buffer N(0,0.05) rounded to bf16 values"
    assert hidden > 0
    return decisions


# ---------------------------------------------------------------------------------------------------------
# Per-group gated RMSNorm (mamba_ssm semantics) for Mamba2 with n_groups > 1
# ---------------------------------------------------------------------------------------------------------
def patch_grouped_gated_norm(model, n_groups, counter):
    def grouped_forward(self, hidden_states, gate=None):
        counter[0] += 1
        input_dtype = hidden_states.dtype
        compute = torch.float64 if input_dtype == torch.float64 else torch.float32
        x = hidden_states.to(compute)
        if gate is not None:
            x = x * F.silu(gate.to(compute))
        *prefix, width = x.shape
        xg = x.view(*prefix, n_groups, width // n_groups)
        xg = xg * torch.rsqrt(xg.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * xg.view(*prefix, width).to(input_dtype)

    originals = []
    for m in mamba_mixers(model):
        originals.append((m.norm, m.norm.forward))
        m.norm.forward = types.MethodType(grouped_forward, m.norm)
    return originals


def unpatch(originals):
    for module, forward in originals:
        module.forward = forward


# ---------------------------------------------------------------------------------------------------------
# Introspection helpers
# ---------------------------------------------------------------------------------------------------------
def mamba_mixers(model):
    return [m for m in model.modules() if hasattr(m, "A_log") and hasattr(m, "dt_bias") and hasattr(m, "in_proj")]


def moe_modules(model):
    return [m for m in model.modules()
            if hasattr(m, "experts") and hasattr(m, "gate") and hasattr(m, "shared_experts")]


def dt_hooks(model, stats):
    handles = []
    for idx, mixer in enumerate(mamba_mixers(model)):
        heads = mixer.A_log.numel()

        def hook(module, args, output, mixer=mixer, heads=heads, idx=idx):
            dt = F.softplus(output[..., -heads:].float() + mixer.dt_bias.float())
            stats.append(dict(mixer=idx, min=float(dt.min()), max=float(dt.max()), values=dt.detach().clone()))

        handles.append(mixer.in_proj.register_forward_hook(hook))
    return handles


def routing_hooks(model, records, config):
    """Replicate Nemotron-H's selection from the router logits and record decision margins."""
    handles = []
    for idx, moe in enumerate(moe_modules(model)):
        for attr, key in [("n_group", "n_group"), ("topk_group", "topk_group"), ("top_k", "num_experts_per_tok")]:
            if not hasattr(moe, attr):
                setattr(moe, attr, getattr(config, key))

        def gate_hook(module, args, output, moe=moe, idx=idx):
            logits = output[0] if isinstance(output, (tuple, list)) else output
            scores = logits.reshape(-1, logits.shape[-1]).float().sigmoid()
            choice = scores + moe.gate.e_score_correction_bias.float()
            n_exp = choice.shape[-1]
            per_group = n_exp // moe.n_group
            group_scores = choice.view(-1, moe.n_group, per_group).topk(2, dim=-1)[0].sum(-1)
            if moe.n_group > moe.topk_group:
                gs = group_scores.sort(dim=-1, descending=True)[0]
                group_margin = float((gs[:, moe.topk_group - 1] - gs[:, moe.topk_group]).min())
            else:
                group_margin = float("inf")
            group_idx = group_scores.topk(moe.topk_group, dim=-1)[1]
            mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1.0)
            mask = mask.unsqueeze(-1).expand(-1, moe.n_group, per_group).reshape(-1, n_exp).bool()
            masked = choice.masked_fill(~mask, float("-inf"))
            ss = masked.sort(dim=-1, descending=True)[0]
            allowed = int(mask[0].sum())
            if allowed > moe.top_k:
                expert_margin = float((ss[:, moe.top_k - 1] - ss[:, moe.top_k]).min())
            else:
                expert_margin = float("inf")
            chosen = masked.topk(moe.top_k, dim=-1)[1]
            records.append(dict(layer=idx, group_margin=group_margin, expert_margin=expert_margin,
                                chosen=chosen.detach().clone()))

        handles.append(moe.gate.register_forward_hook(gate_hook))

        def experts_pre_hook(module, args, kwargs, idx=idx):
            top_k_index = kwargs.get("top_k_index", args[1] if len(args) > 1 else None)
            if top_k_index is not None:
                top_k_index = top_k_index.reshape(-1, top_k_index.shape[-1])
                records.append(dict(layer=idx, hf_chosen=top_k_index.detach().clone()))

        try:
            handles.append(moe.experts.register_forward_pre_hook(experts_pre_hook, with_kwargs=True))
        except Exception as exc:  # noqa: BLE001 - best effort cross-check only
            print("warning: could not hook experts:", exc)
    return handles


def remove(handles):
    for h in handles:
        h.remove()


# ---------------------------------------------------------------------------------------------------------
# Model classes, save and reload
# ---------------------------------------------------------------------------------------------------------
def model_classes(family):
    import transformers

    if family == "mamba2":
        return transformers.Mamba2Config, transformers.Mamba2ForCausalLM
    if family == "granitemoehybrid":
        return transformers.GraniteMoeHybridConfig, transformers.GraniteMoeHybridForCausalLM
    if family == "bamba":
        return transformers.BambaConfig, transformers.BambaForCausalLM
    if family == "falcon_h1":
        return transformers.FalconH1Config, transformers.FalconH1ForCausalLM
    if family == "zamba2":
        return transformers.Zamba2Config, transformers.Zamba2ForCausalLM
    return transformers.NemotronHConfig, transformers.NemotronHForCausalLM


def final_norm_weight(model):
    """The last RMSNorm before the LM head, whatever the family calls it."""
    for name in ("model.norm.weight", "model.final_layernorm.weight", "backbone.norm_f.weight"):
        try:
            return name, model.get_parameter(name)
        except AttributeError:
            continue
    raise RuntimeError("no final norm weight found")


def scale_logits_to_unit_std(model, fixture, generator):
    """Tiny random models with small multipliers give logits of std ~0.02; a 1e-3 tolerance would then
    mean little. Scale the final norm weight by a power of two (exact in bf16) so the std is ~1."""
    ids = torch.randint(0, model.config.vocab_size, (2, 16), generator=generator)
    with torch.no_grad():
        std = float(model(input_ids=ids, use_cache=False).logits.float().std())
        factor = 2.0 ** round(math.log2(1.0 / std))
        name, weight = final_norm_weight(model)
        weight.mul_(factor)
    return dict(final_norm=name, logits_std_before=std, factor=factor)


def build_and_save(fixture, out_dir):
    config_cls, model_cls = model_classes(fixture["family"])
    try:
        config = config_cls(**fixture["config"])
    except TypeError:
        if "hybrid_override_pattern" not in fixture["config"]:
            raise
        # fall back to the list form with the names this transformers version uses
        kwargs = dict(fixture["config"])
        kwargs["layers_block_type"] = config_cls._pattern_to_list(kwargs.pop("hybrid_override_pattern"))
        config = config_cls(**kwargs)
    for key, value in fixture["config"].items():
        if key in fixture.get("config_unchecked", []):
            continue  # transformers rewrites these spellings (layer_types names, rope_parameters defaults)
        if key == "hybrid_override_pattern":
            assert config.hybrid_override_pattern == value, (config.hybrid_override_pattern, value)
            continue
        got = getattr(config, key)
        if isinstance(value, tuple):
            got = tuple(got)
        assert got == value, f"{fixture['name']}: config.{key} = {got!r}, asked {value!r}"

    seed = SEED_BASE + FIXTURES.index(fixture)
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    generator = torch.Generator().manual_seed(seed)
    decisions = init_weights(model, fixture, generator)
    if fixture.get("scale_logits"):
        decisions["logit_scale"] = scale_logits_to_unit_std(model, fixture, generator)

    # keep fp32 what transformers keeps fp32 (the router's correction bias), round the rest to bf16
    fp32_buffers = {n: b.detach().clone() for n, b in model.named_buffers() if n.endswith("e_score_correction_bias")}
    model = model.to(torch.bfloat16)
    for name, value in fp32_buffers.items():
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        owner.register_buffer(name.rsplit(".", 1)[1], value, persistent=True)
    try:
        model.config.dtype = torch.bfloat16
    except Exception as exc:  # noqa: BLE001
        print("note: could not set config.dtype:", exc)
    expected = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    leftovers = [f for f in os.listdir(out_dir) if f.endswith(".bin") or "index" in f]
    assert not leftovers and os.path.exists(os.path.join(out_dir, "model.safetensors")), os.listdir(out_dir)
    return seed, decisions, expected


def reload_float32(fixture, out_dir, expected):
    _, model_cls = model_classes(fixture["family"])
    kwargs = dict(dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model, info = model_cls.from_pretrained(out_dir, **kwargs)
    model = model.float().eval()
    # a weight the file lacks would be re-initialised randomly: the bit-exact comparison below catches it
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v}
    if problems:
        print(f"note: {fixture['name']}: loading info: {problems}")
    got = {k: v.detach().float() for k, v in model.state_dict().items()}
    assert set(got) == set(expected), (sorted(set(got) ^ set(expected)))
    for key, value in expected.items():
        assert torch.equal(got[key], value), f"{fixture['name']}: {key} changed across save/load"
    return model, problems


def saved_tensors(path):
    from safetensors import safe_open

    out = {}
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
        for key in sorted(f.keys()):
            sl = f.get_slice(key)
            out[key] = [sl.get_dtype(), list(sl.get_shape())]
    return out, metadata


# ---------------------------------------------------------------------------------------------------------
# Reference runs
# ---------------------------------------------------------------------------------------------------------
def make_input_ids(fixture, vocab, input_seed):
    generator = torch.Generator().manual_seed(input_seed)
    ids = torch.randint(0, vocab, (fixture["batch"], fixture["length"]), generator=generator, dtype=torch.int64)
    ids[0, 0] = vocab - 1
    ids[-1, 1] = 0
    return ids


def forward_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits.float()


def hf_decode_logits(model, ids):
    """Token-by-token with transformers' own cache: a cross-check of transformers, not the reference."""
    params = inspect.signature(model.forward).parameters
    cache_kw = "past_key_values" if "past_key_values" in params else "cache_params"
    steps = []
    with torch.no_grad():
        out = model(input_ids=ids[:, :1], use_cache=True)
        steps.append(out.logits[:, -1].float())
        for t in range(1, ids.shape[1]):
            cache = getattr(out, "past_key_values", None)
            if cache is None:
                cache = getattr(out, "cache_params", None)
            kw = {cache_kw: cache, "use_cache": True}
            if "cache_position" in params:
                kw["cache_position"] = torch.tensor([t])
            out = model(input_ids=ids[:, t:t + 1], **kw)
            steps.append(out.logits[:, -1].float())
    return torch.stack(steps, dim=1)


def make_fixture(fixture, root, versions):
    name = fixture["name"]
    out_dir = os.path.join(root, name)
    print(f"\n===== {name} =====")
    seed, decisions, expected = build_and_save(fixture, out_dir)
    model, loading_info = reload_float32(fixture, out_dir, expected)
    config = model.config
    warnings = []
    meta = dict(name=name, family=fixture["family"], covers=fixture["covers"], versions=versions,
                weight_seed=seed, weight_rules=decisions)
    if loading_info:
        meta["transformers_loading_info"] = loading_info

    grouped_norm = fixture["family"] == "mamba2" and config.n_groups > 1
    norm_calls = [0]
    originals = patch_grouped_gated_norm(model, config.n_groups, norm_calls) if grouped_norm else []

    # Pick inputs whose MoE routing decisions have a clear margin (no near-ties an engine could flip).
    min_margin = 2e-4
    for attempt in range(40):
        input_seed = seed * 100 + attempt
        ids = make_input_ids(fixture, config.vocab_size, input_seed)
        dt_stats, routing = [], []
        handles = dt_hooks(model, dt_stats) + routing_hooks(model, routing, config)
        logits = forward_logits(model, ids)
        remove(handles)
        margins = [min(r["group_margin"], r["expert_margin"]) for r in routing if "group_margin" in r]
        if not margins or min(margins) >= min_margin:
            break
        print(f"  inputs seed {input_seed}: routing margin {min(margins):.2e} < {min_margin}, retrying")
    else:
        raise RuntimeError(f"{name}: no input seed gave routing margins >= {min_margin}")

    B, L, V = logits.shape
    assert (B, L, V) == (fixture["batch"], fixture["length"], config.vocab_size), logits.shape
    assert torch.isfinite(logits).all()
    if grouped_norm:
        layers = len(mamba_mixers(model))
        assert norm_calls[0] == layers, f"grouped norm patch called {norm_calls[0]} times, expected {layers}"

    meta["input_seed"] = input_seed
    meta["shapes"] = dict(input_ids=[B, L], logits=[B, L, V])
    meta["logits_stats"] = dict(max_abs=float(logits.abs().max()), std=float(logits.std()),
                                mean_top1_minus_top2=float((logits.topk(2, -1)[0][..., 0]
                                                            - logits.topk(2, -1)[0][..., 1]).mean()))
    all_dt = torch.cat([s["values"].flatten() for s in dt_stats])
    dt_meta = dict(min=float(all_dt.min()), max=float(all_dt.max()))
    limit = getattr(config, "time_step_limit", None)
    if limit is not None:
        lo, hi = float(limit[0]), float(limit[1])
        dt_meta["time_step_limit"] = [lo, hi]
        dt_meta["fraction_below_limit"] = float((all_dt < lo).float().mean())
        dt_meta["fraction_above_limit"] = float((all_dt > hi).float().mean())
    if fixture["family"] == "nemotron_h":
        # transformers' Nemotron-H torch path clamps dt at time_step_min instead of applying time_step_limit
        dt_meta["time_step_min"] = config.time_step_min
        if not all_dt.min() > 2 * config.time_step_min:
            warnings.append("dt comes close to Nemotron-H's time_step_min clamp")
    meta["dt_after_softplus"] = dt_meta

    if getattr(config, "n_routed_experts", None) and "E" in fixture["config"].get("hybrid_override_pattern", ""):
        if not routing:
            warnings.append("no MoE module found to check routing margins")
    routing_meta = []
    for layer in sorted({r["layer"] for r in routing}):
        ours = [r for r in routing if r["layer"] == layer and "chosen" in r][0]
        hf = [r for r in routing if r["layer"] == layer and "hf_chosen" in r]
        counts = torch.bincount(ours["chosen"].flatten(), minlength=config.n_routed_experts)
        finite = lambda v: v if math.isfinite(v) else None  # noqa: E731 - inf = no decision to make
        entry = dict(moe_layer_ordinal=layer, min_group_margin=finite(ours["group_margin"]),
                     min_expert_margin=finite(ours["expert_margin"]), expert_use_counts=counts.tolist())
        if hf:
            same = torch.equal(ours["chosen"].sort(-1)[0], hf[0]["hf_chosen"].sort(-1)[0])
            entry["selection_matches_transformers"] = bool(same)
            if not same:
                warnings.append(f"MoE layer {layer}: replicated routing differs from transformers'")
        if int((counts > 0).sum()) < config.n_routed_experts - 2:
            warnings.append(f"MoE layer {layer}: few experts used {counts.tolist()}")
        routing_meta.append(entry)
    if routing_meta:
        meta["routing"] = routing_meta

    if grouped_norm:
        meta["gated_norm"] = ("reference uses a PER-GROUP gated RMSNorm (group = intermediate/n_groups channels, "
                              "x*silu(z), rsqrt(mean(x^2)+eps) per group, *weight, float32), monkeypatched over "
                              "transformers' full-width MambaRMSNormGated")
        unpatch(originals)
        full_width = forward_logits(model, ids)
        meta["transformers_full_width_norm_vs_reference_max_abs"] = float((full_width - logits).abs().max())
        originals = patch_grouped_gated_norm(model, config.n_groups, norm_calls)

    # Cross-checks of the reference itself (informative; the fixture is the float32 logits above).
    try:
        decode = hf_decode_logits(model, ids)
        meta["transformers_decode_vs_reference_max_abs"] = float((decode - logits).abs().max())
    except Exception as exc:  # noqa: BLE001
        meta["transformers_decode_vs_reference_max_abs"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    try:
        model64 = copy.deepcopy(model).double()
        if grouped_norm:
            patch_grouped_gated_norm(model64, config.n_groups, [0])
        patch_float64_experts(model64)
        with torch.no_grad():
            logits64 = model64(input_ids=ids, use_cache=False).logits.double()
        meta["reference_float32_vs_float64_max_abs"] = float((logits.double() - logits64).abs().max())
    except Exception as exc:  # noqa: BLE001
        meta["reference_float32_vs_float64_max_abs"] = f"failed: {type(exc).__name__}: {exc}"[:300]

    if fixture.get("scale_logits"):
        # Greedy generation with transformers' cache, for the engine's greedy-ids test.
        prompt = ids[:1, :6]
        with torch.no_grad():
            generated = model.generate(input_ids=prompt, max_new_tokens=10, do_sample=False, use_cache=True,
                                       eos_token_id=None, pad_token_id=0)
        meta["greedy"] = dict(prompt=prompt[0].tolist(), generated=generated[0, prompt.shape[1]:].tolist())

    meta["transformers_notes"] = transformers_notes(fixture, config, out_dir)
    meta["warnings"] = warnings
    for w in warnings:
        print("WARNING:", name, w)
    from safetensors.torch import save_file

    save_file({"input_ids": ids.contiguous()}, os.path.join(out_dir, "input_ids.safetensors"))
    save_file({"logits": logits.contiguous()}, os.path.join(out_dir, "logits.safetensors"))
    tensors, st_metadata = saved_tensors(os.path.join(out_dir, "model.safetensors"))
    meta["model_safetensors"] = dict(metadata=st_metadata, tensors=tensors)
    meta["files"] = sorted(os.listdir(out_dir)) + ["meta.json"]
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(json_safe(meta), f, indent=1, sort_keys=False, allow_nan=False)
        f.write("\n")

    with open(os.path.join(out_dir, "config.json")) as f:
        print("config.json:\n" + f.read())
    printable = {k: v for k, v in meta.items() if k not in ("weight_rules", "model_safetensors")}
    print("meta:", json.dumps(json_safe(printable), indent=1))
    print("tensors:")
    for key, (dtype, shape) in tensors.items():
        print(f"  {key:70s} {dtype:5s} {shape}")
    print("files:", {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))})


def patch_float64_experts(model):
    """transformers' grouped-matmul experts refuse float64; a plain loop does the same sum for the fp64 check."""

    def loop_forward(self, hidden_states, top_k_index, top_k_weights):
        out = torch.zeros_like(hidden_states)
        for k in range(top_k_index.shape[1]):
            for expert in top_k_index[:, k].unique().tolist():
                rows = (top_k_index[:, k] == expert).nonzero().squeeze(-1)
                h = self.act_fn(F.linear(hidden_states[rows], self.up_proj[expert]))
                h = F.linear(h, self.down_proj[expert])
                out.index_add_(0, rows, h * top_k_weights[rows, k, None].to(h.dtype))
        return out

    for m in model.modules():
        if isinstance(getattr(m, "up_proj", None), torch.nn.Parameter) and m.up_proj.ndim == 3:
            m.forward = types.MethodType(loop_forward, m)


def transformers_notes(fixture, config, out_dir):
    """What a reader of this fixture must know about transformers' own behaviour."""
    notes = []
    limit = tuple(float(v) for v in (getattr(config, "time_step_limit", None) or (0.0, float("inf"))))
    if fixture["family"] == "mamba2" and limit != (0.0, float("inf")):
        notes.append("transformers' Mamba2 single-token decode (mamba2_selective_state_update, like mamba_ssm's "
                     "selective_state_update) does not apply time_step_limit, while its chunked prefill does: hence "
                     "the large transformers_decode_vs_reference_max_abs. The fixture logits clamp dt at every "
                     "token; an engine must clamp in decode too to match them in every mode.")
    if fixture["family"] == "nemotron_h":
        notes.append("transformers' Nemotron-H ignores config.time_step_limit: its prefill clamps dt to "
                     "[time_step_min, inf) and its decode does not clamp. Here dt stays far above time_step_min "
                     "(see dt_after_softplus), so no clamp is active and [0, inf) gives the same logits.")
    with open(os.path.join(out_dir, "config.json")) as f:
        if "__float__" in f.read():
            notes.append('config.json: transformers writes the infinite time_step_limit bound as '
                         '{"__float__": "Infinity"} (older versions wrote a bare Infinity).')
    return notes


def json_safe(value):
    """Non-finite floats as strings, so meta.json is strict JSON (config.json is left as transformers writes it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dump_sources(path):
    """Write the transformers code the reference relies on, to check its semantics by eye."""
    import transformers
    from transformers.models.mamba2 import modeling_mamba2 as m2
    from transformers.models.nemotron_h import modeling_nemotron_h as nh

    parts = []
    for obj in [transformers.Mamba2Config, transformers.NemotronHConfig, m2, nh]:
        try:
            parts.append(f"##### {getattr(obj, '__name__', obj)}\n" + inspect.getsource(obj))
        except Exception as exc:  # noqa: BLE001
            parts.append(f"##### {obj}: {exc}")
    with open(path, "w") as f:
        f.write("\n\n".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/fixtures/models")
    parser.add_argument("--only", nargs="*", help="fixture names (default: all)")
    parser.add_argument("--dump-sources", help="also write transformers' relevant source to this file")
    args = parser.parse_args()

    import safetensors
    import transformers

    versions = dict(transformers=transformers.__version__, torch=torch.__version__,
                    safetensors=safetensors.__version__, python=sys.version.split()[0])
    print("versions:", versions)
    if args.dump_sources:
        dump_sources(args.dump_sources)
    failed = []
    for fixture in FIXTURES:
        if args.only and fixture["name"] not in args.only:
            continue
        try:
            make_fixture(fixture, args.out, versions)
        except Exception:  # noqa: BLE001 - report every fixture, then fail
            traceback.print_exc()
            failed.append(fixture["name"])
    if failed:
        raise SystemExit(f"FAILED fixtures: {failed}")
    print("all fixtures written to", args.out)


if __name__ == "__main__":
    main()
