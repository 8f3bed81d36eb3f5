// A model family as data: how its config.json maps onto ModelConfig (schedule, dims, options) and what
// its checkpoint tensors are called. The loader, synthetic models and `strata info` all read this one
// table; adding a family is one file in families/ plus a line in registry.cpp (and its tests).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "strata/schedule/hf_schedule.h"

namespace strata::model {

struct ModelConfig;
class ConfigFields;

// Checkpoint names. Layer parts are prefixed by `layer` (a fmt pattern over the layer index) and their
// part prefix; the names inside a part (in_proj.weight, q_proj.weight, up_proj.weight, experts.{e}.…)
// are the Hugging Face ones every supported family shares.
// Names inside an MLP part: separate up/gate/down, or one fused [2·I, D] gate_up matrix (gate rows first,
// Granite's input_linear) with `down`.
struct MlpNames {
  std::string up = "up_proj.weight";
  std::string gate = "gate_proj.weight";
  std::string down = "down_proj.weight";
  std::string gate_up;  // non-empty: fused gate|up
  std::string up_bias = "up_proj.bias", gate_bias = "gate_proj.bias", down_bias = "down_proj.bias";
};

// Names inside a MoE part. Experts are either one MLP each under `expert` (a fmt pattern over the expert
// index) or stacked in two 3-D tensors [E, 2·I, D] (fused gate|up) and [E, D, I].
struct MoeNames {
  std::string router = "gate.weight";
  std::string correction_bias = "gate.e_score_correction_bias";  // optional
  std::string expert = "experts.{}.";
  MlpNames expert_mlp;
  std::string stacked_gate_up, stacked_down;  // non-empty: stacked experts
  std::string latent_in = "fc1_latent_proj.weight", latent_out = "fc2_latent_proj.weight";
  std::string shared = "shared_experts.";  // the shared expert, relative to the layer (not the MoE part)
  MlpNames shared_mlp;
};

// Zamba2's hybrid layers, relative to the layer: the Mamba2 decoder under its own prefix, the layer's
// projection of the shared block output, and the shared block itself. A shared block is stored under
// the first hybrid layer that uses it (transformers ties the others to it; copies, when a checkpoint
// has them, must be identical). Adapter lists are indexed by the hybrid layer's rank among hybrid
// layers; entry {}.0 is the down matrix, {}.1 the up matrix.
struct SharedBlockNames {
  std::string mamba = "mamba_decoder.mamba.";
  std::string mixer_norm = "mamba_decoder.input_layernorm.weight";
  std::string linear = "linear.weight";
  std::string block = "shared_transformer.";
  // Inside the block:
  std::string input_norm = "input_layernorm.weight", ffn_norm = "pre_ff_layernorm.weight";
  std::string attention = "self_attn.";
  std::string q_adapter = "self_attn.linear_q_adapter_list.{}.", k_adapter = "self_attn.linear_k_adapter_list.{}.",
              v_adapter = "self_attn.linear_v_adapter_list.{}.";
  std::string gate_up = "feed_forward.gate_up_proj.weight", down = "feed_forward.down_proj.weight";
  std::string mlp_adapter = "feed_forward.gate_up_proj_adapter_list.{}.";
};

struct TensorNames {
  std::vector<std::string> embeddings;  // the first present one is used (HF / mamba_ssm spellings)
  std::string final_norm;
  std::string lm_head;                  // unless the embeddings are tied
  std::string layer;                    // e.g. "backbone.layers.{}."
  std::string mixer_norm;               // the pre-mixer RMSNorm, relative to the layer
  std::string ffn_norm;                 // the pre-FFN RMSNorm
  std::string mamba, attention, mlp, moe;  // part prefixes, relative to the layer
  MlpNames mlp_names;
  MoeNames moe_names;
  SharedBlockNames shared_names;  // only for layers with a shared block (Zamba2)
  std::vector<std::string> ignored_prefixes;  // tensors present in checkpoints that strata does not run
};

struct FamilySpec {
  std::string_view model_type;  // config.json's model_type
  std::string_view summary;     // one line for `strata info` and errors
  // config.json → Schedule + ModelDims (the layout; no weights needed, so the planner uses it too).
  schedule::HfModel (*map_schedule)(const nlohmann::json& config, std::string_view filename);
  // Reads the family's options from config.json into a ModelConfig whose schedule and dims are set.
  void (*read_config)(const ConfigFields& fields, ModelConfig& config);
  TensorNames names;
};

// Every supported family.
std::span<const FamilySpec* const> families();
// The family of a mapped config (model_type as schedule_from_hf_config found it); throws strata::Error
// naming `filename` and the supported types.
const FamilySpec& family_for(std::string_view model_type, const std::string& filename);

// The families' own definitions (one per file in families/).
const FamilySpec& mamba2_family();
const FamilySpec& nemotron_h_family();
const FamilySpec& granite_hybrid_family();
const FamilySpec& bamba_family();
const FamilySpec& falcon_h1_family();
const FamilySpec& zamba2_family();

// The `backbone.` names of Mamba2ForCausalLM and NemotronHForCausalLM: backbone.embeddings (or
// mamba_ssm's backbone.embedding), backbone.layers.{i}.norm + .mixer.*, backbone.norm_f, lm_head.
TensorNames backbone_tensor_names(std::vector<std::string> ignored_prefixes);
// The `model.` names of the transformers decoders Bamba, Falcon-H1 and Zamba2 share: model.embed_tokens,
// model.layers.{i}.input_layernorm + .mamba.* / .self_attn.*, .pre_ff_layernorm + .feed_forward.*,
// model.final_layernorm, lm_head.
TensorNames decoder_tensor_names();

// Readers shared by family files (families/common.cpp):
// time_step_limit [min, max] into dt_min / dt_max.
void read_time_step_limit(const ConfigFields& fields, ModelConfig& config);
// rope_theta and partial_rotary_factor into config.rope (NeoX pairing, as HF's rotate_half); a
// rope_scaling other than null or {"rope_type": "default"} is refused, naming it.
void read_rope(const ConfigFields& fields, ModelConfig& config);
// The options Bamba and Falcon-H1 read alike: rms_norm_eps (also the Mamba2 norm's), mamba_conv_bias,
// mamba_proj_bias, attention_bias, mlp_bias, tie_word_embeddings, time_step_limit, RoPE, hidden_act.
void read_decoder_options(const ConfigFields& fields, ModelConfig& config);
// The activation named by `key` ("relu2", "silu", "gelu"; `fallback` when absent). "silu" is SwiGLU
// (silu(gate) · up) when the family's MLP is gated, which is the only way strata runs it.
void read_mlp_activation(const ConfigFields& fields, const char* key, const char* fallback, ModelConfig& config);

}  // namespace strata::model
