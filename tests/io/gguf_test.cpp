// GgufFile: files built byte by byte by an in-test writer (so the reader is checked against the format,
// not against a writer of ours): metadata of every value type through the getters, F32/F16/BF16 views
// with ne reversed into the shape, quantized tensors' raw bytes, a custom alignment, every hostile input
// the contract names (each a strata::Error whose message says what is wrong), truncation at every byte,
// and is_gguf_file.
#include "strata/io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "safetensors_test_util.h"
#include "strata/core/error.h"

namespace strata::io {
namespace {

using testing::ScratchDir;
using testing::write_bytes;

// Appends GGUF's little-endian encodings to `s`; every method returns *this so a file reads top to bottom.
struct GgufBytes {
  std::string s;

  template <typename T>
  GgufBytes& scalar(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    s.append(b, sizeof(T));
    return *this;
  }
  GgufBytes& u8(uint8_t v) { return scalar(v); }
  GgufBytes& u32(uint32_t v) { return scalar(v); }
  GgufBytes& u64(uint64_t v) { return scalar(v); }
  GgufBytes& raw(const std::string& bytes) {
    s += bytes;
    return *this;
  }
  GgufBytes& str(const std::string& text) {
    u64(text.size());
    return raw(text);
  }
  GgufBytes& type(GgufType t) { return u32(static_cast<uint32_t>(t)); }

  GgufBytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    raw("GGUF");
    u32(version);
    u64(tensors);
    return u64(kvs);
  }
  // A key and its value type; the value follows.
  GgufBytes& key(const std::string& k, GgufType t) {
    str(k);
    return type(t);
  }
  template <typename T>
  GgufBytes& kv(const std::string& k, GgufType t, T v) {
    key(k, t);
    return scalar(v);
  }
  GgufBytes& kv_string(const std::string& k, const std::string& v) {
    key(k, GgufType::string);
    return str(v);
  }
  // An array's key, element type and count; the elements follow.
  GgufBytes& kv_array(const std::string& k, GgufType element, uint64_t count) {
    key(k, GgufType::array);
    type(element);
    return u64(count);
  }
  GgufBytes& tensor_info(const std::string& name, std::vector<uint64_t> ne, GgmlType t, uint64_t offset) {
    str(name);
    u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    u32(static_cast<uint32_t>(t));
    return u64(offset);
  }
  GgufBytes& pad(uint64_t alignment) {
    while (s.size() % alignment != 0) s.push_back('\0');
    return *this;
  }
};

std::string f32_bytes(const std::vector<float>& values) {
  GgufBytes b;
  for (float v : values) b.scalar(v);
  return b.s;
}
std::string u16_bytes(const std::vector<uint16_t>& values) {
  GgufBytes b;
  for (uint16_t v : values) b.scalar(v);
  return b.s;
}

struct TensorSpec {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> ne;
  std::string data;
};

// A whole valid file: header, the already encoded pairs `kvs` (kv_count of them), the tensors' infos
// with offsets laid out at `alignment`, padding, and the data section.
std::string gguf_file(const std::string& kvs, uint64_t kv_count, const std::vector<TensorSpec>& tensors,
                      uint64_t alignment = 32) {
  GgufBytes b;
  b.header(tensors.size(), kv_count).raw(kvs);
  std::string data;
  for (const TensorSpec& t : tensors) {
    while (data.size() % alignment != 0) data.push_back('\0');
    b.tensor_info(t.name, t.ne, t.type, data.size());
    data += t.data;
  }
  b.pad(alignment).raw(data);
  return b.s;
}

using testing::error_of;

// Writes `bytes`, expects open() to throw an Error starting with the path and containing each fragment.
void expect_rejected(const std::string& bytes, std::initializer_list<std::string> fragments) {
  ScratchDir dir;
  const auto path = dir / "model.gguf";
  write_bytes(path, bytes);
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "opened a hostile file; expected an error containing '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(" at byte "), std::string::npos) << message;
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << message;
  }
}

// One tensor info for tensor "w" (and no metadata) followed by `data_bytes` zero bytes of data.
std::string one_tensor(std::vector<uint64_t> ne, GgmlType type, uint64_t offset, size_t data_bytes) {
  GgufBytes b;
  b.header(1, 0).tensor_info("w", std::move(ne), type, offset).pad(32).raw(std::string(data_bytes, '\0'));
  return b.s;
}

// A small valid file with a string, an array of strings and one F32 tensor (used for truncation).
std::string small_valid_file() {
  GgufBytes kvs;
  kvs.kv_string("general.name", "tiny");
  kvs.kv_array("tokens", GgufType::string, 2).str("a").str("bc");
  kvs.kv("n", GgufType::u32, uint32_t{7});
  return gguf_file(kvs.s, 3, {{"w", GgmlType::f32, {2, 1}, f32_bytes({1.5f, -2.0f})}});
}

