#include "strata/model/logits_runner.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "strata/core/error.h"
#include "strata/core/memory.h"

namespace strata::model {

LogitsMode parse_logits_mode(const std::string& text) {
  if (text == "full") return {LogitsMode::full, 0};
  if (text == "decode") return {LogitsMode::decode, 0};
  if (text.starts_with("chunked=")) {
    int64_t n = 0;
    const char* begin = text.data() + 8;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr == end && begin != end && n >= 1) return {LogitsMode::chunked, n};
  }
  fail("--mode '{}' is not one of full, decode, chunked=N (N >= 1)", text);
}

std::vector<float> run_logits(const Model& model, const std::vector<int32_t>& tokens, int64_t batch, int64_t length,
                              LogitsMode mode, const Exec& exec) {
  const int64_t V = model.vocab_size();
  if (batch <= 0 || length <= 0) fail("input_ids must hold at least one sequence of at least one token");
  if (static_cast<int64_t>(tokens.size()) != batch * length) fail("input_ids: expected {} ids", batch * length);
  CacheOptions options;
  options.max_sequences = static_cast<int>(batch);
  options.max_context = length;
  SequenceCache cache = model.make_cache(options);
  std::vector<int32_t> slots;
  for (int64_t b = 0; b < batch; ++b) slots.push_back(cache.allocate());

  const int64_t step = mode.kind == LogitsMode::full ? length : mode.kind == LogitsMode::chunked ? mode.chunk : 1;
  std::vector<float> out(static_cast<size_t>(batch * length * V));
  Workspace workspace(model.device());
  std::vector<int32_t> packed;
  std::vector<SequenceStep> steps;
  for (int64_t done = 0; done < length;) {
    const int64_t n = std::min(step, length - done);
    packed.clear();
    steps.clear();
    for (int64_t b = 0; b < batch; ++b) {
      packed.insert(packed.end(), tokens.begin() + b * length + done, tokens.begin() + b * length + done + n);
      steps.push_back(SequenceStep{.slot = slots[static_cast<size_t>(b)], .length = n, .all_logits = true});
    }
    const ForwardBatch fb{.tokens = packed, .sequences = steps};
    workspace.reset();
    Tensor logits = workspace.take(DType::f32, {Model::logits_rows(fb), V});
    model.forward(fb, cache, logits, workspace, exec);
    // Rows of one step are sequence-major; copy_memory reads GPU logits as well.
    for (int64_t b = 0; b < batch; ++b)
      copy_memory(out.data() + (b * length + done) * V, logits.ptr<float>() + b * n * V,
                  static_cast<size_t>(n * V) * sizeof(float), model.device());
    done += n;
  }
  return out;
}

}  // namespace strata::model
