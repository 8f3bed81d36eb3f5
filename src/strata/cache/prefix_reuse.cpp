#include "strata/cache/prefix_reuse.h"

#include "strata/cache/snapshot.h"
#include "strata/core/error.h"

namespace strata::cache {

bool capture_prefix(PrefixStore& store, const MambaStateCache& cache, int slot, std::span<const int32_t> tokens) {
  const int64_t position = cache.position(slot);
  if (position != static_cast<int64_t>(tokens.size()))
    fail("capture prefix: slot {} has consumed {} tokens but {} tokens were given as its key", slot, position,
         tokens.size());
  return store.insert(tokens, save_snapshot(cache, slot));
}

int64_t resume_from_prefix(PrefixStore& store, MambaStateCache& cache, int slot, std::span<const int32_t> tokens,
                           int64_t max_tokens) {
  const PrefixMatch match = store.lookup(tokens, max_tokens);
  if (!match) {
    cache.reset(slot);
    return 0;
  }
  restore_snapshot(cache, slot, *match.state);
  return match.tokens;
}

}  // namespace strata::cache
