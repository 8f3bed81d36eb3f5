// A GGUF file's vocabulary (tokenizer/gguf_vocab.h) against the tokenizer.json it came from: the demo
// model's byte-level BPE as llama.cpp stores it (tests/fixtures/gguf/demo-vocab.gguf, written by
// tools/make_gguf_fixtures.py with llama.cpp's gguf-py) must encode the held-out text to the same ids
// (with and without the BOS the post-processor adds) and decode them to the same text; files without a
// vocabulary or with an unsupported one are refused by name.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "strata/core/error.h"
#include "strata/io/gguf.h"
#include "strata/tokenizer/gguf_vocab.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {
namespace {

const std::filesystem::path kSource = STRATA_SOURCE_DIR;

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(GgufVocab, EncodesAndDecodesAsTheTokenizerJsonItCameFrom) {
  const Tokenizer hf = Tokenizer::load(kSource / "models/demo/tokenizer.json");
  const Tokenizer gguf = gguf_tokenizer(io::GgufFile::open(kSource / "tests/fixtures/gguf/demo-vocab.gguf"));
  EXPECT_EQ(gguf.vocab_size(), hf.vocab_size());
  EXPECT_EQ(gguf.bos_id(), hf.bos_id());
  EXPECT_EQ(gguf.eos_id(), hf.eos_id());
  std::string text = read(kSource / "models/demo/heldout.txt").substr(0, 20000);
  text += " Ünïcödé, emoji 🙂, tabs\tand  double  spaces, <|endoftext|> inline, 12345 numbers.";
  for (bool special : {true, false}) {
    const std::vector<int32_t> want = hf.encode(text, special), got = gguf.encode(text, special);
    ASSERT_EQ(got, want) << "add_special_tokens " << special;
    EXPECT_EQ(gguf.decode(got, false), hf.decode(want, false));
    EXPECT_EQ(gguf.decode(got, true), hf.decode(want, true));
  }
  EXPECT_GT(hf.encode(text, true).size(), 4000u);
}

TEST(GgufVocab, AFileWithoutOrWithAnUnsupportedVocabularyIsRefused) {
  const io::GgufFile model_only = io::GgufFile::open(kSource / "tests/fixtures/gguf/mamba2_g1-f32.gguf");
  EXPECT_FALSE(gguf_has_tokenizer(model_only));
  try {
    (void)gguf_tokenizer(model_only);
    ADD_FAILURE() << "no vocabulary, yet a tokenizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no vocabulary"), std::string::npos) << e.what();
  }
  // The same vocabulary declared as SentencePiece ("gpt2" → "llama"; same length keeps the file valid).
  std::string bytes = read(kSource / "tests/fixtures/gguf/demo-vocab.gguf");
  const size_t key = bytes.find("tokenizer.ggml.model");
  const size_t at = bytes.find("gpt2", key);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 4, "lama");
  const auto path = std::filesystem::temp_directory_path() / "strata_gguf_lama_vocab.gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    (void)gguf_tokenizer(io::GgufFile::open(path));
    ADD_FAILURE() << "an unsupported vocabulary was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model 'lama' is not supported"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::tokenizer
