// The oracle run live: when python3-jinja2 is installed (scripts/install-deps installs it), these tests
// render through tools/render_jinja.py (Jinja2 set up exactly as transformers does) and compare strata
// with it byte for byte: every fixture case (and that the stored expectations still match Jinja2), then
// randomized cases the fixtures cannot enumerate: values printed and serialised (floats of every
// magnitude, strings of arbitrary code points) and templates built from random whitespace-control
// pieces. Without Python and Jinja2 they skip, and oracle_test.cpp still checks the stored results.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <unistd.h>

#include "oracle_cases.h"

namespace strata::testing {
namespace {

std::string shell_quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The Python that has Jinja2: $STRATA_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3.
const std::optional<std::string>& python_with_jinja() {
  static const std::optional<std::string> found = []() -> std::optional<std::string> {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("STRATA_PYTHON")) candidates.emplace_back(env);
    candidates.emplace_back("python3");
    candidates.emplace_back("/usr/bin/python3");
    for (const auto& python : candidates) {
      const std::string probe = shell_quote(python) +
                                " -c 'import jinja2, sys; sys.exit(jinja2.__version__ < \"3.1\")' "
                                ">/dev/null 2>&1";
      if (std::system(probe.c_str()) == 0) return python;
    }
    return std::nullopt;
  }();
  return found;
}

#define SKIP_WITHOUT_JINJA() \
  if (!python_with_jinja()) GTEST_SKIP() << "python3-jinja2 is not installed (scripts/install-deps)"

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

struct LiveCase {
  std::string name;
  std::string source;
  OrderedJson context;
};

struct LiveResult {
  std::optional<std::string> output, error;
  std::string error_type;
};

std::string temp_path(const char* tag) {
  std::string path = std::string("/tmp/strata_jinja_") + tag + "_XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd >= 0) close(fd);
  return path;
}

// Renders all cases in one Python process.
std::vector<LiveResult> render_with_jinja(const std::vector<LiveCase>& cases) {
  OrderedJson input = {{"cases", OrderedJson::array()}};
  for (const auto& c : cases)
    input["cases"].push_back({{"name", c.name}, {"template", c.source}, {"context", c.context}});
  const std::string in_path = temp_path("in"), out_path = temp_path("out");
  { std::ofstream(in_path, std::ios::binary) << input.dump(); }
  const std::string command = "cd " + shell_quote(STRATA_SOURCE_DIR) + " && " +
                              shell_quote(*python_with_jinja()) + " tools/render_jinja.py " +
                              shell_quote(in_path) + " " + shell_quote(out_path);
  const int status = std::system(command.c_str());
  std::remove(in_path.c_str());
  EXPECT_EQ(status, 0) << command;
  std::vector<LiveResult> results;
  if (status != 0) return results;
  const OrderedJson out = OrderedJson::parse(read_file(out_path));
  std::remove(out_path.c_str());
  for (const auto& r : out.at("results")) {
    LiveResult result;
    if (r.contains("output")) result.output = r.at("output").get<std::string>();
    if (r.contains("error")) result.error = r.at("error").get<std::string>();
    result.error_type = r.value("error_type", "");
    results.push_back(std::move(result));
  }
  return results;
}

void compare_all(const std::vector<LiveCase>& cases, const std::vector<LiveResult>& live) {
  ASSERT_EQ(live.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name + " template: " + OrderedJson(cases[i].source).dump() +
                 " context: " + cases[i].context.dump());
    expect_matches_jinja(render_with_strata(cases[i].name, cases[i].source, cases[i].context), live[i].output,
                         live[i].error, live[i].error_type);
  }
}

