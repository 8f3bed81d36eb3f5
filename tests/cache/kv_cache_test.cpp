// PagedKvCache: sizes and views, reserve/free/fork/truncate accounting against a plain model of every
// slot's contents (random operation sequences), refusal that changes nothing, fork independence, and
// the attention kernel running on the cache's views through fork and speculative rollback, and
// snapshots that carry a slot's KV next to its Mamba state.
#include "strata/cache/kv_cache.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "cache/test_states.h"
#include "strata/cache/snapshot.h"
#include "strata/core/error.h"
#include "strata/kernels/cpu/attention.h"

namespace strata::cache {
namespace {

KvCacheConfig small_config(int64_t num_blocks, int64_t block_size = 4, DType dtype = DType::f32) {
  KvCacheConfig c;
  c.num_layers = 2;
  c.n_kv_heads = 2;
  c.head_dim = 3;
  c.block_size = block_size;
  c.num_blocks = num_blocks;
  c.max_slots = 4;
  c.dtype = dtype;
  return c;
}

TEST(KvCache, ViewsAndSizesFollowTheConfig) {
  PagedKvCache cache(small_config(10, 4, DType::bf16));
  EXPECT_EQ(cache.k_pool(1).describe(), "bf16[10, 4, 2, 3]");
  EXPECT_EQ(cache.v_pool(0).describe(), "bf16[10, 4, 2, 3]");
  EXPECT_NE(cache.k_pool(0).data, cache.v_pool(0).data);
  EXPECT_NE(cache.k_pool(0).data, cache.k_pool(1).data);
  EXPECT_EQ(cache.block_tables().describe(), "i32[4, 10]");
  EXPECT_THROW(cache.k_pool(2), Error);
  EXPECT_EQ(PagedKvCache::block_bytes(cache.config()), size_t(2 * 2 * 4 * 2 * 3 * 2));  // K+V, layers, bs, Hkv, hd, bf16
  EXPECT_EQ(PagedKvCache::bytes_required(cache.config()), 10 * PagedKvCache::block_bytes(cache.config()));
  EXPECT_EQ(cache.blocks_needed(0), 0);
  EXPECT_EQ(cache.blocks_needed(1), 1);
  EXPECT_EQ(cache.blocks_needed(4), 1);
  EXPECT_EQ(cache.blocks_needed(5), 2);

  // A byte budget buys as many whole blocks as fit; max_sequence_length narrows the tables.
  KvCacheConfig budget = small_config(0);
  budget.byte_budget = 7 * PagedKvCache::block_bytes(budget) + 5;
  budget.max_sequence_length = 9;
  PagedKvCache from_budget(budget);
  EXPECT_EQ(from_budget.num_blocks(), 7);
  EXPECT_EQ(from_budget.free_block_count(), 7);
  EXPECT_EQ(from_budget.max_blocks_per_slot(), 3);
  EXPECT_EQ(from_budget.max_sequence_length(), 12);
  EXPECT_THROW(from_budget.reserve(0, 13), Error);
  EXPECT_TRUE(from_budget.reserve(0, 12));
}

TEST(KvCache, InvalidConfigsThrow) {
  auto with = [](auto edit) {
    KvCacheConfig c = small_config(8);
    edit(c);
    return c;
  };
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.n_kv_heads = 0; })), Error);
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.head_dim = -1; })), Error);
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.block_size = 0; })), Error);
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.max_slots = 0; })), Error);
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.dtype = DType::f16; })), Error);
  EXPECT_THROW(PagedKvCache(with([](KvCacheConfig& c) { c.num_blocks = 0; c.byte_budget = 10; })), Error);
}

TEST(KvCache, ReserveFreeAndTruncateAccounting) {
  PagedKvCache cache(small_config(6));
  EXPECT_TRUE(cache.reserve(1, 1));
  EXPECT_EQ(cache.free_block_count(), 5);
  EXPECT_EQ(cache.length(1), 1);
  EXPECT_EQ(cache.capacity(1), 4);
  EXPECT_TRUE(cache.reserve(1, 4));  // same block
  EXPECT_EQ(cache.free_block_count(), 5);
  EXPECT_TRUE(cache.reserve(1, 9));
  EXPECT_EQ(cache.free_block_count(), 3);
  EXPECT_EQ(cache.block_table(1).size(), 3u);
  EXPECT_EQ(cache.block_tables().ptr<int32_t>()[1 * 6 + 3], -1);  // unused entries are -1
  EXPECT_THROW(cache.reserve(1, 8), Error);  // shrinking is truncate's job
  EXPECT_THROW(cache.truncate(1, 10), Error);
  cache.truncate(1, 5);
  EXPECT_EQ(cache.length(1), 5);
  EXPECT_EQ(cache.free_block_count(), 4);
  cache.truncate(1, 0);
  EXPECT_EQ(cache.free_block_count(), 6);
  EXPECT_TRUE(cache.block_table(1).empty());
  cache.free(1);  // freeing an empty slot is a no-op
  EXPECT_EQ(cache.free_block_count(), 6);
  EXPECT_THROW(cache.reserve(4, 1), Error);
  EXPECT_THROW(cache.length(-1), Error);
  EXPECT_THROW(cache.fork(2, 2), Error);
}

