#!/usr/bin/env python3
"""The oracle for strata's chat templates: renders with python3-jinja2 set up exactly as transformers'
apply_chat_template sets it up (transformers/utils/chat_template_utils.py, _compile_jinja_template):
an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols extension and a
`{% generation %}` tag, transformers' own `tojson` filter (json.dumps with ensure_ascii=False) and the
globals raise_exception and strftime_now.

Two modes:

  render_jinja.py CASES.json OUT.json
      CASES.json is {"cases": [{"name", "template", "context"}]} (template = Jinja source, context = the
      variables). OUT.json gets {"jinja2_version", "results": [{"name", "output"} or {"name", "error",
      "error_type"}]}. tests/template runs this live when python3-jinja2 is installed.

  render_jinja.py --fixtures tests/fixtures/templates
      Builds every case of the fixture directory (each *.jinja template with each context of
      contexts.json, plus snippets.json) and writes expected.json there: the inputs and Jinja2's result
      for each, which tests/template/oracle_test.cpp compares strata against byte for byte.
"""

import argparse
import json
import pathlib
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %}: the body renders as is (transformers also
    records where assistant text starts and ends, which does not change the output)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_render_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_environment():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    try:
        return {"output": env.from_string(source).render(**context)}
    except Exception as e:  # every failure is a result: strata must fail on the same input
        return {"error": str(e), "error_type": type(e).__name__}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fixture_cases(directory):
    """Each template with each context, then the snippets, in a stable order."""
    contexts = load(directory / "contexts.json")
    cases = []
    for template_path in sorted(directory.glob("*.jinja")):
        source = template_path.read_text(encoding="utf-8")
        for context_name, context in contexts.items():
            cases.append({"name": f"{template_path.stem}/{context_name}", "template_file": template_path.name,
                          "context_name": context_name, "template": source, "context": context})
    for snippet in load(directory / "snippets.json"):
        case = {"name": f"snippet/{snippet['name']}", "template": snippet["template"],
                "context": snippet.get("context", {})}
        if snippet.get("volatile"):
            case["volatile"] = True  # depends on the clock: only compared live
        cases.append(case)
    return cases


def write_fixtures(directory):
    env = make_environment()
    out = []
    for case in fixture_cases(directory):
        result = render(env, case["template"], case["context"])
        entry = {"name": case["name"]}
        if "template_file" in case:
            entry["template_file"] = case["template_file"]
            entry["context_name"] = case["context_name"]
        else:
            entry["template"] = case["template"]
            entry["context"] = case["context"]
        if case.get("volatile"):
            entry["volatile"] = True
        else:
            entry.update(result)
        out.append(entry)
    document = {"generator": "tools/render_jinja.py --fixtures", "jinja2_version": jinja2.__version__,
                "cases": out}
    with open(directory / "expected.json", "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases to {directory / 'expected.json'} (jinja2 {jinja2.__version__})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="?", help="CASES.json to render")
    parser.add_argument("out", nargs="?", help="where to write the results (default: stdout)")
    parser.add_argument("--fixtures", type=pathlib.Path, help="regenerate expected.json in this directory")
    args = parser.parse_args()
    if tuple(int(p) for p in jinja2.__version__.split(".")[:2]) < (3, 1):
        sys.exit(f"render_jinja.py: transformers needs jinja2 >= 3.1, found {jinja2.__version__}")
    if args.fixtures:
        write_fixtures(args.fixtures)
        return
    if not args.cases:
        parser.error("give CASES.json or --fixtures DIR")
    env = make_environment()
    results = []
    for case in load(args.cases)["cases"]:
        results.append({"name": case["name"], **render(env, case["template"], case["context"])})
    document = json.dumps({"jinja2_version": jinja2.__version__, "results": results}, ensure_ascii=False)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(document)
    else:
        sys.stdout.write(document)


if __name__ == "__main__":
    main()