TEST(LiveJinja2, FixtureCasesMatchJinja2NowAndTheStoredResults) {
  SKIP_WITHOUT_JINJA();
  const auto fixtures = load_oracle_cases();
  std::vector<LiveCase> cases;
  for (const auto& f : fixtures) cases.push_back({f.name, f.source, f.context});
  const auto live = render_with_jinja(cases);
  ASSERT_EQ(live.size(), fixtures.size());
  for (std::size_t i = 0; i < fixtures.size(); ++i) {
    if (fixtures[i].is_volatile) continue;
    // expected.json was written by the same script: if this fails, Jinja2 changed; regenerate and review.
    EXPECT_EQ(live[i].output, fixtures[i].output) << fixtures[i].name;
    EXPECT_EQ(live[i].error.has_value(), fixtures[i].error.has_value()) << fixtures[i].name;
  }
  compare_all(cases, live);  // includes the clock-dependent strftime_now case
}

// Floats across the whole range, print and serialise like CPython's repr and json.dumps.
TEST(LiveJinja2, RandomNumbersPrintLikePython) {
  SKIP_WITHOUT_JINJA();
  std::mt19937_64 rng(20240611);
  OrderedJson values = OrderedJson::array();
  for (int i = 0; i < 400; ++i) {
    std::uint64_t bits = rng();
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) d = static_cast<double>(bits % 1000003) / 7.0;
    values.push_back(d);
  }
  for (int i = 0; i < 100; ++i) {
    const int exponent = static_cast<int>(rng() % 40) - 20;  // the fixed/scientific switch points
    values.push_back(std::ldexp(static_cast<double>(rng() % 1000000), exponent) * (rng() % 2 ? 1 : -1));
    values.push_back(std::pow(10.0, exponent) * static_cast<double>(rng() % 10 + 1));
    values.push_back(static_cast<std::int64_t>(rng() % (std::uint64_t{1} << 40)) - (std::int64_t{1} << 39));
  }
  std::vector<LiveCase> cases;
  for (std::size_t chunk = 0; chunk < values.size(); chunk += 50) {
    OrderedJson part = OrderedJson::array();
    for (std::size_t i = chunk; i < std::min(values.size(), chunk + 50); ++i) part.push_back(values[i]);
    cases.push_back({"numbers_" + std::to_string(chunk),
                     "{% for v in values %}{{ v }} {{ [v] }} {{ v|tojson }} {{ v|round(3) }} {{ v|int if "
                     "v|abs < 1e18 else 'big' }} "
                     "{{ v|string|length }} {{ '%.5g|%e'|format(v, v) }}\n{% endfor %}{{ values|sum }}",
                     {{"values", part}}});
  }
  compare_all(cases, render_with_jinja(cases));
}

// Strings of arbitrary code points (controls, quotes, separators, astral) through repr, json and slicing.
TEST(LiveJinja2, RandomStringsPrintAndSerialiseLikePython) {
  SKIP_WITHOUT_JINJA();
  std::mt19937 rng(7);
  const char32_t pools[][2] = {{0x00, 0x7F},     {0x80, 0x2FF},      {0x2000, 0x206F}, {0x3000, 0x30FF},
                               {0xFE00, 0xFFFD}, {0x1F300, 0x1F6FF}, {0xE000, 0xE0FF}, {0x0600, 0x06FF}};
  std::vector<LiveCase> cases;
  for (int c = 0; c < 20; ++c) {
    OrderedJson strings = OrderedJson::array();
    for (int s = 0; s < 15; ++s) {
      std::string text;
      const int length = static_cast<int>(rng() % 12);
      for (int k = 0; k < length; ++k) {
        const auto& pool = pools[rng() % std::size(pools)];
        char32_t cp = pool[0] + static_cast<char32_t>(rng() % (pool[1] - pool[0] + 1));
        if (k % 4 == 0) cp = U"'\"\\\n\t x"[rng() % 8];
        append_utf8(text, cp);
      }
      strings.push_back(text);
    }
    cases.push_back(
        {"strings_" + std::to_string(c),
         "{{ strings }}\n{{ strings|tojson }}\n{{ strings|tojson(ensure_ascii=true) }}\n"
         "{% for s in strings %}[{{ s|length }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s.strip() }}|{{ s|trim }}|"
         "{{ s.split() }}|{{ s|wordcount }}|{{ s|upper }}|{{ s.title() }}|{{ s.find('x') }}]\n{% endfor %}",
         {{"strings", strings}}});
  }
  compare_all(cases, render_with_jinja(cases));
}

