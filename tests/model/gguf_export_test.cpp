// Hugging Face checkpoints written as GGUF (model/gguf_export.h) against llama.cpp's own tooling: the Q8_0
// export of a fixture holds byte for byte the tensors gguf-py's converter and quantizer wrote for it
// (tests/fixtures/gguf/mamba2_g1-q8_0.gguf; ssm_a, -exp(A_log), within an ulp: exp differs by library),
// strata reads what it writes back to the HF directory's logits, and what GGUF cannot hold is refused.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/core/thread_pool.h"
#include "strata/io/gguf.h"
#include "strata/io/safetensors.h"
#include "strata/model/gguf_export.h"
#include "strata/model/logits_runner.h"
#include "strata/model/model.h"

namespace strata::model {
namespace {

const std::filesystem::path kSource = STRATA_SOURCE_DIR;
const std::filesystem::path kModels = kSource / "tests/fixtures/models";

std::filesystem::path temp(const std::string& name) { return std::filesystem::temp_directory_path() / name; }

TEST(GgufExport, Q8_0TensorsEqualLlamaCppsToolingByteForByte) {
  const auto out = temp("strata_export_mamba2_g1_q8_0.gguf");
  const GgufExportSummary s = export_gguf(kModels / "mamba2_g1", out, io::GgmlType::q8_0);
  EXPECT_GT(s.quantized, 0);
  const io::GgufFile ours = io::GgufFile::open(out);
  const io::GgufFile theirs = io::GgufFile::open(kSource / "tests/fixtures/gguf/mamba2_g1-q8_0.gguf");
  ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (const io::GgufTensorInfo& t : theirs.tensors()) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(ours.has(t.name));
    const io::GgufTensorInfo& o = ours.info(t.name);
    EXPECT_EQ(o.type, t.type);
    EXPECT_EQ(o.ne, t.ne);
    const auto a = ours.bytes(t.name), b = theirs.bytes(t.name);
    ASSERT_EQ(a.size(), b.size());
    if (t.name.ends_with("ssm_a")) {
      for (size_t i = 0; i < a.size() / 4; ++i) {
        float x, y;
        std::memcpy(&x, a.data() + 4 * i, 4);
        std::memcpy(&y, b.data() + 4 * i, 4);
        EXPECT_NEAR(x, y, 2e-7 * std::fabs(y));
      }
    } else {
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0);
    }
  }
  for (const char* key : {"mamba2.block_count", "mamba2.embedding_length", "mamba2.ssm.inner_size",
                          "mamba2.ssm.state_size", "mamba2.ssm.time_step_rank", "mamba2.ssm.group_count",
                          "mamba2.ssm.conv_kernel"})
    EXPECT_EQ(ours.get_int(key), theirs.get_int(key)) << key;
  EXPECT_EQ(ours.get_int("general.file_type"), 7);  // MOSTLY_Q8_0, as llama.cpp names the file
}

TEST(GgufExport, StrataReadsWhatItWritesAsTheDirectory) {
  ThreadPool pool(2);
  for (const std::string fixture : {"mamba2_g1", "nemotron_h_hybrid"})
    for (const io::GgmlType type : {io::GgmlType::bf16, io::GgmlType::f16}) {
      SCOPED_TRACE(fixture + " " + std::string(io::ggml_type_name(type)));
      const auto out = temp("strata_export_" + fixture + ".gguf");
      export_gguf(kModels / fixture, out, type);
      const auto gguf = Model::load(out);
      const auto hf = Model::load(kModels / fixture);
      const auto inputs = io::SafetensorsFile::open(kModels / fixture / "input_ids.safetensors");
      const Tensor ids = inputs.get("input_ids");
      std::vector<int32_t> tokens;
      for (int64_t i = 0; i < ids.numel(); ++i) tokens.push_back(static_cast<int32_t>(ids.ptr<const int64_t>()[i]));
      const auto mode = parse_logits_mode("full");
      const std::vector<float> a = run_logits(*gguf, tokens, ids.shape[0], ids.shape[1], mode, pool);
      const std::vector<float> b = run_logits(*hf, tokens, ids.shape[0], ids.shape[1], mode, pool);
      ASSERT_EQ(a.size(), b.size());
      double diff = 0;
      for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
      // bf16 weights round-trip exactly; f16 holds these bf16 values exactly too (small magnitudes).
      EXPECT_LT(diff, 1e-4);
    }
}

void expect_refused(const std::string& fixture, io::GgmlType type, const std::string& part) {
  try {
    export_gguf(kModels / fixture, temp("strata_export_refused.gguf"), type);
    ADD_FAILURE() << fixture << " was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(GgufExport, RefusesWhatGgufCannotHold) {
  expect_refused("bamba", io::GgmlType::bf16, "mamba2 and nemotron_h");
  expect_refused("mamba2_g2", io::GgmlType::bf16, "time_step_limit");  // dt clamped to [0.02, 1.5]
  expect_refused("mamba2_g1", io::GgmlType::q4_k, "not supported yet");
}

}  // namespace
}  // namespace strata::model
