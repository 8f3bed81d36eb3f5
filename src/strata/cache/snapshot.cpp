#include "strata/cache/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "strata/cache/hash64.h"
#include "strata/core/error.h"
#include "strata/core/memory.h"

namespace strata::cache {
namespace {

static_assert(std::endian::native == std::endian::little, "snapshots are written little-endian");

constexpr char kMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'S', 'N'};
constexpr size_t kHeaderBytes = 64;
constexpr size_t kSectionRecordBytes = 64;
constexpr size_t kChecksumFieldEnd = 32;  // the checksum covers everything after its own field
constexpr uint64_t kChecksumSeed = 0x5354524154413031ull;  // "STRATA01"

// Stable on-disk dtype codes, independent of the DType enum's order.
uint8_t dtype_code(DType t) {
  switch (t) {
    case DType::f32: return 1;
    case DType::f16: return 2;
    case DType::bf16: return 3;
    default: return 0;
  }
}

bool dtype_from_code(uint8_t code, DType* out) {
  switch (code) {
    case 1: *out = DType::f32; return true;
    case 2: *out = DType::f16; return true;
    case 3: *out = DType::bf16; return true;
    default: return false;
  }
}

template <typename T>
void put(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}

template <typename T>
T get(std::span<const uint8_t> in, size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  return value;
}

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

const char* kind_name(SectionKind kind) {
  switch (kind) {
    case SectionKind::conv_state: return "conv state";
    case SectionKind::ssm_state: return "ssm state";
    case SectionKind::kv_keys: return "keys";
    case SectionKind::kv_values: return "values";
  }
  return "unknown";
}

bool is_kv(SectionKind kind) { return kind == SectionKind::kv_keys || kind == SectionKind::kv_values; }

std::string describe_section(const SnapshotSection& s) {
  std::string text = fmt::format("{}[", dtype_name(s.dtype));
  for (int d = 0; d < s.ndim; ++d) text += fmt::format("{}{}", d ? ", " : "", s.shape[static_cast<size_t>(d)]);
  return text + "]";
}

// The sections a cache's slot consists of, in file order: per layer, conv then ssm. Offsets unset.
std::vector<SnapshotSection> expected_sections(const MambaStateCache& cache) {
  std::vector<SnapshotSection> sections;
  for (int l = 0; l < cache.num_layers(); ++l) {
    const MambaStateShape& shape = cache.layer_shape(l);
    SnapshotSection conv;
    conv.kind = SectionKind::conv_state;
    conv.layer = static_cast<uint32_t>(l);
    conv.dtype = shape.conv_dtype;
    conv.ndim = 2;
    conv.shape = {shape.conv_kernel - 1, shape.conv_dim, 0, 0};
    conv.bytes = shape.conv_bytes();
    sections.push_back(conv);
    SnapshotSection ssm;
    ssm.kind = SectionKind::ssm_state;
    ssm.layer = static_cast<uint32_t>(l);
    ssm.dtype = shape.state_dtype;
    ssm.ndim = 3;
    ssm.shape = {shape.n_heads, shape.head_dim, shape.state_size, 0};
    ssm.bytes = shape.ssm_bytes();
    sections.push_back(ssm);
  }
  return sections;
}

// A slot's attention KV at `length` positions: per attention layer, keys then values, each
// [length, kv_heads, head_dim] in the pool dtype. None at length 0 (a section may not be empty).
std::vector<SnapshotSection> kv_sections(const PagedKvCache& kv, int64_t length) {
  std::vector<SnapshotSection> sections;
  if (length == 0) return sections;
  const KvCacheConfig& c = kv.config();
  for (int l = 0; l < kv.num_layers(); ++l)
    for (const SectionKind kind : {SectionKind::kv_keys, SectionKind::kv_values}) {
      SnapshotSection section;
      section.kind = kind;
      section.layer = static_cast<uint32_t>(l);
      section.dtype = c.dtype;
      section.ndim = 3;
      section.shape = {length, c.n_kv_heads, c.head_dim, 0};
      section.bytes = static_cast<uint64_t>(length * c.n_kv_heads * c.head_dim) * dtype_size(c.dtype);
      sections.push_back(section);
    }
  return sections;
}

// Calls copy(paged, dense_offset, bytes) for each block of a slot's positions [0, length) in one pool,
// where dense_offset locates the same positions in a [length, kv_heads, head_dim] section. Positions of
// a block are contiguous in the pool, so each block is one copy.
template <typename Copy>
void for_each_kv_block(const PagedKvCache& kv, const SnapshotSection& s, int slot, Copy copy) {
  const int layer = static_cast<int>(s.layer);
  auto* pool = static_cast<uint8_t*>((s.kind == SectionKind::kv_keys ? kv.k_pool(layer) : kv.v_pool(layer)).data);
  const int64_t length = s.shape[0], block_size = kv.block_size();
  const size_t row_bytes = s.bytes / static_cast<size_t>(length);
  const std::span<const int32_t> table = kv.block_table(slot);
  for (int64_t b = 0; b * block_size < length; ++b) {
    const size_t rows = static_cast<size_t>(std::min(block_size, length - b * block_size));
    uint8_t* paged = pool + static_cast<size_t>(table[static_cast<size_t>(b)]) * static_cast<size_t>(block_size) * row_bytes;
    copy(paged, static_cast<size_t>(b * block_size) * row_bytes, rows * row_bytes);
  }
}

const void* section_source(const MambaStateCache& cache, const SnapshotSection& s, int slot) {
  const int layer = static_cast<int>(s.layer);
  return s.kind == SectionKind::conv_state ? cache.conv_state(layer, slot).data : cache.ssm_state(layer, slot).data;
}

std::string errno_text() { return std::strerror(errno); }

// Shared by the overloads with and without a KV cache.
std::vector<uint8_t> save(const MambaStateCache& cache, const PagedKvCache* kv, int slot) {
  const int64_t position = cache.position(slot);  // also checks that the slot is allocated
  std::vector<SnapshotSection> sections = expected_sections(cache);
  if (kv != nullptr) {
    if (kv->length(slot) != position)
      fail("save snapshot: slot {} holds {} KV positions but its Mamba state is at position {}; they must agree",
           slot, kv->length(slot), position);
    const std::vector<SnapshotSection> attention = kv_sections(*kv, position);
    sections.insert(sections.end(), attention.begin(), attention.end());
  }
  const std::string& model_id = cache.model_id();
  size_t offset = align64(kHeaderBytes + model_id.size() + sections.size() * kSectionRecordBytes);
  for (SnapshotSection& s : sections) {
    s.offset = offset;
    offset = align64(offset + s.bytes);
  }
  std::vector<uint8_t> out(offset, 0);
  const Device device = cache.config().device;

  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  put<uint32_t>(out, 8, kSnapshotVersion);
  put<uint64_t>(out, 16, out.size());
  put<int64_t>(out, 32, position);
  put<uint32_t>(out, 40, static_cast<uint32_t>(sections.size()));
  put<uint32_t>(out, 44, static_cast<uint32_t>(model_id.size()));
  std::memcpy(out.data() + kHeaderBytes, model_id.data(), model_id.size());
  size_t record = kHeaderBytes + model_id.size();
  for (const SnapshotSection& s : sections) {
    put<uint8_t>(out, record, static_cast<uint8_t>(s.kind));
    put<uint8_t>(out, record + 1, dtype_code(s.dtype));
    put<uint8_t>(out, record + 2, static_cast<uint8_t>(s.ndim));
    put<uint32_t>(out, record + 4, s.layer);
    for (size_t d = 0; d < 4; ++d) put<int64_t>(out, record + 8 + 8 * d, s.shape[d]);
    put<uint64_t>(out, record + 40, s.offset);
    put<uint64_t>(out, record + 48, s.bytes);
    record += kSectionRecordBytes;
    if (is_kv(s.kind))
      for_each_kv_block(*kv, s, slot, [&](const uint8_t* paged, size_t at, size_t n) {
        copy_memory(out.data() + s.offset + at, paged, n, device);
      });
    else
      copy_memory(out.data() + s.offset, section_source(cache, s, slot), s.bytes, device);
  }
  put<uint64_t>(out, 24, hash64(out.data() + kChecksumFieldEnd, out.size() - kChecksumFieldEnd, kChecksumSeed));
  return out;
}

void restore(MambaStateCache& cache, PagedKvCache* kv, int slot, std::span<const uint8_t> bytes);

}  // namespace

