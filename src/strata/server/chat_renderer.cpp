#include "strata/server/chat_renderer.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "strata/core/error.h"
#include "strata/io/config_json.h"
#include "strata/template/chat_template.h"

namespace strata::server {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read the chat template", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tokenizer_config.json's bos_token / eos_token: a string, or an AddedToken object with "content".
std::string special_token(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return {};
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

struct Source {
  std::string default_template, tool_template, name;
};

// The template text, as transformers finds it: chat_template.jinja first, then tokenizer_config.json's
// chat_template (a string, or a list of {"name", "template"} whose "default" is used, and "tool_use"
// when the request has tools).
std::optional<Source> find_source(const std::filesystem::path& dir, const json& config) {
  if (std::filesystem::is_regular_file(dir / "chat_template.jinja")) {
    Source s;
    s.default_template = read_text(dir / "chat_template.jinja");
    s.name = (dir / "chat_template.jinja").string();
    return s;
  }
  if (!config.is_object() || !config.contains("chat_template") || config["chat_template"].is_null()) return std::nullopt;
  const json& t = config["chat_template"];
  const std::string where = (dir / "tokenizer_config.json").string();
  Source s;
  s.name = where + ": chat_template";
  if (t.is_string()) {
    s.default_template = t.get<std::string>();
    return s;
  }
  if (!t.is_array()) fail("{}: field 'chat_template' must be a string or a list of named templates", where);
  for (const json& entry : t) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
        !entry["template"].is_string())
      fail("{}: every entry of 'chat_template' needs a string 'name' and 'template'", where);
    if (entry["name"] == "default") s.default_template = entry["template"].get<std::string>();
    if (entry["name"] == "tool_use") s.tool_template = entry["template"].get<std::string>();
  }
  if (s.default_template.empty()) fail("{}: 'chat_template' lists no template named \"default\"", where);
  return s;
}

json tokenizer_config(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "tokenizer_config.json";
  if (!std::filesystem::is_regular_file(path)) return json::object();
  return io::read_config_json(path);
}

}  // namespace

bool has_chat_template(const std::filesystem::path& model_dir) {
  try {
    return find_source(model_dir, tokenizer_config(model_dir)).has_value();
  } catch (const Error&) {
    return false;
  }
}

ChatRenderer load_chat_renderer(const std::filesystem::path& model_dir, const tokenizer::Tokenizer&,
                                const std::filesystem::path& template_file) {
  const json config = tokenizer_config(model_dir);
  std::optional<Source> source;
  if (!template_file.empty()) {
    source = Source{read_text(template_file), {}, template_file.string()};
  } else {
    source = find_source(model_dir, config);
  }
  if (!source) return {};
  // Parsed once, here: a construct strata does not support fails now, naming it and its line.
  const auto chat = std::make_shared<const ChatTemplate>(ChatTemplate::parse(source->default_template, source->name));
  const auto tools_chat = source->tool_template.empty()
                              ? chat
                              : std::make_shared<const ChatTemplate>(ChatTemplate::parse(source->tool_template, source->name + " (tool_use)"));
  const std::string bos = special_token(config, "bos_token"), eos = special_token(config, "eos_token");
  return [chat, tools_chat, bos, eos](const ordered_json& messages, const ordered_json& tools,
                                      const ordered_json& kwargs, bool add_generation_prompt) {
    // As transformers' apply_chat_template: the special tokens, then the caller's switches, which may
    // override them; tools is none when the request has none.
    ordered_json context = ordered_json::object();
    context["messages"] = messages;
    context["tools"] = tools;
    context["add_generation_prompt"] = add_generation_prompt;
    context["bos_token"] = bos;
    context["eos_token"] = eos;
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) context[it.key()] = it.value();
    return (tools.is_array() && !tools.empty() ? *tools_chat : *chat).render(context);
  };
}

}  // namespace strata::server
