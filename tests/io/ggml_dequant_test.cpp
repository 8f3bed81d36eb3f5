// ggml block decoding (io/ggml_dequant.h) against llama.cpp's gguf-py decoding of the same random blocks
// (tests/fixtures/gguf/dequant-oracle.gguf, tools/make_gguf_fixtures.py): every value of every type bit
// for bit; types it cannot decode are refused by name.
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/io/ggml_dequant.h"
#include "strata/io/gguf.h"

namespace strata::io {
namespace {

const std::filesystem::path kOracle = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/fixtures/gguf/dequant-oracle.gguf";

TEST(GgmlDequant, EveryTypeEqualsGgufPyBitForBit) {
  const GgufFile file = GgufFile::open(kOracle);
  int types = 0;
  for (const GgufTensorInfo& info : file.tensors()) {
    if (info.name.rfind("blocks.", 0) != 0) continue;
    const std::string type = info.name.substr(7);
    SCOPED_TRACE(type);
    EXPECT_EQ(ggml_type_name(info.type), type);
    ASSERT_TRUE(ggml_type_decodable(info.type));
    const Tensor expected = file.get("expected." + type);
    int64_t count = 1;
    for (int64_t n : info.ne) count *= n;
    ASSERT_EQ(count, expected.numel());
    std::vector<float> got(static_cast<size_t>(count));
    dequantize(info.type, file.bytes(info.name).data(), count, got.data());
    int64_t mismatches = 0;
    for (int64_t i = 0; i < count; ++i) {
      uint32_t a, b;
      std::memcpy(&a, &got[static_cast<size_t>(i)], 4);
      std::memcpy(&b, expected.ptr<const float>() + i, 4);
      if (a != b && mismatches++ < 5)
        ADD_FAILURE() << type << " value " << i << ": " << got[static_cast<size_t>(i)] << " vs gguf-py "
                      << expected.ptr<const float>()[i];
    }
    EXPECT_EQ(mismatches, 0);
    ++types;
  }
  EXPECT_EQ(types, 8);  // Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K
}

TEST(GgmlDequant, UndecodableTypesAreRefusedByName) {
  EXPECT_FALSE(ggml_type_decodable(GgmlType::q2_k));
  std::vector<std::byte> block(84);
  std::vector<float> out(256);
  try {
    dequantize(GgmlType::q2_k, block.data(), 256, out.data());
    ADD_FAILURE() << "Q2_K decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q2_K"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::io