TEST(GgufTypes, Traits) {
  EXPECT_EQ(ggml_type_name(GgmlType::q4_k), "Q4_K");
  EXPECT_EQ(ggml_type_name(GgmlType::bf16), "BF16");
  EXPECT_EQ(ggml_type_name(static_cast<GgmlType>(99)), "?");
  const struct {
    GgmlType t;
    int64_t elements, bytes;
  } expected[] = {{GgmlType::f32, 1, 4},     {GgmlType::f16, 1, 2},     {GgmlType::bf16, 1, 2},
                  {GgmlType::q4_0, 32, 18},  {GgmlType::q4_1, 32, 20},  {GgmlType::q5_0, 32, 22},
                  {GgmlType::q5_1, 32, 24},  {GgmlType::q8_0, 32, 34},  {GgmlType::q8_1, 32, 36},
                  {GgmlType::q2_k, 256, 84}, {GgmlType::q3_k, 256, 110}, {GgmlType::q4_k, 256, 144},
                  {GgmlType::q5_k, 256, 176}, {GgmlType::q6_k, 256, 210}, {GgmlType::q8_k, 256, 292}};
  for (const auto& e : expected) {
    EXPECT_EQ(ggml_block_elements(e.t), e.elements) << ggml_type_name(e.t);
    EXPECT_EQ(ggml_block_bytes(e.t), e.bytes) << ggml_type_name(e.t);
  }
}

