#include "strata/cache/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "cache/test_states.h"
#include "strata/cache/hash64.h"
#include "strata/core/error.h"

namespace strata::cache {
namespace {

using testing::fill_slot_random;
using testing::slot_bytes;
using testing::small_config;

// Runs `restore` and expects strata::Error whose message contains `needle`.
template <typename F>
void expect_error(F&& restore, const std::string& needle) {
  try {
    restore();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

// Recomputes the checksum after a deliberate edit, to reach the checks behind it.
void reseal(std::vector<uint8_t>& bytes) {
  const uint64_t checksum = hash64(bytes.data() + 32, bytes.size() - 32, 0x5354524154413031ull);
  std::memcpy(bytes.data() + 24, &checksum, 8);
}

class SnapshotTest : public ::testing::Test {
 protected:
  std::filesystem::path directory() {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("strata_snapshot_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
  }
  void TearDown() override { std::filesystem::remove_all(directory()); }
};

TEST_F(SnapshotTest, RoundTripsIntoAnotherSlotAndAnotherCache) {
  for (DType dtype : {DType::f32, DType::bf16}) {
    MambaStateCache cache(small_config(3, 0, dtype));
    std::mt19937 rng(1);
    const int source = cache.allocate(), target = cache.allocate();
    fill_slot_random(cache, source, rng);
    cache.set_position(source, 1234);
    const std::vector<uint8_t> bytes = save_snapshot(cache, source);
    EXPECT_EQ(bytes.size() % 64, 0u);
    fill_slot_random(cache, target, rng);
    restore_snapshot(cache, target, bytes);
    EXPECT_EQ(slot_bytes(cache, target), slot_bytes(cache, source));

    MambaStateCache other(small_config(2, 1, dtype));  // same model, different slot count and S
    const int slot = other.allocate();
    restore_snapshot(other, slot, bytes);
    EXPECT_EQ(slot_bytes(other, slot), slot_bytes(cache, source));

    const SnapshotInfo info = parse_snapshot(bytes);
    EXPECT_EQ(info.version, kSnapshotVersion);
    EXPECT_EQ(info.model_id, "test-model");
    EXPECT_EQ(info.position, 1234);
    ASSERT_EQ(info.sections.size(), 4u);
    EXPECT_EQ(info.sections[3].kind, SectionKind::ssm_state);
    EXPECT_EQ(info.sections[3].layer, 1u);
    EXPECT_EQ(info.sections[3].dtype, dtype);
    EXPECT_EQ(info.sections[2].shape, (std::array<int64_t, 4>{2, 40, 0, 0}));
  }
}

TEST_F(SnapshotTest, FileRoundTripIsAtomicAndOverwrites) {
  MambaStateCache cache(small_config(2));
  std::mt19937 rng(2);
  const int a = cache.allocate(), b = cache.allocate();
  const std::string path = (directory() / "state.snap").string();
  fill_slot_random(cache, a, rng);
  save_snapshot_file(cache, a, path);
  fill_slot_random(cache, a, rng);  // a second save must replace the first
  cache.set_position(a, 9);
  save_snapshot_file(cache, a, path);
  restore_snapshot_file(cache, b, path);
  EXPECT_EQ(slot_bytes(cache, b), slot_bytes(cache, a));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "state.snap");  // no temporary left behind
  }
  EXPECT_EQ(files, 1);
}

TEST_F(SnapshotTest, FileErrorsNameThePath) {
  MambaStateCache cache(small_config(1));
  const int slot = cache.allocate();
  const std::string missing = (directory() / "missing.snap").string();
  expect_error([&] { restore_snapshot_file(cache, slot, missing); }, missing);
  const std::string unwritable = (directory() / "no_such_dir" / "x.snap").string();
  expect_error([&] { save_snapshot_file(cache, slot, unwritable); }, unwritable);

  std::vector<uint8_t> bytes = save_snapshot(cache, slot);
  bytes[bytes.size() - 1] ^= 0x40;
  const std::string corrupted = (directory() / "corrupted.snap").string();
  std::ofstream(corrupted, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                   static_cast<std::streamsize>(bytes.size()));
  expect_error([&] { restore_snapshot_file(cache, slot, corrupted); }, corrupted);
  expect_error([&] { restore_snapshot_file(cache, slot, corrupted); }, "checksum");
}

TEST_F(SnapshotTest, EveryTruncationAndEveryFlippedByteFailsAndLeavesLiveStateAsItWas) {
  MambaStateCache cache(small_config(2));
  std::mt19937 rng(3);
  const int source = cache.allocate(), target = cache.allocate();
  fill_slot_random(cache, source, rng);
  cache.set_position(source, 55);
  fill_slot_random(cache, target, rng);
  cache.set_position(target, 7);
  const std::vector<uint8_t> live = slot_bytes(cache, target);
  const std::vector<uint8_t> good = save_snapshot(cache, source);

  for (size_t length = 0; length < good.size(); ++length) {
    std::vector<uint8_t> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(restore_snapshot(cache, target, truncated), Error) << "length " << length;
  }
  EXPECT_EQ(slot_bytes(cache, target), live);
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_error([&] { restore_snapshot(cache, target, longer); }, "trailing");

  std::vector<uint8_t> flipped = good;
  for (size_t i = 0; i < flipped.size(); ++i) {
    flipped[i] ^= 0x10;
    EXPECT_THROW(restore_snapshot(cache, target, flipped), Error) << "byte " << i;
    flipped[i] ^= 0x10;
  }
  EXPECT_EQ(slot_bytes(cache, target), live);
  restore_snapshot(cache, target, flipped);  // the unflipped original still restores
  EXPECT_EQ(slot_bytes(cache, target), slot_bytes(cache, source));
}

TEST_F(SnapshotTest, ErrorsSayWhichCheckFailed) {
  MambaStateCache cache(small_config(1));
  const int slot = cache.allocate();
  const std::vector<uint8_t> good = save_snapshot(cache, slot);
  std::vector<uint8_t> bad = good;
  bad[0] = 'X';
  expect_error([&] { restore_snapshot(cache, slot, bad); }, "not a strata state snapshot");
  bad = good;
  bad[8] = 2;  // version
  expect_error([&] { restore_snapshot(cache, slot, bad); }, "version 2 is not supported");
  bad = good;
  bad[good.size() - 3] ^= 1;
  expect_error([&] { restore_snapshot(cache, slot, bad); }, "checksum mismatch");
  expect_error([&] { restore_snapshot(cache, slot, std::vector<uint8_t>(good.begin(), good.begin() + 100)); },
               "truncated");
  MambaStateCache other(small_config(2));
  expect_error([&] { restore_snapshot(other, 1, good); }, "slot 1 is not allocated");
}

TEST_F(SnapshotTest, RestoringIntoADifferentModelNamesTheDifference) {
  MambaStateCache cache(small_config(1));
  std::mt19937 rng(4);
  const int slot = cache.allocate();
  fill_slot_random(cache, slot, rng);
  const std::vector<uint8_t> bytes = save_snapshot(cache, slot);

  auto check = [&](StateCacheConfig config, const std::string& needle) {
    MambaStateCache other(std::move(config));
    const int target = other.allocate();
    fill_slot_random(other, target, rng);
    const std::vector<uint8_t> before = slot_bytes(other, target);
    expect_error([&] { restore_snapshot(other, target, bytes); }, needle);
    EXPECT_EQ(slot_bytes(other, target), before);
  };
  check(small_config(1, 0, DType::f32, "other-model"), "from model 'test-model', but this cache belongs to model "
                                                       "'other-model'");
  StateCacheConfig config = small_config(1);
  config.layers[1].state_size = 16;
  check(config, "Mamba layer 1 ssm state is f32[2, 8, 4], this cache expects f32[2, 8, 16]");
  check(small_config(1, 0, DType::bf16), "Mamba layer 0 ssm state is f32[3, 4, 8], this cache expects bf16[3, 4, 8]");
  config = small_config(1);
  config.layers.push_back(config.layers[0]);
  check(config, "this cache expects 6 (3 Mamba layers)");
  config = small_config(1);
  config.layers[0].conv_kernel = 5;
  check(config, "Mamba layer 0 conv state is f32[3, 24], this cache expects f32[4, 24]");
}

TEST_F(SnapshotTest, SectionTableIsCheckedEvenBehindAValidChecksum) {
  MambaStateCache cache(small_config(1));
  const int slot = cache.allocate();
  const std::vector<uint8_t> good = save_snapshot(cache, slot);
  const size_t first_record = 64 + std::string("test-model").size();
  auto edited = [&](size_t at, auto value) {
    std::vector<uint8_t> bytes = good;
    std::memcpy(bytes.data() + at, &value, sizeof(value));
    reseal(bytes);
    return bytes;
  };
  expect_error([&] { restore_snapshot(cache, slot, edited(first_record, uint8_t{3})); }, "does not know");
  expect_error([&] { restore_snapshot(cache, slot, edited(first_record + 1, uint8_t{9})); }, "unknown dtype");
  expect_error([&] { restore_snapshot(cache, slot, edited(first_record + 40, uint64_t{1} << 40)); },
               "outside the payload");
  expect_error([&] { restore_snapshot(cache, slot, edited(first_record + 48, uint64_t{4})); }, "declares 4 bytes");
  expect_error([&] { restore_snapshot(cache, slot, edited(40, uint32_t{1000})); }, "runs past the end");
  expect_error([&] { restore_snapshot(cache, slot, edited(32, int64_t{-1})); }, "negative position");
}

// A section claiming [2^40, 2^40, 2^40, 2^40] elements (or [2^40, 2^24] f32: 2^66 bytes) of 0 bytes: the
// element count wraps to 0 in 64 bits, which used to match the 0 bytes declared and pass the parser.
TEST_F(SnapshotTest, SectionSizesThatWrapAreRefusedByTheParser) {
  MambaStateCache cache(small_config(1));
  const std::vector<uint8_t> good = save_snapshot(cache, cache.allocate());
  const size_t record = 64 + std::string("test-model").size();
  auto crafted = [&](std::initializer_list<int64_t> shape) {
    std::vector<uint8_t> bytes = good;
    bytes[record + 2] = static_cast<uint8_t>(shape.size());  // ndim
    size_t d = 0;
    for (int64_t n : shape) std::memcpy(bytes.data() + record + 8 + 8 * d++, &n, 8);
    const uint64_t zero = 0;
    std::memcpy(bytes.data() + record + 48, &zero, 8);  // bytes
    reseal(bytes);
    return bytes;
  };
  const int64_t big = int64_t{1} << 40;
  expect_error([&] { parse_snapshot(crafted({big, big, big, big})); },
               "snapshot section 0 is f32[1099511627776, 1099511627776, 1099511627776, 1099511627776], whose byte "
               "size does not fit in 64 bits");
  expect_error([&] { parse_snapshot(crafted({big, int64_t{1} << 24})); }, "does not fit in 64 bits");
  // One that fits but is not what the section holds is still the byte-count error.
  expect_error([&] { parse_snapshot(crafted({big})); }, "declares 0 bytes but f32[1099511627776] needs 4398046511104");
}

}  // namespace
}  // namespace strata::cache
