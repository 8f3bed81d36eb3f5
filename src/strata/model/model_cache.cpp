#include "strata/model/model_cache.h"

#include "strata/core/error.h"

namespace strata::model {

int ModelCache::allocate() {
  if (mamba) {
    const int slot = mamba->allocate();
    if (kv) kv->free(slot);
    return slot;
  }
  // Attention-only model: slots are tracked by the KV cache lengths alone.
  for (int s = 0; s < kv->num_slots(); ++s)
    if (!kv_in_use_.count(s)) {
      kv_in_use_.insert(s);
      return s;
    }
  fail("no free sequence slot: all {} are in use", kv->num_slots());
}

void ModelCache::free(int slot) {
  if (mamba) mamba->free(slot);
  if (kv) kv->free(slot);
  kv_in_use_.erase(slot);
}

int64_t ModelCache::position(int slot) const {
  if (mamba) return mamba->position(slot);
  return kv->length(slot);
}

}  // namespace strata::model
