// Named model presets: a Schedule plus ModelDims for architectures that a pattern cannot express
// (DeepSeek-V4 Flash/Pro: attention + MoE in every layer, sliding/compressed attention, hash routing)
// and for well-known hybrids, so `strata plan --preset NAME` needs no config file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/schedule/schedule.h"

namespace strata::schedule {

struct Preset {
  std::string name;
  std::string description;
  Schedule schedule;
  ModelDims dims;
};

// "dsv4-flash", "dsv4-pro", "nemotron-h-8b".
const std::vector<std::string>& preset_names();

// Throws strata::Error naming the unknown preset and listing the known ones.
Preset make_preset(std::string_view name);

// DeepSeek-V4 trunk layout (peers.md §5): layers 0-1 are sliding-window only (Flash) or HCA (Pro),
// then CSA (ratio 4, sparse top-k) and HCA (ratio 128) alternate from layer 2 starting with CSA; MoE
// everywhere, hash routing for layers 0-2; window 128 everywhere. `mtp_layers` MTP layers follow
// (sliding-window attention + learned-routing MoE, one per depth).
enum class Dsv4Variant { flash, pro };
Schedule dsv4_schedule(Dsv4Variant variant, int mtp_layers = 1);

}  // namespace strata::schedule
