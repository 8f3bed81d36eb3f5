#include "strata/tokenizer/bpe_model.h"

#include <mutex>
#include <queue>

#include "strata/tokenizer/byte_fallback.h"
#include "strata/tokenizer/utf8.h"

namespace strata::tokenizer {

std::unique_ptr<BpeModel> BpeModel::from_json(const Json& model, const std::string& where, size_t added_token_count) {
  auto bpe = std::make_unique<BpeModel>();
  const std::string type = model.is_object() && model.contains("type") ? type_field(model, where) : "BPE";
  if (type != "BPE") fail("{}: unsupported model type '{}' (only BPE is supported)", where, type);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty())) {
      fail("{}.{}: not supported (the BPE styles strata reads leave it null)", where, key);
    }
  }
  const Json& vocab = require_field(model, "vocab", where);
  if (!vocab.is_object()) fail("{}.vocab: expected an object of token -> id", where);
  const size_t defined_tokens = vocab.size() + added_token_count;
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    max_id = std::max<int64_t>(max_id, token_id_field(it.value(), defined_tokens, where + ".vocab", it.key()));
  bpe->tokens_.resize(static_cast<size_t>(max_id + 1));
  bpe->has_token_.resize(static_cast<size_t>(max_id + 1), false);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto id = it.value().get<int32_t>();
    bpe->vocab_.emplace(it.key(), id);
    bpe->tokens_[id] = it.key();
    bpe->has_token_[id] = true;
  }

  const Json& merges = require_field(model, "merges", where);
  if (!merges.is_array()) fail("{}.merges: expected an array", where);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Json& merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        fail("{}.merges[{}]: expected \"left right\" (two tokens separated by one space), got \"{}\"", where, rank,
             text);
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      fail("{}.merges[{}]: expected \"left right\" or [\"left\", \"right\"]", where, rank);
    }
    auto id_of = [&](const std::string& token) {
      auto it = bpe->vocab_.find(token);
      if (it == bpe->vocab_.end()) fail("{}.merges[{}]: token \"{}\" is not in the vocabulary", where, rank, token);
      return it->second;
    };
    const int32_t left_id = id_of(left), right_id = id_of(right), merged_id = id_of(left + right);
    // A repeated pair keeps its first (best) rank.
    bpe->merges_.emplace(pair_key(left_id, right_id), MergeResult{static_cast<int32_t>(rank), merged_id});
  }

  auto unk = model.find("unk_token");
  if (unk != model.end() && !unk->is_null()) {
    if (!unk->is_string()) fail("{}.unk_token: expected a string or null", where);
    auto it = bpe->vocab_.find(unk->get<std::string>());
    if (it == bpe->vocab_.end()) fail("{}.unk_token: \"{}\" is not in the vocabulary", where, unk->get<std::string>());
    bpe->unk_id_ = it->second;
  }
  bpe->fuse_unk_ = bool_field(model, "fuse_unk", false, where);
  bpe->byte_fallback_ = bool_field(model, "byte_fallback", false, where);
  bpe->ignore_merges_ = bool_field(model, "ignore_merges", false, where);
  auto dropout = model.find("dropout");
  if (dropout != model.end() && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    fail("{}.dropout: BPE dropout is a training-time option; expected null", where);
  }
  return bpe;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(piece), std::move(ids));
  }
}

void BpeModel::merge(std::string_view piece, std::vector<int32_t>& out) const {
  // 1. One symbol per character; unknown characters become byte-fallback tokens or the unk token.
  // As in HF's merge_word, an unk is held back until the next known character (or the end), so byte
  // tokens in between come before it and a later unk fuses with it (fuse_unk).
  struct Symbol {
    int32_t id;
    int32_t previous, next;  // -1: none
    bool removed;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto add = [&](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, false});
  };
  std::optional<int32_t> pending_unk;
  std::vector<int32_t> bytes;
  size_t pos = 0;
  while (pos < piece.size()) {
    size_t length = utf8_sequence_length(piece, pos);
    if (length == 0) length = 1;  // unreachable for valid text; keeps the loop finite
    const std::string_view ch = piece.substr(pos, length);
    pos += length;
    if (auto it = vocab_.find(ch); it != vocab_.end()) {
      if (pending_unk) add(*pending_unk), pending_unk.reset();
      add(it->second);
      continue;
    }
    if (byte_fallback_) {
      bytes.clear();
      for (char c : ch) {
        auto it = vocab_.find(byte_fallback_token(static_cast<uint8_t>(c)));
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == ch.size()) {
        for (int32_t id : bytes) add(id);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !fuse_unk_) add(*pending_unk);
      pending_unk = unk_id_;
    }
    // Without an unk token HF drops the character.
  }
  if (pending_unk) add(*pending_unk);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // 2. Merge the best-ranked adjacent pair until none is left. Queue entries go stale when a neighbour
  // merges; they are recognised by the pair no longer producing the same token.
  struct Candidate {
    int32_t rank, position, id;
    bool operator<(const Candidate& other) const {  // priority_queue pops the largest: invert
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.removed || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.id) continue;
    left.id = top.id;
    right.removed = true;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].previous = top.position;
    if (left.previous >= 0) consider(left.previous);
    consider(top.position);
  }
  for (const Symbol& s : symbols) {
    if (!s.removed) out.push_back(s.id);
  }
}

}  // namespace strata::tokenizer