TEST(KvCache, RefusalChangesNothing) {
  PagedKvCache cache(small_config(5));
  ASSERT_TRUE(cache.reserve(0, 12));  // 3 blocks
  ASSERT_TRUE(cache.reserve(2, 3));   // 1 block
  auto tables = [&] {
    const int32_t* t = cache.block_tables().ptr<int32_t>();
    return std::vector<int32_t>(t, t + 4 * 5);
  };
  const std::vector<int32_t> before = tables();
  EXPECT_FALSE(cache.reserve(2, 9));  // needs 2 more, 1 free
  EXPECT_FALSE(cache.reserve(3, 5));
  EXPECT_FALSE(cache.fork(0, 3));     // needs 3, 1 free
  EXPECT_FALSE(cache.fork(0, 2));     // needs 3, 1 free + slot 2's own block
  EXPECT_EQ(cache.free_block_count(), 1);
  EXPECT_EQ(cache.length(0), 12);
  EXPECT_EQ(cache.length(2), 3);
  EXPECT_EQ(cache.length(3), 0);
  EXPECT_EQ(tables(), before);
  // Forking over a destination counts the destination's blocks as available.
  cache.truncate(0, 8);
  EXPECT_TRUE(cache.fork(0, 2));
  EXPECT_EQ(cache.length(2), 8);
  EXPECT_EQ(cache.free_block_count(), 1);
}

// Every pool element of a position carries the position's id, so the model can check any slot's contents.
float element(float id, int layer, int kv, int64_t column) { return id * 64 + float(layer * 32 + kv * 16 + column); }

void write_position(PagedKvCache& cache, int slot, int64_t position, float id) {
  const int32_t block = cache.block_table(slot)[size_t(position / cache.block_size())];
  const int64_t width = cache.config().n_kv_heads * cache.config().head_dim;
  for (int layer = 0; layer < cache.num_layers(); ++layer)
    for (int kv = 0; kv < 2; ++kv) {
      float* pool = (kv ? cache.v_pool(layer) : cache.k_pool(layer)).ptr<float>();
      for (int64_t c = 0; c < width; ++c)
        pool[(block * cache.block_size() + position % cache.block_size()) * width + c] = element(id, layer, kv, c);
    }
}

void expect_contents(const PagedKvCache& cache, const std::vector<std::vector<float>>& model) {
  std::set<int32_t> used;
  int64_t used_blocks = 0;
  const int64_t width = cache.config().n_kv_heads * cache.config().head_dim;
  for (int slot = 0; slot < cache.num_slots(); ++slot) {
    const auto& ids = model[size_t(slot)];
    ASSERT_EQ(cache.length(slot), int64_t(ids.size()));
    const auto table = cache.block_table(slot);
    ASSERT_EQ(int64_t(table.size()), cache.blocks_needed(int64_t(ids.size())));
    for (int32_t b : table) {
      ASSERT_TRUE(b >= 0 && b < cache.num_blocks());
      ASSERT_TRUE(used.insert(b).second) << "block " << b << " owned twice";
    }
    used_blocks += int64_t(table.size());
    for (size_t p = 0; p < ids.size(); ++p)
      for (int layer = 0; layer < cache.num_layers(); ++layer)
        for (int kv = 0; kv < 2; ++kv) {
          const float* pool = (kv ? cache.v_pool(layer) : cache.k_pool(layer)).ptr<float>();
          const int64_t row = table[p / size_t(cache.block_size())] * cache.block_size() + int64_t(p) % cache.block_size();
          for (int64_t c = 0; c < width; ++c)
            ASSERT_EQ(pool[row * width + c], element(ids[p], layer, kv, c)) << "slot " << slot << " position " << p;
        }
  }
  ASSERT_EQ(cache.free_block_count(), cache.num_blocks() - used_blocks);
}

