#include "device_option.h"

#include <charconv>

#include <fmt/format.h>

#include "strata/core/cuda_runtime.h"
#include "strata/core/error.h"

namespace strata::cli {

void add_device_options(CLI::App* cmd, DeviceArgs& args) {
  cmd->add_option("--device", args.device, "where to run: cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", args.precision,
                  "GPU numerics: fast (weights as stored, bf16 tensor-core GEMMs on split f32 activations, f32 state) or exact (weights widened to f32, f32 throughout)")
      ->capture_default_str();
}

namespace {

// -1 for the CPU, else the GPU index.
int parse_device(const std::string& text) {
  if (text == "cpu") return -1;
  if (text == "cuda") return 0;
  if (text.starts_with("cuda:")) {
    int index = -1;
    const char* begin = text.data() + 5;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, index);
    if (ec == std::errc() && ptr == end && begin != end && index >= 0) return index;
  }
  fail("--device '{}' is not a device (expected cpu, cuda or cuda:N)", text);
}

}  // namespace

Placement place_model(model::Model& model, const DeviceArgs& args) {
  const int index = parse_device(args.device);
  const model::Precision precision = model::parse_precision(args.precision);
  Placement placement;
  if (index < 0) return placement;
  if (!cuda::built())
    fail("--device {}: this build of strata has no CUDA backend (rebuild where nvcc is installed)", args.device);
  if (cuda::device_count() == 0) fail("--device {}: {}", args.device, cuda::unavailable_reason());
  if (index >= cuda::device_count())
    fail("--device {}: this machine has {} CUDA GPU(s) (cuda:0 .. cuda:{})", args.device, cuda::device_count(),
         cuda::device_count() - 1);
  placement.cuda = std::make_unique<CudaContext>(index);
  // Weights in their stored dtype, or widened to f32 for exact: refuse before uploading a byte if they
  // cannot fit, leaving room for the cache and workspace.
  const size_t weight_bytes = static_cast<size_t>(model.parameter_count()) *
                              (precision == model::Precision::exact ? 4 : 2);
  const cuda::DeviceInfo& info = placement.cuda->info();
  if (weight_bytes > info.free_memory)
    fail("--device {}: the model's weights need {:.2f} GiB ({} precision) but {} has {:.2f} GiB free", args.device,
         static_cast<double>(weight_bytes) / (1ull << 30), model::precision_name(precision), info.name,
         static_cast<double>(info.free_memory) / (1ull << 30));
  model.to_device(precision);
  return placement;
}

}  // namespace strata::cli
