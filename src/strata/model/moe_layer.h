// The mixture-of-experts layer (Nemotron-H `E`, DeepSeek-style MoE): route each token to top_k experts,
// run every chosen expert once over all of its tokens (gathered into one block), mix by the routing
// weights, add the shared expert. Only the chosen experts' weights are read, so decode stays cheap.
#pragma once

#include "strata/model/tensor_visit.h"

#include <string_view>
#include <vector>

#include "strata/core/tensor.h"
#include "strata/core/exec.h"
#include "strata/core/workspace.h"
#include "strata/kernels/moe.h"
#include "strata/model/mlp_layer.h"

namespace strata::model {

// A tensor whose data is nullptr is absent.
struct MoeWeights {
  Tensor router;                    // gate.weight [E, hidden], any float dtype; logits are computed in f32
  Tensor correction_bias;           // gate.e_score_correction_bias f32 [E], optional (selection only)
  Tensor hash_table;                // tid2eid i32 [vocab, top_k], hash routing only
  std::vector<MlpWeights> experts;  // E routed experts, each reading and writing `expert_width`
  MlpWeights shared;       // shared expert on the un-projected input; absent when shared.up is absent
  Tensor latent_in;        // fc1_latent_proj.weight [latent, hidden], optional
  Tensor latent_in_bias;   // [latent], optional
  Tensor latent_out;       // fc2_latent_proj.weight [hidden, latent], present iff latent_in is
  Tensor latent_out_bias;  // [hidden], optional
  // GPU only, made by attach_expert_tables after the upload: device pointers to every expert's up, gate
  // and down weights (i64 [3, E]; the gate row null when not gated), for the grouped expert GEMM that
  // small steps run without reading the grouping back. Absent: experts run one cuBLAS GEMM each.
  Tensor expert_tables;
};


// Every tensor of the MoE layer: router, tables, experts, shared expert, latent projections.
void visit_tensors(MoeWeights& weights, const TensorVisitor& visit);

struct MoeConfig {
  kernels::RoutingParams routing;
  MlpActivation expert_activation = MlpActivation::relu2;
  MlpActivation shared_activation = MlpActivation::relu2;
};

// Checks every weight against the config and `hidden`; throws strata::Error naming `layer` and the
// tensor (e.g. "layers.5.mixer: experts.3: down_proj.weight must be ...").
void check_moe(const MoeWeights& weights, const MoeConfig& config, int64_t hidden, std::string_view layer);

// Makes weights.expert_tables in `storage` (device memory) when the experts suit the grouped GEMM: one
// weight dtype and shape for all, no biases, adapters or gate multipliers. Returns whether it did.
bool attach_expert_tables(MoeWeights& weights, Buffer& storage);

// Whether a step of `tokens` tokens runs its experts through the grouped GEMM (no host synchronisation,
// so a decode step can be captured in a CUDA graph): on the GPU, with expert tables, for small steps.
bool moe_runs_grouped(const MoeWeights& weights, const MoeConfig& config, int64_t tokens, Device device);

// out[T, hidden] = moe(x[T, hidden]), or out += moe(x) when `accumulate`. token_ids (i32 [T]) is needed
// for hash routing only, else may be nullptr. Semantics are transformers' NemotronHMoE.forward:
//   routed = latent_out( Σ_j w_j · expert_{id_j}( latent_in(x) ) )   (latent projections optional)
//   out    = routed + shared(x)
// with (ids, w) from kernels::moe_routing on f32 logits x·routerᵀ. Each token's expert outputs are
// summed in ascending expert id, as transformers' per-expert index_add_ loop does. With `accumulate`
// the result is added as (out + routed) + shared. x and out must not overlap. Validates its operands
// (shapes only, plus the hash-table rows used) and throws strata::Error on misuse; scratch comes from
// `workspace` and stays taken until its reset().
void moe_forward(const MoeWeights& weights, const MoeConfig& config, const Tensor& x, const Tensor* token_ids,
                 Tensor& out, Workspace& workspace, const Exec& exec, bool accumulate = false);

// Workspace bytes moe_forward takes for `tokens` tokens.
size_t moe_scratch_bytes(const MoeWeights& weights, const MoeConfig& config, int64_t tokens);

}  // namespace strata::model
