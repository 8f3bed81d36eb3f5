// `strata tokenize` / `strata detokenize` against Hugging Face tokenizers: the fixture cases
// (tests/fixtures/tokenizer/<style>/cases.json, written by tokenizers 0.23) give each text's ids with and
// without the post-processor's special tokens and the decoded text; pieces are checked against the
// vocabulary of the tokenizer.json itself.
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace strata::testing {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/" + path);
  return json::parse(in);
}

// id → token string, from model.vocab and added_tokens.
std::map<int64_t, std::string> pieces_of(const json& tokenizer) {
  std::map<int64_t, std::string> pieces;
  const json& vocab = tokenizer["model"]["vocab"];
  if (vocab.is_object())
    for (const auto& [piece, id] : vocab.items()) pieces[id.get<int64_t>()] = piece;
  else  // Unigram-style [[piece, score], ...]
    for (size_t i = 0; i < vocab.size(); ++i) pieces[static_cast<int64_t>(i)] = vocab[i][0].get<std::string>();
  for (const json& added : tokenizer["added_tokens"]) pieces[added["id"].get<int64_t>()] = added["content"].get<std::string>();
  return pieces;
}

class TokenizeCli : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizeCli, IdsAndPiecesEqualHuggingFaceTokenizers) {
  const std::string dir = "tests/fixtures/tokenizer/" + GetParam();
  const json cases = read_json(dir + "/cases.json");
  const auto pieces = pieces_of(read_json(dir + "/tokenizer.json"));
  int checked = 0;
  for (const json& c : cases["cases"]) {
    const std::string text = c["text"].get<std::string>();
    if (text.empty() || text.size() > 2000 || text.find('\0') != std::string::npos) continue;  // argv limits
    const CliResult with = run_strata("tokenize", dir, "-p", text, "--json");
    ASSERT_EQ(with.status, 0) << c["name"] << ": " << with.err;
    const json got = json::parse(with.out);
    EXPECT_EQ(got["ids"], c["ids_special"]) << c["name"];
    ASSERT_EQ(got["pieces"].size(), got["ids"].size());
    for (size_t i = 0; i < got["ids"].size(); ++i)
      EXPECT_EQ(got["pieces"][i].get<std::string>(), pieces.at(got["ids"][i].get<int64_t>())) << c["name"] << " token " << i;
    const CliResult without = run_strata("tokenize", dir, "-p", text, "--json", "--no-special");
    ASSERT_EQ(without.status, 0) << without.err;
    EXPECT_EQ(json::parse(without.out)["ids"], c["ids"]) << c["name"];
    if (++checked == 12) break;  // each case is two processes; a dozen per style is plenty
  }
  EXPECT_GE(checked, 5);
}

TEST_P(TokenizeCli, DetokenizeEqualsHuggingFaceDecode) {
  const std::string dir = "tests/fixtures/tokenizer/" + GetParam();
  const json cases = read_json(dir + "/cases.json");
  int checked = 0;
  for (const json& c : cases["cases"]) {
    if (!c.contains("decode") || c["ids_special"].empty() || c["ids_special"].size() > 300) continue;
    std::string command = shell_quote(STRATA_CLI) + " detokenize " + shell_quote(dir);
    std::string skip_command = command + " --skip-special";
    for (const json& id : c["ids_special"]) {
      command.append(" ").append(std::to_string(id.get<int64_t>()));
      skip_command.append(" ").append(std::to_string(id.get<int64_t>()));
    }
    const CliResult r = run_shell(command);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, c["decode"].get<std::string>() + "\n") << c["name"];
    const CliResult s = run_shell(skip_command);
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_EQ(s.out, c["decode_skip_special"].get<std::string>() + "\n") << c["name"];
    if (++checked == 8) break;
  }
  EXPECT_GE(checked, 3);
}

INSTANTIATE_TEST_SUITE_P(Styles, TokenizeCli, ::testing::Values("neox", "nemotron", "llama", "metaspace"));

TEST(TokenizeCliErrors, NameWhatIsWrong) {
  const CliResult missing = run_strata("tokenize", "/nope", "-p", "hi");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("MODEL_DIR '/nope' does not exist"), std::string::npos) << missing.err;
  const CliResult file = run_strata("tokenize", "README.md", "-p", "hi");
  EXPECT_EQ(file.status, 2);
  EXPECT_NE(file.err.find("is a file, not a model directory"), std::string::npos) << file.err;
  const CliResult neither = run_strata("tokenize", "models/demo");
  EXPECT_EQ(neither.status, 2);
  EXPECT_NE(neither.err.find("exactly one"), std::string::npos) << neither.err;
  const CliResult device = run_strata("tokenize", "models/demo", "-f", "/dev/zero");
  EXPECT_EQ(device.status, 2);
  EXPECT_NE(device.err.find("not a regular file"), std::string::npos) << device.err;
  const CliResult id = run_strata("detokenize", "models/demo", "5", "99999999");
  EXPECT_EQ(id.status, 2);
  EXPECT_NE(id.err.find("token id 99999999 (argument 2) is outside the vocabulary"), std::string::npos) << id.err;
  EXPECT_EQ(std::count(id.err.begin(), id.err.end(), '\n'), 1) << id.err;
}

TEST(TokenizeCliText, OneTokenPerLineWithTheCountOnStderr) {
  const CliResult r = run_strata("tokenize", "models/demo", "-p", "Once upon a time");
  ASSERT_EQ(r.status, 0) << r.err;
  const CliResult j = run_strata("tokenize", "models/demo", "-p", "Once upon a time", "--json");
  const json got = json::parse(j.out);
  EXPECT_EQ(static_cast<size_t>(std::count(r.out.begin(), r.out.end(), '\n')), got["ids"].size());
  EXPECT_NE(r.err.find(std::to_string(got["ids"].size()) + " tokens"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\t')), std::to_string(got["ids"][0].get<int>()));
}

}  // namespace
}  // namespace strata::testing