std::vector<uint8_t> save_snapshot(const MambaStateCache& cache, int slot) { return save(cache, nullptr, slot); }

std::vector<uint8_t> save_snapshot(const MambaStateCache& cache, const PagedKvCache& kv, int slot) {
  return save(cache, &kv, slot);
}

SnapshotInfo parse_snapshot(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes)
    fail("snapshot truncated: {} bytes is shorter than the {}-byte header", bytes.size(), kHeaderBytes);
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    fail("not a strata state snapshot (the magic bytes are not \"STRATASN\")");
  SnapshotInfo info;
  info.version = get<uint32_t>(bytes, 8);
  if (info.version != kSnapshotVersion)
    fail("snapshot format version {} is not supported (this build reads version {})", info.version,
         kSnapshotVersion);
  if (get<uint32_t>(bytes, 12) != 0) fail("snapshot corrupted: reserved header field is not zero");
  const uint64_t total = get<uint64_t>(bytes, 16);
  if (total < bytes.size())
    fail("snapshot has {} trailing bytes beyond the {} its header declares", bytes.size() - total, total);
  if (total > bytes.size()) fail("snapshot truncated: header declares {} bytes, only {} present", total, bytes.size());
  const uint64_t checksum = get<uint64_t>(bytes, 24);
  const uint64_t actual = hash64(bytes.data() + kChecksumFieldEnd, bytes.size() - kChecksumFieldEnd, kChecksumSeed);
  if (checksum != actual)
    fail("snapshot corrupted: checksum mismatch (stored {:016x}, computed {:016x})", checksum, actual);

  // Past the checksum the bytes are what the writer wrote; the checks below catch writer bugs and
  // hand-built files, so that no field can send a read out of bounds.
  info.position = get<int64_t>(bytes, 32);
  if (info.position < 0) fail("snapshot has a negative position {}", info.position);
  const uint32_t section_count = get<uint32_t>(bytes, 40);
  const uint32_t model_id_bytes = get<uint32_t>(bytes, 44);
  const uint64_t table_end =
      kHeaderBytes + uint64_t{model_id_bytes} + uint64_t{section_count} * kSectionRecordBytes;
  if (table_end > total) fail("snapshot section table ({} bytes) runs past the end ({} bytes)", table_end, total);
  info.model_id.assign(reinterpret_cast<const char*>(bytes.data() + kHeaderBytes), model_id_bytes);
  size_t record = kHeaderBytes + model_id_bytes;
  for (uint32_t i = 0; i < section_count; ++i, record += kSectionRecordBytes) {
    SnapshotSection s;
    const uint8_t kind = get<uint8_t>(bytes, record);
    if (kind != static_cast<uint8_t>(SectionKind::conv_state) && kind != static_cast<uint8_t>(SectionKind::ssm_state) &&
        kind != static_cast<uint8_t>(SectionKind::kv_keys) && kind != static_cast<uint8_t>(SectionKind::kv_values))
      fail("snapshot section {} has kind {}, which this build does not know (1 = conv state, 2 = ssm state, "
           "16 = keys, 17 = values)", i, kind);
    s.kind = static_cast<SectionKind>(kind);
    if (!dtype_from_code(get<uint8_t>(bytes, record + 1), &s.dtype))
      fail("snapshot section {} has unknown dtype code {}", i, get<uint8_t>(bytes, record + 1));
    s.ndim = get<uint8_t>(bytes, record + 2);
    if (s.ndim < 1 || s.ndim > 4) fail("snapshot section {} has rank {}, expected 1 to 4", i, s.ndim);
    s.layer = get<uint32_t>(bytes, record + 4);
    // Checked products: [2^40] x 4 would wrap to 0 elements and match a section of 0 bytes.
    uint64_t elements = 1;
    bool overflow = false;
    for (size_t d = 0; d < 4; ++d) {
      s.shape[d] = get<int64_t>(bytes, record + 8 + 8 * d);
      if (static_cast<int>(d) < s.ndim) {
        if (s.shape[d] <= 0 || s.shape[d] > (int64_t{1} << 40))
          fail("snapshot section {} has dimension {} of size {}", i, d, s.shape[d]);
        overflow = overflow || __builtin_mul_overflow(elements, static_cast<uint64_t>(s.shape[d]), &elements);
      }
    }
    uint64_t needed = 0;
    overflow = overflow || __builtin_mul_overflow(elements, uint64_t{dtype_size(s.dtype)}, &needed);
    if (overflow)
      fail("snapshot section {} is {}, whose byte size does not fit in 64 bits", i, describe_section(s));
    s.offset = get<uint64_t>(bytes, record + 40);
    s.bytes = get<uint64_t>(bytes, record + 48);
    if (s.bytes != needed)
      fail("snapshot section {} declares {} bytes but {} needs {}", i, s.bytes, describe_section(s), needed);
    if (s.offset < table_end || s.offset > total || s.bytes > total - s.offset)
      fail("snapshot section {} ({} bytes at offset {}) lies outside the payload [{}, {})", i, s.bytes, s.offset,
           table_end, total);
    info.sections.push_back(s);
  }
  return info;
}

