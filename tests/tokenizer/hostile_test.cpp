// Malformed tokenizer.json / tokenizer_config.json files are refused with a strata::Error that names
// the file and the field, never silently accepted or crashed on.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fixture_cases.h"
#include "strata/core/error.h"

namespace strata::tokenizer {
namespace {

using testing::fixture_dir;
using testing::read_json_file;

nlohmann::json base() { return read_json_file(fixture_dir("neox") + "/tokenizer.json"); }

// Runs `load` and returns its error message (fails the test if nothing was thrown).
template <typename Fn>
std::string error_of(Fn&& load) {
  try {
    load();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected strata::Error";
  return "";
}

std::string error_of_json(const nlohmann::json& json) {
  return error_of([&] { Tokenizer::from_json(json, nullptr, "tokenizer.json 'hostile'"); });
}

TEST(HostileTokenizerJson, MissingModel) {
  auto json = base();
  json.erase("model");
  const auto message = error_of_json(json);
  EXPECT_NE(message.find("hostile"), std::string::npos) << message;
  EXPECT_NE(message.find("missing field 'model'"), std::string::npos) << message;
}

TEST(HostileTokenizerJson, BadMerges) {
  auto json = base();
  json["model"]["merges"][3] = "nospace";
  auto message = error_of_json(json);
  EXPECT_NE(message.find("model.merges[3]"), std::string::npos) << message;

  json = base();
  json["model"]["merges"][5] = nlohmann::json::array({"h", "\xE2\x98\x83"});  // snowman: not in vocab
  message = error_of_json(json);
  EXPECT_NE(message.find("model.merges[5]"), std::string::npos) << message;
  EXPECT_NE(message.find("not in the vocabulary"), std::string::npos) << message;

  json = base();
  json["model"]["merges"][0] = 42;
  EXPECT_NE(error_of_json(json).find("merges[0]"), std::string::npos);

  json = base();
  json["model"]["merges"] = "h e";
  EXPECT_NE(error_of_json(json).find("model.merges: expected an array"), std::string::npos);
}

TEST(HostileTokenizerJson, UnknownComponentTypes) {
  auto json = base();
  json["pre_tokenizer"] = {{"type", "Metaspace2000"}};
  auto message = error_of_json(json);
  EXPECT_NE(message.find("pre_tokenizer"), std::string::npos) << message;
  EXPECT_NE(message.find("Metaspace2000"), std::string::npos) << message;

  json = base();
  json["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Nope"}}}}};
  EXPECT_NE(error_of_json(json).find("pre_tokenizer.pretokenizers[1]"), std::string::npos);

  json = base();
  json["normalizer"] = {{"type", "NFKD"}};
  EXPECT_NE(error_of_json(json).find("unsupported normalizer type 'NFKD'"), std::string::npos);

  json = base();
  json["model"]["type"] = "WordPiece";
  EXPECT_NE(error_of_json(json).find("unsupported model type 'WordPiece'"), std::string::npos);

  json = base();
  json["decoder"] = {{"type", "Metaspace"}};
  EXPECT_NE(error_of_json(json).find("decoder"), std::string::npos);

  json = base();
  json["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", {{"id", "<x>"}}}}}}};
  EXPECT_NE(error_of_json(json).find("post_processor.single[0]"), std::string::npos);
}