// Templates assembled from random text and tags with every whitespace-control form, so the lexer's
// trim_blocks / lstrip_blocks / '-' / '+' handling meets combinations no one would write by hand.
TEST(LiveJinja2, RandomWhitespaceControlMatchesJinja2) {
  SKIP_WITHOUT_JINJA();
  std::mt19937 rng(99);
  const std::vector<std::string> text = {"",     "a",    " ",     "  ",  "\t",     "\n",
                                         "\n\n", "  \n", "x\n  ", " y ", "\u3000", "\n\t "};
  const std::vector<std::string> open_sign = {"", "-", "+"};
  const std::vector<std::string> close_sign = {"", "-", "+"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  auto block = [&](const std::string& body) {
    return "{%" + pick(open_sign) + " " + body + " " + pick(close_sign) + "%}";
  };
  std::vector<LiveCase> cases;
  for (int t = 0; t < 300; ++t) {
    std::string source;
    const int pieces = 3 + static_cast<int>(rng() % 8);
    for (int p = 0; p < pieces; ++p) {
      source += pick(text);
      switch (rng() % 7) {
        case 0:
          source += "{{" + std::string(rng() % 2 ? "-" : "") + " 'v' " + (rng() % 2 ? "-" : "") + "}}";
          break;
        case 1:
          source += "{#" + pick(open_sign) + " c " + pick(close_sign) + "#}";
          break;
        case 2:
          source += block("if true") + pick(text) + "b" + pick(text) + block("endif");
          break;
        case 3:
          source += block("for i in [1, 2]") + pick(text) + "{{ i }}" + pick(text) + block("endfor");
          break;
        case 4:
          source += block("set x = 1");
          break;
        case 5:
          source += block("if false") + "no" + block("else") + pick(text) + "yes" + block("endif");
          break;
        default:
          source += block("raw") + pick(text) + "{{ r }}" + pick(text) + block("endraw");
          break;
      }
    }
    source += pick(text);
    cases.push_back({"whitespace_" + std::to_string(t), source, OrderedJson::object()});
  }
  compare_all(cases, render_with_jinja(cases));
}

// What strata refuses at load, Jinja2 (in transformers' environment) cannot render either: refusing these
// loses no template transformers could use. (hostile_test.cpp checks strata's messages.)
TEST(LiveJinja2, ConstructsStrataRefusesAlsoFailInJinja2) {
  SKIP_WITHOUT_JINJA();
  const std::vector<std::string> refused = {
      "{% include 'other.jinja' %}",
      "{% extends 'base.jinja' %}",
      "{% import 'm.jinja' as m %}",
      "{% from 'm.jinja' import x %}",
      "{% do messages.append(1) %}",
      "{{ x|frobnicate }}",
      "{% if x is frobnicated %}{% endif %}",
      "{% frob %}",
      "{% for x in y %}{% endif %}",
      "{% if x %}",
      "{{ 'a' ",
      "{# never closed",
      "{% break %}",
      "{{ messages.append(1) }}",
      "{{ {}.update(a=1) }}",
      "{{ nothing_like_this(1) }}",
      "{% endfor %}",
      "{{ x.pop() }}",
  };
  std::vector<LiveCase> cases;
  for (std::size_t i = 0; i < refused.size(); ++i) {
    cases.push_back(
        {"refused_" + std::to_string(i), refused[i], {{"messages", OrderedJson::array()}, {"x", "s"}}});
  }
  const auto live = render_with_jinja(cases);
  ASSERT_EQ(live.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(live[i].error.has_value())
        << refused[i] << " rendered in Jinja2: " << live[i].output.value_or("");
    EXPECT_THROW(ChatTemplate::parse(refused[i], "refused"), Error) << refused[i];
  }
}

}  // namespace
}  // namespace strata::testing
