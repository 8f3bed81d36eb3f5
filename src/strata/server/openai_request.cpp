#include "strata/server/openai_request.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "strata/core/error.h"
#include "strata/server/api_error.h"

namespace strata::server {

namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::optional<double> number(const json& body, const char* name, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_field(name, fmt::format("must be a number, got {} {}", type_of(*v), v->dump()));
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) bad_field(name, fmt::format("must be between {} and {}, got {}", lo, hi, d));
  return d;
}

std::optional<int64_t> integer(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer() && !v->is_number_unsigned())
    bad_field(name, fmt::format("must be an integer, got {} {}", type_of(*v), v->dump()));
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
    bad_field(name, fmt::format("must be between {} and {}, got {}", lo, hi, v->dump()));
  const int64_t i = v->get<int64_t>();
  if (i < lo || i > hi) bad_field(name, fmt::format("must be between {} and {}, got {}", lo, hi, i));
  return i;
}

std::optional<bool> boolean(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad_field(name, fmt::format("must be true or false, got {}", v->dump()));
  return v->get<bool>();
}

// Token ids: a non-empty list of non-negative integers.
std::vector<int32_t> token_list(const json& v, const std::string& name) {
  std::vector<int32_t> ids;
  if (v.empty()) bad_field(name, "must not be empty");
  for (size_t i = 0; i < v.size(); ++i) {
    const json& t = v[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max())
      bad_field(fmt::format("{}[{}]", name, i), fmt::format("must be a token id (a non-negative integer), got {}", t.dump()));
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return ids;
}

// The fields both endpoints share: sampling, n, stream, stop, seed.
void read_common(const json& body, GenerationRequest& r) {
  if (!body.is_object()) throw ApiError(400, fmt::format("the request body must be a JSON object, got {}", body.type_name()));
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) bad_field("model", fmt::format("must be a string, got {}", m->dump()));
    r.model = m->get<std::string>();
  }
  engine::SamplingParams& s = r.sampling;
  s.temperature = static_cast<float>(number(body, "temperature", 0.0, 2.0).value_or(1.0));
  s.top_p = static_cast<float>(number(body, "top_p", 0.0, 1.0).value_or(1.0));
  if (s.top_p <= 0.0f) bad_field("top_p", "must be greater than 0");
  s.top_k = static_cast<int>(integer(body, "top_k", -1, 1 << 30).value_or(0));
  if (s.top_k < 0) s.top_k = 0;  // vLLM: -1 = off
  s.min_p = static_cast<float>(number(body, "min_p", 0.0, 1.0).value_or(0.0));
  s.repetition_penalty = static_cast<float>(number(body, "repetition_penalty", 0.0, 100.0).value_or(1.0));
  if (s.repetition_penalty <= 0.0f) bad_field("repetition_penalty", "must be greater than 0");
  s.presence_penalty = static_cast<float>(number(body, "presence_penalty", -2.0, 2.0).value_or(0.0));
  s.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", -2.0, 2.0).value_or(0.0));
  s.ignore_eos = boolean(body, "ignore_eos").value_or(false);
  if (const json* seed = field(body, "seed")) {
    if (!seed->is_number_integer() && !seed->is_number_unsigned())
      bad_field("seed", fmt::format("must be an integer, got {}", seed->dump()));
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (const json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      if (!stop->get<std::string>().empty()) s.stop_strings.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 16) bad_field("stop", fmt::format("may hold at most 16 strings, got {}", stop->size()));
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) bad_field(fmt::format("stop[{}]", i), "must be a string");
        if (!(*stop)[i].get<std::string>().empty()) s.stop_strings.push_back((*stop)[i].get<std::string>());
      }
    } else {
      bad_field("stop", fmt::format("must be a string or a list of strings, got {}", stop->dump()));
    }
  }
  if (const json* ids = field(body, "stop_token_ids")) {
    if (!ids->is_array()) bad_field("stop_token_ids", "must be a list of token ids");
    if (!ids->empty()) s.stop_token_ids = token_list(*ids, "stop_token_ids");
  }
  r.n = static_cast<int>(integer(body, "n", 1, 16).value_or(1));
  r.stream = boolean(body, "stream").value_or(false);
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) bad_field("stream_options", "must be an object");
    r.include_usage = boolean(*options, "include_usage").value_or(false);
  }
  // max_completion_tokens is the newer name; max_tokens the older (both accepted, the newer wins).
  std::optional<int64_t> max_tokens = integer(body, "max_completion_tokens", 1, 1 << 24);
  if (!max_tokens) max_tokens = integer(body, "max_tokens", 1, 1 << 24);
  r.max_tokens = max_tokens;
}

