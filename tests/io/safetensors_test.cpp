// SafetensorsFile + write_safetensors: round trips for every dtype and odd shapes, the writer's exact
// bytes against a hand-computed file, data ordering and alignment, strided input, misaligned input
// copied on read, and dtypes strata cannot hold.
#include "strata/io/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <random>
#include <vector>

#include "safetensors_test_util.h"
#include "strata/core/error.h"
#include "strata/io/safetensors_writer.h"

namespace strata::io {
namespace {

using testing::raw_safetensors;
using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

using testing::error_of;

TEST(SafetensorsDtype, NamesRoundTrip) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i16, DType::i8,
                  DType::u8, DType::boolean}) {
    EXPECT_EQ(dtype_from_safetensors(safetensors_dtype_name(t)), t) << dtype_name(t);
  }
  EXPECT_EQ(safetensors_dtype_name(DType::bf16), "BF16");
  EXPECT_EQ(safetensors_dtype_name(DType::boolean), "BOOL");
  EXPECT_FALSE(dtype_from_safetensors("F64").has_value());
  EXPECT_FALSE(dtype_from_safetensors("bf16").has_value());  // names are case-sensitive in the format
}

TEST(Safetensors, RoundTripEveryDtypeAndShape) {
  ScratchDir dir;
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {3, 0, 2}, {7}, {2, 3, 5}, {1, 2, 1, 3, 1, 2}};
  const std::vector<DType> dtypes = {DType::f32, DType::f16, DType::bf16, DType::i64,    DType::i32,
                                     DType::i16, DType::i8,  DType::u8,   DType::boolean};
  std::mt19937 rng(7);
  std::map<std::string, std::vector<std::byte>> expected;
  std::map<std::string, Tensor> tensors;
  for (DType dtype : dtypes) {
    for (size_t s = 0; s < shapes.size(); ++s) {
      const std::string name = fmt::format("layers.{}.{}", dtype_name(dtype), s);
      Tensor t;
      t.dtype = dtype;
      t.ndim = static_cast<int>(shapes[s].size());
      int64_t stride = 1;
      for (int d = t.ndim - 1; d >= 0; --d) {
        t.shape[static_cast<size_t>(d)] = shapes[s][static_cast<size_t>(d)];
        t.strides[static_cast<size_t>(d)] = stride;
        stride *= t.shape[static_cast<size_t>(d)];
      }
      std::vector<std::byte>& bytes = expected[name];
      bytes.resize(t.nbytes());
      for (auto& b : bytes) b = static_cast<std::byte>(dtype == DType::boolean ? rng() % 2 : rng() % 256);
      t.data = bytes.data();
      tensors.emplace(name, t);
    }
  }
  write_safetensors(dir / "x.safetensors", tensors, {{"format", "pt"}, {"note", "round trip"}});

  const SafetensorsFile file = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
  ASSERT_EQ(file.size(), tensors.size());
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors) names.push_back(name);
  EXPECT_EQ(file.names(), names);
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.has(name));
    const Tensor t = file.get(name);
    EXPECT_EQ(t.dtype, original.dtype);
    ASSERT_EQ(t.ndim, original.ndim);
    for (int d = 0; d < t.ndim; ++d) {
      EXPECT_EQ(t.shape[static_cast<size_t>(d)], original.shape[static_cast<size_t>(d)]);
      EXPECT_EQ(t.strides[static_cast<size_t>(d)], original.strides[static_cast<size_t>(d)]);
    }
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(t.numel(), original.numel());
    EXPECT_FALSE(file.info(name).copied);  // our writer aligns every tensor
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u);
    EXPECT_EQ(file.info(name).dtype_name, safetensors_dtype_name(original.dtype));
    if (t.nbytes() > 0) {
      EXPECT_EQ(std::memcmp(t.data, expected[name].data(), t.nbytes()), 0);
    }
  }
}