TEST(KvCache, RandomOperationsMatchAPlainModelOfEverySlot) {
  PagedKvCache cache(small_config(11, 3));
  std::vector<std::vector<float>> model(4);
  std::mt19937 rng(5);
  float next_id = 1;
  int refusals = 0, forks = 0;
  for (int op = 0; op < 400; ++op) {
    const int slot = int(rng() % 4), other = int(rng() % 4);
    switch (rng() % 5) {
      case 0:
      case 1: {  // grow and write the new positions, as a step would
        const int64_t old_length = cache.length(slot), new_length = old_length + int64_t(rng() % 8);
        const int64_t free_before = cache.free_block_count();
        if (!cache.reserve(slot, new_length)) {
          ++refusals;
          ASSERT_GT(cache.blocks_needed(new_length) - cache.blocks_needed(old_length), free_before);
          break;
        }
        for (int64_t p = old_length; p < new_length; ++p) {
          write_position(cache, slot, p, next_id);
          model[size_t(slot)].push_back(next_id++);
        }
        break;
      }
      case 2:
        cache.free(slot);
        model[size_t(slot)].clear();
        break;
      case 3:
        if (slot == other) break;
        if (cache.fork(slot, other)) {
          ++forks;
          model[size_t(other)] = model[size_t(slot)];
        } else {
          ++refusals;
        }
        break;
      case 4: {
        const int64_t length = cache.length(slot) == 0 ? 0 : int64_t(rng() % size_t(cache.length(slot) + 1));
        cache.truncate(slot, length);
        model[size_t(slot)].resize(size_t(length));
        break;
      }
    }
    expect_contents(cache, model);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(refusals, 5);  // the pool is small enough that refusal paths run
  EXPECT_GT(forks, 5);
}

// Runs one packed step of the attention kernel on the cache's layer 0; rows are [q | k | v] per token.
struct Step {
  std::vector<int64_t> cu{0}, starts;
  std::vector<int32_t> slots;
  std::vector<uint8_t> initial;
  std::vector<float> rows;
};

std::vector<float> attend(PagedKvCache& cache, const Step& step, int64_t Hq) {
  using namespace strata::kernels::cpu;
  const int64_t hd = cache.config().head_dim, Hkv = cache.config().n_kv_heads, T = step.cu.back();
  const int64_t width = Hq * hd + 2 * Hkv * hd;
  std::vector<float> rows = step.rows, out(size_t(T * Hq * hd));
  auto window = [&](int64_t column, int64_t cols) {
    Tensor t = Tensor::contiguous(rows.data() + column, DType::f32, {T, cols});
    t.strides[0] = width;
    return t;
  };
  const kernels::VarlenBatch batch{step.cu, step.slots, step.initial};
  const PagedAttentionParams params{Hq, Hkv, hd, 0, 0.0f};
  const PagedAttentionInputs inputs{window(0, Hq * hd), window(Hq * hd, Hkv * hd), window(Hq * hd + Hkv * hd, Hkv * hd)};
  const PagedKv kv{cache.k_pool(0), cache.v_pool(0), cache.block_tables()};
  const Tensor out_view = Tensor::contiguous(out.data(), DType::f32, {T, Hq * hd});
  check_paged_attention(params, batch, step.starts, inputs, kv, out_view);
  ThreadPool pool(2);
  paged_attention(params, batch, step.starts, inputs, kv, out_view, pool);
  return out;
}

// Appends `tokens` to slot's step entry after reserving them in the cache.
void add(PagedKvCache& cache, Step& step, int slot, const std::vector<float>& token_rows, int64_t tokens) {
  const int64_t start = cache.length(slot);
  ASSERT_TRUE(cache.reserve(slot, start + tokens));
  step.cu.push_back(step.cu.back() + tokens);
  step.starts.push_back(start);
  step.slots.push_back(slot);
  step.initial.push_back(start > 0);
  step.rows.insert(step.rows.end(), token_rows.begin(), token_rows.end());
}

TEST(KvCache, AttentionOnForkedAndRolledBackSlotsMatchesTheOriginal) {
  for (const DType dtype : {DType::f32, DType::bf16}) {
    KvCacheConfig config;
    config.num_layers = 1;
    config.n_kv_heads = 2;
    config.head_dim = 16;
    config.block_size = 4;
    config.num_blocks = 40;
    config.max_slots = 3;
    config.dtype = dtype;
    const int64_t Hq = 4, width = Hq * 16 + 2 * 2 * 16;
    const size_t q_width = size_t(Hq * 16);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto random_rows = [&](int64_t tokens) {
      std::vector<float> r(size_t(tokens * width));
      for (float& v : r) v = normal(rng);
      return r;
    };
    auto rows_of = [&](const std::vector<float>& r, int64_t first, int64_t count) {
      return std::vector<float>(r.begin() + first * width, r.begin() + (first + count) * width);
    };
    const std::vector<float> prompt = random_rows(18), token = random_rows(1), other = random_rows(1),
                             verify = random_rows(4), next = random_rows(1);

    PagedKvCache cache(config);
    Step prefill;
    add(cache, prefill, 0, prompt, 18);
    attend(cache, prefill, Hq);
    ASSERT_TRUE(cache.fork(0, 1));

    // The same token decoded in the original and the fork gives the same output: the copy is complete.
    Step both;
    add(cache, both, 0, token, 1);
    add(cache, both, 1, token, 1);
    const std::vector<float> out = attend(cache, both, Hq);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + long(q_width), out.begin() + long(q_width)));

    // A different token written into the fork leaves the original's blocks untouched.
    cache.truncate(1, 18);
    Step fork_only;
    add(cache, fork_only, 1, other, 1);
    const std::vector<float> out_other = attend(cache, fork_only, Hq);
    EXPECT_FALSE(std::equal(out_other.begin(), out_other.end(), out.begin()));
    cache.truncate(0, 18);
    Step again;
    add(cache, again, 0, token, 1);
    const std::vector<float> out_again = attend(cache, again, Hq);
    EXPECT_TRUE(std::equal(out_again.begin(), out_again.end(), out.begin()));

    // Speculative rollback: verify base + 3 drafts, accept 1 draft (keep 2 of the 4 positions), decode on.
    Step spec;
    add(cache, spec, 0, verify, 4);
    attend(cache, spec, Hq);
    cache.truncate(0, 19 + 2);
    Step after;
    add(cache, after, 0, next, 1);
    const std::vector<float> out_after = attend(cache, after, Hq);

    // Reference: a fresh cache fed only the accepted tokens.
    PagedKvCache fresh(config);
    Step fresh_prefill;
    std::vector<float> accepted = prompt;
    accepted.insert(accepted.end(), token.begin(), token.end());
    const std::vector<float> kept = rows_of(verify, 0, 2);
    accepted.insert(accepted.end(), kept.begin(), kept.end());
    add(fresh, fresh_prefill, 2, accepted, 21);
    attend(fresh, fresh_prefill, Hq);
    Step fresh_next;
    add(fresh, fresh_next, 2, next, 1);
    const std::vector<float> out_fresh = attend(fresh, fresh_next, Hq);
    for (size_t i = 0; i < out_fresh.size(); ++i) ASSERT_EQ(out_fresh[i], out_after[i]) << dtype_name(dtype);
  }
}

