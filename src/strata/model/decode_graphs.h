// DecodeGraphs: the GPU's steady-state decode steps as CUDA graphs, one per batch size. A decode step of
// B one-token sequences launches the same kernels on the same workspace addresses every time (only the
// uploaded metadata — tokens, positions, slots — changes), so its compute is captured once and replayed.
// The first step of a shape runs eagerly (so every scratch buffer reaches its size), the second is
// captured, later ones replay. Owned by whoever drives the steps (engine, bench); used by Model::forward.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

#include "strata/core/cuda_graph.h"

namespace strata::model {

class DecodeGraphs {
 public:
  // What makes a captured step replayable: the batch size and the addresses it was captured at.
  struct Key {
    int64_t sequences = 0;
    const void* metadata = nullptr;  // the step's device metadata block
    const void* logits = nullptr;
    bool operator<(const Key& o) const {
      return std::tie(sequences, metadata, logits) < std::tie(o.sequences, o.metadata, o.logits);
    }
  };

  // Runs `compute` for this key: eagerly, by capture-then-replay, or by replay (see above).
  void run(const Key& key, CudaContext& cuda, const std::function<void()>& compute);

  uint64_t captures() const { return captures_; }
  uint64_t replays() const { return replays_; }
  // Graphs dropped because the GEMM scratch moved after they were captured.
  uint64_t recaptures() const { return recaptures_; }
  // Forgets every graph (e.g. after the workspace moved).
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    int eager_runs = 0;
    CudaGraph graph;
    void* scratch = nullptr;  // CudaContext::gemm_scratch's address when captured
  };
  std::map<Key, Entry> entries_;
  uint64_t captures_ = 0, replays_ = 0, recaptures_ = 0;
};

}  // namespace strata::model
