#include "strata/model/hf_config.h"

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/families/family.h"

namespace strata::model {

schedule::HfModel schedule_from_hf_config(const nlohmann::json& config, std::string_view filename) {
  if (!config.is_object()) fail("config {}: top level is {}; expected a JSON object", filename, config.type_name());
  std::string known;
  for (const FamilySpec* f : families()) known += (known.empty() ? "\"" : ", \"") + std::string(f->model_type) + "\"";
  const auto type = config.find("model_type");
  if (type == config.end() || type->is_null()) {
    // mamba_ssm's own config.json has no model_type; it is recognised by d_model/n_layer.
    if (config.contains("d_model") || config.contains("n_layer")) return mamba2_family().map_schedule(config, filename);
    fail("config {}: missing field 'model_type'; expected one of {} (or a mamba_ssm config with 'd_model' and "
         "'n_layer')", filename, known);
  }
  if (!type->is_string()) fail("config {}: field 'model_type' must be a string, got {}", filename, type->dump());
  const std::string model_type = type->get<std::string>();
  for (const FamilySpec* f : families())
    if (f->model_type == model_type) return f->map_schedule(config, filename);
  fail("config {}: model_type \"{}\" is not supported; expected one of {}", filename, model_type, known);
}

schedule::HfModel load_hf_config(const std::string& path) {
  return schedule_from_hf_config(io::read_config_json(path), path);
}

}  // namespace strata::model
