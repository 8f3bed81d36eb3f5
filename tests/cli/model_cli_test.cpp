// `strata logits`, `strata info` and `strata bench` as a user runs them on the fixture checkpoints:
// results that match transformers, and bad input that gives one `error:` line and exit status 2.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::run_strata;
const fs::path kModels = fs::path(STRATA_SOURCE_DIR) / "tests/fixtures/models";

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("strata_cli_" + std::to_string(::getpid()) + "_" + std::to_string(rand()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};


// Writes a minimal safetensors file holding one int64 tensor "input_ids" of the given shape and values.
void write_ids(const fs::path& path, std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  nlohmann::json header;
  header["input_ids"] = {{"dtype", "I64"}, {"shape", shape}, {"data_offsets", {0, values.size() * 8}}};
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text;
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 8));
}

TEST(ModelCli, LogitsMatchTheReferenceFile) {
  TempDir tmp;
  const fs::path dir = kModels / "nemotron_h_hybrid";
  const auto r = run_strata("logits", dir.string(), "--input", (dir / "input_ids.safetensors").string(), "--out",
                            (tmp.path / "out.safetensors").string(), "--mode", "chunked=5", "--threads", "2");
  ASSERT_EQ(r.status, 0) << r.err;
  // Compare the written logits with transformers' file byte-for-byte in structure and within 1e-3.
  auto read_f32 = [](const fs::path& p, std::vector<int64_t>& shape) {
    std::ifstream in(p, std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    std::string text(n, ' ');
    in.read(text.data(), static_cast<std::streamsize>(n));
    const auto h = nlohmann::json::parse(text)["logits"];
    shape = h["shape"].get<std::vector<int64_t>>();
    const auto off = h["data_offsets"].get<std::vector<uint64_t>>();
    std::vector<float> v((off[1] - off[0]) / 4);
    in.seekg(static_cast<std::streamoff>(8 + n + off[0]));
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(off[1] - off[0]));
    return v;
  };
  std::vector<int64_t> got_shape, want_shape;
  const auto got = read_f32(tmp.path / "out.safetensors", got_shape);
  const auto want = read_f32(dir / "logits.safetensors", want_shape);
  ASSERT_EQ(got_shape, want_shape);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
  EXPECT_LT(worst, 1e-3);
}

TEST(ModelCli, InfoDescribesGraniteAndBamba) {
  const auto granite = run_strata("info", (kModels / "granite_moe_hybrid").string(), "--json");
  ASSERT_EQ(granite.status, 0) << granite.err;
  EXPECT_EQ(nlohmann::json::parse(granite.out)["family"], "granitemoehybrid");
  const auto bamba = run_strata("info", (kModels / "bamba").string(), "--json");
  ASSERT_EQ(bamba.status, 0) << bamba.err;
  EXPECT_EQ(nlohmann::json::parse(bamba.out)["family"], "bamba");
  EXPECT_EQ(nlohmann::json::parse(bamba.out)["layers"], 4);
}

