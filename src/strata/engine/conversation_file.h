// A saved conversation (`strata chat` /save and /load): the messages, and the state after the
// conversation's tokens, so a long conversation resumes without recomputing it. One file, little-endian:
//   "STRATACV" magic, u32 version (1), u32 reserved, u64 json bytes, JSON {"model", "messages"},
//   u64 token count, i32 tokens, u64 state bytes, state (a cache/snapshot.h blob; may be empty), and a
//   u64 hash64 of everything before it.
// load_conversation checks magic, version, every length against the file size and the checksum, and
// throws strata::Error naming the file and what is wrong; it never returns a partial conversation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace strata::engine {

struct ConversationFile {
  std::string model_identity;     // Model::identity() of the model that made the state
  nlohmann::json messages = nlohmann::json::array();
  std::vector<int32_t> tokens;    // the tokens the state follows
  std::vector<uint8_t> state;     // empty: no state (the next turn recomputes)
};

// Writes atomically (a temporary beside `path`, then renamed).
void save_conversation(const std::filesystem::path& path, const ConversationFile& conversation);
ConversationFile load_conversation(const std::filesystem::path& path);

}  // namespace strata::engine
