#include "strata/engine/state_capture.h"

#include "strata/cache/snapshot.h"
#include "strata/core/error.h"

namespace strata::engine {

bool can_capture_state(const model::ModelCache& cache) { return cache.mamba != nullptr; }

std::vector<uint8_t> capture_state(const model::ModelCache& cache, int slot) {
  if (!cache.mamba) fail("capture state: this model has no Mamba layers, so it has no snapshot to capture");
  if (cache.kv) return cache::save_snapshot(*cache.mamba, *cache.kv, slot);
  return cache::save_snapshot(*cache.mamba, slot);
}

int64_t restore_state(model::ModelCache& cache, int slot, std::span<const uint8_t> blob) {
  if (!cache.mamba) fail("restore state: this model has no Mamba layers, so it has no snapshot to restore");
  if (cache.kv)
    cache::restore_snapshot(*cache.mamba, *cache.kv, slot, blob);
  else
    cache::restore_snapshot(*cache.mamba, slot, blob);
  return cache.mamba->position(slot);
}

}  // namespace strata::engine
