// Hostile safetensors files: every malformed or truncated input must throw exactly one strata::Error
// whose message names the file (and the tensor where one is at fault) and the problem, and a random
// byte-flip / truncation loop must only ever succeed or throw strata::Error.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "safetensors_test_util.h"
#include "strata/core/error.h"
#include "strata/io/safetensors.h"
#include "strata/io/safetensors_writer.h"

namespace strata::io {
namespace {

using testing::raw_safetensors;
using testing::read_bytes;
using testing::ScratchDir;
using testing::u64_le;
using testing::write_bytes;

// Writes `bytes`, opens it, and checks the error names the file and contains every fragment.
void expect_rejected(const std::string& bytes, std::initializer_list<std::string> fragments) {
  ScratchDir dir;
  const auto path = dir / "model.safetensors";
  write_bytes(path, bytes);
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "opened a hostile file; expected an error containing " << *fragments.begin();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

// A one-tensor header around `entry` for tensor "w", with `data_size` zero bytes of data.
std::string one_tensor(const std::string& entry, size_t data_size) {
  return raw_safetensors(R"({"w":)" + entry + "}", std::string(data_size, '\0'));
}

TEST(SafetensorsHostile, FileLevel) {
  expect_rejected("", {"empty"});
  expect_rejected(std::string("\x05\x00\x00", 3), {"3 bytes", "too short"});
  expect_rejected(u64_le(1000) + "{}", {"header length 1000", "exceeds the file"});
  expect_rejected(u64_le(uint64_t{1} << 63) + "{}", {"limit"});
  expect_rejected(u64_le(0), {"does not start with '{'"});
  expect_rejected(raw_safetensors("[]", ""), {"does not start with '{'"});
  expect_rejected(raw_safetensors(R"({"w":)", ""), {"not valid JSON"});
  expect_rejected(raw_safetensors("{\"w\xff\":{}}", ""), {"not valid JSON"});  // invalid UTF-8
  expect_rejected(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{}})", "x"),
                  {"'w' twice"});
}

TEST(SafetensorsHostile, MissingOrMistypedFields) {
  expect_rejected(one_tensor("5", 0), {"tensor 'w'", "expected an object"});
  expect_rejected(one_tensor(R"({"shape":[1],"data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "is missing \"dtype\""});
  expect_rejected(one_tensor(R"({"dtype":"F32","data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "is missing \"shape\""});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1]})", 4),
                  {"tensor 'w'", "is missing \"data_offsets\""});
  expect_rejected(one_tensor(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "dtype is 32"});
  expect_rejected(one_tensor(R"({"dtype":"F128","shape":[1],"data_offsets":[0,16]})", 16),
                  {"tensor 'w'", "unknown dtype \"F128\""});
  expect_rejected(raw_safetensors(R"({"__metadata__":[1]})", ""), {"__metadata__"});
  expect_rejected(raw_safetensors(R"({"__metadata__":{"format":1}})", ""),
                  {"__metadata__ 'format'", "string"});
}

TEST(SafetensorsHostile, Shapes) {
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})", 16),
                  {"tensor 'w'", "shape is 4"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "not a non-negative integer"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "not a non-negative integer"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})", 8),
                  {"tensor 'w'", "not a non-negative integer"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1e30],"data_offsets":[0,8]})", 8),
                  {"tensor 'w'", "not a non-negative integer"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})", 8),
                  {"tensor 'w'", "absurd"});
  // 2^32 * 2^32 * 16 wraps to 0 in 64-bit arithmetic: it must not pass as an empty tensor.
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]})", 0),
                  {"tensor 'w'", "overflows"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]})", 0),
                  {"tensor 'w'", "overflows"});
  // Empty, but its strides would overflow.
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})", 0),
                  {"tensor 'w'", "overflows"});
  expect_rejected(one_tensor(R"({"dtype":"F4","shape":[3],"data_offsets":[0,2]})", 2),
                  {"tensor 'w'", "whole number of bytes"});
}