void check_message(const json& m, size_t i) {
  const std::string where = fmt::format("messages[{}]", i);
  if (!m.is_object()) bad_field(where, fmt::format("must be an object with 'role' and 'content', got {}", m.type_name()));
  const json* role = field(m, "role");
  if (!role || !role->is_string()) bad_field(where + ".role", "must be a string (system, user, assistant or tool)");
  const std::string r = role->get<std::string>();
  if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer" && r != "function")
    bad_field(where + ".role", fmt::format("must be system, developer, user, assistant or tool, got \"{}\"", r));
  const json* content = field(m, "content");
  const bool has_tool_calls = field(m, "tool_calls") != nullptr;
  if (!content && !(r == "assistant" && has_tool_calls))
    bad_field(where + ".content", "is required (a string or a list of text parts)");
  if (content && !content->is_string()) {
    if (!content->is_array()) bad_field(where + ".content", fmt::format("must be a string or a list of parts, got {}", content->type_name()));
    for (size_t p = 0; p < content->size(); ++p) {
      const json& part = (*content)[p];
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
        bad_field(fmt::format("{}.content[{}]", where, p), "must be {\"type\": \"text\", \"text\": ...} (strata takes text only)");
    }
  }
}

// Content given as text parts is joined into one string, which is what chat templates expect.
nlohmann::ordered_json normalised_messages(const nlohmann::ordered_json& messages) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& m : messages) {
    nlohmann::ordered_json copy = m;
    if (m.contains("content") && m["content"].is_array()) {
      std::string text;
      for (const auto& part : m["content"]) text += part["text"].get<std::string>();
      copy["content"] = text;
    }
    out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace

GenerationRequest parse_chat_request(const json& body, const nlohmann::ordered_json& ordered) {
  GenerationRequest r;
  r.chat = true;
  read_common(body, r);
  const json* messages = field(body, "messages");
  if (!messages) bad_field("messages", "is required: a list of {\"role\", \"content\"} messages");
  if (!messages->is_array() || messages->empty()) bad_field("messages", "must be a non-empty list of messages");
  for (size_t i = 0; i < messages->size(); ++i) check_message((*messages)[i], i);
  r.messages = normalised_messages(ordered["messages"]);
  if (const json* tools = field(body, "tools")) {
    if (!tools->is_array()) bad_field("tools", "must be a list of tool definitions");
    r.tools = ordered["tools"];
  }
  if (const json* kwargs = field(body, "chat_template_kwargs")) {
    if (!kwargs->is_object()) bad_field("chat_template_kwargs", "must be an object");
    r.template_kwargs = ordered["chat_template_kwargs"];
  }
  r.add_generation_prompt = boolean(body, "add_generation_prompt").value_or(true);
  r.logprobs = boolean(body, "logprobs").value_or(false);
  r.top_logprobs = static_cast<int>(integer(body, "top_logprobs", 0, engine::kMaxLogprobs).value_or(0));
  if (r.top_logprobs > 0 && !r.logprobs) bad_field("top_logprobs", "needs 'logprobs': true");
  r.sampling.logprobs = r.top_logprobs;
  return r;
}

GenerationRequest parse_completion_request(const json& body) {
  GenerationRequest r;
  read_common(body, r);
  const json* prompt = field(body, "prompt");
  if (!prompt) bad_field("prompt", "is required: a string, a list of strings, or token ids");
  if (prompt->is_string()) {
    r.prompts.push_back({prompt->get<std::string>(), {}});
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number()) {
    r.prompts.push_back({{}, token_list(*prompt, "prompt")});
  } else if (prompt->is_array() && !prompt->empty()) {
    for (size_t i = 0; i < prompt->size(); ++i) {
      const json& p = (*prompt)[i];
      if (p.is_string())
        r.prompts.push_back({p.get<std::string>(), {}});
      else if (p.is_array())
        r.prompts.push_back({{}, token_list(p, fmt::format("prompt[{}]", i))});
      else
        bad_field(fmt::format("prompt[{}]", i), fmt::format("must be a string or a list of token ids, got {}", p.type_name()));
    }
  } else {
    bad_field("prompt", fmt::format("must be a non-empty string, list of strings, or token ids, got {}", prompt->dump().substr(0, 40)));
  }
  if (r.prompts.size() * static_cast<size_t>(r.n) > 64)
    bad_field("prompt", fmt::format("{} prompts × n {} exceeds 64 completions per request", r.prompts.size(), r.n));
  r.echo = boolean(body, "echo").value_or(false);
  if (const auto lp = integer(body, "logprobs", 0, 5)) {
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(*lp);
  }
  r.sampling.logprobs = r.top_logprobs;
  if (const json* suffix = field(body, "suffix"))
    if (!suffix->is_string() || !suffix->get<std::string>().empty()) bad_field("suffix", "is not supported");
  return r;
}

}  // namespace strata::server
