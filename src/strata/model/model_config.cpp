#include "strata/model/model_config.h"

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/model/config_fields.h"
#include "strata/model/families/family.h"
#include "strata/model/hf_config.h"

namespace strata::model {

ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& filename) {
  schedule::HfModel hf = schedule_from_hf_config(json, filename);
  ModelConfig c;
  c.model_type = hf.model_type;
  c.schedule = std::move(hf.schedule);
  c.dims = hf.dims;
  c.family = &family_for(c.model_type, filename);
  const ConfigFields f(json, filename);
  c.family->read_config(f, c);
  c.bos_token_id = f.optional_token("bos_token_id");
  c.eos_token_id = f.optional_token("eos_token_id");
  c.pad_token_id = f.optional_token("pad_token_id");
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "config.json";
  if (!std::filesystem::is_regular_file(path))
    fail("{}: cannot read the model config (is {} a model directory?)", path.string(), model_dir.string());
  return model_config_from_json(io::read_config_json(path), path.string());
}

}  // namespace strata::model