void restore_snapshot(MambaStateCache& cache, int slot, std::span<const uint8_t> bytes) {
  restore(cache, nullptr, slot, bytes);
}

void restore_snapshot(MambaStateCache& cache, PagedKvCache& kv, int slot, std::span<const uint8_t> bytes) {
  restore(cache, &kv, slot, bytes);
}

namespace {

void restore(MambaStateCache& cache, PagedKvCache* kv, int slot, std::span<const uint8_t> bytes) {
  if (!cache.is_allocated(slot)) fail("restore snapshot: slot {} is not allocated", slot);
  const SnapshotInfo info = parse_snapshot(bytes);
  if (info.model_id != cache.model_id())
    fail("snapshot is from model '{}', but this cache belongs to model '{}'", info.model_id, cache.model_id());
  const std::vector<SnapshotSection> expected = expected_sections(cache);
  size_t state_sections = 0;
  for (const SnapshotSection& s : info.sections) state_sections += is_kv(s.kind) ? 0 : 1;
  const size_t attention_sections = info.sections.size() - state_sections;
  if (attention_sections > 0 && kv == nullptr)
    fail("snapshot carries attention KV ({} sections); restore it together with the model's KV cache",
         attention_sections);
  if (state_sections != expected.size())
    fail("snapshot holds {} state sections ({} Mamba layers), this cache expects {} ({} Mamba layers)",
         state_sections, state_sections / 2, expected.size(), cache.num_layers());
  for (size_t i = 0; i < expected.size(); ++i) {
    const SnapshotSection& got = info.sections[i];
    const SnapshotSection& want = expected[i];
    if (got.kind != want.kind || got.layer != want.layer)
      fail("snapshot section {} is layer {} {}, expected layer {} {}", i, got.layer, kind_name(got.kind), want.layer,
           kind_name(want.kind));
    if (got.dtype != want.dtype || got.ndim != want.ndim || got.shape != want.shape)
      fail("snapshot Mamba layer {} {} is {}, this cache expects {}", want.layer, kind_name(want.kind),
           describe_section(got), describe_section(want));
  }
  if (kv != nullptr) {
    const std::vector<SnapshotSection> want_kv = kv_sections(*kv, info.position);
    if (attention_sections != want_kv.size())
      fail("snapshot holds {} attention KV sections, this KV cache expects {} ({} attention layers at position {})",
           attention_sections, want_kv.size(), kv->num_layers(), info.position);
    for (size_t i = 0; i < want_kv.size(); ++i) {
      const SnapshotSection& got = info.sections[expected.size() + i];
      const SnapshotSection& want = want_kv[i];
      if (got.kind != want.kind || got.layer != want.layer)
        fail("snapshot section {} is layer {} {}, expected attention layer {} {}", expected.size() + i, got.layer,
             kind_name(got.kind), want.layer, kind_name(want.kind));
      if (got.dtype != want.dtype || got.ndim != want.ndim || got.shape != want.shape)
        fail("snapshot attention layer {} {} is {}, this KV cache expects {}", want.layer, kind_name(want.kind),
             describe_section(got), describe_section(want));
    }
    if (info.position > kv->max_sequence_length())
      fail("snapshot holds {} positions, more than the KV cache's max_sequence_length {}", info.position,
           kv->max_sequence_length());
    const int64_t needed = kv->blocks_needed(info.position);
    const int64_t available = kv->free_block_count() + static_cast<int64_t>(kv->block_table(slot).size());
    if (needed > available)
      fail("snapshot needs {} KV blocks for {} positions, but only {} are free for slot {}", needed, info.position,
           available, slot);
  }
  // Everything is verified; from here on nothing can fail, so the slot never ends up half-restored.
  for (const SnapshotSection& s : info.sections) {
    if (is_kv(s.kind)) continue;
    const int layer = static_cast<int>(s.layer);
    void* destination =
        s.kind == SectionKind::conv_state ? cache.conv_state(layer, slot).data : cache.ssm_state(layer, slot).data;
    copy_memory(destination, bytes.data() + s.offset, s.bytes, cache.config().device);
  }
  cache.set_position(slot, info.position);
  if (kv != nullptr) {
    kv->free(slot);
    kv->reserve(slot, info.position);  // cannot refuse: capacity was checked above
    for (const SnapshotSection& s : info.sections)
      if (is_kv(s.kind))
        for_each_kv_block(*kv, s, slot, [&](uint8_t* paged, size_t at, size_t n) {
          copy_memory(paged, bytes.data() + s.offset + at, n, cache.config().device);
        });
  }
}

}  // namespace

