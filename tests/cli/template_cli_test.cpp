// `strata template`: the prompt a chat template renders, equal to python3-jinja2 rendering the same
// template the way transformers sets it up; an unsupported template fails at load naming the construct
// and its line; missing inputs are one error line and exit 2.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "run_cli.h"

namespace {

namespace fs = std::filesystem;
using strata::testing::run_shell;
using strata::testing::run_strata;
using strata::testing::shell_quote;

const std::string kTemplate = "tests/server/chatml.jinja";

TEST(TemplateCli, RendersLikeJinja2) {
  if (run_shell("python3 -c 'import jinja2'").status != 0)
    GTEST_SKIP() << "python3-jinja2 is not installed (scripts/install-deps installs it); the template oracle did not run";
  const fs::path dir = fs::temp_directory_path() / fs::path("strata_template_").concat(std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "messages.json") << R"([{"role": "system", "content": "  Be brief.  "},
      {"role": "user", "content": "Héllo \"world\""}, {"role": "assistant", "content": "Hi."},
      {"role": "user", "content": "Again"}])";
  std::ofstream(dir / "tools.json") << R"([{"type": "function", "function": {"name": "lookup"}},
      {"type": "function", "function": {"name": "add"}}])";
  const auto r = run_strata("template", "models/demo", "--chat-template", kTemplate, "--messages",
                            (dir / "messages.json").string(), "--tools", (dir / "tools.json").string(),
                            "--add-generation-prompt");
  ASSERT_EQ(r.status, 0) << r.err;
  // The oracle: Jinja2 with transformers' environment settings.
  const std::string python =
      "import jinja2, json, sys\n"
      "from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
      "env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=['jinja2.ext.loopcontrols'])\n"
      "t = env.from_string(open(sys.argv[1]).read())\n"
      "sys.stdout.write(t.render(messages=json.load(open(sys.argv[2])), tools=json.load(open(sys.argv[3])),\n"
      "                          add_generation_prompt=True, bos_token='<|endoftext|>', eos_token='<|endoftext|>'))\n";
  std::ofstream(dir / "oracle.py") << python;
  std::string command = "python3";
  for (const std::string& arg : {(dir / "oracle.py").string(), kTemplate, (dir / "messages.json").string(),
                                 (dir / "tools.json").string()})
    command.append(" ").append(shell_quote(arg));
  const auto oracle = run_shell(command);
  ASSERT_EQ(oracle.status, 0) << oracle.err;
  EXPECT_EQ(r.out, oracle.out);
  EXPECT_NE(r.out.find("Tools: lookup, add"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(TemplateCli, BadTemplatesAndInputs) {
  const fs::path dir = fs::temp_directory_path() / fs::path("strata_template_bad_").concat(std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bad.jinja") << "{{ messages[0].content }}\n{% include 'other.jinja' %}\n";
  std::ofstream(dir / "messages.json") << R"([{"role": "user", "content": "hi"}])";
  const auto bad = run_strata("template", "models/demo", "--chat-template", (dir / "bad.jinja").string(), "--messages",
                              (dir / "messages.json").string());
  strata::testing::expect_one_line_error(bad, "include");
  EXPECT_NE(bad.err.find("line 2"), std::string::npos) << bad.err;
  strata::testing::expect_one_line_error(run_strata("template", "models/demo", "--messages", (dir / "messages.json").string()),
                                         "no chat template");
  strata::testing::expect_one_line_error(
      run_strata("template", "models/demo", "--chat-template", kTemplate, "--messages", (dir / "missing.json").string()),
      "missing.json");
  fs::remove_all(dir);
}

}  // namespace
