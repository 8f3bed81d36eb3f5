// Snapshots: one sequence's whole recurrent state (every Mamba layer's conv and SSM state, and its
// position) as a versioned, checksummed byte string or file, and restore from it. A restore checks
// everything (magic, version, size, checksum, model identity, shapes, dtypes) before it writes a byte of
// live state, so a bad snapshot leaves the slot exactly as it was.
//
// Format, version 1, little-endian:
//   [0, 64)   header: magic "STRATASN", u32 version, u32 reserved, u64 total_bytes, u64 checksum,
//             i64 position, u32 section_count, u32 model_id_bytes, 16 reserved zero bytes
//   [64, ..)  model_id (UTF-8), then section_count 64-byte section records:
//             u8 kind, u8 dtype, u8 ndim, u8 reserved, u32 layer, i64 shape[4], u64 offset, u64 bytes,
//             8 reserved zero bytes
//   payload   each section's elements, at `offset` (64-byte aligned) from the start of the snapshot
// checksum = hash64 of bytes [32, total_bytes) (everything after the checksum field), seed kChecksumSeed.
// Attention KV (when saved with a PagedKvCache) follows the Mamba sections: per attention layer a keys
// then a values section, each [length, kv_heads, head_dim] in position order, length = position.
// New section kinds append records; readers reject kinds they do not know.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "strata/cache/kv_cache.h"
#include "strata/cache/state_cache.h"
#include "strata/core/dtype.h"

namespace strata::cache {

constexpr uint32_t kSnapshotVersion = 1;

// Codes 3..15 stay unused: early readers were tested to reject them as unknown kinds.
enum class SectionKind : uint8_t { conv_state = 1, ssm_state = 2, kv_keys = 16, kv_values = 17 };

struct SnapshotSection {
  SectionKind kind = SectionKind::conv_state;
  uint32_t layer = 0;  // Mamba (or, for KV sections, attention) layer index, 0-based among its kind
  DType dtype = DType::f32;
  int ndim = 0;
  std::array<int64_t, 4> shape{};
  uint64_t offset = 0;  // from the start of the snapshot
  uint64_t bytes = 0;
};

// A parsed, integrity-checked snapshot header. Sections point into the bytes it was parsed from.
struct SnapshotInfo {
  uint32_t version = 0;
  std::string model_id;
  int64_t position = 0;
  std::vector<SnapshotSection> sections;
};

// Serialises `slot` of `cache` (which must be allocated).
std::vector<uint8_t> save_snapshot(const MambaStateCache& cache, int slot);

// Checks magic, version, size, checksum and the section table's internal consistency; throws
// strata::Error saying which check failed. Does not compare against any cache.
SnapshotInfo parse_snapshot(std::span<const uint8_t> bytes);

// Restores `bytes` into `slot` (allocated) of `cache`: state of every layer and position. Throws
// strata::Error, leaving the slot untouched, if the snapshot is damaged or was taken from a different
// model (model_id, layer count, shapes or dtypes differ; the message names the first difference).
void restore_snapshot(MambaStateCache& cache, int slot, std::span<const uint8_t> bytes);

// The same with the slot's attention KV from `kv` (its own slot `slot`, length == position, which the
// call checks). Restore checks the KV sections against `kv` (layers, kv_heads, head_dim, dtype) and that
// the pool can hold them (the slot's current blocks count as free) before touching either cache; then it
// replaces the slot's KV with exactly the snapshot's positions. A snapshot without KV sections restores
// into `kv` only at position 0; one with KV sections is refused by the overloads without `kv`.
std::vector<uint8_t> save_snapshot(const MambaStateCache& cache, const PagedKvCache& kv, int slot);
void restore_snapshot(MambaStateCache& cache, PagedKvCache& kv, int slot, std::span<const uint8_t> bytes);

// File forms. Saving writes `path`.tmp.<pid> then renames it over `path`, so a crash never leaves a
// half-written snapshot under `path`. Errors name the path.
void save_snapshot_file(const MambaStateCache& cache, int slot, const std::string& path);
void restore_snapshot_file(MambaStateCache& cache, int slot, const std::string& path);
void save_snapshot_file(const MambaStateCache& cache, const PagedKvCache& kv, int slot, const std::string& path);
void restore_snapshot_file(MambaStateCache& cache, PagedKvCache& kv, int slot, const std::string& path);

}  // namespace strata::cache
