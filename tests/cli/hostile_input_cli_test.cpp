// Hostile files and arguments end in one `error: …` line naming what is wrong and where, with exit status 2:
// never a crash, a hang or an allocation sized by the input (issue 13's hostile-input list).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_cli.h"

namespace strata::testing {
namespace {

using nlohmann::json;

const std::filesystem::path kDemo = std::filesystem::path(STRATA_SOURCE_DIR) / "models/demo";

// A scratch directory for one test, removed at the end.
class Scratch {
 public:
  Scratch() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("strata_hostile_") + test->name() + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~Scratch() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::string str() const { return path_.string(); }

  // Links the demo model's files here (config, weights, tokenizer), so one of them can be replaced.
  void link_demo() const {
    for (const char* name : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
      std::filesystem::create_symlink(kDemo / name, path_ / name);
  }
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::remove(path_ / name);
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  std::filesystem::path path_;
};

std::string deep_array(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

json demo_tokenizer() {
  std::ifstream in(kDemo / "tokenizer.json");
  return json::parse(in);
}

// Runs a strata command under a 2 GiB address-space limit: a table sized by a hostile number fails there.
CliResult run_bounded(const std::string& strata_words) {
  return run_shell("ulimit -v 2097152 && " + shell_quote(STRATA_CLI) + " " + strata_words);
}

TEST(HostileInputCli, DeeplyNestedConfigIsRefused) {
  Scratch dir;
  dir.write("config.json", "{\"model_type\": \"mamba2\", \"x\": " + deep_array(100000) + "}");
  expect_one_line_error(run_strata("info", dir.str()), "JSON nested more than 512 levels deep");
  expect_one_line_error(run_strata("plan", "--config", (dir / "config.json").string()), "512 levels");
}

TEST(HostileInputCli, DeeplyNestedSafetensorsHeaderIsRefused) {
  Scratch dir;
  std::filesystem::copy_file(kDemo / "config.json", dir / "config.json");
  const std::string header = "{\"w\": " + deep_array(100000) + "}";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  dir.write("model.safetensors", bytes + header);
  const CliResult r = run_strata("info", dir.str());
  expect_one_line_error(r, "header nests JSON arrays and objects more than 512 levels deep");
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
}

TEST(HostileInputCli, DeeplyNestedTokenizerIsRefused) {
  Scratch dir;
  dir.write("tokenizer.json", "{\"model\": " + deep_array(100000) + "}");
  const CliResult r = run_strata("tokenize", dir.str(), "-p", "hi");
  expect_one_line_error(r, "tokenizer.json");
  EXPECT_NE(r.err.find("512 levels"), std::string::npos) << r.err;
}

TEST(HostileInputCli, TokenIdsBeyondTheVocabularyAreNamedNotAllocated) {
  Scratch dir;
  const json base = demo_tokenizer();
  const size_t defined = base["model"]["vocab"].size() + base["added_tokens"].size();
  for (const std::string id : {"2147483647", "300000000", "4294967296", "1e12", "-1"}) {
    json t = base;
    t["added_tokens"][0]["id"] = json::parse(id);
    dir.write("tokenizer.json", t.dump());
    CliResult r = run_bounded("tokenize " + shell_quote(dir.str()) + " -p hi");
    expect_one_line_error(r, "added_tokens[0]: token \"" + t["added_tokens"][0]["content"].get<std::string>() +
                                 "\" has id " + t["added_tokens"][0]["id"].dump() + "; expected an integer from 0 to " +
                                 std::to_string(2 * defined + 1024 - 1));
    t = base;
    t["model"]["vocab"]["the"] = json::parse(id);
    dir.write("tokenizer.json", t.dump());
    r = run_bounded("tokenize " + shell_quote(dir.str()) + " -p hi");
    expect_one_line_error(r, "model.vocab: token \"the\" has id " + t["model"]["vocab"]["the"].dump());
  }
}

TEST(HostileInputCli, HugeConfigSizesNameTheFieldAndValue) {
  Scratch dir;
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/examples/mamba2_130m_config.json");
  const json base = json::parse(in);
  const std::string config = (dir / "config.json").string();
  json c = base;
  c["vocab_size"] = INT64_MAX;
  dir.write("config.json", c.dump());
  expect_one_line_error(run_strata("plan", "--config", config), "field 'vocab_size' is 9223372036854775807");
  c = base;
  c["d_model"] = int64_t{1} << 62;
  dir.write("config.json", c.dump());
  expect_one_line_error(run_strata("plan", "--config", config), "field 'd_model' is 4611686018427387904");
  c = base;
  c["d_model"] = UINT64_MAX;  // used to be reported as -1
  dir.write("config.json", c.dump());
  expect_one_line_error(run_strata("plan", "--config", config), "field 'd_model' is 18446744073709551615");
}

TEST(HostileInputCli, PerplexityReadsOnlyRegularTextFiles) {
  expect_one_line_error(run_strata("perplexity", "models/demo", "-f", "/dev/zero"), "-f '/dev/zero' is not a regular file");
  expect_one_line_error(run_strata("perplexity", "models/demo", "-f", "tests"), "-f 'tests' is not a regular file");
  expect_one_line_error(run_strata("perplexity", "models/demo", "-f", "/nonexistent.txt"),
                        "-f '/nonexistent.txt' does not exist");
}

// A device that fails every write with ENOSPC: a private /dev/full node when we may make one (as root the
// writer could otherwise replace the real one), else /dev/full itself (which a non-root user cannot
// replace).
std::string full_device(const Scratch& dir) {
  const std::string node = (dir / "full").string();
  if (run_shell("mknod " + shell_quote(node) + " c 1 7 2>/dev/null").status == 0) return node;
  return "/dev/full";
}

TEST(HostileInputCli, LogitsReportsAWriteErrorAndKeepsTheDevice) {
  Scratch dir;
  // input_ids [1, 2] int64: a safetensors header padded to 8 bytes, then 16 bytes of ids.
  std::string header = R"({"input_ids":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  const int64_t ids[2] = {1, 2};
  bytes += header + std::string(reinterpret_cast<const char*>(ids), sizeof(ids));
  dir.write("in.safetensors", bytes);
  const std::string input = (dir / "in.safetensors").string();

  const std::string full = full_device(dir);
  const CliResult r = run_strata("logits", "models/demo", "--input", input, "--out", full);
  expect_one_line_error(r, full + ": ");
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_character_file(full)) << full << " was replaced";

  // Other non-regular outputs are written through, not replaced; a directory is refused.
  const CliResult to_null = run_strata("logits", "models/demo", "--input", input, "--out", "/dev/null");
  EXPECT_EQ(to_null.status, 0) << to_null.err;
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  expect_one_line_error(run_strata("logits", "models/demo", "--input", input, "--out", dir.str()), "is a directory");
}

TEST(HostileInputCli, AFailedWriteToStandardOutputIsAnError) {
  Scratch dir;
  const std::string full = full_device(dir);
  const CliResult r = run_shell(shell_quote(STRATA_CLI) + " pattern parse 'M*-E' > " + shell_quote(full));
  expect_one_line_error(r, "cannot write to standard output: No space left on device");
}

}  // namespace
}  // namespace strata::testing