TEST(ModelCli, InfoDescribesFalconH1) {
  const auto r = run_strata("info", (kModels / "falcon_h1_norm").string(), "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "falcon_h1");
  EXPECT_EQ(j["layers"], 3);
  // Every tensor is bf16 and used once: parameters = bf16 bytes / 2.
  EXPECT_EQ(j["parameters"].get<int64_t>() * 2, j["tensor_bytes_by_dtype"]["BF16"].get<int64_t>());
  ASSERT_EQ(j["memory"]["layer_types"].size(), 1u) << r.out;
  EXPECT_EQ(j["memory"]["layer_types"][0]["type"], "attention+mamba2");
}

TEST(ModelCli, InfoDescribesZamba2SharedBlocks) {
  const auto r = run_strata("info", (kModels / "zamba2").string(), "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "zamba2");
  // Each shared block is stored and counted once: parameters = the file's bf16 elements.
  EXPECT_EQ(j["parameters"].get<int64_t>() * 2, j["tensor_bytes_by_dtype"]["BF16"].get<int64_t>());
  ASSERT_EQ(j["shared_blocks"].size(), 2u);
  EXPECT_EQ(j["shared_blocks"][0]["used_by_layers"], nlohmann::json({1, 4}));
  EXPECT_EQ(j["shared_blocks"][1]["used_by_layers"], nlohmann::json({3}));
  // KV per use: three hybrid layers hold K and V (4 kv heads of 32, f32 in info's plan).
  int64_t kv_layers = 0;
  for (const auto& t : j["memory"]["layer_types"])
    if (t["type"].get<std::string>().rfind("shared_attention", 0) == 0) {
      kv_layers += t["main_layers"].get<int64_t>();
      EXPECT_EQ(t["bytes_per_token_per_layer"]["kv"], 2 * 4 * 32 * 4);
    }
  EXPECT_EQ(kv_layers, 3);
  const auto text = run_strata("info", (kModels / "zamba2").string());
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("shared block 0 used by layers 1, 4"), std::string::npos) << text.out;
}

TEST(ModelCli, InfoDescribesTheCheckpoint) {
  const auto r = run_strata("info", (kModels / "nemotron_h_hybrid").string(), "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "nemotron_h");
  EXPECT_EQ(j["pattern"], "M*-MEM*E");
  EXPECT_EQ(j["layers"], 8);
  EXPECT_GT(j["parameters"].get<int64_t>(), 100000);
  const auto text = run_strata("info", (kModels / "mamba2_g1").string());
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("family       mamba2"), std::string::npos) << text.out;
}

TEST(ModelCli, BenchRunsOnACheckpoint) {
  const auto r = run_strata("bench", (kModels / "mamba2_g1").string(), "-p", "16", "-n", "4", "-b", "1,2", "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 4u);
  for (const auto& row : j["results"]) EXPECT_GT(row["tokens_per_second"].get<double>(), 0.0);
}

TEST(ModelCli, BadInputIsOneErrorLine) {
  TempDir tmp;
  const fs::path dir = kModels / "mamba2_g1";
  const std::string out = (tmp.path / "o.safetensors").string();
  testing::expect_one_line_error(run_strata("logits", (tmp.path / "nope").string(), "--input", (dir / "input_ids.safetensors").string(),
                          "--out", out), "does not exist");
  testing::expect_one_line_error(run_strata("logits", dir.string(), "--input", (dir / "input_ids.safetensors").string(), "--out", out,
                          "--mode", "chunked=0"), "--mode");
  write_ids(tmp.path / "oov.safetensors", {1, 3}, {1, 2, 150});
  testing::expect_one_line_error(run_strata("logits", dir.string(), "--input", (tmp.path / "oov.safetensors").string(), "--out", out),
               "outside the vocabulary");
  write_ids(tmp.path / "empty.safetensors", {1, 0}, {});
  testing::expect_one_line_error(run_strata("logits", dir.string(), "--input", (tmp.path / "empty.safetensors").string(), "--out", out),
               "empty");
  write_ids(tmp.path / "neg.safetensors", {1, 2}, {1, -4});
  testing::expect_one_line_error(run_strata("logits", dir.string(), "--input", (tmp.path / "neg.safetensors").string(), "--out", out),
               "-4");
  // A truncated checkpoint.
  fs::create_directories(tmp.path / "broken");
  fs::copy_file(dir / "config.json", tmp.path / "broken/config.json");
  fs::copy_file(dir / "model.safetensors", tmp.path / "broken/model.safetensors");
  fs::resize_file(tmp.path / "broken/model.safetensors", 1000);
  testing::expect_one_line_error(run_strata("info", (tmp.path / "broken").string()), "model.safetensors");
  // An unsupported model type.
  fs::create_directories(tmp.path / "llama");
  std::ofstream(tmp.path / "llama/config.json") << R"({"model_type": "llama", "hidden_size": 8, "vocab_size": 8})";
  testing::expect_one_line_error(run_strata("info", (tmp.path / "llama").string()), "llama");
  // A Bamba config whose attention layer index is out of range (the weights are never read).
  fs::create_directories(tmp.path / "bamba");
  {
    std::ifstream in(kModels / "bamba/config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string from = "\"attn_layer_indices\": [\n    1,\n    3\n  ]";
    ASSERT_NE(text.find(from), std::string::npos) << text;
    text.replace(text.find(from), from.size(), "\"attn_layer_indices\": [1, 7]");
    std::ofstream(tmp.path / "bamba/config.json") << text;
  }
  fs::copy_file(kModels / "bamba/model.safetensors", tmp.path / "bamba/model.safetensors");
  testing::expect_one_line_error(run_strata("info", (tmp.path / "bamba").string()), "attn_layer_indices[1]");
  // A Zamba2 config with hybrid layers and no shared block.
  fs::create_directories(tmp.path / "zamba2");
  {
    auto config = nlohmann::json::parse(std::ifstream(kModels / "zamba2/config.json"));
    config["num_mem_blocks"] = 0;
    std::ofstream(tmp.path / "zamba2/config.json") << config.dump();
  }
  fs::copy_file(kModels / "zamba2/model.safetensors", tmp.path / "zamba2/model.safetensors");
  testing::expect_one_line_error(run_strata("info", (tmp.path / "zamba2").string()), "num_mem_blocks");
  testing::expect_one_line_error(run_strata("bench"), "MODEL_DIR or --synthetic");
  testing::expect_one_line_error(run_strata("bench", "--synthetic", "gpt-5"), "unknown synthetic model 'gpt-5'");
}

}  // namespace
}  // namespace strata