// Every byte of a slot's KV, all layers, in position order: equal vectors mean equal slots.
std::vector<uint8_t> kv_bytes(const PagedKvCache& cache, int slot) {
  std::vector<uint8_t> bytes;
  const size_t row = size_t(cache.config().n_kv_heads * cache.config().head_dim) * dtype_size(cache.config().dtype);
  const auto table = cache.block_table(slot);
  for (int layer = 0; layer < cache.num_layers(); ++layer)
    for (const Tensor& pool : {cache.k_pool(layer), cache.v_pool(layer)})
      for (int64_t p = 0; p < cache.length(slot); ++p) {
        const auto* base = static_cast<const uint8_t*>(pool.data) +
                           (size_t(table[size_t(p / cache.block_size())] * cache.block_size() + p % cache.block_size())) * row;
        bytes.insert(bytes.end(), base, base + row);
      }
  return bytes;
}

// A hybrid sequence: Mamba state at `length` and `length` positions of random KV.
void fill_sequence(MambaStateCache& states, PagedKvCache& kv, int slot, int64_t length, std::mt19937& rng) {
  testing::fill_slot_random(states, slot, rng);
  states.set_position(slot, length);
  kv.free(slot);
  ASSERT_TRUE(kv.reserve(slot, length));
  for (int layer = 0; layer < kv.num_layers(); ++layer)
    for (const Tensor& pool : {kv.k_pool(layer), kv.v_pool(layer)}) testing::fill_random(pool, rng);
}

KvCacheConfig snapshot_kv_config(DType dtype, int64_t num_blocks = 12) {
  KvCacheConfig c = small_config(num_blocks, 4, dtype);
  c.num_layers = 3;
  return c;
}

