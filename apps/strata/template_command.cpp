// `strata template MODEL_DIR --messages FILE.json [--add-generation-prompt] [--tools FILE.json]
// [--kwargs JSON] [--chat-template FILE] [--tokens]`: prints the prompt the model's chat template renders
// for these messages — what the server and `strata chat` feed the model — to debug templates. With
// --tokens, the token ids too.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "strata/core/error.h"
#include "strata/io/json_depth.h"
#include "strata/server/chat_renderer.h"
#include "model_dir.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::cli {
namespace {

using nlohmann::ordered_json;

struct TemplateArgs {
  std::string model_dir, messages_file, tools_file, kwargs, chat_template;
  bool add_generation_prompt = false, tokens = false;
};

ordered_json read_json(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read the {} file", path, what);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  io::check_json_depth(text, path);
  const ordered_json j = ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) fail("{}: the {} file is not valid JSON", path, what);
  return j;
}

void run(const TemplateArgs& a) {
  const auto tokenizer = load_model_tokenizer(std::filesystem::path(a.model_dir));
  const server::ChatRenderer render = server::load_chat_renderer(a.model_dir, tokenizer, a.chat_template);
  if (!render) fail("{}: the model has no chat template (tokenizer_config.json chat_template or chat_template.jinja)", a.model_dir);
  ordered_json messages = read_json(a.messages_file, "messages");
  if (messages.is_object() && messages.contains("messages")) messages = messages["messages"];
  if (!messages.is_array()) fail("{}: expected a JSON list of messages (or an object with \"messages\")", a.messages_file);
  const ordered_json tools = a.tools_file.empty() ? ordered_json(nullptr) : read_json(a.tools_file, "tools");
  ordered_json kwargs = ordered_json::object();
  if (!a.kwargs.empty()) {
    io::check_json_depth(a.kwargs, "--kwargs");
    kwargs = ordered_json::parse(a.kwargs, nullptr, false);
    if (kwargs.is_discarded() || !kwargs.is_object()) fail("--kwargs must be a JSON object, got {}", a.kwargs);
  }
  const std::string prompt = render(messages, tools, kwargs, a.add_generation_prompt);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  if (a.tokens) {
    const auto ids = tokenizer.encode(prompt, /*add_special_tokens=*/false);
    std::printf("\n%s\n", ordered_json(ids).dump().c_str());
  }
}

const CommandRegistration registration(13, [](CLI::App& app) {
  auto a = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand("template", "Print the prompt a model's chat template renders for some messages");
  cmd->add_option("MODEL_DIR", a->model_dir, "Hugging Face model directory or GGUF file")->required();
  cmd->add_option("--messages", a->messages_file, "JSON file: a list of {role, content} messages")->required();
  cmd->add_flag("--add-generation-prompt", a->add_generation_prompt, "open the assistant's turn at the end");
  cmd->add_option("--tools", a->tools_file, "JSON file: a list of tool definitions");
  cmd->add_option("--kwargs", a->kwargs, "template switches as a JSON object, e.g. '{\"enable_thinking\": false}'");
  cmd->add_option("--chat-template", a->chat_template, "a Jinja template file to use instead of the model's");
  cmd->add_flag("--tokens", a->tokens, "also print the prompt's token ids");
  cmd->callback([a] { run(*a); });
});

}  // namespace
}  // namespace strata::cli
