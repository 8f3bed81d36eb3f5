#!/usr/bin/env python3
"""GGUF twins of strata's Hugging Face test fixtures, written the way llama.cpp's convert_hf_to_gguf.py writes
them (conversion/mamba.py Mamba2Model, conversion/nemotron.py NemotronHModel), with llama.cpp's own gguf-py
writer, so strata's GGUF reader is checked against files the peer's tooling produced:

  tests/fixtures/gguf/<fixture>-f32.gguf, -bf16.gguf    the model (no vocabulary: the fixtures have none)
  tests/fixtures/gguf/demo-vocab.gguf                    the demo model's tokenizer alone, as llama.cpp
                                                         stores a byte-level BPE (tokenizer.ggml.*)
  tests/fixtures/gguf/dequant-oracle.gguf                random blocks of every quantized type strata
                                                         decodes ("blocks.TYPE") and gguf-py's decoding of
                                                         them ("expected.TYPE", F32): the bit-exact oracle
  tests/fixtures/gguf/mamba2_g1-q8_0.gguf                the model with its matrices in Q8_0 (gguf-py's
                                                         quantizer, ggml's reference rounding), and
  tests/fixtures/gguf/mamba2_g1-q8_0-as-f32.gguf         the same quantized weights decoded by gguf-py, F32

Needs numpy and gguf-py from a llama.cpp checkout (unslothai/llama.cpp d32676d7 was used):
  PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tools/make_gguf_fixtures.py

Conventions (../shared/peers/llama_cpp/README.md §2): ggml dims are numpy's reversed; ssm_a holds
A = -exp(A_log); ssm_a/ssm_d are (H, 1); ssm_conv1d is (C, K); ssm_norm is (G, d_inner/G); q/k rows are
permuted per head by LlamaModel.permute; 1-D tensors, norms, ssm_conv1d, biases, ssm_a/ssm_d and the
router stay F32, other matrices take the file type; experts are stacked (n_expert, rows, cols).
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x):
    n = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((n + 0x7FFF + ((n >> 16) & 1)) >> 16).astype(np.uint16)


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        chunk = raw[8 + n + b: 8 + n + e]
        kind = info["dtype"]
        a = {"BF16": lambda c: bf16_to_f32(c.view("<u2")), "F16": lambda c: c.view("<f2").astype(np.float32),
             "F32": lambda c: np.array(c.view("<f4"))}[kind](chunk)
        out[name] = a.reshape(info["shape"])
    return out


def permute(w, n_head):  # LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def layer_kinds(config):
    if config["model_type"] == "mamba2":
        return ["M"] * config["num_hidden_layers"]
    kinds = {"linear_attention": "M", "mamba": "M", "full_attention": "*", "attention": "*", "mlp": "-", "moe": "E"}
    return [kinds[k] for k in config["layers_block_type"]]


def gguf_tensors(config, hf, kinds):
    """Yields (gguf name, float32 array, keep_f32)."""
    H = config.get("mamba_num_heads", config.get("num_heads"))
    G = config["n_groups"]
    d_inner = H * config.get("mamba_head_dim", config.get("head_dim"))
    yield "token_embd.weight", hf["backbone.embeddings.weight"], False
    yield "output_norm.weight", hf["backbone.norm_f.weight"], True
    if "lm_head.weight" in hf:
        yield "output.weight", hf["lm_head.weight"], False
    for i, kind in enumerate(kinds):
        p, b = f"backbone.layers.{i}.", f"blk.{i}."
        yield b + "attn_norm.weight", hf[p + "norm.weight"], True
        m = p + "mixer."
        if kind == "M":
            yield b + "ssm_in.weight", hf[m + "in_proj.weight"], False
            yield b + "ssm_conv1d.weight", hf[m + "conv1d.weight"].squeeze(1), True
            if m + "conv1d.bias" in hf:
                yield b + "ssm_conv1d.bias", hf[m + "conv1d.bias"], True
            yield b + "ssm_dt.bias", hf[m + "dt_bias"], True
            yield b + "ssm_a", (-np.exp(hf[m + "A_log"].astype(np.float32))).reshape(-1, 1), True
            yield b + "ssm_d", hf[m + "D"].reshape(-1, 1), True
            yield b + "ssm_norm.weight", hf[m + "norm.weight"].reshape(G, d_inner // G), True
            yield b + "ssm_out.weight", hf[m + "out_proj.weight"], False
        elif kind == "*":
            yield b + "attn_q.weight", permute(hf[m + "q_proj.weight"], config["num_attention_heads"]), False
            yield b + "attn_k.weight", permute(hf[m + "k_proj.weight"], config["num_key_value_heads"]), False
            yield b + "attn_v.weight", hf[m + "v_proj.weight"], False
            yield b + "attn_output.weight", hf[m + "o_proj.weight"], False
        elif kind == "-":
            yield b + "ffn_up.weight", hf[m + "up_proj.weight"], False
            yield b + "ffn_down.weight", hf[m + "down_proj.weight"], False
        else:  # E
            E = config["n_routed_experts"]
            yield b + "ffn_gate_inp.weight", hf[m + "gate.weight"], True
            if m + "gate.e_score_correction_bias" in hf:
                yield b + "exp_probs_b.bias", hf[m + "gate.e_score_correction_bias"], True
            yield b + "ffn_up_exps.weight", np.stack([hf[f"{m}experts.{e}.up_proj.weight"] for e in range(E)]), False
            yield b + "ffn_down_exps.weight", np.stack([hf[f"{m}experts.{e}.down_proj.weight"] for e in range(E)]), False
            yield b + "ffn_up_shexp.weight", hf[m + "shared_experts.up_proj.weight"], False
            yield b + "ffn_down_shexp.weight", hf[m + "shared_experts.down_proj.weight"], False


def write_model(name, dtype):
    src = FIXTURES / "models" / name
    config = json.loads((src / "config.json").read_text())
    hf = read_safetensors(src / "model.safetensors")
    kinds = layer_kinds(config)
    moe = "E" in kinds
    arch = "mamba2" if config["model_type"] == "mamba2" else ("nemotron_h_moe" if moe else "nemotron_h")
    out = FIXTURES / "gguf" / f"{name}-{dtype}.gguf"
    w = gguf.GGUFWriter(out, arch)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(f"strata fixture {name}")
    w.add_file_type({"bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}.get(
        dtype, gguf.LlamaFileType.ALL_F32))
    L, D = len(kinds), config["hidden_size"]
    w.add_block_count(L)
    w.add_embedding_length(D)
    w.add_context_length(config.get("max_position_embeddings", 2**20))
    w.add_layer_norm_rms_eps(config["layer_norm_epsilon"])
    H = config.get("mamba_num_heads", config.get("num_heads"))
    d_inner = H * config.get("mamba_head_dim", config.get("head_dim"))
    w.add_ssm_conv_kernel(config["conv_kernel"])
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_state_size(config.get("ssm_state_size", config.get("state_size")))
    w.add_ssm_time_step_rank(H)
    w.add_ssm_group_count(config["n_groups"])
    if arch == "mamba2":
        w.add_feed_forward_length(0)
        w.add_head_count(0)
    else:
        w.add_vocab_size(config["vocab_size"])
        w.add_head_count(config["num_attention_heads"])
        w.add_head_count_kv([config["num_key_value_heads"] if k == "*" else 0 for k in kinds])
        w.add_key_length(config["head_dim"])
        w.add_value_length(config["head_dim"])
        if moe:
            w.add_feed_forward_length([config["moe_intermediate_size"] if k == "E" else
                                       (config["intermediate_size"] if k == "-" else 0) for k in kinds])
            w.add_expert_used_count(config["num_experts_per_tok"])
            w.add_expert_feed_forward_length(config["moe_intermediate_size"])
            w.add_expert_shared_feed_forward_length(config["moe_shared_expert_intermediate_size"])
            w.add_expert_count(config["n_routed_experts"])
            w.add_expert_shared_count(config["n_shared_experts"])
            w.add_expert_weights_norm(config["norm_topk_prob"])
            w.add_expert_weights_scale(config["routed_scaling_factor"])
            w.add_expert_group_count(config["n_group"])
            w.add_expert_group_used_count(config["topk_group"])
        else:
            w.add_feed_forward_length([config["intermediate_size"] if k == "-" else 0 for k in kinds])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    Q = gguf.GGMLQuantizationType
    for new, data, keep_f32 in gguf_tensors(config, hf, kinds):
        data = np.ascontiguousarray(data, dtype=np.float32)
        if dtype.startswith("q8_0") and not keep_f32 and data.shape[-1] % 32 == 0:
            blocks = gguf.quants.quantize(data, Q.Q8_0)  # rows of 34-byte blocks
            if dtype == "q8_0":
                w.add_tensor(new, blocks, raw_dtype=Q.Q8_0)
            else:  # the decoded weights, for the oracle file
                w.add_tensor(new, gguf.quants.dequantize(blocks, Q.Q8_0).astype(np.float32), raw_dtype=Q.F32)
        elif keep_f32 or dtype != "bf16":
            w.add_tensor(new, data, raw_dtype=Q.F32)
        else:
            w.add_tensor(new, f32_to_bf16(data), raw_dtype=Q.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size} bytes")


def write_demo_vocab():
    """The demo model's byte-level BPE as llama.cpp's converter stores it (LlamaHfVocab/_set_vocab_gpt2):
    tokens by id, token types (1 normal, 3 control for special added tokens), merges, bos/eos ids."""
    demo = ROOT / "models" / "demo"
    tj = json.loads((demo / "tokenizer.json").read_text())
    config = json.loads((demo / "config.json").read_text())
    vocab = tj["model"]["vocab"]
    V = config["vocab_size"]
    tokens = [None] * V
    types = [1] * V
    for tok, i in vocab.items():
        tokens[i] = tok
    for added in tj["added_tokens"]:
        tokens[added["id"]] = added["content"]
        types[added["id"]] = 3 if added["special"] else 4
    for i in range(V):
        if tokens[i] is None:
            tokens[i], types[i] = f"[PAD{i}]", 5
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    out = FIXTURES / "gguf" / "demo-vocab.gguf"
    w = gguf.GGUFWriter(out, "nemotron_h_moe")
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("strata demo tokenizer")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(config["bos_token_id"])
    w.add_eos_token_id(config["eos_token_id"])
    w.add_add_bos_token(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size} bytes")


def write_dequant_oracle():
    """Random bytes for every block, with each f16 scale field replaced by a finite random half."""
    rng = np.random.default_rng(20261203)
    Q = gguf.GGMLQuantizationType
    # type -> byte offsets of its f16 fields within a block
    halves = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q4_K: [0, 2],
              Q.Q5_K: [0, 2], Q.Q6_K: [208]}
    out = FIXTURES / "gguf" / "dequant-oracle.gguf"
    w = gguf.GGUFWriter(out, "strata-dequant-oracle")
    for qtype, fields in halves.items():
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        n_blocks = 64
        raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
        for f in fields:
            values = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
            raw[:, f:f + 2] = values.view(np.uint8).reshape(n_blocks, 2)
        expected = gguf.quants.dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
        rows = 4
        name = qtype.name
        w.add_tensor(f"blocks.{name}", raw.reshape(rows, -1), raw_dtype=qtype)
        w.add_tensor(f"expected.{name}", expected.reshape(rows, -1), raw_dtype=Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size} bytes")


def main():
    (FIXTURES / "gguf").mkdir(exist_ok=True)
    for name in ["mamba2_g1", "nemotron_h_hybrid"]:
        for dtype in ["f32", "bf16"]:
            write_model(name, dtype)
    write_model("mamba2_g1", "q8_0")
    write_model("mamba2_g1", "q8_0-as-f32")
    write_demo_vocab()
    write_dequant_oracle()


if __name__ == "__main__":
    sys.exit(main())
