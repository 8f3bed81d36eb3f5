// The chat template of a model directory — tokenizer_config.json's `chat_template` (a string, or the
// named list whose "default" entry is used) or chat_template.jinja — compiled once into a ChatRenderer
// that renders messages as transformers' apply_chat_template does (bos_token/eos_token from the
// tokenizer config, add_generation_prompt, tools, extra template switches). A template that uses
// something strata cannot render fails here, at load, naming the construct and its line.
#pragma once

#include <filesystem>

#include "strata/server/server.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::server {

bool has_chat_template(const std::filesystem::path& model_dir);
// An empty renderer when the directory has no template (chat requests then get a 400 that says so);
// `template_file` (non-empty) replaces the directory's template. Throws strata::Error for a template
// strata cannot parse.
ChatRenderer load_chat_renderer(const std::filesystem::path& model_dir, const tokenizer::Tokenizer& tokenizer,
                                const std::filesystem::path& template_file = {});

}  // namespace strata::server