TEST(KvSnapshot, RoundTripCarriesKvIntoAnotherSlotAndAnotherCache) {
  for (const DType dtype : {DType::f32, DType::bf16}) {
    MambaStateCache states(testing::small_config(3));
    PagedKvCache kv(snapshot_kv_config(dtype));
    std::mt19937 rng(8);
    const int a = states.allocate(), b = states.allocate();
    fill_sequence(states, kv, a, 10, rng);
    fill_sequence(states, kv, b, 3, rng);
    const std::vector<uint8_t> snapshot = save_snapshot(states, kv, a);
    EXPECT_GT(snapshot.size(), save_snapshot(states, a).size() + 2 * 3 * 10 * 6 * dtype_size(dtype) - 1);
    EXPECT_EQ(parse_snapshot(snapshot).sections.size(), 4u + 6u);

    restore_snapshot(states, kv, b, snapshot);
    EXPECT_EQ(testing::slot_bytes(states, b), testing::slot_bytes(states, a));
    EXPECT_EQ(kv.length(b), 10);
    EXPECT_EQ(kv_bytes(kv, b), kv_bytes(kv, a));
    EXPECT_EQ(kv.free_block_count(), 12 - 3 - 3);
    // The copy is private: new writes to b's blocks leave a alone.
    const std::vector<uint8_t> a_before = kv_bytes(kv, a);
    write_position(kv, b, 0, 5.0f);
    EXPECT_EQ(kv_bytes(kv, a), a_before);

    // Into a fresh pair of caches, through a file.
    const std::string path = ::testing::TempDir() + "kv_snapshot_" + std::to_string(::getpid()) + ".bin";
    restore_snapshot(states, kv, b, snapshot);
    save_snapshot_file(states, kv, a, path);
    MambaStateCache other_states(testing::small_config(2));
    PagedKvCache other_kv(snapshot_kv_config(dtype, 5));
    const int c = other_states.allocate();
    restore_snapshot_file(other_states, other_kv, c, path);
    std::remove(path.c_str());
    EXPECT_EQ(testing::slot_bytes(other_states, c), testing::slot_bytes(states, a));
    EXPECT_EQ(kv_bytes(other_kv, c), kv_bytes(kv, a));
  }
}

TEST(KvSnapshot, RefusalsLeaveBothCachesUnchanged) {
  MambaStateCache states(testing::small_config(4));
  PagedKvCache kv(snapshot_kv_config(DType::f32, 7));
  std::mt19937 rng(4);
  const int a = states.allocate(), b = states.allocate();
  fill_sequence(states, kv, a, 10, rng);  // 3 blocks
  fill_sequence(states, kv, b, 2, rng);   // 1 block
  const std::vector<uint8_t> with_kv = save_snapshot(states, kv, a);
  const std::vector<uint8_t> state_only = save_snapshot(states, a);
  const std::vector<uint8_t> b_state = testing::slot_bytes(states, b), b_kv = kv_bytes(kv, b);
  auto expect_refused = [&](auto call, const std::string& text) {
    const int64_t free_before = kv.free_block_count();
    try {
      call();
      ADD_FAILURE() << "expected an error containing: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
    EXPECT_EQ(testing::slot_bytes(states, b), b_state);
    EXPECT_EQ(kv_bytes(kv, b), b_kv);
    EXPECT_EQ(kv.length(b), 2);
    EXPECT_EQ(kv.free_block_count(), free_before);
  };
  expect_refused([&] { restore_snapshot(states, b, with_kv); }, "carries attention KV");
  expect_refused([&] { restore_snapshot(states, kv, b, state_only); }, "expects 6 (3 attention layers at position 10)");
  PagedKvCache other_shape(snapshot_kv_config(DType::bf16));
  expect_refused([&] { restore_snapshot(states, other_shape, b, with_kv); }, "keys is f32[10, 2, 3], this KV cache expects bf16[10, 2, 3]");
  KvCacheConfig two_layers = snapshot_kv_config(DType::f32);
  two_layers.num_layers = 2;
  PagedKvCache fewer_layers(two_layers);
  expect_refused([&] { restore_snapshot(states, fewer_layers, b, with_kv); }, "expects 4");
  // The snapshot needs 3 blocks: b's own block plus 1 free is not enough once another slot takes 2.
  const int c = states.allocate();
  ASSERT_TRUE(kv.reserve(c, 8));
  expect_refused([&] { restore_snapshot(states, kv, b, with_kv); }, "needs 3 KV blocks for 10 positions, but only 2");
  // Saving needs the KV and the Mamba position to agree.
  kv.truncate(a, 9);
  EXPECT_THROW(save_snapshot(states, kv, a), Error);
  // A snapshot at position 0 carries no KV and empties the slot's KV on restore.
  const int d = states.allocate();
  restore_snapshot(states, kv, b, save_snapshot(states, kv, d));
  EXPECT_EQ(kv.length(b), 0);
  EXPECT_EQ(states.position(b), 0);
}

}  // namespace
}  // namespace strata::cache
