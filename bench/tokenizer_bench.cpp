// Tokenizer throughput: encode of ~1 MB of mixed English/code/CJK text with the fixture tokenizers
// (GPT-NeoX style and Nemotron-H style), and decode of the result. Bytes/s is input text per second.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <string>

#include "strata/tokenizer/tokenizer.h"

namespace {

using strata::tokenizer::Tokenizer;

std::string large_text() {
  static const char* const kWords[] = {"the", "model", "reads", "a", "sequence", "of", "tokens", "and", "keeps",
                                       "state", "hybrid", "layers", "attention", "returns", "42", "1999", "x**2",
                                       "def", "f(x):", "中文", "テキスト", "émigré", "don't", "we'll", "(twice)."};
  std::mt19937 rng(1);
  std::string text;
  while (text.size() < (1 << 20)) {
    text += kWords[rng() % std::size(kWords)];
    const unsigned r = rng() % 20;
    text += r == 0 ? "\n" : r == 1 ? "  " : r == 2 ? ", " : " ";
  }
  return text;
}

// The fixtures live in the source tree; bench programs get no source-dir macro, so go from this file.
Tokenizer fixture(const std::string& style) {
  const auto root = std::filesystem::path(__FILE__).parent_path().parent_path();
  return Tokenizer::load(root / "tests/fixtures/tokenizer" / style / "tokenizer.json");
}

void encode(benchmark::State& state, const std::string& style) {
  const Tokenizer tokenizer = fixture(style);
  const std::string text = large_text();
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer.encode(text, false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void decode(benchmark::State& state, const std::string& style) {
  const Tokenizer tokenizer = fixture(style);
  const std::string text = large_text();
  const auto ids = tokenizer.encode(text, false);
  for (auto _ : state) {
    auto out = tokenizer.decode(ids, false);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK_CAPTURE(encode, neox, std::string("neox"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, nemotron, std::string("nemotron"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, neox, std::string("neox"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
