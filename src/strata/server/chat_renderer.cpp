#include "strata/server/chat_renderer.h"

namespace strata::server {

bool has_chat_template(const std::filesystem::path&) { return false; }

ChatRenderer load_chat_renderer(const std::filesystem::path&, const tokenizer::Tokenizer&) { return {}; }

}  // namespace strata::server
