// The family registry: the one place that dispatches on config.json's model_type.
#include <array>

#include "strata/core/error.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

std::span<const FamilySpec* const> families() {
  static const std::array<const FamilySpec*, 2> all{&mamba2_family(), &nemotron_h_family()};
  return all;
}

const FamilySpec& family_for(std::string_view model_type, const std::string& filename) {
  std::string known;
  for (const FamilySpec* f : families()) {
    if (f->model_type == model_type) return *f;
    known += (known.empty() ? "" : ", ") + std::string(f->model_type);
  }
  fail("{}: model_type '{}' is not supported (strata runs {})", filename, model_type, known);
}

void read_time_step_limit(const ConfigFields& f, ModelConfig& c) {
  if (!f.has("time_step_limit")) return;
  const auto& v = f.json()["time_step_limit"];
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    fail("{}: field 'time_step_limit' must be [min, max], got {}", f.filename(), v.dump());
  c.dt_min = static_cast<float>(v[0].get<double>());
  c.dt_max = static_cast<float>(v[1].get<double>());
  if (!(c.dt_min >= 0.0f) || !(c.dt_max > c.dt_min))
    fail("{}: field 'time_step_limit' must satisfy 0 <= min < max, got {}", f.filename(), v.dump());
}

}  // namespace strata::model
