#include "strata/model/moe_layer.h"

#include <algorithm>

#include "strata/core/error.h"
#include "strata/core/memory.h"
#include "strata/kernels/gemm.h"

namespace strata::model {

namespace {

bool is_float(DType t) { return t == DType::f32 || t == DType::bf16 || t == DType::f16; }

void check_projection(const Tensor& t, int64_t rows, int64_t cols, std::string_view layer, const char* name) {
  if (t.ndim != 2 || !is_float(t.dtype) || t.size(0) != rows || t.size(1) != cols)
    fail("{}: {} must be an f32/bf16/f16 matrix [{}, {}], got {}", layer, name, rows, cols, t.describe());
}

void check_vector(const Tensor& t, int64_t n, std::string_view layer, const char* name) {
  if (present(t) && (t.ndim != 1 || !is_float(t.dtype) || t.size(0) != n))
    fail("{}: {} must be an f32/bf16/f16 vector [{}], got {}", layer, name, n, t.describe());
}

kernels::RoutingTables routing_tables(const MoeWeights& w, const kernels::RoutingParams& routing,
                                      const Tensor* token_ids) {
  kernels::RoutingTables tables;
  if (present(w.correction_bias)) tables.correction_bias = &w.correction_bias;
  if (routing.mode == kernels::RoutingMode::hash) {
    tables.hash_table = present(w.hash_table) ? &w.hash_table : nullptr;
    tables.token_ids = token_ids;
  }
  return tables;
}

// At most this many (token, choice) slots run through the grouped GEMM: its warps reread a weight row per
// four rows of an expert, which suits decode steps (B·k slots) but not prefills, where cuBLAS per expert
// (after reading the grouping back) keeps the tensor cores busy.
constexpr int64_t kGroupedMaxSlots = 1024;

kernels::ExpertWeightTable table_row(const MoeWeights& w, int row, const Tensor& weight) {
  kernels::ExpertWeightTable t;
  const int64_t E = w.expert_tables.size(1);
  t.table = w.expert_tables;
  t.table.ndim = 1;
  t.table.shape[0] = E;
  t.table.strides[0] = 1;
  t.table.data = static_cast<int64_t*>(w.expert_tables.data) + row * E;
  t.dtype = weight.dtype;
  t.n = weight.size(0);
  t.k = weight.size(1);
  t.ldw = weight.size(0) > 1 ? weight.stride(0) : weight.size(1);
  return t;
}

}  // namespace

bool attach_expert_tables(MoeWeights& w, Buffer& storage) {
  if (w.experts.empty()) return false;
  const MlpWeights& first = w.experts.front();
  const bool gated = present(first.gate);
  const auto same = [](const Tensor& a, const Tensor& b) {
    return present(a) == present(b) && (!present(a) || (a.dtype == b.dtype && a.ndim == 2 && b.ndim == 2 &&
                                                        a.shape[0] == b.shape[0] && a.shape[1] == b.shape[1] &&
                                                        a.strides[0] == b.strides[0] && a.strides[1] == 1 &&
                                                        b.strides[1] == 1));
  };
  for (const MlpWeights& e : w.experts) {
    if (e.up.device != Device::cuda || !same(e.up, first.up) || !same(e.down, first.down) ||
        !same(e.gate, first.gate) || present(e.up_bias) || present(e.down_bias) || present(e.gate_bias) ||
        present(e.adapter_in) || e.gate_multiplier != 1.0f)
      return false;
    if (gated && e.gate.dtype != e.up.dtype) return false;
  }
  const int64_t E = static_cast<int64_t>(w.experts.size());
  std::vector<int64_t> pointers(static_cast<size_t>(3 * E), 0);
  for (int64_t e = 0; e < E; ++e) {
    const MlpWeights& x = w.experts[static_cast<size_t>(e)];
    pointers[static_cast<size_t>(e)] = reinterpret_cast<int64_t>(x.up.data);
    pointers[static_cast<size_t>(E + e)] = gated ? reinterpret_cast<int64_t>(x.gate.data) : 0;
    pointers[static_cast<size_t>(2 * E + e)] = reinterpret_cast<int64_t>(x.down.data);
  }
  storage = Buffer(pointers.size() * sizeof(int64_t), Device::cuda);
  copy_memory(storage.data(), pointers.data(), pointers.size() * sizeof(int64_t), Device::cuda);
  w.expert_tables = Tensor::contiguous(storage.data(), DType::i64, {3, E});
  w.expert_tables.device = Device::cuda;
  return true;
}

bool moe_runs_grouped(const MoeWeights& w, const MoeConfig& config, int64_t tokens, Device device) {
  return device == Device::cuda && present(w.expert_tables) && tokens * config.routing.top_k <= kGroupedMaxSlots;
}

void check_moe(const MoeWeights& w, const MoeConfig& config, int64_t hidden, std::string_view layer) {
  if (!present(w.router) || w.router.ndim != 2)
    fail("{}: gate.weight (router) must be a matrix [n_experts, {}], got {}", layer, hidden,
         present(w.router) ? w.router.describe() : std::string("none"));
  const int64_t n_experts = w.router.size(0);
  check_projection(w.router, n_experts, hidden, layer, "gate.weight (router)");
  if (static_cast<int64_t>(w.experts.size()) != n_experts)
    fail("{}: the router scores {} experts but {} expert weight sets were given", layer, n_experts,
         w.experts.size());
  if (config.routing.mode == kernels::RoutingMode::learned && present(w.hash_table))
    fail("{}: a tid2eid hash table was given but routing mode is learned", layer);

  // The routing parameters and tables, checked on zero tokens (no logits needed).
  const int64_t k = config.routing.top_k;
  // (On the weights' device: the routing check wants every operand on one device.)
  Tensor logits = Tensor::contiguous(nullptr, DType::f32, {0, n_experts});
  Tensor ids = Tensor::contiguous(nullptr, DType::i32, {0, k});
  Tensor weights = Tensor::contiguous(nullptr, DType::f32, {0, k});
  Tensor no_tokens = Tensor::contiguous(nullptr, DType::i32, {0});
  for (Tensor* t : {&logits, &ids, &weights, &no_tokens}) t->device = w.router.device;
  try {
    kernels::check_moe_routing(logits, routing_tables(w, config.routing, &no_tokens), config.routing, ids,
                                  weights);
  } catch (const Error& e) {
    fail("{}: {}", layer, e.what());
  }

  int64_t width = hidden;
  if (present(w.latent_in) != present(w.latent_out))
    fail("{}: fc1_latent_proj and fc2_latent_proj come as a pair; only one was given", layer);
  if (present(w.latent_in)) {
    if (w.latent_in.ndim != 2)
      fail("{}: fc1_latent_proj.weight must be a matrix [latent, {}], got {}", layer, hidden,
           w.latent_in.describe());
    width = w.latent_in.size(0);
    check_projection(w.latent_in, width, hidden, layer, "fc1_latent_proj.weight");
    check_projection(w.latent_out, hidden, width, layer, "fc2_latent_proj.weight");
  } else if (present(w.latent_in_bias) || present(w.latent_out_bias)) {
    fail("{}: latent projection biases given without the latent projections", layer);
  }
  check_vector(w.latent_in_bias, width, layer, "fc1_latent_proj.bias");
  check_vector(w.latent_out_bias, hidden, layer, "fc2_latent_proj.bias");

  for (size_t e = 0; e < w.experts.size(); ++e) {
    // A literal name on the hot path; the index is formatted only when something is wrong.
    try {
      check_mlp(w.experts[e], config.expert_activation, width, "expert");
    } catch (const Error& err) {
      fail("{}: experts.{}: {}", layer, e, err.what());
    }
  }
  if (present(w.shared.up) || present(w.shared.down)) {
    try {
      check_mlp(w.shared, config.shared_activation, hidden, "shared_experts");
    } catch (const Error& err) {
      fail("{}: {}", layer, err.what());
    }
  }
}

void moe_forward(const MoeWeights& w, const MoeConfig& config, const Tensor& x, const Tensor* token_ids,
                 Tensor& out, Workspace& workspace, const Exec& exec, bool accumulate) {
  if (x.ndim != 2 || x.dtype != DType::f32 || x.device != exec.device())
    fail("moe: input must be f32 [tokens, hidden] on the {}, got {}", device_name(exec.device()), x.describe());
  const int64_t tokens = x.size(0), hidden = x.size(1);
  check_moe(w, config, hidden, "moe");
  if (out.ndim != 2 || out.dtype != DType::f32 || out.size(0) != tokens || out.size(1) != hidden ||
      (hidden > 1 && out.stride(1) != 1))
    fail("moe: output must be f32 [{}, {}] with contiguous rows, like the input; got {}", tokens, hidden,
         out.describe());
  if (tokens == 0) return;

  // 1. Router logits in f32 (transformers casts input and weight to f32; bf16→f32 is exact).
  const int64_t n_experts = w.router.size(0), k = config.routing.top_k;
  Tensor logits = workspace.take(DType::f32, {tokens, n_experts});
  kernels::check_gemm(x, w.router, logits, {});
  kernels::gemm(x, w.router, logits, {}, exec);

  // 2. Routing.
  Tensor ids = workspace.take(DType::i32, {tokens, k});
  Tensor mix = workspace.take(DType::f32, {tokens, k});
  const kernels::RoutingTables tables = routing_tables(w, config.routing, token_ids);
  kernels::check_moe_routing(logits, tables, config.routing, ids, mix);
  kernels::moe_routing(logits, tables, config.routing, ids, mix,
                       workspace.take_bytes(kernels::moe_routing_workspace_bytes(tokens, n_experts)), exec);

  // 3. Group the (token, j) slots by expert: expert e owns rows [start[e], start[e+1]) of the gathered
  //    block, its tokens in ascending order.
  const int64_t n_slots = tokens * k;
  const kernels::MoeGrouping grouping{.expert_start = workspace.take(DType::i64, {n_experts + 1}),
                                      .row_token = workspace.take(DType::i64, {n_slots}),
                                      .slot_row = workspace.take(DType::i64, {n_slots})};
  kernels::moe_group_by_expert(ids, n_experts, grouping, exec);
  // The per-expert GEMMs below are launched from the host, so a GPU step reads the expert boundaries
  // back (a synchronising copy: MoE steps are not graph-captured; a grouped GEMM would remove it).
  const bool grouped = moe_runs_grouped(w, config, tokens, exec.device());
  const int64_t* start = grouping.expert_start.ptr<const int64_t>();
  if (exec.device() != Device::cpu && !grouped) {
    auto* host_start = static_cast<int64_t*>(workspace.take_host_bytes(sizeof(int64_t) * static_cast<size_t>(n_experts + 1)));
    copy_memory(host_start, start, sizeof(int64_t) * static_cast<size_t>(n_experts + 1), exec.device());
    start = host_start;
  }

  // 4. The experts' input: x, or its latent projection (computed once per token, before the gather).
  Tensor expert_in = x;
  if (present(w.latent_in)) {
    expert_in = workspace.take(DType::f32, {tokens, w.latent_in.size(0)});
    kernels::GemmParams params;
    params.bias = present(w.latent_in_bias) ? &w.latent_in_bias : nullptr;
    kernels::check_gemm(x, w.latent_in, expert_in, params);
    kernels::gemm(x, w.latent_in, expert_in, params, exec);
  }
  const int64_t width = expert_in.size(1);
  Tensor gathered = workspace.take(DType::f32, {n_slots, width});
  kernels::moe_gather_rows(expert_in, grouping, gathered, exec);

  // 5. Each chosen expert once, over its contiguous block; experts with no tokens are never touched.
  Tensor expert_out = workspace.take(DType::f32, {n_slots, width});
  if (grouped) {
    // All experts in one launch per projection, the grouping read on the device (no host round trip).
    const Workspace::Scope expert_scratch(workspace);
    const MlpWeights& shape = w.experts.front();
    Tensor h = workspace.take(DType::f32, {n_slots, shape.up.size(0)});
    kernels::moe_expert_gemm(gathered, table_row(w, 0, shape.up), grouping, h, exec);
    Tensor g;
    if (present(shape.gate)) {
      g = workspace.take(DType::f32, {n_slots, shape.gate.size(0)});
      kernels::moe_expert_gemm(gathered, table_row(w, 1, shape.gate), grouping, g, exec);
    }
    kernels::ffn_activation(config.expert_activation, h, g, exec);
    kernels::moe_expert_gemm(h, table_row(w, 2, shape.down), grouping, expert_out, exec);
  }
  for (int64_t e = 0; e < n_experts && !grouped; ++e) {
    if (start[e + 1] == start[e]) continue;
    const Tensor block_in = gathered.slice(start[e], start[e + 1]);
    Tensor block_out = expert_out.slice(start[e], start[e + 1]);
    const Workspace::Scope expert_scratch(workspace);  // each expert's hidden rows, returned after it
    mlp_forward(w.experts[static_cast<size_t>(e)], config.expert_activation, block_in, block_out, workspace,
                exec);
  }

  // 6. Mix: each token's rows in ascending row order = ascending expert id, transformers' sum order.
  const bool latent = present(w.latent_out);
  Tensor routed = latent ? workspace.take(DType::f32, {tokens, width}) : out;
  const bool add_to_target = accumulate && !latent;
  kernels::moe_mix(expert_out, grouping, mix, routed, add_to_target, exec);
  if (latent) {
    kernels::GemmParams params;
    params.bias = present(w.latent_out_bias) ? &w.latent_out_bias : nullptr;
    params.accumulate = accumulate;
    kernels::check_gemm(routed, w.latent_out, out, params);
    kernels::gemm(routed, w.latent_out, out, params, exec);
  }

  // 7. Shared expert on the un-projected input, added.
  if (present(w.shared.up)) mlp_forward(w.shared, config.shared_activation, x, out, workspace, exec, true);
}

size_t moe_scratch_bytes(const MoeWeights& w, const MoeConfig& config, int64_t tokens) {
  const auto bytes = [](int64_t elements, size_t size) { return Workspace::rounded(static_cast<size_t>(elements) * size); };
  const int64_t n_experts = w.router.size(0), k = config.routing.top_k, n_slots = tokens * k;
  const int64_t width = present(w.latent_in) ? w.latent_in.size(0) : w.router.size(1);
  size_t total = bytes(tokens * n_experts, 4) + 2 * bytes(n_slots, 4) +
                 Workspace::rounded(kernels::moe_routing_workspace_bytes(tokens, n_experts)) +
                 bytes(n_experts + 1, 8) + 2 * bytes(n_slots, 8) + 2 * bytes(n_slots * width, 4);
  if (present(w.latent_in)) total += 2 * bytes(tokens * width, 4);
  size_t expert = 0;  // one expert at a time (a Scope), so the largest one over every row bounds it
  for (const MlpWeights& e : w.experts) expert = std::max(expert, mlp_scratch_bytes(e, config.expert_activation, n_slots));
  total += expert;
  if (present(w.shared.up)) total += mlp_scratch_bytes(w.shared, config.shared_activation, tokens);
  return total;
}

void visit_tensors(MoeWeights& w, const TensorVisitor& visit) {
  for (Tensor* t : {&w.router, &w.correction_bias, &w.hash_table, &w.latent_in, &w.latent_in_bias, &w.latent_out,
                    &w.latent_out_bias})
    visit(*t);
  for (MlpWeights& expert : w.experts) visit_tensors(expert, visit);
  visit_tensors(w.shared, visit);
}

}  // namespace strata::model