TEST(Safetensors, WriterMatchesHandComputedBytes) {
  ScratchDir dir;
  float scalar = 1.5f;
  int16_t pair[2] = {1, -2};
  write_safetensors(
      dir / "w.safetensors",
      {{"b", Tensor::contiguous(pair, DType::i16, {2})}, {"a", Tensor::contiguous(&scalar, DType::f32, {})}},
      {{"format", "pt"}});
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const std::string data("\x00\x00\xc0\x3f\x01\x00\xfe\xff", 8);
  EXPECT_EQ(read_bytes(dir / "w.safetensors"), raw_safetensors(padded, data));
  EXPECT_EQ(padded.size() % 8, 0u);
}

TEST(Safetensors, WriterPutsLargestElementsFirstSoEveryTensorIsAligned) {
  ScratchDir dir;
  uint8_t bytes[3] = {1, 2, 3};
  float floats[2] = {1, 2};
  uint16_t half[1] = {0x3c00};
  int64_t big[1] = {-5};
  write_safetensors(dir / "o.safetensors", {{"a", Tensor::contiguous(bytes, DType::u8, {3})},
                                            {"b", Tensor::contiguous(floats, DType::f32, {2})},
                                            {"c", Tensor::contiguous(half, DType::f16, {1})},
                                            {"d", Tensor::contiguous(big, DType::i64, {1})}});
  const SafetensorsFile file = SafetensorsFile::open(dir / "o.safetensors");
  using Range = std::pair<uint64_t, uint64_t>;
  auto offsets = [&](const char* name) {
    return Range(file.info(name).data_begin, file.info(name).data_end);
  };
  EXPECT_EQ(offsets("d"), Range(0, 8));
  EXPECT_EQ(offsets("b"), Range(8, 16));
  EXPECT_EQ(offsets("c"), Range(16, 18));
  EXPECT_EQ(offsets("a"), Range(18, 21));
  EXPECT_EQ(file.get("d").ptr<int64_t>()[0], -5);
  EXPECT_EQ(f16_to_f32(file.get("c").ptr<uint16_t>()[0]), 1.0f);
}

TEST(Safetensors, WriterGathersStridedViews) {
  ScratchDir dir;
  float m[2][3] = {{1, 2, 3}, {4, 5, 6}};
  Tensor transposed = Tensor::contiguous(m, DType::f32, {3, 2});
  transposed.strides = {1, 3};
  write_safetensors(dir / "t.safetensors", {{"mt", transposed}});
  const SafetensorsFile file = SafetensorsFile::open(dir / "t.safetensors");
  const Tensor read = file.get("mt");
  ASSERT_EQ(read.describe(), "f32[3, 2]");
  const float want[6] = {1, 4, 2, 5, 3, 6};
  EXPECT_EQ(std::memcmp(read.data, want, sizeof want), 0);
}