TEST(SafetensorsHostile, Offsets) {
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4),
                  {"tensor 'w'", "data_offsets is [0]"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 8),
                  {"tensor 'w'", "[begin, end]"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4),
                  {"tensor 'w'", "[begin, end]"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":"0,4"})", 4),
                  {"tensor 'w'", "[begin, end]"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[4,0]})", 4),
                  {"tensor 'w'", "end before"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[24],"data_offsets":[100,196]})", 120),
                  {"tensor 'w' data_offsets [100, 196] exceed the data section (120 bytes)"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4),
                  {"tensor 'w'", "span 4 bytes", "needs 8"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 8), {"trailing"});
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", 8),
                  {"gap of 4 bytes", "'w'"});
  expect_rejected(raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  std::string(12, '\0')),
                  {"tensor 'b'", "overlap tensor 'a'"});
  expect_rejected(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                  std::string(4, '\0')),
                  {"overlap"});
}

TEST(SafetensorsHostile, TruncatedAndNotAFile) {
  ScratchDir dir;
  float v[6] = {1, 2, 3, 4, 5, 6};
  const auto path = dir / "good.safetensors";
  write_safetensors(path, {{"v", Tensor::contiguous(v, DType::f32, {6})}});
  const std::string bytes = read_bytes(path);
  expect_rejected(bytes.substr(0, bytes.size() - 3), {"tensor 'v'", "exceed the data section"});
  expect_rejected(bytes.substr(0, 20), {"exceeds the file", "truncated"});

  for (const auto& target : {dir.path(), dir / "absent.safetensors"}) {
    try {
      SafetensorsFile::open(target);
      ADD_FAILURE() << "opened " << target;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
    }
  }
}

// Random damage to a valid file: flip bits, write JSON-significant characters, truncate, extend.
// Success is allowed (a flipped data byte is still a valid file); anything but strata::Error is a bug.
TEST(SafetensorsHostile, RandomDamageOnlyEverThrowsStrataError) {
  ScratchDir dir;
  const auto path = dir / "fuzz.safetensors";
  float f[5] = {1, 2, 3, 4, 5};
  uint16_t h[3] = {1, 2, 3};
  int64_t ids[2] = {7, 8};
  uint8_t flags[3] = {1, 0, 1};
  write_safetensors(path,
                    {{"backbone.layers.0.mixer.A_log", Tensor::contiguous(f, DType::f32, {5})},
                     {"backbone.layers.0.norm.weight", Tensor::contiguous(h, DType::bf16, {3})},
                     {"input_ids", Tensor::contiguous(ids, DType::i64, {1, 2})},
                     {"mask", Tensor::contiguous(flags, DType::boolean, {3})}},
                    {{"format", "pt"}});
  const std::string original = read_bytes(path);
  const std::string significant = "{}[]\":,0123456789-.eE \\";
  std::mt19937 rng(12345);
  int opened = 0, rejected = 0;
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::string bytes = original;
    switch (rng() % 4) {
      case 0:
        for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k)
          bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        for (unsigned k = 0, n = 1 + rng() % 2; k < n; ++k)
          bytes[8 + rng() % (bytes.size() - 8)] = significant[rng() % significant.size()];
        break;
      case 2:
        bytes.resize(rng() % bytes.size());
        break;
      default:
        bytes.append(1 + rng() % 9, static_cast<char>(rng()));
        break;
    }
    write_bytes(path, bytes);
    try {
      const SafetensorsFile file = SafetensorsFile::open(path);
      for (const std::string& name : file.names()) {
        const SafetensorsTensorInfo& info = file.info(name);
        if (!info.dtype || info.shape.size() > static_cast<size_t>(kMaxDims)) continue;
        const Tensor t = file.get(name);
        ASSERT_EQ(t.nbytes(), info.data_end - info.data_begin);
        volatile unsigned char sink = 0;  // touch every byte the view claims
        for (size_t i = 0; i < t.nbytes(); ++i) sink = sink ^ static_cast<const unsigned char*>(t.data)[i];
      }
      ++opened;
    } catch (const Error& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).rfind(path.string() + ": ", 0), 0u) << e.what();
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iteration << " threw a non-strata exception: " << e.what();
    }
  }
  EXPECT_GT(opened, 50);
  EXPECT_GT(rejected, 500);
}

}  // namespace
}  // namespace strata::io