TEST(HostileTokenizerJson, BadSplitPatternAndBehavior) {
  auto json = base();
  json["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  auto message = error_of_json(json);
  EXPECT_NE(message.find("pre_tokenizer.pattern.Regex"), std::string::npos) << message;
  EXPECT_NE(message.find("(unclosed"), std::string::npos) << message;

  json["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  EXPECT_NE(error_of_json(json).find("behavior"), std::string::npos);
  json["pre_tokenizer"] = {{"type", "Split"}, {"pattern", "a"}, {"behavior", "Isolated"}};
  EXPECT_NE(error_of_json(json).find("pre_tokenizer.pattern"), std::string::npos);
}

TEST(HostileTokenizerJson, BadVocabularyAndAddedTokens) {
  auto json = base();
  json["model"]["vocab"]["h"] = -3;
  EXPECT_NE(error_of_json(json).find("model.vocab: token \"h\" has id -3"), std::string::npos);

  json = base();
  json["model"]["unk_token"] = "<missing>";
  EXPECT_NE(error_of_json(json).find("model.unk_token"), std::string::npos);

  json = base();
  json["added_tokens"][0].erase("content");
  EXPECT_NE(error_of_json(json).find("added_tokens[0]"), std::string::npos);

  EXPECT_NE(error_of_json(nlohmann::json::array()).find("top level"), std::string::npos);
}

TEST(HostileTokenizerJson, TokenIdsOutsideTheVocabularyAreNamed) {
  // The neox fixture defines 488 tokens (482 in model.vocab, 6 added), so ids may run from 0 to
  // 2 * 488 + 1024 - 1 = 1999.
  for (const std::string id : {"4294967296", "2147483647", "300000000", "2000", "1e12", "-1", "18446744073709551615", "\"7\""}) {
    auto json = base();
    json["added_tokens"][1]["id"] = nlohmann::json::parse(id);
    const std::string content = json["added_tokens"][1]["content"].get<std::string>();
    auto message = error_of_json(json);
    EXPECT_NE(message.find("added_tokens[1]: token \"" + content + "\" has id " + json["added_tokens"][1]["id"].dump() +
                           "; expected an integer from 0 to 1999"), std::string::npos) << message;

    json = base();
    json["model"]["vocab"]["h"] = nlohmann::json::parse(id);
    message = error_of_json(json);
    EXPECT_NE(message.find("model.vocab: token \"h\" has id " + json["model"]["vocab"]["h"].dump()), std::string::npos)
        << message;
  }
  // The largest id the file allows still loads (a sparse numbering), and sets the vocabulary's size.
  auto json = base();
  json["added_tokens"][1]["id"] = 1999;
  EXPECT_EQ(Tokenizer::from_json(json).vocab_size(), 2000u);
}

TEST(HostileTokenizerFiles, MissingUnparsableAndBadConfig) {
  const auto dir = std::filesystem::temp_directory_path() / "strata_tokenizer_hostile";
  std::filesystem::create_directories(dir);
  auto message = error_of([&] { Tokenizer::load(dir / "absent.json"); });
  EXPECT_NE(message.find("absent.json"), std::string::npos) << message;

  const auto broken = dir / "broken.json";
  std::ofstream(broken) << "{\"model\": {\"vocab\": ";
  message = error_of([&] { Tokenizer::load(broken); });
  EXPECT_NE(message.find("broken.json"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;

  const auto config = dir / "tokenizer_config.json";
  std::ofstream(config) << R"({"bos_token": "<nope>"})";
  message = error_of([&] { Tokenizer::load(fixture_dir("neox") + "/tokenizer.json", config); });
  EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("bos_token"), std::string::npos) << message;
  std::filesystem::remove_all(dir);
}

TEST(HostileTokenizerFiles, DeepNestingIsRefusedBeforeParsing) {
  const auto dir = std::filesystem::temp_directory_path() / "strata_tokenizer_deep";
  std::filesystem::create_directories(dir);
  const auto deep = dir / "tokenizer.json";
  std::ofstream(deep) << "{\"model\": " << std::string(100000, '[') << std::string(100000, ']') << "}";
  const auto message = error_of([&] { Tokenizer::load(deep); });
  EXPECT_EQ(message, "tokenizer.json " + deep.string() +
                         ":1:522: JSON nested more than 512 levels deep (arrays and objects); refusing it");
  std::filesystem::remove_all(dir);
}

TEST(HostileInput, InvalidUtf8AndOddIdsAreHandled) {
  const auto tokenizer = Tokenizer::load(fixture_dir("neox") + "/tokenizer.json");
  // Invalid input encodes as its U+FFFD repair (what Python's errors="replace" gives).
  EXPECT_EQ(tokenizer.encode("a\xFF" "b", false), tokenizer.encode("a\xEF\xBF\xBD" "b", false));
  EXPECT_TRUE(tokenizer.encode("", true).empty());
  const std::vector<int32_t> odd = {-5, 1 << 30, *tokenizer.token_to_id("h")};
  EXPECT_EQ(tokenizer.decode(odd, false), "h");
}

}  // namespace
}  // namespace strata::tokenizer