TEST(Gguf, MetadataOfEveryTypeRoundTrips) {
  GgufBytes kvs;
  kvs.kv("u8", GgufType::u8, uint8_t{200})
      .kv("i8", GgufType::i8, int8_t{-100})
      .kv("u16", GgufType::u16, uint16_t{60000})
      .kv("i16", GgufType::i16, int16_t{-30000})
      .kv("u32", GgufType::u32, uint32_t{4000000000u})
      .kv("i32", GgufType::i32, int32_t{-2000000000})
      .kv("f32", GgufType::f32, 0.25f)
      .kv("bool.true", GgufType::boolean, uint8_t{1})
      .kv("bool.false", GgufType::boolean, uint8_t{0})
      .kv_string("string", "hello gguf")
      .kv_string("empty", "")
      .kv("u64", GgufType::u64, uint64_t{1} << 62)
      .kv("u64.big", GgufType::u64, ~uint64_t{0})
      .kv("i64", GgufType::i64, int64_t{-(int64_t{1} << 60)})
      .kv("f64", GgufType::f64, 3.141592653589793);
  kvs.kv_array("a.u8", GgufType::u8, 3).u8(1).u8(2).u8(255);
  kvs.kv_array("a.i8", GgufType::i8, 2).scalar(int8_t{-1}).scalar(int8_t{5});
  kvs.kv_array("a.u16", GgufType::u16, 1).scalar(uint16_t{65535});
  kvs.kv_array("a.i16", GgufType::i16, 1).scalar(int16_t{-7});
  kvs.kv_array("a.u32", GgufType::u32, 2).u32(10).u32(20);
  kvs.kv_array("a.i32", GgufType::i32, 2).scalar(int32_t{-3}).scalar(int32_t{4});
  kvs.kv_array("a.u64", GgufType::u64, 1).u64(uint64_t{1} << 40);
  kvs.kv_array("a.u64.big", GgufType::u64, 2).u64(1).u64(~uint64_t{0});
  kvs.kv_array("a.i64", GgufType::i64, 1).scalar(int64_t{-9});
  kvs.kv_array("a.f32", GgufType::f32, 2).scalar(1.5f).scalar(-0.5f);
  kvs.kv_array("a.f64", GgufType::f64, 1).scalar(1e300);
  kvs.kv_array("a.bool", GgufType::boolean, 3).u8(1).u8(0).u8(1);
  kvs.kv_array("a.string", GgufType::string, 3).str("<s>").str("").str("merges are long");
  kvs.kv_array("a.empty", GgufType::u32, 0);
  constexpr uint64_t kPairs = 15 + 14;

  ScratchDir dir;
  const auto path = dir / "meta.gguf";
  write_bytes(path, gguf_file(kvs.s, kPairs, {}));
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), kPairs);
  EXPECT_TRUE(f.tensors().empty());

  EXPECT_EQ(f.get_int("u8"), 200);
  EXPECT_EQ(f.get_int("i8"), -100);
  EXPECT_EQ(f.get_int("u16"), 60000);
  EXPECT_EQ(f.get_int("i16"), -30000);
  EXPECT_EQ(f.get_int("u32"), 4000000000);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.get_int("u64"), int64_t{1} << 62);
  EXPECT_EQ(f.get_int("i64"), -(int64_t{1} << 60));
  EXPECT_EQ(f.get_float("f32"), 0.25);
  EXPECT_EQ(f.get_float("f64"), 3.141592653589793);
  EXPECT_EQ(f.get_float("i32"), -2e9);  // integers are numbers too
  EXPECT_EQ(f.get_float("u8"), 200.0);
  EXPECT_TRUE(f.get_bool("bool.true"));
  EXPECT_FALSE(f.get_bool("bool.false"));
  EXPECT_EQ(f.get_string("string"), "hello gguf");
  EXPECT_EQ(f.get_string("empty"), "");

  // The raw values, as the header documents them.
  ASSERT_NE(f.find("u16"), nullptr);
  EXPECT_EQ(f.find("u16")->type, GgufType::u16);
  EXPECT_EQ(f.find("u16")->u, 60000u);
  EXPECT_EQ(f.find("i8")->i, -100);
  EXPECT_EQ(f.find("u64.big")->u, ~uint64_t{0});
  EXPECT_EQ(f.find("a.string")->element_type, GgufType::string);
  EXPECT_EQ(f.find("nope"), nullptr);

  // Optional getters: nullopt only when absent.
  EXPECT_EQ(f.get_int_or("nope"), std::nullopt);
  EXPECT_EQ(f.get_float_or("nope"), std::nullopt);
  EXPECT_EQ(f.get_bool_or("nope"), std::nullopt);
  EXPECT_EQ(f.get_string_or("nope"), std::nullopt);
  EXPECT_EQ(f.get_int_or("i16"), -30000);
  EXPECT_EQ(f.get_float_or("f32"), 0.25);
  EXPECT_EQ(f.get_bool_or("bool.true"), true);
  EXPECT_EQ(f.get_string_or("string"), "hello gguf");

  // Arrays.
  EXPECT_EQ(f.get_int_array("a.u8"), (std::vector<int64_t>{1, 2, 255}));
  EXPECT_EQ(f.get_int_array("a.i8"), (std::vector<int64_t>{-1, 5}));
  EXPECT_EQ(f.get_int_array("a.u16"), (std::vector<int64_t>{65535}));
  EXPECT_EQ(f.get_int_array("a.i16"), (std::vector<int64_t>{-7}));
  EXPECT_EQ(f.get_int_array("a.u32"), (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(f.get_int_array("a.i32"), (std::vector<int64_t>{-3, 4}));
  EXPECT_EQ(f.get_int_array("a.u64"), (std::vector<int64_t>{int64_t{1} << 40}));
  EXPECT_EQ(f.get_int_array("a.i64"), (std::vector<int64_t>{-9}));
  EXPECT_EQ(f.get_int_array("a.empty"), (std::vector<int64_t>{}));
  EXPECT_EQ(f.get_float_array("a.f32"), (std::vector<double>{1.5, -0.5}));
  EXPECT_EQ(f.get_float_array("a.f64"), (std::vector<double>{1e300}));
  EXPECT_EQ(f.get_float_array("a.i32"), (std::vector<double>{-3.0, 4.0}));
  EXPECT_EQ(f.get_float_array("a.u8"), (std::vector<double>{1.0, 2.0, 255.0}));
  EXPECT_EQ(f.get_string_array("a.string"), (std::vector<std::string>{"<s>", "", "merges are long"}));
  EXPECT_EQ(std::get<std::vector<bool>>(f.find("a.bool")->array), (std::vector<bool>{true, false, true}));

  // Absent and mistyped keys: the message names the key, the file and the type found.
  const std::string file = path.string();
  auto expect_error = [&](const std::function<void()>& action, std::initializer_list<std::string> fragments) {
    const std::string message = error_of(action);
    EXPECT_NE(message.find(file), std::string::npos) << message;
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << message;
  };
  expect_error([&] { f.get_int("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_string("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_float("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_bool("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_int_array("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_float_array("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_string_array("nope"); }, {"'nope'", "absent"});
  expect_error([&] { f.get_string("u32"); }, {"'u32'", "is u32", "expected a string"});
  expect_error([&] { f.get_int("string"); }, {"'string'", "is string", "integer"});
  expect_error([&] { f.get_int("bool.true"); }, {"'bool.true'", "is bool", "integer"});
  expect_error([&] { f.get_int("f32"); }, {"'f32'", "is f32", "integer"});
  expect_error([&] { f.get_int("u64.big"); }, {"'u64.big'", "18446744073709551615", "int64"});
  expect_error([&] { f.get_int_or("u64.big"); }, {"'u64.big'", "int64"});
  expect_error([&] { f.get_float("bool.false"); }, {"'bool.false'", "is bool"});
  expect_error([&] { f.get_float("string"); }, {"'string'", "is string"});
  expect_error([&] { f.get_bool("u8"); }, {"'u8'", "is u8", "bool"});
  expect_error([&] { f.get_string_or("i64"); }, {"'i64'", "is i64"});
  expect_error([&] { f.get_int("a.u8"); }, {"'a.u8'", "is an array of u8"});
  expect_error([&] { f.get_int_array("u32"); }, {"'u32'", "is u32", "array of integers"});
  expect_error([&] { f.get_int_array("a.f32"); }, {"'a.f32'", "array of f32"});
  expect_error([&] { f.get_int_array("a.string"); }, {"'a.string'", "array of string"});
  expect_error([&] { f.get_int_array("a.u64.big"); }, {"'a.u64.big'", "element 1", "int64"});
  expect_error([&] { f.get_float_array("a.string"); }, {"'a.string'", "array of string"});
  expect_error([&] { f.get_float_array("a.bool"); }, {"'a.bool'", "array of bool"});
  expect_error([&] { f.get_string_array("a.u32"); }, {"'a.u32'", "array of u32", "array of strings"});
  expect_error([&] { f.get_string_array("string"); }, {"'string'", "is string", "array of strings"});
}

TEST(Gguf, FloatTensorViews) {
  // F32 2-D: ne {3, 2} is 2 rows of 3.
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  // F16 3-D: ne {2, 3, 4} is shape [4, 3, 2].
  std::vector<uint16_t> b;
  for (int k = 0; k < 24; ++k) b.push_back(f32_to_f16(static_cast<float>(k) * 0.5f - 3.0f));
  // BF16 2-D: ne {4, 1}.
  std::vector<uint16_t> c;
  for (float v : {1.0f, -2.5f, 1024.0f, 0.0078125f}) c.push_back(f32_to_bf16(v));
  // BF16 3-D with an odd count: the F32 after it still lands on an aligned offset.
  std::vector<uint16_t> d;
  for (int k = 0; k < 6; ++k) d.push_back(f32_to_bf16(static_cast<float>(k)));

  ScratchDir dir;
  const auto path = dir / "floats.gguf";
  write_bytes(path, gguf_file("", 0,
                              {{"a", GgmlType::f32, {3, 2}, f32_bytes(a)},
                               {"b", GgmlType::f16, {2, 3, 4}, u16_bytes(b)},
                               {"c", GgmlType::bf16, {4, 1}, u16_bytes(c)},
                               {"d", GgmlType::bf16, {1, 3, 2}, u16_bytes(d)},
                               {"e", GgmlType::f32, {1}, f32_bytes({42.0f})}}));
  const GgufFile f = GgufFile::open(path);
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // file order
  EXPECT_EQ(f.tensors()[4].name, "e");
  EXPECT_TRUE(f.has("b"));
  EXPECT_FALSE(f.has("z"));

  const GgufTensorInfo& ib = f.info("b");
  EXPECT_EQ(ib.type, GgmlType::f16);
  EXPECT_EQ(ib.ne, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(ib.shape, (std::vector<int64_t>{4, 3, 2}));
  EXPECT_EQ(ib.bytes, 48u);
  EXPECT_EQ(ib.offset, 32u);
  EXPECT_EQ(f.bytes("b").size(), 48u);

  const Tensor ta = f.get("a");
  EXPECT_EQ(ta.dtype, DType::f32);
  EXPECT_EQ(ta.device, Device::cpu);
  ASSERT_EQ(ta.ndim, 2);
  EXPECT_EQ(ta.shape[0], 2);
  EXPECT_EQ(ta.shape[1], 3);
  EXPECT_EQ(ta.strides[0], 3);
  EXPECT_EQ(ta.strides[1], 1);
  EXPECT_TRUE(ta.is_contiguous());
  for (int k = 0; k < 6; ++k) EXPECT_EQ(ta.ptr<const float>()[k], a[static_cast<size_t>(k)]);
  EXPECT_EQ(ta.ptr<const float>()[1 * 3 + 2], 6.0f);  // row 1, column 2

  const Tensor tb = f.get("b");
  EXPECT_EQ(tb.dtype, DType::f16);
  ASSERT_EQ(tb.ndim, 3);
  EXPECT_EQ(tb.shape[0], 4);
  EXPECT_EQ(tb.shape[1], 3);
  EXPECT_EQ(tb.shape[2], 2);
  EXPECT_EQ(tb.strides[0], 6);
  EXPECT_EQ(tb.strides[1], 2);
  EXPECT_EQ(tb.strides[2], 1);
  EXPECT_EQ(tb.numel(), 24);
  for (int k = 0; k < 24; ++k)
    EXPECT_EQ(f16_to_f32(tb.ptr<const uint16_t>()[k]), static_cast<float>(k) * 0.5f - 3.0f) << k;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tb.data) % 32, 0u);

  const Tensor tc = f.get("c");
  EXPECT_EQ(tc.dtype, DType::bf16);
  ASSERT_EQ(tc.ndim, 2);
  EXPECT_EQ(tc.shape[0], 1);
  EXPECT_EQ(tc.shape[1], 4);
  EXPECT_EQ(bf16_to_f32(tc.ptr<const uint16_t>()[1]), -2.5f);
  EXPECT_EQ(bf16_to_f32(tc.ptr<const uint16_t>()[3]), 0.0078125f);

  const Tensor td = f.get("d");
  ASSERT_EQ(td.ndim, 3);
  EXPECT_EQ(td.shape[0], 2);
  EXPECT_EQ(td.shape[1], 3);
  EXPECT_EQ(td.shape[2], 1);
  EXPECT_EQ(bf16_to_f32(td.ptr<const uint16_t>()[5]), 5.0f);

  const Tensor te = f.get("e");
  ASSERT_EQ(te.ndim, 1);
  EXPECT_EQ(te.shape[0], 1);
  EXPECT_EQ(*te.ptr<const float>(), 42.0f);

  const std::string missing = error_of([&] { f.get("z"); });
  EXPECT_NE(missing.find("no tensor named 'z'"), std::string::npos) << missing;
  EXPECT_NE(missing.find(path.string()), std::string::npos) << missing;
  EXPECT_NE(error_of([&] { f.bytes("z"); }).find("'z'"), std::string::npos);

  // Moving keeps the views valid (the mapping moves with it).
  GgufFile moved = GgufFile::open(path);
  GgufFile target = std::move(moved);
  EXPECT_EQ(target.get("a").ptr<const float>()[5], 6.0f);
  EXPECT_EQ(target.path(), path);
}

TEST(Gguf, QuantizedTensorsGiveBytesNotViews) {
  std::string q8(2 * 2 * 34, '\0');  // ne {64, 2}: 2 blocks per row, 2 rows
  for (size_t k = 0; k < q8.size(); ++k) q8[k] = static_cast<char>(k * 7);
  std::string q4k(3 * 144, '\x5a');  // ne {256, 3}
  ScratchDir dir;
  const auto path = dir / "quant.gguf";
  write_bytes(path, gguf_file("", 0, {{"q8", GgmlType::q8_0, {64, 2}, q8}, {"q4k", GgmlType::q4_k, {256, 3}, q4k}}));
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.info("q8").bytes, 136u);
  EXPECT_EQ(f.info("q4k").bytes, 432u);
  EXPECT_EQ(f.info("q4k").shape, (std::vector<int64_t>{3, 256}));
  ASSERT_EQ(f.bytes("q8").size(), 136u);
  ASSERT_EQ(f.bytes("q4k").size(), 432u);
  EXPECT_EQ(std::memcmp(f.bytes("q8").data(), q8.data(), q8.size()), 0);
  EXPECT_EQ(std::memcmp(f.bytes("q4k").data(), q4k.data(), q4k.size()), 0);
  for (const char* name : {"q8", "q4k"}) {
    const std::string message = error_of([&] { f.get(name); });
    EXPECT_NE(message.find(fmt::format("'{}'", name)), std::string::npos) << message;
    EXPECT_NE(message.find(std::string(name) == "q8" ? "Q8_0" : "Q4_K"), std::string::npos) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  }
}

TEST(Gguf, CustomAlignmentAndVersion2) {
  GgufBytes kvs;
  kvs.kv("general.alignment", GgufType::u32, uint32_t{64}).kv_string("general.architecture", "mamba2");
  ScratchDir dir;
  const auto path = dir / "aligned.gguf";
  std::string bytes = gguf_file(kvs.s, 2,
                                {{"x", GgmlType::f32, {3}, f32_bytes({1, 2, 3})},
                                 {"y", GgmlType::f32, {2}, f32_bytes({7, 8})}},
                                64);
  bytes[4] = 2;  // version 2: same layout
  write_bytes(path, bytes);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.info("y").offset, 64u);  // the writer laid "y" at the next multiple of 64
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.bytes("x").data()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.bytes("y").data()) % 64, 0u);
  EXPECT_EQ(f.get("y").ptr<const float>()[1], 8.0f);
  EXPECT_EQ(f.get("x").ptr<const float>()[2], 3.0f);
  EXPECT_EQ(f.get_string("general.architecture"), "mamba2");
}

