#include "strata/model/decode_graphs.h"

namespace strata::model {

void DecodeGraphs::run(const Key& key, CudaContext& cuda, const std::function<void()>& compute) {
  Entry& entry = entries_[key];
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
  ++captures_;
  entry.graph.replay(cuda);
  ++replays_;
}

}  // namespace strata::model
