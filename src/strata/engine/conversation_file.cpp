#include "strata/engine/conversation_file.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "strata/cache/hash64.h"
#include "strata/core/error.h"
#include "strata/io/json_depth.h"

namespace strata::engine {

namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'C', 'V'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kChecksumSeed = 0x636f6e7665727331ull;

template <typename T>
void put(std::vector<uint8_t>& out, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Reads from a byte range, failing with the file's name when it runs out.
class Reader {
 public:
  Reader(const std::vector<uint8_t>& bytes, size_t end, const std::string& where)
      : bytes_(bytes), end_(end), where_(where) {}
  template <typename T>
  T get(const char* what) {
    T value;
    need(sizeof(T), what);
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }
  size_t at() const { return at_; }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > end_ - at_) fail("{}: truncated conversation file: {} needs {} bytes, {} left", where_, what, n, end_ - at_);
  }
  const std::vector<uint8_t>& bytes_;
  size_t end_, at_ = 0;
  const std::string& where_;
};

}  // namespace

void save_conversation(const std::filesystem::path& path, const ConversationFile& c) {
  std::vector<uint8_t> out(kMagic, kMagic + 8);
  put(out, kVersion);
  put(out, uint32_t{0});
  const std::string json = nlohmann::json{{"model", c.model_identity}, {"messages", c.messages}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  put(out, static_cast<uint64_t>(json.size()));
  out.insert(out.end(), json.begin(), json.end());
  put(out, static_cast<uint64_t>(c.tokens.size()));
  for (int32_t t : c.tokens) put(out, t);
  put(out, static_cast<uint64_t>(c.state.size()));
  out.insert(out.end(), c.state.begin(), c.state.end());
  put(out, cache::hash64(out.data(), out.size(), kChecksumSeed));

  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) fail("{}: cannot write the conversation file", path.string());
    file.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    if (!file) fail("{}: writing the conversation failed (disk full?)", path.string());
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) fail("{}: cannot replace the conversation file: {}", path.string(), error.message());
}

ConversationFile load_conversation(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("{}: cannot read the conversation file", where);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8 + 8 + sizeof(uint64_t) || std::memcmp(bytes.data(), kMagic, 8) != 0)
    fail("{}: not a strata conversation file (saved with /save)", where);
  const size_t body = bytes.size() - sizeof(uint64_t);
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + body, sizeof(stored));
  Reader r(bytes, body, where);
  r.take(8, "the magic");
  const uint32_t version = r.get<uint32_t>("the version");
  if (version != kVersion) fail("{}: conversation file version {} is not supported (this strata reads {})", where, version, kVersion);
  r.get<uint32_t>("a reserved field");
  if (cache::hash64(bytes.data(), body, kChecksumSeed) != stored) fail("{}: the conversation file is corrupt (checksum)", where);
  ConversationFile c;
  const uint64_t json_bytes = r.get<uint64_t>("the JSON length");
  const auto* json_data = reinterpret_cast<const char*>(r.take(json_bytes, "the JSON"));
  if (io::find_excess_json_depth(std::string_view(json_data, json_bytes)))
    fail("{}: the conversation's JSON nests more than {} levels deep", where, io::kMaxJsonDepth);
  const nlohmann::json header = nlohmann::json::parse(json_data, json_data + json_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object() || !header.contains("model") || !header["model"].is_string() ||
      !header.contains("messages") || !header["messages"].is_array())
    fail("{}: the conversation's JSON is malformed", where);
  c.model_identity = header["model"].get<std::string>();
  c.messages = header["messages"];
  const uint64_t tokens = r.get<uint64_t>("the token count");
  if (tokens > (body - r.at()) / sizeof(int32_t)) fail("{}: truncated conversation file: {} tokens announced", where, tokens);
  c.tokens.resize(tokens);
  for (uint64_t i = 0; i < tokens; ++i) c.tokens[i] = r.get<int32_t>("a token");
  const uint64_t state_bytes = r.get<uint64_t>("the state length");
  const uint8_t* state = r.take(state_bytes, "the state");
  c.state.assign(state, state + state_bytes);
  if (r.at() != body) fail("{}: {} unexpected bytes after the state", where, body - r.at());
  return c;
}

}  // namespace strata::engine