// (Each expect_rejected makes the test's scratch directory afresh, so these live in a test of their own.)
TEST(GgufHostile, AlignedOffsetsAndElements) {
  // The same tensors at alignment 32 would put "y" at 32, which alignment 64 refuses.
  GgufBytes wrong;
  wrong.header(2, 1).kv("general.alignment", GgufType::u32, uint32_t{64});
  wrong.tensor_info("x", {3}, GgmlType::f32, 0).tensor_info("y", {2}, GgmlType::f32, 32).pad(64);
  wrong.raw(std::string(64 + 8, '\0'));
  expect_rejected(wrong.s, {"tensor 'y'", "offset 32", "not a multiple of the alignment 64"});

  // An alignment below the element size: quantized bytes are fine, a float view is refused.
  GgufBytes small;
  small.header(1, 1).kv("general.alignment", GgufType::u32, uint32_t{1});
  small.tensor_info("q", {32}, GgmlType::q8_0, 0).raw(std::string(34, '\0'));
  {
    ScratchDir dir;
    write_bytes(dir / "q.gguf", small.s);
    EXPECT_EQ(GgufFile::open(dir / "q.gguf").bytes("q").size(), 34u);
  }
  GgufBytes small_f32;
  small_f32.header(1, 1).kv("general.alignment", GgufType::u32, uint32_t{2});
  small_f32.tensor_info("w", {1}, GgmlType::f32, 0).raw(std::string(4, '\0'));
  expect_rejected(small_f32.s, {"tensor 'w'", "general.alignment 2 is smaller", "misaligned"});
}