TEST(Safetensors, WriterReplacesAtomicallyAndLeavesNoTemporary) {
  ScratchDir dir;
  int32_t first[1] = {1}, second[2] = {2, 3};
  write_safetensors(dir / "r.safetensors", {{"x", Tensor::contiguous(first, DType::i32, {1})}});
  write_safetensors(dir / "r.safetensors", {{"x", Tensor::contiguous(second, DType::i32, {2})}});
  const SafetensorsFile file = SafetensorsFile::open(dir / "r.safetensors");
  EXPECT_EQ(file.get("x").describe(), "i32[2]");
  EXPECT_EQ(file.get("x").ptr<int32_t>()[1], 3);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(Safetensors, WriterRejectsBadInputNamingPathAndTensor) {
  ScratchDir dir;
  float v[2] = {1, 2};
  const auto path = dir / "bad.safetensors";
  Tensor on_gpu = Tensor::contiguous(v, DType::f32, {2}, Device::cuda);
  std::string message = error_of([&] { write_safetensors(path, {{"gpu", on_gpu}}); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("'gpu'"), std::string::npos) << message;
  message = error_of([&] {
    write_safetensors(path, {{"__metadata__", Tensor::contiguous(v, DType::f32, {2})}});
  });
  EXPECT_NE(message.find("reserved"), std::string::npos) << message;
  Tensor negative = Tensor::contiguous(v, DType::f32, {2});
  negative.shape[0] = -1;
  message = error_of([&] { write_safetensors(path, {{"neg", negative}}); });
  EXPECT_NE(message.find("negative"), std::string::npos) << message;
  message = error_of([&] {
    write_safetensors(dir / "no_such_dir" / "x.safetensors", {{"v", Tensor::contiguous(v, DType::f32, {2})}});
  });
  EXPECT_NE(message.find("no_such_dir"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Safetensors, MisalignedTensorsAreCopiedToAlignedMemory) {
  ScratchDir dir;
  // An unpadded header from a writer that does not align: 8 + header length is odd, so the f32 tensor
  // at data offset 0 starts on an odd address of the page-aligned mapping.
  std::string header =
      R"({"f":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}})";
  if (header.size() % 2 == 0) header += " ";
  std::string data(9, '\0');
  const float values[2] = {1.25f, -3.0f};
  std::memcpy(data.data(), values, 8);
  data[8] = '\x2a';
  write_bytes(dir / "m.safetensors", raw_safetensors(header, data));

  SafetensorsFile file = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_TRUE(file.info("f").copied);
  EXPECT_FALSE(file.info("u").copied);  // bytes need no alignment
  const Tensor f = file.get("f");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data) % 64, 0u);
  EXPECT_EQ(f.ptr<float>()[0], 1.25f);
  EXPECT_EQ(f.ptr<float>()[1], -3.0f);
  EXPECT_EQ(file.get("u").ptr<uint8_t>()[0], 0x2a);
  // The copy must survive moving the file object.
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.get("f").ptr<float>()[1], -3.0f);
  EXPECT_EQ(moved.get("f").data, f.data);
}

TEST(Safetensors, UnsupportedDtypeOpensButGetNamesTensorFileAndDtype) {
  ScratchDir dir;
  const std::string header =
      R"({"wide":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"fp8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[12,14]},)"
      R"("ok":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"deep":{"dtype":"U8","shape":[1,1,1,1,1,1,1],"data_offsets":[14,15]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  std::string data(15, '\0');
  const float one = 1.0f;
  std::memcpy(data.data() + 8, &one, 4);
  const auto path = dir / "u.safetensors";
  write_bytes(path, raw_safetensors(padded, data));

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.get("ok").ptr<float>()[0], 1.0f);
  EXPECT_EQ(file.info("wide").dtype_name, "F64");
  EXPECT_FALSE(file.info("wide").dtype.has_value());
  for (const char* name : {"wide", "fp8"}) {
    const std::string message = error_of([&] { file.get(name); });
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fmt::format("'{}'", name)), std::string::npos) << message;
    EXPECT_NE(message.find(file.info(name).dtype_name), std::string::npos) << message;
    EXPECT_NE(message.find("does not support"), std::string::npos) << message;
  }
  const std::string message = error_of([&] { file.get("deep"); });
  EXPECT_NE(message.find("rank 7"), std::string::npos) << message;
}

TEST(Safetensors, MissingTensorAndAbsentMetadata) {
  ScratchDir dir;
  int8_t v[1] = {-1};
  const auto path = dir / "n.safetensors";
  write_safetensors(path, {{"only", Tensor::contiguous(v, DType::i8, {1})}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.metadata().empty());
  EXPECT_FALSE(file.has("other"));
  const std::string message = error_of([&] { file.get("other"); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("'other'"), std::string::npos) << message;
  EXPECT_EQ(file.get("only").ptr<int8_t>()[0], -1);
}

}  // namespace
}  // namespace strata::io

namespace strata::io {
namespace {

TEST(Safetensors, EmptyCheckpointAndFifoAreHandled) {
  ScratchDir dir;
  write_safetensors(dir / "e.safetensors", {});
  EXPECT_EQ(read_bytes(dir / "e.safetensors"), raw_safetensors("{}      ", ""));
  EXPECT_EQ(SafetensorsFile::open(dir / "e.safetensors").size(), 0u);
  // A FIFO must be refused at once rather than block open() waiting for a writer.
  const auto fifo = dir / "fifo.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string message = error_of([&] { SafetensorsFile::open(fifo); });
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

}  // namespace
}  // namespace strata::io
