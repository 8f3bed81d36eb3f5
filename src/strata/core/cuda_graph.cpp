#include "strata/core/cuda_graph.h"

#include <utility>

#include "strata/core/error.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata {

CudaGraph::~CudaGraph() { reset(); }

CudaGraph::CudaGraph(CudaGraph&& other) noexcept
    : graph_(std::exchange(other.graph_, nullptr)), exec_(std::exchange(other.exec_, nullptr)) {}

CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept {
  if (this != &other) {
    reset();
    graph_ = std::exchange(other.graph_, nullptr);
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}

#if STRATA_HAVE_CUDA

void CudaGraph::reset() {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = graph_ = nullptr;
}

void CudaGraph::capture(CudaContext& cuda, const std::function<void()>& work) {
  reset();
  const auto stream = static_cast<cudaStream_t>(cuda.stream());
  cudaError_t status = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (status != cudaSuccess) fail("CUDA graph: cannot begin capture: {}", cudaGetErrorString(status));
  cuda.set_capturing(true);
  cudaGraph_t graph = nullptr;
  try {
    work();
  } catch (...) {
    cuda.set_capturing(false);
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  cuda.set_capturing(false);
  status = cudaStreamEndCapture(stream, &graph);
  if (status != cudaSuccess || graph == nullptr) {
    cudaGetLastError();
    fail("CUDA graph: capture failed: {}", cudaGetErrorString(status));
  }
  graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  status = cudaGraphInstantiate(&exec, graph, 0);
  if (status != cudaSuccess) {
    cudaGetLastError();
    reset();
    fail("CUDA graph: instantiation failed: {}", cudaGetErrorString(status));
  }
  exec_ = exec;
}

void CudaGraph::replay(CudaContext& cuda) const {
  const cudaError_t status = cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(cuda.stream()));
  if (status != cudaSuccess) fail("CUDA graph: launch failed: {}", cudaGetErrorString(status));
}

#else

void CudaGraph::reset() {}
void CudaGraph::capture(CudaContext&, const std::function<void()>&) { fail("CUDA graphs: this build has no CUDA backend"); }
void CudaGraph::replay(CudaContext&) const { fail("CUDA graphs: this build has no CUDA backend"); }

#endif

}  // namespace strata