TEST(GgufHostile, Header) {
  expect_rejected("", {"0 bytes", "shorter than the 24-byte GGUF header"});
  expect_rejected("GGUF", {"4 bytes", "shorter than"});
  GgufBytes bad_magic;
  bad_magic.raw("GGML").u32(3).u64(0).u64(0);
  expect_rejected(bad_magic.s, {"bad magic", "not a GGUF file"});
  for (uint32_t version : {0u, 1u, 4u, 1000u}) {
    GgufBytes b;
    b.header(0, 0, version);
    expect_rejected(b.s, {fmt::format("version {} is not supported", version), "header"});
  }
  GgufBytes big_endian;
  big_endian.header(0, 0, 0x03000000u);
  expect_rejected(big_endian.s, {"big-endian"});

  GgufBytes tensors;
  tensors.header(kGgufMaxTensors + 1, 0);
  expect_rejected(tensors.s, {"tensor count 1048577", "limit"});
  GgufBytes kvs;
  kvs.header(0, kGgufMaxKeyValues + 1);
  expect_rejected(kvs.s, {"key/value count 1048577", "limit"});
  GgufBytes huge;
  huge.header(~uint64_t{0}, ~uint64_t{0});
  expect_rejected(huge.s, {"limit"});
  // Within the caps but far more than the file could hold: refused before anything is allocated.
  GgufBytes many;
  many.header(kGgufMaxTensors, kGgufMaxKeyValues);
  expect_rejected(many.s, {"truncated", "tensors and", "metadata pairs"});
}

