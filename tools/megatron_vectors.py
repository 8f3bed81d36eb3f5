#!/usr/bin/env python3
"""Derive strata's pattern-language test vectors by running Megatron-Core's own module.

Usage: tools/megatron_vectors.py MEGATRON_CHECKOUT [--commit 9d71cb1cd2] > tests/fixtures/schedule/megatron_vectors.json

Loads megatron/core/ssm/mamba_hybrid_layer_allocation.py as it is at the given commit (via `git show`), with a
stub for the one import it needs, and records what it returns or raises for a grid of inputs. Error messages
have the Python set's text canonicalised to declaration order ({'M', '*', '-', 'E'}), because Python prints
sets in a per-process hash order. Nothing of Megatron's code is copied into strata; it is only executed here.
"""
import argparse
import fractions
import importlib.util
import json
import subprocess
import sys
import tempfile
import types

CANONICAL_SET = "{'M', '*', '-', 'E'}"


def load_module(repo, commit):
    source = subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:megatron/core/ssm/mamba_hybrid_layer_allocation.py"],
        check=True, capture_output=True, text=True).stdout
    for name in ["megatron", "megatron.core", "megatron.core.utils"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["megatron.core.utils"].log_single_rank = lambda *a, **k: None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("mhla", f.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def canonical(message, module):
    return message.replace(str(module.Symbols.VALID), CANONICAL_SET)


def outcome(fn, module):
    try:
        return {"ok": fn()}
    except AssertionError:
        return {"error": "assert"}
    except (ValueError, KeyError) as e:
        return {"error": canonical(str(e) if isinstance(e, ValueError) else repr(e.args[0]), module)}


def exact_auto(total, att, mlp):
    """_allocate_auto in exact rational arithmetic: differs from Megatron where float accumulation matters."""
    F = fractions.Fraction
    a = round(total * att)
    mamba = total - a
    length = F(mamba, a + 1)
    out = ["M"] * total
    x = length
    for l in range(total):
        if x < F(1, 2):
            out[l] = "*"; x += length
        else:
            x -= 1
    m = round(total * mlp)
    if m > 0:
        mamba -= m
        r = F(mamba, m)
        x = r
        for l in range(total):
            if out[l] == "M":
                if x < F(1, 2):
                    out[l] = "-"; x += r
                else:
                    x -= 1
    return "".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("--commit", default="9d71cb1cd2")
    args = parser.parse_args()
    m = load_module(args.repo, args.commit)

    ratios = [0.0, 0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.33, 0.375, 0.4, 0.5, 0.6, 0.7, 0.75, 0.9, 1.0]
    totals = list(range(1, 65)) + [72, 80, 96, 100, 118, 128, 200]
    allocations = []
    for total in totals:
        for att in ratios:
            for mlp in ratios:
                if att + mlp > 1.0:
                    continue
                got = "".join(m.allocate_layers(total, att, mlp, silent=True))
                allocations.append({"layers": total, "attention": att, "mlp": mlp, "result": got,
                                    "float_differs_from_exact": got != exact_auto(total, att, mlp)})

    override_cases = [
        (10, 0.2, 0.0, "MMM*MM*MMM"), (10, 0.2, 0.0, "M*MMMMMM*M"), (10, 0.2, 0.0, "MMM*MM*MM"),
        (10, 0.2, 0.0, "MMM*MM*MMMM"), (10, 0.2, 0.0, "MMM*MM*MMX"), (10, 0.2, 0.0, "MMM*MM*MM-"),
        (10, 0.0, 0.0, "EEEEEEEEEE"), (10, 0.2, 0.0, "MMM*MM*MME"), (4, 0.0, 0.0, ""), (4, 0.0, 0.0, "M*/M"),
        (4, 0.0, 0.0, "M*-E"), (8, 0.25, 0.25, "M*-MM*-M"), (8, 0.25, 0.25, "MM*-MM*-"), (3, 0.0, 0.0, "MXY"),
        (2, 0.5, 0.0, "*M"), (2, 0.5, 0.0, "M*"), (5, 0.0, 0.0, "M M M"), (3, 0.0, 0.0, "M\u00e9M"),
        (48, 0.5, 0.2, "MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-"),
        (48, 0.25, 0.25, "MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-MM*-"),
        (0, 0.0, 0.0, ""), (-3, 0.0, 0.0, None), (4, -0.1, 0.0, None), (4, 0.0, 1.5, None),
        (4, 0.6, 0.5, None), (4, 0.3, 0.7, None), (4, float("nan"), 0.0, None),
    ]
    overrides = []
    for total, att, mlp, pattern in override_cases:
        res = outcome(lambda: "".join(m.allocate_layers(total, att, mlp, pattern, silent=True)), m)
        overrides.append({"layers": total, "attention": att if att == att else "nan", "mlp": mlp,
                          "override": pattern, **res})

    parse_cases = ["", "/", "//", "M", "M*M*", "MM/", "M*M*/", "M*M*//", "/MM", "MM/MM/MM", "MMMM/*M/*M/*M",
                   "M*M*/MM/", "M*M*//MM", "MM/XX/YY", "MX", "M* ", "MM/M-/M-", "MM/M-/M-/M-", "E-*M/E",
                   "MM/MX", "X/MM", "/X", "M|M", "ME/E/E/E/E", "M*-E/*-E", "/", "M/M/M/M/M/M/M/M"]
    parses = []
    for p in parse_cases:
        r = outcome(lambda: m.parse_hybrid_pattern(p), m)
        if "ok" in r:
            v = r["ok"]
            r = {"ok": {"main": v.main_pattern, "mtp": v.mtp_pattern, "mtp_depths": v.mtp_num_depths}}
        parses.append({"pattern": p, **r})

    map_cases = ["", "M", "M*M-E", "MMMM*-E-*M", "M*/M", "MX", "E" * 5]
    maps = []
    for p in map_cases:
        r = outcome(lambda: [{str(k): v for k, v in d.items()} for d in
                             m.get_layer_maps_from_layer_type_list(list(p))], m)
        maps.append({"pattern": p, **r})

    json.dump({"megatron_commit": args.commit, "allocations": allocations, "overrides": overrides,
               "parses": parses, "maps": maps}, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
