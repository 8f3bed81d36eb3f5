// The family registry: the one place that dispatches on config.json's model_type.
#include <array>

#include "strata/core/error.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/model_config.h"

namespace strata::model {

std::span<const FamilySpec* const> families() {
  static const std::array<const FamilySpec*, 6> all{&mamba2_family(),  &nemotron_h_family(), &granite_hybrid_family(),
                                                    &bamba_family(),   &falcon_h1_family(),  &zamba2_family()};
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

}  // namespace strata::model