TEST(GgufHostile, Metadata) {
  // A key length past the end of the file, and past the string cap.
  GgufBytes long_key;
  long_key.header(0, 1).u64(1000).raw(std::string(20, 'a'));
  expect_rejected(long_key.s, {"metadata pair 1 of 1", "length 1000", "past the end of the file"});
  GgufBytes huge_key;
  huge_key.header(0, 1).u64(~uint64_t{0}).raw(std::string(16, 'x'));
  expect_rejected(huge_key.s, {"length 18446744073709551615", "limit"});
  // A string value running past the end.
  GgufBytes long_value;
  long_value.header(0, 1).key("k", GgufType::string).u64(64).raw("short");
  expect_rejected(long_value.s, {"metadata 'k'", "string value", "length 64", "past the end of the file"});
  // Array counts past the end of the file, and past the cap.
  GgufBytes long_array;
  long_array.header(0, 1).kv_array("a", GgufType::u32, 1000).u32(1).u32(2);
  expect_rejected(long_array.s, {"metadata 'a'", "1000 u32 elements", "past the end of the file"});
  GgufBytes long_strings;  // strings count at least their 8-byte lengths
  long_strings.header(0, 1).kv_array("a", GgufType::string, 3).str("x").str("y");
  expect_rejected(long_strings.s, {"3 string elements", "past the end of the file"});
  GgufBytes huge_array;
  huge_array.header(0, 1).kv_array("a", GgufType::u8, kGgufMaxArrayElements + 1).raw(std::string(16, '\0'));
  expect_rejected(huge_array.s, {"array count 67108865", "limit"});
  // An element string past the end, inside an array that otherwise fits.
  GgufBytes element;
  element.header(0, 1).kv_array("a", GgufType::string, 2).str("ok").u64(100).raw(std::string(8, 'z'));
  expect_rejected(element.s, {"metadata 'a'", "length 100", "past the end of the file"});
  // Unknown value types, scalar and element; nested arrays.
  GgufBytes unknown;
  unknown.header(0, 1).str("k").u32(13).u64(0);
  expect_rejected(unknown.s, {"metadata 'k'", "unknown value type 13"});
  GgufBytes unknown_element;
  unknown_element.header(0, 1).str("k").type(GgufType::array).u32(77).u64(0);
  expect_rejected(unknown_element.s, {"unknown element type 77"});
  GgufBytes nested;
  nested.header(0, 1).kv_array("k", GgufType::array, 1).type(GgufType::u8).u64(1).u8(0);
  expect_rejected(nested.s, {"metadata 'k'", "nested array"});
  // Duplicate keys.
  GgufBytes duplicate;
  duplicate.header(0, 2).kv("n", GgufType::u32, uint32_t{1}).kv("n", GgufType::i32, int32_t{2});
  expect_rejected(duplicate.s, {"metadata 'n'", "duplicate key 'n'", "pair 2 of 2"});
}

TEST(GgufHostile, Alignment) {
  for (uint32_t bad : {0u, 3u, 48u}) {
    GgufBytes b;
    b.header(0, 1).kv("general.alignment", GgufType::u32, bad);
    expect_rejected(b.s, {"metadata 'general.alignment'", fmt::format("general.alignment {} is not a power of two", bad)});
  }
  GgufBytes wide;
  wide.header(0, 1).kv("general.alignment", GgufType::u64, uint64_t{32});
  expect_rejected(wide.s, {"general.alignment is u64, expected a u32"});
  GgufBytes signed_alignment;
  signed_alignment.header(0, 1).kv("general.alignment", GgufType::i32, int32_t{32});
  expect_rejected(signed_alignment.s, {"general.alignment is i32, expected a u32"});
  GgufBytes text;
  text.header(0, 1).kv_string("general.alignment", "32");
  expect_rejected(text.s, {"general.alignment is string, expected a u32"});
}

