// Workspace: the scratch arena of one forward step, on one device (plus, for a GPU workspace, a pinned
// host arena for the step's metadata before it is uploaded). Sized before the first step (from
// the Schedule and the engine's token budget: Model::workspace_bytes), handed out as tensors and
// reclaimed all at once, or block by block through a Scope. A take beyond the reserved capacity still
// succeeds by growing (a safety net that counts as an allocation), so tests can prove it never happens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "strata/core/tensor.h"

namespace strata {

class Workspace {
 public:
  explicit Workspace(Device device = Device::cpu);
  Workspace(size_t bytes, Device device);
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;

  // A 64-byte aligned tensor valid until reset() or until the enclosing Scope ends. Contents are
  // unspecified (zero on first use).
  Tensor take(DType dtype, std::initializer_list<int64_t> shape);
  // Raw bytes (64-byte aligned), e.g. a kernel's scratch.
  void* take_bytes(size_t bytes);
  // Host memory for a step's metadata (the same arena on a CPU workspace; page-locked memory beside a
  // GPU workspace, so uploads from it are asynchronous and graph-capturable). Scoped like take().
  void* take_host_bytes(size_t bytes);
  Tensor take_host(DType dtype, std::initializer_list<int64_t> shape);
  // Returns everything taken since the last reset. Call at the start of a step.
  void reset();
  // Makes one block of at least `bytes` (merging what exists); call when idle, before a step.
  void reserve(size_t bytes);
  size_t capacity() const;
  // Blocks allocated over the workspace's life: constant once the reserve covers every step.
  uint64_t growths() const { return growths_; }
  Device device() const { return device_; }

  // Takes made inside a Scope are returned when it ends (a block's temporaries), so a step needs the
  // largest block's scratch, not the sum over blocks.
  class Scope {
   public:
    explicit Scope(Workspace& workspace)
        : workspace_(workspace), block_(workspace.block_), offset_(workspace.offset_),
          host_block_(workspace.host_ ? workspace.host_->block_ : 0),
          host_offset_(workspace.host_ ? workspace.host_->offset_ : 0) {}
    ~Scope() {
      workspace_.block_ = block_;
      workspace_.offset_ = offset_;
      if (workspace_.host_) {
        workspace_.host_->block_ = host_block_;
        workspace_.host_->offset_ = host_offset_;
      }
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Workspace& workspace_;
    size_t block_, offset_, host_block_, host_offset_;
  };

  // Rounds a request the way take_bytes does, for sizing.
  static size_t rounded(size_t bytes) { return (bytes + 63) / 64 * 64; }

 private:
  Buffer make_block(size_t bytes) const;

  Device device_;
  bool pinned_ = false;               // a GPU workspace's host arena: page-locked blocks
  std::unique_ptr<Workspace> host_;   // GPU workspaces only
  std::vector<Buffer> blocks_;  // earlier blocks stay valid until reset() so views never dangle
  size_t block_ = 0, offset_ = 0;
  uint64_t growths_ = 0;
};

}  // namespace strata
