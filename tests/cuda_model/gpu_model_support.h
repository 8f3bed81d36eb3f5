// Shared by the GPU model tests: the process's CUDA context (a visible skip without a GPU) and the
// transformers reference of a fixture (tests/fixtures/models/<name>).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/core/cuda_context.h"
#include "strata/core/cuda_runtime.h"
#include "strata/io/safetensors.h"

namespace strata::testing {

inline CudaContext* gpu() {
  static std::unique_ptr<CudaContext> context = [] {
    return cuda::device_count() > 0 ? std::make_unique<CudaContext>(0) : nullptr;
  }();
  return context.get();
}

#define STRATA_REQUIRE_GPU()                                                                        \
  do {                                                                                              \
    if (::strata::testing::gpu() == nullptr)                                                        \
      GTEST_SKIP() << "no CUDA GPU (" << ::strata::cuda::unavailable_reason() << "): GPU model test skipped"; \
  } while (0)

inline const std::filesystem::path kFixtures = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/models";

struct Reference {
  std::vector<int32_t> tokens;
  int64_t batch = 0, length = 0, vocab = 0;
  std::vector<float> logits;
};

inline Reference load_reference(const std::filesystem::path& dir) {
  Reference r;
  const auto inputs = io::SafetensorsFile::open(dir / "input_ids.safetensors");
  const Tensor ids = inputs.get("input_ids");
  r.batch = ids.shape[0];
  r.length = ids.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) r.tokens.push_back(static_cast<int32_t>(ids.ptr<const int64_t>()[i]));
  const auto outputs = io::SafetensorsFile::open(dir / "logits.safetensors");
  const Tensor logits = outputs.get("logits");
  r.vocab = logits.shape[2];
  r.logits.assign(logits.ptr<const float>(), logits.ptr<const float>() + logits.numel());
  return r;
}

inline const std::vector<std::string>& fixture_names() {
  static const std::vector<std::string> names = {"mamba2_g1", "mamba2_g2", "nemotron_h_hybrid", "nemotron_h_latent",
                                                 "granite_moe_hybrid", "granite_dense_hybrid", "bamba", "falcon_h1_norm",
                                                 "falcon_h1_gate", "falcon_h1_norm_first", "zamba2"};
  return names;
}

}  // namespace strata::testing
