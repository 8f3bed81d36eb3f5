// The oracle's cases for strata's chat templates: tests/fixtures/templates/expected.json, which
// tools/render_jinja.py writes by rendering every fixture template with every message set of
// contexts.json, plus the feature snippets of snippets.json, through python3-jinja2 configured as
// transformers configures it. Each case carries Jinja2's output or the error Jinja2 raised.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/template/chat_template.h"

namespace strata::testing {

using OrderedJson = nlohmann::ordered_json;

inline std::string fixture_dir() { return std::string(STRATA_SOURCE_DIR) + "/tests/fixtures/templates"; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct OracleCase {
  std::string name;
  std::string source;  // the template
  OrderedJson context;
  std::optional<std::string> output;  // what Jinja2 rendered
  std::optional<std::string> error;   // or the error it raised
  std::string error_type;
  bool is_volatile = false;  // depends on the clock: compared only against a live render
};

// gtest prints a parameter with this, instead of its bytes.
inline void PrintTo(const OracleCase& c, std::ostream* os) { *os << c.name; }

// All cases of expected.json, with template files and named contexts resolved.
inline std::vector<OracleCase> load_oracle_cases() {
  const OrderedJson expected = OrderedJson::parse(read_file(fixture_dir() + "/expected.json"));
  const OrderedJson contexts = OrderedJson::parse(read_file(fixture_dir() + "/contexts.json"));
  std::vector<OracleCase> cases;
  for (const auto& entry : expected.at("cases")) {
    OracleCase c;
    c.name = entry.at("name").get<std::string>();
    if (entry.contains("template_file")) {
      c.source = read_file(fixture_dir() + "/" + entry.at("template_file").get<std::string>());
      c.context = contexts.at(entry.at("context_name").get<std::string>());
    } else {
      c.source = entry.at("template").get<std::string>();
      c.context = entry.at("context");
    }
    if (entry.contains("output")) c.output = entry.at("output").get<std::string>();
    if (entry.contains("error")) c.error = entry.at("error").get<std::string>();
    if (entry.contains("error_type")) c.error_type = entry.at("error_type").get<std::string>();
    c.is_volatile = entry.value("volatile", false);
    cases.push_back(std::move(c));
  }
  return cases;
}

// A gtest-safe parameter name: "granite_4_0/tool_calls" -> "granite_4_0__tool_calls".
inline std::string test_name(const std::string& case_name) {
  std::string out;
  for (char c : case_name) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : c == '/' ? "__" : "_";
  }
  return out;
}

struct StrataResult {
  std::optional<std::string> output;
  std::optional<std::string> error;
};

inline StrataResult render_with_strata(const std::string& name, const std::string& source,
                                       const OrderedJson& context) {
  StrataResult r;
  try {
    r.output = ChatTemplate::parse(source, name).render(context);
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

// Where two renders first differ, for a readable failure on long prompts.
inline std::string first_difference(const std::string& expected, const std::string& actual) {
  const auto mismatch = std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end());
  const std::size_t at = static_cast<std::size_t>(mismatch.first - expected.begin());
  const std::size_t from = at > 40 ? at - 40 : 0;
  // Byte windows can cut a UTF-8 sequence: dump with replacement characters rather than throw.
  auto quote = [](const std::string& s) {
    return OrderedJson(s).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  };
  return "first difference at byte " + std::to_string(at) + "\n  jinja2: ..." +
         quote(expected.substr(from, 80)) + "\n  strata: ..." + quote(actual.substr(from, 80));
}

// Checks strata against one Jinja2 result: the same bytes, or an error where Jinja2 raised one (with
// raise_exception's message, which is the template's own text).
inline void expect_matches_jinja(const StrataResult& strata, const std::optional<std::string>& output,
                                 const std::optional<std::string>& error, const std::string& error_type) {
  if (output) {
    ASSERT_FALSE(strata.error.has_value()) << "Jinja2 rendered it, strata failed: " << *strata.error;
    EXPECT_EQ(*strata.output, *output) << first_difference(*output, *strata.output);
    return;
  }
  ASSERT_TRUE(error.has_value());
  ASSERT_TRUE(strata.error.has_value()) << "Jinja2 raised " << error_type << " (" << *error
                                        << "), strata rendered: " << OrderedJson(*strata.output).dump();
  if (error_type == "TemplateError") {  // raise_exception(message)
    EXPECT_NE(strata.error->find("raise_exception: " + *error), std::string::npos) << *strata.error;
  }
}

}  // namespace strata::testing