namespace {

void write_snapshot_file(const std::vector<uint8_t>& bytes, const std::string& path) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write snapshot '{}': cannot create '{}': {}", path, temporary, errno_text());
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = errno_text();
      ::close(fd);
      ::unlink(temporary.c_str());
      fail("cannot write snapshot '{}': {}", path, reason);
    }
    written += static_cast<size_t>(n);
  }
  // fsync before rename: otherwise a crash can leave the new name pointing at unwritten blocks.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = errno_text();
    ::unlink(temporary.c_str());
    fail("cannot write snapshot '{}': {}", path, reason);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text();
    ::unlink(temporary.c_str());
    fail("cannot write snapshot '{}': rename from '{}' failed: {}", path, temporary, reason);
  }
}

void restore_from_file(MambaStateCache& cache, PagedKvCache* kv, int slot, const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) fail("cannot read snapshot '{}': {}", path, errno_text());
  const std::streamoff size = file.tellg();
  if (size < 0) fail("cannot read snapshot '{}': cannot determine its size", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), size)) fail("cannot read snapshot '{}': read error", path);
  try {
    restore(cache, kv, slot, bytes);
  } catch (const Error& e) {
    fail("snapshot '{}': {}", path, e.what());
  }
}

}  // namespace

void save_snapshot_file(const MambaStateCache& cache, int slot, const std::string& path) {
  write_snapshot_file(save_snapshot(cache, slot), path);
}

void save_snapshot_file(const MambaStateCache& cache, const PagedKvCache& kv, int slot, const std::string& path) {
  write_snapshot_file(save_snapshot(cache, kv, slot), path);
}

void restore_snapshot_file(MambaStateCache& cache, int slot, const std::string& path) {
  restore_from_file(cache, nullptr, slot, path);
}

void restore_snapshot_file(MambaStateCache& cache, PagedKvCache& kv, int slot, const std::string& path) {
  restore_from_file(cache, &kv, slot, path);
}

}  // namespace strata::cache