TEST(GgufHostile, TensorInfos) {
  // Dimension counts.
  for (uint32_t n_dims : {0u, 5u, 0xffffffffu}) {
    GgufBytes b;
    b.header(1, 0).str("w").u32(n_dims).raw(std::string(80, '\0'));
    expect_rejected(b.s, {"tensor info 'w'", fmt::format("has {} dimensions, expected 1 to 4", n_dims)});
  }
  // A dimension 0, or negative read as int64.
  expect_rejected(one_tensor({4, 0}, GgmlType::f32, 0, 64), {"tensor 'w' dimension 1 is 0"});
  expect_rejected(one_tensor({~uint64_t{0}}, GgmlType::f32, 0, 64), {"tensor 'w' dimension 0 is -1"});
  expect_rejected(one_tensor({4, uint64_t{1} << 63}, GgmlType::f32, 0, 64), {"dimension 1 is -9223372036854775808"});
  // Products past 63 bits: of the elements, and of the bytes.
  expect_rejected(one_tensor({uint64_t{1} << 40, uint64_t{1} << 40}, GgmlType::f32, 0, 64),
                  {"tensor 'w'", "overflow", "63 bits"});
  expect_rejected(one_tensor({2, 2, 2, uint64_t{1} << 61}, GgmlType::f32, 0, 64), {"overflow"});
  expect_rejected(one_tensor({uint64_t{1} << 62}, GgmlType::f32, 0, 64), {"F32", "overflows", "byte size"});
  // An unknown ggml type.
  expect_rejected(one_tensor({4}, static_cast<GgmlType>(99), 0, 64), {"tensor 'w'", "unknown ggml type 99"});
  expect_rejected(one_tensor({4}, static_cast<GgmlType>(4), 0, 64), {"unknown ggml type 4"});  // removed Q4_2
  // ne[0] not a multiple of the block.
  expect_rejected(one_tensor({48, 2}, GgmlType::q8_0, 0, 256), {"Q8_0", "ne[0] = 48", "32-element block"});
  expect_rejected(one_tensor({128}, GgmlType::q4_k, 0, 256), {"Q4_K", "ne[0] = 128", "256-element block"});
  // A misaligned offset.
  expect_rejected(one_tensor({4}, GgmlType::f32, 4, 64), {"tensor 'w' offset 4", "not a multiple of the alignment 32"});
  // Duplicate tensor names.
  GgufBytes duplicate;
  duplicate.header(2, 0).tensor_info("w", {1}, GgmlType::f32, 0).tensor_info("w", {1}, GgmlType::f32, 32);
  duplicate.pad(32).raw(std::string(64, '\0'));
  expect_rejected(duplicate.s, {"tensor info 'w'", "duplicate tensor name 'w'", "tensor 2 of 2 repeats tensor 1"});
  // A name past the end.
  GgufBytes long_name;
  long_name.header(1, 0).u64(500).raw(std::string(40, 'n'));
  expect_rejected(long_name.s, {"tensor info 1 of 1", "tensor name", "length 500"});
}

TEST(GgufHostile, DataSection) {
  // Past the end of the data section: by a byte, by a huge offset, and with no data section at all.
  expect_rejected(one_tensor({4, 4}, GgmlType::f32, 0, 63), {"data section", "tensor 'w'", "64 bytes at offset 0",
                                                             "past the end of the data section (63 bytes"});
  expect_rejected(one_tensor({4}, GgmlType::f32, uint64_t{1} << 63, 64), {"tensor 'w'", "past the end"});
  expect_rejected(one_tensor({4}, GgmlType::f32, 0xffffffffffffffe0u, 64), {"tensor 'w'", "past the end"});
  GgufBytes no_data;
  no_data.header(1, 0).tensor_info("w", {1}, GgmlType::f32, 0);  // ends before the padding
  expect_rejected(no_data.s, {"tensor 'w'", "past the end", "ends before it starts"});
  // Overlaps: a tensor inside another, and one starting where the other's last block lies.
  GgufBytes inside;
  inside.header(2, 0).tensor_info("big", {64}, GgmlType::f32, 0).tensor_info("small", {1}, GgmlType::f32, 128);
  inside.pad(32).raw(std::string(256, '\0'));
  expect_rejected(inside.s, {"tensor 'small' at offset 128 overlaps tensor 'big' (bytes [0, 256))"});
  GgufBytes tail;
  tail.header(2, 0).tensor_info("b", {32}, GgmlType::q8_0, 32).tensor_info("a", {16}, GgmlType::f32, 0);
  tail.pad(32).raw(std::string(96, '\0'));
  expect_rejected(tail.s, {"tensor 'b' at offset 32 overlaps tensor 'a' (bytes [0, 64))"});
  GgufBytes same;
  same.header(2, 0).tensor_info("a", {1}, GgmlType::f32, 0).tensor_info("b", {1}, GgmlType::f32, 0);
  same.pad(32).raw(std::string(32, '\0'));
  expect_rejected(same.s, {"overlaps"});
  // Adjacent tensors are fine, as is a tail after the last one.
  GgufBytes adjacent;
  adjacent.header(2, 0).tensor_info("a", {8}, GgmlType::f32, 0).tensor_info("b", {8}, GgmlType::f32, 32);
  adjacent.pad(32).raw(std::string(64 + 5, '\0'));
  ScratchDir dir;
  write_bytes(dir / "ok.gguf", adjacent.s);
  EXPECT_EQ(GgufFile::open(dir / "ok.gguf").tensors().size(), 2u);
}

