// CudaGraph: one captured sequence of kernel launches on a stream, replayed with one launch. A decode
// step is hundreds of small kernels; replaying them as a graph removes the per-launch host overhead that
// leaves the GPU idle at batch 1. Capture records launches without running them, so what is captured
// must not allocate, synchronise or copy to the host.
#pragma once

#include <functional>

#include "strata/core/cuda_context.h"

namespace strata {

class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(CudaGraph&& other) noexcept;
  CudaGraph& operator=(CudaGraph&& other) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records what `work` launches on the context's stream (thread-local capture mode: other threads'
  // CUDA calls are unaffected) and instantiates it. Throws strata::Error if capture fails (an illegal
  // call inside `work`), leaving the graph empty.
  void capture(CudaContext& cuda, const std::function<void()>& work);
  // Launches the instantiated graph on the context's stream.
  void replay(CudaContext& cuda) const;
  bool empty() const { return exec_ == nullptr; }

 private:
  void reset();
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

}  // namespace strata
