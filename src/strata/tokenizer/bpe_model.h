// The tokenizer.json "model" of type BPE: vocabulary, ranked merges, and the merge loop that turns one
// pre-tokenized piece into ids (lowest merge rank first, ties to the leftmost pair, as HF's word.rs).
// Pieces up to 256 bytes are cached; encode_piece is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/tokenizer/json_fields.h"

namespace strata::tokenizer {

// Hash that lets unordered_map<std::string, ...> be searched with a string_view (no copy).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringViewHash, std::equal_to<>>;

class BpeModel {
 public:
  // Reads {"type":"BPE","vocab":{...},"merges":[...], "unk_token", "fuse_unk", "byte_fallback",
  // "ignore_merges", ...}. Merges may be "a b" strings or ["a","b"] pairs. Ids are bounded by the number of
  // tokens the file defines, the vocab's entries plus `added_token_count` (json_fields.h token_id_field).
  static std::unique_ptr<BpeModel> from_json(const Json& model, const std::string& where, size_t added_token_count = 0);

  // Appends the ids of one piece (already mapped to the byte-level alphabet when the pre-tokenizer
  // includes ByteLevel).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // nullptr for an id the vocabulary does not use.
  const std::string* id_to_token(int32_t id) const;
  // One past the largest id.
  size_t id_count() const { return tokens_.size(); }

 private:
  struct MergeResult {
    int32_t rank;
    int32_t id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void merge(std::string_view piece, std::vector<int32_t>& out) const;

  StringMap<int32_t> vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, MergeResult> merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;

  static constexpr size_t kMaxCachedPieceBytes = 256;
  static constexpr size_t kCacheCapacity = 1 << 16;
  mutable std::shared_mutex cache_mutex_;
  mutable StringMap<std::vector<int32_t>> cache_;
};

}  // namespace strata::tokenizer