TEST(GgufHostile, TruncatedAtEveryByte) {
  const std::string valid = small_valid_file();
  ScratchDir dir;
  const auto path = dir / "cut.gguf";
  write_bytes(path, valid);
  {
    const GgufFile f = GgufFile::open(path);  // the whole file opens
    EXPECT_EQ(f.get_string("general.name"), "tiny");
    EXPECT_EQ(f.get_string_array("tokens"), (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(f.get("w").ptr<const float>()[1], -2.0f);
  }
  for (size_t length = 0; length < valid.size(); ++length) {
    write_bytes(path, valid.substr(0, length));
    try {
      GgufFile::open(path);
      ADD_FAILURE() << "a " << length << "-byte prefix of a " << valid.size() << "-byte file opened";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("truncated"), std::string::npos) << length << ": " << message;
      EXPECT_NE(message.find(path.string()), std::string::npos) << length << ": " << message;
    }
  }
}

// Random damage to a valid file: flipped bits, bytes set to 0 / 0xff, truncation, extension. Success is
// allowed (a flipped data byte is still a valid file); anything but a strata::Error naming the file is a
// bug, and every view or byte span of a file that opens must lie inside it.
TEST(GgufHostile, RandomDamageOnlyEverThrowsStrataError) {
  GgufBytes kvs;
  kvs.kv_string("general.architecture", "mamba2").kv("general.alignment", GgufType::u32, uint32_t{32});
  kvs.kv_array("tokenizer.ggml.tokens", GgufType::string, 3).str("<s>").str("a").str("bc");
  kvs.kv_array("scores", GgufType::f32, 2).scalar(0.5f).scalar(-1.0f);
  kvs.kv("eps", GgufType::f64, 1e-5);
  const std::string original =
      gguf_file(kvs.s, 5,
                {{"w", GgmlType::f32, {4, 2}, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8})},
                 {"h", GgmlType::f16, {2}, u16_bytes({1, 2})},
                 {"q", GgmlType::q8_0, {32}, std::string(34, '\x11')}});
  ScratchDir dir;
  const auto path = dir / "fuzz.gguf";
  std::mt19937 rng(20240607);
  int opened = 0, rejected = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string bytes = original;
    switch (rng() % 4) {
      case 0:
        for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k)
          bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        for (unsigned k = 0, n = 1 + rng() % 2; k < n; ++k)
          bytes[rng() % bytes.size()] = (rng() % 2) ? '\0' : '\xff';
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
      const GgufFile file = GgufFile::open(path);
      for (const GgufTensorInfo& info : file.tensors()) {
        const std::span<const std::byte> span = file.bytes(info.name);
        ASSERT_EQ(span.size(), info.bytes);
        volatile unsigned char sink = 0;  // touch every byte the span claims
        for (std::byte b : span) sink = sink ^ static_cast<unsigned char>(b);
        if (info.type == GgmlType::f32 || info.type == GgmlType::f16 || info.type == GgmlType::bf16) {
          ASSERT_EQ(file.get(info.name).nbytes(), info.bytes);
        }
      }
      ++opened;
    } catch (const Error& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).rfind(path.string() + ": ", 0), 0u) << e.what();
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iteration << " threw a non-strata exception: " << e.what();
    }
  }
  EXPECT_GT(opened, 0);
  EXPECT_GT(rejected, 0);
}

TEST(GgufDetect, IsGgufFile) {
  ScratchDir dir;
  EXPECT_FALSE(is_gguf_file(dir.path()));
  EXPECT_FALSE(is_gguf_file(dir / "missing.gguf"));
  write_bytes(dir / "model.safetensors", testing::raw_safetensors("{}", ""));
  EXPECT_FALSE(is_gguf_file(dir / "model.safetensors"));
  write_bytes(dir / "short", "GGU");
  EXPECT_FALSE(is_gguf_file(dir / "short"));
  write_bytes(dir / "empty", "");
  EXPECT_FALSE(is_gguf_file(dir / "empty"));
  write_bytes(dir / "model.gguf", small_valid_file());
  EXPECT_TRUE(is_gguf_file(dir / "model.gguf"));
  std::filesystem::create_directory(dir / "GGUF.gguf");  // a directory named like one
  EXPECT_FALSE(is_gguf_file(dir / "GGUF.gguf"));

  // open() on a directory or a missing path: MappedFile's errors.
  EXPECT_NE(error_of([&] { GgufFile::open(dir.path()); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { GgufFile::open(dir / "missing.gguf"); }).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace strata::io
