// Test helper: builds a VarlenBatch sequence by sequence (length, slot, whether it starts from the slot's
// state) and keeps the arrays it points into alive.
#pragma once

#include <cstdint>
#include <vector>

#include "strata/kernels/varlen.h"

namespace strata::kernels::cpu {

struct Batch {
  std::vector<int64_t> cu{0};
  std::vector<int32_t> slots;
  std::vector<uint8_t> has_initial;
  void add(int64_t length, int32_t slot, bool initial) {
    cu.push_back(cu.back() + length);
    slots.push_back(slot);
    has_initial.push_back(initial ? 1 : 0);
  }
  VarlenBatch view() const { return {cu, slots, has_initial}; }
};

}  // namespace strata::kernels::cpu
