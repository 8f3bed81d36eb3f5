// strata::ChatTemplate: a Hugging Face chat template (tokenizer_config.json's `chat_template`, or a
// chat_template.jinja) rendered the way transformers' apply_chat_template renders it: Jinja2 in an
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loop controls, its own `tojson`, and the
// globals raise_exception and strftime_now. The output matches Jinja2's byte for byte for the supported
// subset (tests/template compares against python3-jinja2).
//
// Contract:
//  - parse() reads the template once and throws strata::Error naming the template, line, column and
//    construct for anything malformed or outside the subset (include/extends/import/block, unknown
//    filters, tests, methods or functions, mismatched end tags...): a template fails when it loads, never
//    at render time for a construct strata does not support.
//  - render() takes the template's variables as a JSON object: `messages`, `add_generation_prompt`,
//    `tools`, `bos_token`, `eos_token` and any switch the template reads (Nemotron's `enable_thinking`...).
//    Errors while rendering (raise_exception, a type error in the data, a limit) throw strata::Error with
//    the message, line and column. A ChatTemplate is immutable; render() is safe from several threads.
//  - Key order: Python dicts keep insertion order, and so does a nlohmann::ordered_json context; a plain
//    nlohmann::json has already sorted its keys, so `tojson` and `items()` follow the sorted order. Pass
//    ordered_json (e.g. parsed from the request) to reproduce what transformers prints for tool schemas.
//  - Integers are 64-bit (Python's are unbounded): overflow is an error rather than a wrong number.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace strata {

struct ChatTemplateLimits {
  std::size_t max_output_bytes = std::size_t{16} << 20;  // rendered text, and any string built on the way
  std::size_t max_loop_iterations = 1'000'000;           // for-loop items in one render, all loops together
  std::size_t max_call_depth = 100;                      // nested macro calls
  // range() is capped at 100000 items, as Jinja2's sandbox (MAX_RANGE) does.
};

class ChatTemplate {
 public:
  static ChatTemplate parse(std::string_view source, std::string name, ChatTemplateLimits limits = {});

  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::json& context) const;

  const std::string& name() const;

  ChatTemplate(const ChatTemplate&) = default;
  ChatTemplate(ChatTemplate&&) noexcept = default;
  ChatTemplate& operator=(const ChatTemplate&) = default;
  ChatTemplate& operator=(ChatTemplate&&) noexcept = default;
  ~ChatTemplate();

 private:
  struct Impl;
  explicit ChatTemplate(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace strata
