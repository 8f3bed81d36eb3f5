// The CLI on GGUF files: info and logits take a .gguf as MODEL_DIR, tokenize reads a GGUF vocabulary, and
// what cannot work (no vocabulary for run, a truncated file, a file that is neither) ends in one error
// line and exit status 2.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.h"
#include "strata/io/safetensors.h"

namespace strata {
namespace {

using testing::run_strata;

const std::filesystem::path kSource = STRATA_SOURCE_DIR;
const std::filesystem::path kGguf = kSource / "tests/fixtures/gguf";

TEST(GgufCli, InfoReadsTheFile) {
  const auto r = run_strata("info", (kGguf / "nemotron_h_hybrid-bf16.gguf").string(), "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "nemotron_h");
  EXPECT_EQ(j["layers"], 8);
  EXPECT_TRUE(j["tensor_bytes_by_dtype"].contains("BF16"));
  EXPECT_TRUE(j["tensor_bytes_by_dtype"].contains("F32"));
  const auto hf = run_strata("info", (kSource / "tests/fixtures/models/nemotron_h_hybrid").string(), "--json");
  ASSERT_EQ(hf.status, 0) << hf.err;
  EXPECT_EQ(j["parameters"], nlohmann::json::parse(hf.out)["parameters"]);
}

TEST(GgufCli, LogitsOfAGgufEqualTheDirectorys) {
  const auto input = (kSource / "tests/fixtures/models/mamba2_g1/input_ids.safetensors").string();
  const auto dir = std::filesystem::temp_directory_path();
  const auto a = run_strata("logits", (kGguf / "mamba2_g1-f32.gguf").string(), "--input", input, "--out",
                            (dir / "strata_gguf_cli_a.safetensors").string());
  ASSERT_EQ(a.status, 0) << a.err;
  const auto b = run_strata("logits", (kSource / "tests/fixtures/models/mamba2_g1").string(), "--input", input,
                            "--out", (dir / "strata_gguf_cli_b.safetensors").string());
  ASSERT_EQ(b.status, 0) << b.err;
  const auto fa = io::SafetensorsFile::open(dir / "strata_gguf_cli_a.safetensors");
  const auto fb = io::SafetensorsFile::open(dir / "strata_gguf_cli_b.safetensors");
  const Tensor la = fa.get("logits"), lb = fb.get("logits");
  ASSERT_EQ(la.numel(), lb.numel());
  ASSERT_GT(la.numel(), 100);
  double diff = 0;
  for (int64_t i = 0; i < la.numel(); ++i)
    diff = std::max(diff, std::fabs(double(la.ptr<const float>()[i]) - lb.ptr<const float>()[i]));
  EXPECT_LT(diff, 1e-4);
}

TEST(GgufCli, TokenizeReadsTheGgufVocabulary) {
  const std::string text = "Once upon a time, in a land far away.";
  const auto gguf = run_strata("tokenize", (kGguf / "demo-vocab.gguf").string(), "-p", text, "--json");
  const auto hf = run_strata("tokenize", (kSource / "models/demo").string(), "-p", text, "--json");
  ASSERT_EQ(gguf.status, 0) << gguf.err;
  ASSERT_EQ(hf.status, 0) << hf.err;
  EXPECT_EQ(nlohmann::json::parse(gguf.out), nlohmann::json::parse(hf.out));
}

TEST(GgufCli, WhatCannotWorkIsOneErrorLine) {
  testing::expect_one_line_error(run_strata("run", (kGguf / "mamba2_g1-f32.gguf").string(), "-p", "hi", "-n", "2"),
                                 "no vocabulary");
  // Truncated in the middle of its tensor directory.
  std::ifstream in(kGguf / "mamba2_g1-f32.gguf", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = std::filesystem::temp_directory_path() / "strata_gguf_cli_cut.gguf";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, 700);
  testing::expect_one_line_error(run_strata("info", cut.string()), "truncated");
  const auto other = std::filesystem::temp_directory_path() / "strata_gguf_cli_other.bin";
  std::ofstream(other, std::ios::binary) << "not a model";
  testing::expect_one_line_error(run_strata("info", other.string()), "not a model directory or a GGUF file");
}

TEST(GgufCli, QuantizeWritesAFileStrataReads) {
  const auto out = std::filesystem::temp_directory_path() / "strata_gguf_cli_q8.gguf";
  const auto q = run_strata("quantize", (kSource / "tests/fixtures/models/nemotron_h_hybrid").string(), out.string(),
                            "--type", "q8_0");
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_NE(q.err.find("as Q8_0"), std::string::npos) << q.err;
  const auto info = run_strata("info", out.string(), "--json");
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_TRUE(nlohmann::json::parse(info.out)["tensor_bytes_by_dtype"].contains("Q8_0"));
  const auto fixture = (kSource / "tests/fixtures/models/mamba2_g1").string();
  testing::expect_one_line_error(run_strata("quantize", fixture, out.string(), "--type", "q3"), "--type 'q3'");
  testing::expect_one_line_error(run_strata("quantize", fixture, out.string(), "--type", "q4_k_m"), "not written yet");
  testing::expect_one_line_error(run_strata("quantize", fixture, "/dev/full"), "not a regular file");
  testing::expect_one_line_error(run_strata("quantize", fixture, "/nonexistent-dir/x.gguf"), "/nonexistent-dir/x.gguf");
}

// The demo model written as GGUF by strata itself: run and perplexity give what the directory gives.
TEST(GgufCli, TheDemoModelAsGgufRunsAsTheDirectory) {
  const auto out = std::filesystem::temp_directory_path() / "strata_gguf_cli_demo.gguf";
  const auto q = run_strata("quantize", (kSource / "models/demo").string(), out.string(), "--type", "bf16");
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_NE(q.err.find("llama.cpp cannot load"), std::string::npos) << q.err;  // dense MLP beside MoE layers
  const std::string prompt = "Once upon a time";
  const auto a = run_strata("run", out.string(), "-p", prompt, "-n", "24", "--temperature", "0");
  const auto b = run_strata("run", (kSource / "models/demo").string(), "-p", prompt, "-n", "24", "--temperature", "0");
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  const std::string text = (kSource / "models/demo/heldout.txt").string();
  const auto pa = run_strata("perplexity", out.string(), "-f", text, "--max-windows", "4", "--json");
  const auto pb = run_strata("perplexity", (kSource / "models/demo").string(), "-f", text, "--max-windows", "4", "--json");
  ASSERT_EQ(pa.status, 0) << pa.err;
  ASSERT_EQ(pb.status, 0) << pb.err;
  // Equal up to A = -exp(log(-A)), the one value the GGUF round trip moves (by an ulp).
  const double ga = nlohmann::json::parse(pa.out)["perplexity"], gb = nlohmann::json::parse(pb.out)["perplexity"];
  EXPECT_NEAR(ga, gb, 1e-6 * gb);
}

}  // namespace
}  // namespace strata
