// Hostile and unsupported templates: each fails when it loads (never half-way through a render) with a
// strata::Error that names the template, the line and column, and the construct; runaway templates stop
// at the documented limits (output size, loop iterations, macro depth, range size) instead of exhausting
// the machine. Jinja2 failing on the same inputs is checked in live_oracle_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/template/chat_template.h"

namespace strata {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string load_error(const std::string& source) {
  try {
    ChatTemplate::parse(source, "t");
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

std::string render_error(const std::string& source, const OrderedJson& context = OrderedJson::object(),
                         ChatTemplateLimits limits = {}) {
  const ChatTemplate t = ChatTemplate::parse(source, "t", limits);  // must load
  try {
    t.render(context);
  } catch (const Error& e) {
    return e.what();
  }
  return "(rendered without error)";
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

struct LoadErrorCase {
  const char* source;
  const char* where;      // "line L column C"
  const char* construct;  // what the message must name
};

class LoadErrors : public ::testing::TestWithParam<LoadErrorCase> {};

TEST_P(LoadErrors, NameTheConstructAndWhereItIs) {
  const auto& c = GetParam();
  const std::string error = load_error(c.source);
  EXPECT_CONTAINS(error, std::string("template 't' ") + c.where + ":");
  EXPECT_CONTAINS(error, c.construct);
}

const LoadErrorCase kLoadErrors[] = {
    // Unterminated pieces.
    {"Hello {{ name", "line 1 column 7", "unterminated '{{'"},
    {"a\n{% if x", "line 2 column 1", "unterminated '{%'"},
    {"x {# note", "line 1 column 3", "unterminated comment"},
    {"{{ 'abc }}", "line 1 column 4", "unterminated string literal"},
    {"{% raw %}never closed", "line 1 column 1", "{% endraw %}"},
    {"{% if x %}body", "line 1 column 4",
     "'{% if %}' is never closed: expected '{% elif %}', '{% else %}' or '{% endif %}'"},
    {"{% for m in messages %}\n{{ m }}", "line 1 column 4", "'{% for %}' is never closed"},
    {"{% macro m() %}x", "line 1 column 4", "'{% macro %}' is never closed"},
    // Mismatched and stray end tags.
    {"{% for x in y %}\n  {% endif %}", "line 2 column 6",
     "'{% endif %}' does not match the innermost open block '{% for %}' (line 1 column 4)"},
    {"{% if a %}{% for x in y %}{% endif %}{% endfor %}", "line 1 column 30",
     "does not match the innermost open block '{% for %}'"},
    {"text {% endfor %}", "line 1 column 9", "'{% endfor %}' has no open block to close"},
    {"{% if a %}{% else %}{% else %}{% endif %}", "line 1 column 24", "'{% else %}' does not match"},
    {"{% if a %}{% else %}{% elif b %}{% endif %}", "line 1 column 24", "'{% elif %}' does not match"},
    {"{% set x %}abc{% endmacro %}", "line 1 column 18",
     "'{% endmacro %}' does not match the innermost open block '{% set %}'"},
    {"{% if a %}x{% endif extra %}", "line 1 column 21", "expected '%}' to end '{% endif %}'"},
    // Statements outside the subset.
    {"{% include 'other.jinja' %}", "line 1 column 4", "unsupported statement '{% include %}'"},
    {"{% extends 'base.jinja' %}", "line 1 column 4", "unsupported statement '{% extends %}'"},
    {"{% import 'macros.jinja' as m %}", "line 1 column 4", "unsupported statement '{% import %}'"},
    {"{% from 'm.jinja' import x %}", "line 1 column 4", "unsupported statement '{% from %}'"},
    {"{% block body %}{% endblock %}", "line 1 column 4", "unsupported statement '{% block %}'"},
    {"{% autoescape true %}{% endautoescape %}", "line 1 column 4",
     "unsupported statement '{% autoescape %}'"},
    {"{% do messages.append(1) %}", "line 1 column 4", "unsupported statement '{% do %}'"},
    {"\n\n  {% frobnicate %}", "line 3 column 6", "unknown statement '{% frobnicate %}'"},
    {"{% for x in items recursive %}{% endfor %}", "line 1 column 19",
     "recursive for loops are not supported"},
    {"{% break %}", "line 1 column 4", "'{% break %}' outside a for loop"},
    {"{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", "line 1 column 35",
     "'{% continue %}' outside a for loop"},
    {"{% for x in [] %}{% else %}{% break %}{% endfor %}", "line 1 column 31",
     "'{% break %}' outside a for loop"},
    // Filters, tests, methods and functions.
    {"{{ x | frobnicate }}", "line 1 column 8", "unknown filter 'frobnicate'"},
    {"{{ x|groupby('role') }}", "line 1 column 6", "filter 'groupby' is not supported"},
    {"{{ x|truncate(10) }}", "line 1 column 6", "filter 'truncate' is not supported"},
    {"{{ x|map('frobnicate')|list }}", "line 1 column 6", "unknown filter 'frobnicate' used by map"},
    {"{{ x|selectattr('a', 'frobnicated') }}", "line 1 column 6",
     "unknown test 'frobnicated' used by selectattr"},
    {"{% if x is frobnicated %}{% endif %}", "line 1 column 12", "unknown test 'frobnicated'"},
    {"{{ messages.append(1) }}", "line 1 column 12",
     "method '.append()' is not supported: it mutates its object"},
    {"{{ d.update({'a': 1}) }}", "line 1 column 5", "method '.update()' is not supported"},
    {"{{ 'hi {}'.format(name) }}", "line 1 column 11",
     "method '.format()' is not supported by strata's Jinja subset"},
    {"{{ x.frobnicate() }}", "line 1 column 5", "unknown method '.frobnicate()'"},
    {"{{ frobnicate(1) }}", "line 1 column 4", "unknown function 'frobnicate()'"},
    {"{% set c = cycler('a', 'b') %}", "line 1 column 12", "function 'cycler()' is not supported"},
    {"{{ f(*args) }}", "line 1 column 6", "'*args' and '**kwargs' in calls are not supported"},
    {"{{ '%(name)s' % d }}", "line 1 column 15", "mapping keys ('%(name)s') are not supported"},
    // Malformed expressions.
    {"{{ 1 + }}", "line 1 column 8", "unexpected '}}'"},
    {"{{ (1, 2 }}", "line 1 column 10", "unexpected '}', expected ')'"},
    {"{{ a ] }}", "line 1 column 6", "unexpected ']'"},
    {"{{ x | }}", "line 1 column 8", "expected a filter name"},
    {"{% set = 1 %}", "line 1 column 8", "expected a variable name"},
    {"{% set true = 1 %}", "line 1 column 8", "cannot assign to the constant 'true'"},
    {"{% macro m(a=1, b) %}{% endmacro %}", "line 1 column 17",
     "a parameter without a default follows one with a default"},
    {"{{ x is }}", "line 1 column 9", "expected a test name"},
    {"{{ 1 $ 2 }}", "line 1 column 6", "unexpected character '$'"},
    {"{{ '\\xZZ' }}", "line 1 column 5", "truncated \\x escape"},
    {"{{ '\\N{BULLET}' }}", "line 1 column 5", "\\N{...} named escapes are not supported"},
    {"{{ 99999999999999999999 }}", "line 1 column 4", "integer literal is too large"},
    {"{% call m %}{% endcall %}", "line 1 column 9", "'{% call %}' expects a macro call"},
    // Positions count code points and survive CRLF line endings.
    {"é日本 {{ x|frob }}", "line 1 column 10", "unknown filter 'frob'"},
    {"a\r\nb\r\n{{ x|frob }}", "line 3 column 6", "unknown filter 'frob'"},
};

INSTANTIATE_TEST_SUITE_P(Template, LoadErrors, ::testing::ValuesIn(kLoadErrors));

TEST(LoadErrors, DeepNestingIsRefusedNotAStackOverflow) {
  const std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_CONTAINS(load_error(deep), "expression nests too deeply");
  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_CONTAINS(load_error(nots + "x }}"), "expression nests too deeply");
  std::string minus = "{{ " + std::string(5000, '-') + "1 }}";
  EXPECT_CONTAINS(load_error(minus), "expression nests too deeply");
}

TEST(LoadErrors, LongOperatorChainsAndDeepBlocksAreRefusedNotAStackOverflow) {
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  EXPECT_CONTAINS(load_error(chain + " }}"), "expression nests too deeply (more than 256 levels");
  std::string filters = "{{ x";
  for (int i = 0; i < 10000; ++i) filters += "|trim";
  EXPECT_CONTAINS(load_error(filters + " }}"), "expression nests too deeply");
  std::string slices = "{{ x";
  for (int i = 0; i < 10000; ++i) slices += "[1:]";
  EXPECT_CONTAINS(load_error(slices + " }}"), "expression nests too deeply");
  std::string blocks;
  for (int i = 0; i < 10000; ++i) blocks += "{% if true %}";
  EXPECT_CONTAINS(load_error(blocks), "blocks nest more than 64 deep");
  // A long but shallow template is fine.
  std::string wide = "{% set ns = namespace(s='') %}";
  for (int i = 0; i < 2000; ++i) wide += "{% if true %}{% set ns.s = ns.s ~ 'x' %}{% endif %}";
  EXPECT_EQ(ChatTemplate::parse(wide + "{{ ns.s|length }}", "t").render(OrderedJson::object()), "2000");
  std::string sum = "{{ 0";
  for (int i = 0; i < 200; ++i) sum += " + 1";
  EXPECT_EQ(ChatTemplate::parse(sum + " }}", "t").render(OrderedJson::object()), "200");
}

TEST(LoadErrors, InvalidUtf8SourceIsRefused) {
  EXPECT_CONTAINS(load_error("ok \xff\xfe {{ x }}"), "not valid UTF-8");
  EXPECT_CONTAINS(load_error("{{ '\xc3' }}"), "not valid UTF-8");
}

TEST(LoadErrors, UnsupportedConstructsInBranchesThatNeverRunStillFailAtLoad) {
  // Jinja2 itself only fails when such a branch runs; strata refuses up front so a template is either
  // fully supported or rejected when it is loaded.
  EXPECT_CONTAINS(load_error("{% if false %}{% include 'x' %}{% endif %}"),
                  "unsupported statement '{% include %}'");
  EXPECT_CONTAINS(load_error("{% if false %}{{ x|wordwrap(5) }}{% endif %}"),
                  "filter 'wordwrap' is not supported");
}

// Runtime failures carry the message and the line and column of the failing expression.
TEST(RenderErrors, RaiseExceptionCarriesTheTemplatesMessageAndLine) {
  const std::string error =
      render_error("line one\n  {{- raise_exception('Roles must alternate: ' ~ n) }}", {{"n", 3}});
  EXPECT_CONTAINS(error, "template 't' line 2 column 7: raise_exception: Roles must alternate: 3");
}

TEST(RenderErrors, TypeErrorsInTheDataNameWhatAndWhere) {
  const OrderedJson context = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  EXPECT_CONTAINS(render_error("{% for m in messages %}\n{{ m.content + 1 }}{% endfor %}", context),
                  "line 2 column 4: can only concatenate str (not \"int\") to str");
  EXPECT_CONTAINS(render_error("{{ messages[0].missing.deeper }}", context),
                  "'dict object' has no attribute 'missing'");
  EXPECT_CONTAINS(render_error("{{ nothing.here }}", context), "'nothing' is undefined");
  EXPECT_CONTAINS(render_error("{% for x in 5 %}{% endfor %}", context), "'int' object is not iterable");
  EXPECT_CONTAINS(render_error("{{ messages|tojson }}{{ x|tojson }}", context),
                  "Object of type Undefined is not JSON");
  EXPECT_CONTAINS(render_error("{{ messages|map('upper') }}", context), "cannot print a generator");
}

TEST(RenderErrors, IntegersAreSixtyFourBit) {
  EXPECT_CONTAINS(render_error("{{ 9223372036854775807 + 1 }}"), "integer overflow");
  EXPECT_CONTAINS(render_error("{{ 2 ** 64 }}"), "integer overflow");
  EXPECT_CONTAINS(render_error("{{ x }}", {{"x", 18446744073709551615ULL}}), "out of range");
}

TEST(Limits, OutputSizeIsBounded) {
  ChatTemplateLimits limits;
  limits.max_output_bytes = 1000;
  EXPECT_CONTAINS(render_error("{% for i in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
                               OrderedJson::object(), limits),
                  "would exceed the limit of 1000 bytes");
  // A string built in one expression is bounded too, before it is allocated.
  EXPECT_CONTAINS(render_error("{{ 'x' * 1000000000000 }}"), "would exceed the render limit");
  EXPECT_CONTAINS(
      render_error(
          "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
      "would exceed the render limit");
  EXPECT_CONTAINS(render_error("{{ 'ab'|center(100000000000) }}"), "would exceed the render limit");
  EXPECT_CONTAINS(render_error("{{ 'abcd' * 4611686018427387904 }}"), "would exceed the render limit");
  EXPECT_CONTAINS(render_error("{{ 'ab'|indent(100000000000) }}"), "would exceed the render limit");
  EXPECT_CONTAINS(load_error("{{ '%99999999999d' % 1 }}"), "width or precision above 100000");
}

TEST(Limits, LoopIterationsAreBounded) {
  EXPECT_CONTAINS(
      render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
      "for loops ran more than the limit of 1000000 iterations");
  ChatTemplateLimits limits;
  limits.max_loop_iterations = 10;
  EXPECT_CONTAINS(render_error("{% for i in range(11) %}{% endfor %}", OrderedJson::object(), limits),
                  "limit of 10 iterations");
  EXPECT_EQ(ChatTemplate::parse("{% for i in range(10) %}{{ i }}{% endfor %}", "t", limits)
                .render(OrderedJson::object()),
            "0123456789");
}

TEST(Limits, RangeIsCappedLikeJinja2Sandbox) {
  EXPECT_CONTAINS(render_error("{{ range(100001)|length }}"), "MAX_RANGE (100000)");
  EXPECT_EQ(ChatTemplate::parse("{{ range(100000)|length }}", "t").render(OrderedJson::object()), "100000");
  // Steps near the int64 edge neither overflow nor loop forever.
  EXPECT_EQ(ChatTemplate::parse("{{ range(0, 9223372036854775807, 4611686018427387904)|list }}", "t")
                .render(OrderedJson::object()),
            "[0, 4611686018427387904]");
}

TEST(Limits, MacroRecursionIsBounded) {
  EXPECT_CONTAINS(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
                  "macro calls nest deeper than the limit of 100");
  const std::string fact =
      "{% macro fact(n) %}{{ 1 if n <= 1 else n * fact(n - 1)|int }}{% endmacro %}{{ fact(20) }}";
  EXPECT_EQ(ChatTemplate::parse(fact, "t").render(OrderedJson::object()), "2432902008176640000");
}

TEST(Limits, HostileContextsAreRefused) {
  OrderedJson deep = OrderedJson::array();
  for (int i = 0; i < 2000; ++i) deep = OrderedJson::array({deep});
  EXPECT_CONTAINS(render_error("{{ x|length }}", {{"x", deep}}), "nests deeper than 512 levels");
  EXPECT_CONTAINS(render_error("{{ x }}", {{"x", "bad \xff utf-8"}}), "not valid UTF-8");
  const ChatTemplate t = ChatTemplate::parse("{{ x }}", "t");
  EXPECT_THROW(t.render(OrderedJson::array({1, 2})), Error);
}

TEST(Limits, ANamespaceThatContainsItselfFailsInsteadOfRecursingForever) {
  const std::string source = "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns.me.me is defined }}";
  EXPECT_EQ(ChatTemplate::parse(source, "t").render(OrderedJson::object()), "True");
  EXPECT_CONTAINS(render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"), "nests too deeply");
}

// Key order: an ordered_json context keeps the caller's order (as Python dicts do); a plain json has sorted
// it.
TEST(Context, OrderedJsonKeepsKeyOrderPlainJsonIsSorted) {
  const ChatTemplate t =
      ChatTemplate::parse("{{ tool|tojson }}|{% for k in tool %}{{ k }},{% endfor %}", "t");
  OrderedJson ordered = {{"tool", {{"type", "function"}, {"name", "f"}, {"args", 1}}}};
  EXPECT_EQ(t.render(ordered), "{\"type\": \"function\", \"name\": \"f\", \"args\": 1}|type,name,args,");
  nlohmann::json sorted = nlohmann::json::parse(ordered.dump());
  EXPECT_EQ(t.render(sorted), "{\"args\": 1, \"name\": \"f\", \"type\": \"function\"}|args,name,type,");
}

TEST(Context, TheSameTemplateRendersConcurrently) {
  const ChatTemplate t = ChatTemplate::parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m|length %}{% endfor %}{{ "
      "ns.n }}"
      "{% macro twice(x) %}{{ x ~ x }}{% endmacro %}{{ twice(who) }}",
      "t");
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      OrderedJson context = {{"messages", OrderedJson::array()}, {"who", std::to_string(i)}};
      for (int k = 0; k <= i; ++k) context["messages"].push_back({{"role", "user"}});
      for (int repeat = 0; repeat < 200; ++repeat) outputs[i] = t.render(context);
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(outputs[i], std::to_string(i + 1) + std::to_string(i) + std::to_string(i));
}

TEST(Context, ATemplateIsAValueThatCanBeCopiedAndNamed) {
  const ChatTemplate a = ChatTemplate::parse("{{ bos_token }}{{ messages|length }}", "granite");
  ChatTemplate b = a;
  EXPECT_EQ(b.name(), "granite");
  EXPECT_EQ(b.render(OrderedJson{{"bos_token", "<s>"}, {"messages", {1, 2}}}), "<s>2");
}

}  // namespace
}  // namespace strata
