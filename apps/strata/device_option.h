// --device cpu|cuda|cuda:N and --precision exact|fast for every command that runs a model: parses them,
// opens the GPU, checks it can hold the model and moves the weights there. Errors are strata::Error
// (exit 2): no GPU, no CUDA backend in this build, a device index that does not exist, too little memory.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "strata/core/cuda_context.h"
#include "strata/core/exec.h"
#include "strata/core/thread_pool.h"
#include "strata/model/model.h"

namespace strata::cli {

struct DeviceArgs {
  std::string device = "cpu";
  std::string precision = "fast";
};

// Adds --device and --precision to a subcommand.
void add_device_options(CLI::App* cmd, DeviceArgs& args);

// The model's place: the GPU context (nullptr on the CPU) once the weights are there.
struct Placement {
  std::unique_ptr<CudaContext> cuda;
  bool gpu() const { return cuda != nullptr; }
  Exec exec(ThreadPool& pool) const { return cuda ? Exec(*cuda, pool) : Exec(pool); }
};

// Opens the chosen device and moves `model` there (a no-op for cpu). Throws strata::Error naming the
// option for bad values, a missing GPU or too little free memory.
Placement place_model(model::Model& model, const DeviceArgs& args);

}  // namespace strata::cli
