#include "strata/model/decode_graphs.h"

namespace strata::model {

void DecodeGraphs::run(const Key& key, CudaContext& cuda, const std::function<void()>& compute) {
  Entry& entry = entries_[key];
  // A graph holds the GEMM scratch's address as it was at capture; a later, larger step (a prefill)
  // may have moved it, and replaying would then touch freed memory. Such a graph is captured again.
  void* const scratch = cuda.gemm_scratch(0);
  if (!entry.graph.empty() && entry.scratch != scratch) {
    entry = Entry{};
    ++recaptures_;
  }
  if (!entry.graph.empty()) {
    entry.graph.replay(cuda);
    ++replays_;
    return;
  }
  if (entry.eager_runs == 0) {
    ++entry.eager_runs;
    compute();
    return;
  }
  // Captured launches do not run: replay once to compute this step.
  entry.graph.capture(cuda, compute);
  entry.scratch = scratch;
  ++captures_;
  entry.graph.replay(cuda);
  ++replays_;
}

}  // namespace strata::model
