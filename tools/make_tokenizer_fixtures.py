#!/usr/bin/env python3
"""Make strata's tokenizer parity fixtures with Hugging Face `tokenizers` (the reference implementation).

Usage (needs the `tokenizers` package; no network, no GPU):
    python3 tools/make_tokenizer_fixtures.py --out tests/fixtures/tokenizer

Writes OUT/<name>/ for each tokenizer style:
    tokenizer.json          a small byte-level BPE (vocab ~800) trained here on an embedded English text
    tokenizer_config.json   bos/eos/unk the way the hub files state them
    cases.json              torture texts -> reference ids (with and without special tokens), decodes,
                            decode-only id sequences (split UTF-8 characters, invalid bytes), and
                            "variants": small patches of tokenizer.json (other pre-tokenizers,
                            normalizers, post-processors) with their own reference ids
and OUT/meta.json (versions, reference encode throughput).

Styles: `neox` (GPT-NeoX / Mamba2: NFC, ByteLevel pre-tokenizer with the GPT-2 regex, ByteLevel
post-processor, added whitespace-run tokens, merges saved as pairs) and `nemotron` (Nemotron-H /
tiktoken: NFC, Sequence[Split(Llama-3 regex, Isolated), ByteLevel(use_regex=false)], ignore_merges,
TemplateProcessing "<s> $A", merges rewritten to the legacy "a b" string form) are byte-level BPE.
`llama` and `metaspace` are the sentencepiece-converted BPE of Llama-2 / Mistral / Zamba2 / Codestral:
one vocabulary (<unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, then tokens trained here with a
limited alphabet so CJK and emoji fall back to bytes), byte_fallback, fuse_unk, TemplateProcessing
"<s> $A". `llama` is the legacy spelling (normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], no
pre-tokenizer, decoder Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)], merges as
"a b" strings); `metaspace` the newer one (no normalizer, pre-tokenizer Metaspace(prepend_scheme
"first"), decoder Sequence[ByteFallback, Metaspace], merges as pairs); their variants cover the other
prepend schemes, split, the Mistral v0.3 mix (Metaspace pre-tokenizer + the legacy decoder), the old
add_prefix_space key and other decoder sequences.
Texts whose bytes are not valid UTF-8 are stored as hex; the reference encodes
bytes.decode("utf-8", "replace"), which is what strata does with invalid input.
"""
import argparse
import json
import os
import random
import sys
import time

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers
import tokenizers

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

PARAGRAPHS = [
    "The state space model reads a sequence one token at a time and keeps a small summary of everything it "
    "has seen. Attention layers, by contrast, look back at every previous token. Hybrid models mix both: "
    "most layers are cheap recurrent mixers, and a few attention layers give exact recall.",
    "A tokenizer turns text into numbers. Byte-level BPE starts from the 256 possible bytes and learns merges "
    "of frequent neighbours, so any string can be encoded and nothing is ever unknown.",
    "It's a truth universally acknowledged that they'd rather we'll test it. You're right, I'm sure it's "
    "what we've done before; don't worry, it'll work.",
    "In 2024 the model had 8 billion parameters, 52 layers and a context of 8192 tokens; by 2025 it was "
    "trained on 20 trillion tokens at a cost of $1,234,567.89 (roughly).",
    "def forward(self, x):\n    h = self.norm(x)\n    return x + self.mixer(h)  # residual\n\n"
    "for i in range(10):\n\tprint(i, i ** 2)\n",
    "Once upon a time there was a little fox who lived in the forest. Every morning the fox ran to the river "
    "to drink, and every evening it came back home to sleep under the old oak tree.",
]
SUBJECTS = ["the model", "a small fox", "our tokenizer", "the engine", "every layer", "the scheduler", "she", "we"]
VERBS = ["reads", "writes", "merges", "splits", "computes", "streams", "caches", "returns", "checks"]
OBJECTS = ["the text", "many tokens", "a state", "the weights", "long sequences", "bytes", "numbers like 42",
           "the answer", "every word"]
ENDINGS = [".", "!", "?", " again.", ", quickly.", " in 3 steps.", " (twice).", "; then it stops."]


def corpus():
    rng = random.Random(1234)
    lines = list(PARAGRAPHS)
    for _ in range(1500):
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        lines.append(s[0].upper() + s[1:])
    return lines


TORTURE = [
    ("plain", "Hello world! The quick brown fox jumps over the lazy dog."),
    ("empty", ""),
    ("one_space", " "),
    ("one_newline", "\n"),
    ("cjk", "日本語のテキストと中文字符，한국어 텍스트。漢字かな交じり文"),
    ("emoji", "I ❤️ tokenizers 🤗🚀 family 👨‍👩‍👧‍👦 flag 🇫🇷 skin 👍🏽"),
    ("combining", "e\u0301 vs \u00e9, A\u030a, n\u0303, a\u0323\u0307 a\u0307\u0323, "
                  "Z\u0351\u0360a\u0334l\u0336g\u0335o, \u1100\u1161\u11a8 \u212b \u0344"),
    ("spaces_newlines", "a  b   c    d\n\n\n  \n\t\tend   \n    leading\r\n\r\nx \n \n"),
    ("trailing_spaces", "word      "),
    ("leading_spaces", "     word"),
    ("digits", "1234567890 3.14159 1,000,000 ٣٤٥ ²³ ½ 0x7FFF 2024-01-01"),
    ("contractions", "I'm, you're, they've, he'd, we'll, it's, DON'T, Y'ALL'S, o'clock"),
    ("special_inside", "<|endoftext|>Hello<|endoftext|> world<|padding|>end<|endoftext|>"),
    ("special_s", "<s>hi</s> <s> spaced </s><unk>"),
    ("mask_lstrip", "text   <|mask|> more<|mask|>x"),
    ("single_word", "hello_world hello_worlds xhello_world (hello_world)"),
    ("double_space_token", "two  spaces   three    four"),
    ("code", "def f(x):\n    return x**2  # comment\n\tif x != 0: pass\n"),
    ("unicode_spaces", "a\u00a0b\u3000c\u2003d\u200be\u2028f\u0085g"),
    ("long_word", "a" * 300 + " " + "ab" * 100),
    ("mixed_scripts", "Ελληνικά русский עברית العربية हिन्दी ไทย"),
    ("punct_runs", "!!!??? ... --- ''' \"\"\" ((())) <<>> ```"),
]
INVALID = [
    ("invalid_bytes", b"abc\xff\xfedef\xe4\xb8 \xc3( \xed\xa0\x80 z\xf0\x9f\x98"),
    ("invalid_lone_continuation", b"\x80\x80 hi \xbf"),
]


# The sentencepiece styles train on the same corpus plus these lines: characters repeated often enough
# stay in the alphabet (some CJK, accented Latin), the rest (other CJK, Hangul, emoji) are left out by
# the trainer's limit_alphabet, so the byte fallback has work to do.
SENTENCEPIECE_EXTRA_LINES = (["日本語のテキストです。", "café au lait, naïve façade, résumé"] * 30
                             + ["中文字符 한국어 ☃", "emoji 🤗 🚀 👍🏽"])
ALPHABET_MIN_COUNT = 20  # a character seen fewer times than this is left out of the vocabulary
# Extra torture texts for the sentencepiece styles (the byte-level styles keep their exact set).
SENTENCEPIECE_TORTURE = [
    ("only_spaces", "    "),
    ("leading_space_word", " Hello"),
    ("tabs_newlines", "\t\n \n\t x\n"),
    ("metaspace_char", "a▁b ▁ ▁▁c▁"),
    ("metaspace_char_first", "▁hello"),
    ("byte_token_literal", "<0x41> and <0xE4><0xB8><0xAD> spelled out"),
    ("unknown_chars", "jumps ☃ 中文 🤗🤗 é ß"),
    ("replacement_char", "a\ufffdb"),
    ("special_at_start", "<s>Hello world"),
    ("special_at_start_space", "<s> Hello"),
    ("special_only", "</s>"),
    ("spaces_then_special", "   <s>"),
    ("control_tokens", "[INST] What is 2+2? [/INST] Four.</s>[INST]again[/INST]"),
    ("added_normalized", "say hello world, xhello world, hello world"),
    ("added_two_spaces", "a  b   c    d"),
]
SENTENCEPIECE_SPECIALS = ["<unk>", "<s>", "</s>"]


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def train(tok, special_tokens, lines):
    trainer = trainers.BpeTrainer(vocab_size=800, min_frequency=2, show_progress=False,
                                  special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer=trainer)


def make_neox(lines):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    train(tok, ["<|endoftext|>", "<|padding|>"], lines)
    # NeoX ships non-special, normalized whitespace-run tokens; plus flags worth covering.
    tok.add_tokens([AddedToken("  ", normalized=True, special=False),
                    AddedToken("    ", normalized=True, special=False),
                    AddedToken("hello_world", single_word=True, normalized=False, special=False)])
    tok.add_special_tokens([AddedToken("<|mask|>", lstrip=True, normalized=False, special=True)])
    config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "add_bos_token": False, "add_eos_token": False, "model_max_length": 2048,
              "tokenizer_class": "GPTNeoXTokenizer"}
    return tok, config


def make_nemotron(lines):
    tok = Tokenizer(models.BPE(unk_token=None, ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train(tok, ["<unk>", "<s>", "</s>", "<SPECIAL_10>", "<SPECIAL_11>"], lines)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", bos)])
    config = {"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": False, "normalized": False,
                                                "rstrip": False, "single_word": False, "special": True},
              "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return tok, config


_SENTENCEPIECE_CACHE = {}


def train_sentencepiece_bpe(lines):
    """The vocabulary and merges shared by the sentencepiece styles, in the Llama layout: <unk> <s> </s>
    (ids 0-2), <0x00>..<0xFF> (ids 3-258), then the trained tokens. Training splits like the Metaspace
    pre-tokenizer, so tokens start at a word's "▁" and never contain one inside."""
    key = tuple(lines)
    if key in _SENTENCEPIECE_CACHE:
        return _SENTENCEPIECE_CACHE[key]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # The trainer keeps the limit_alphabet most frequent characters. Counting them as it does (over the
    # pre-tokenized words) and keeping those seen ALPHABET_MIN_COUNT times or more puts the cut between
    # two different counts, so ties (broken in hash order) never decide what is kept.
    counts = {}
    for line in lines:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(line):
            for c in word:
                counts[c] = counts.get(c, 0) + 1
    kept = sorted(c for c, n in counts.items() if n >= ALPHABET_MIN_COUNT)
    trainer = trainers.BpeTrainer(vocab_size=800 - 256, min_frequency=2, show_progress=False,
                                  special_tokens=SENTENCEPIECE_SPECIALS, limit_alphabet=len(kept))
    tok.train_from_iterator(lines, trainer=trainer)
    trained = json.loads(tok.to_str())["model"]
    vocab = {t: i for i, t in enumerate(SENTENCEPIECE_SPECIALS)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    for c in "日本é▁":
        assert c in vocab, f"{c!r} should be in the vocabulary"
    for c in "中한☃🤗":
        assert c not in vocab, f"{c!r} should be left to the byte fallback"
    _SENTENCEPIECE_CACHE[key] = (vocab, merges)
    return vocab, merges


def sentencepiece_tokenizer(vocab, merges, normalizer, pre_tokenizer, decoder):
    tok = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>", fuse_unk=True,
                               byte_fallback=True))
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoder
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", vocab["<s>"])])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SENTENCEPIECE_SPECIALS])
    # Mistral's control tokens (special, raw), and non-special normalized ones: with the legacy
    # normalizer their content is normalized too ("hello world" -> "▁hello▁world", "  " -> "▁▁▁").
    tok.add_special_tokens([AddedToken("[INST]", normalized=False, special=True),
                            AddedToken("[/INST]", normalized=False, special=True)])
    tok.add_tokens([AddedToken("hello world", normalized=True, special=False),
                    AddedToken("  ", normalized=True, special=False)])
    # Reload, so the reference is the tokenizer as strata reads it from the file.
    return Tokenizer.from_str(tok.to_str())


def sentencepiece_config(legacy):
    return {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
            "unk_token": "<unk>", "legacy": legacy, "clean_up_tokenization_spaces": False,
            "model_max_length": 32768, "tokenizer_class": "LlamaTokenizer"}


def llama_decoder(strip=True):
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    return decoders.Sequence(steps + ([decoders.Strip(" ", 1, 0)] if strip else []))


def make_llama(lines):
    vocab, merges = train_sentencepiece_bpe(lines + SENTENCEPIECE_EXTRA_LINES)
    normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    return sentencepiece_tokenizer(vocab, merges, normalizer, None, llama_decoder()), sentencepiece_config(True)


def make_metaspace(lines):
    vocab, merges = train_sentencepiece_bpe(lines + SENTENCEPIECE_EXTRA_LINES)
    pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    decoder = decoders.Sequence([decoders.ByteFallback(),
                                 decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)])
    return sentencepiece_tokenizer(vocab, merges, None, pre, decoder), sentencepiece_config(False)


def patch_json(tok, **parts):
    """The serialized form of `parts` (pre_tokenizer=..., normalizer=..., post_processor=...) as the
    library writes it, taken from a copy of `tok` with those parts set."""
    copy = Tokenizer.from_str(tok.to_str())
    for key, value in parts.items():
        if value is not None:
            setattr(copy, key, value)
    full = json.loads(copy.to_str())
    for key, value in parts.items():
        if value is None:
            full[key] = None
    copy = Tokenizer.from_str(json.dumps(full))
    return {key: full[key] for key in parts}, copy


def variants_for(tok, name):
    ByteLevel, Split, Digits, Seq = (pre_tokenizers.ByteLevel, pre_tokenizers.Split, pre_tokenizers.Digits,
                                     pre_tokenizers.Sequence)
    specs = {
        "split_removed": dict(pre_tokenizer=Seq([Split(Regex(r"\s+"), "removed"), ByteLevel(use_regex=False)])),
        "split_merged_with_previous": dict(pre_tokenizer=Seq([Split(Regex(r"[.,!?]"), "merged_with_previous"),
                                                              ByteLevel(use_regex=True)])),
        "split_merged_with_next_string": dict(pre_tokenizer=Seq([Split(" ", "merged_with_next"),
                                                                 ByteLevel(use_regex=False)])),
        "split_contiguous": dict(pre_tokenizer=Seq([Split(Regex(r"\p{N}"), "contiguous"),
                                                    ByteLevel(use_regex=False)])),
        "split_invert_removed": dict(pre_tokenizer=Seq([Split(Regex(r"\p{L}+"), "removed", invert=True),
                                                        ByteLevel(use_regex=False)])),
        "split_invert_isolated": dict(pre_tokenizer=Seq([Split(Regex(r"[aeiou]"), "isolated", invert=True),
                                                         ByteLevel(use_regex=False)])),
        "digits_individual_prefix_space": dict(pre_tokenizer=Seq([Digits(individual_digits=True),
                                                                  ByteLevel(add_prefix_space=True)])),
        "digits_runs": dict(pre_tokenizer=Seq([Digits(individual_digits=False), ByteLevel(use_regex=False)])),
        "no_normalizer_template_bos_eos": dict(
            normalizer=None,
            post_processor=processors.TemplateProcessing(
                single="<B> $A <E>",
                special_tokens=[("<B>", tok.token_to_id("<|endoftext|>" if name == "neox" else "<s>")),
                                ("<E>", tok.token_to_id("<|endoftext|>" if name == "neox" else "</s>"))])),
        "normalizer_sequence": dict(normalizer=normalizers.Sequence([normalizers.NFC()])),
    }
    return specs


def raw_patch(tok, patch):
    """A patch written by hand (spellings the library no longer writes itself) and the reference that
    loads it."""
    full = json.loads(tok.to_str())
    full.update(patch)
    return patch, Tokenizer.from_str(json.dumps(full))


def sentencepiece_variants(tok, name):
    Metaspace, MetaspaceDecoder = pre_tokenizers.Metaspace, decoders.Metaspace

    def metaspace(scheme, split, decoder=None):
        decoder = decoder or decoders.Sequence([decoders.ByteFallback(),
                                                MetaspaceDecoder(replacement="▁", prepend_scheme=scheme, split=split)])
        return dict(normalizer=None, pre_tokenizer=Metaspace(replacement="▁", prepend_scheme=scheme, split=split),
                    decoder=decoder)

    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    strip_each_token = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                          decoders.Strip(" ", 1, 0), decoders.Fuse()])
    # Strip's stop stays 0: the library panics on an empty text when it is not.
    strip_two = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 2, 0)])
    specs = {
        "metaspace_always_split": metaspace("always", True),
        "metaspace_never_split": metaspace("never", True),
        "metaspace_always_no_split": metaspace("always", False),
        # Mistral v0.3 / Codestral (legacy=false): Metaspace pre-tokenizer, the legacy decoder.
        "metaspace_first_no_split_llama_decoder": metaspace("first", False, llama_decoder()),
        # "first" is about the offset in the input: after a split, only the piece at offset 0 gets it.
        "digits_then_metaspace_first": dict(normalizer=None, pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\d+"), "isolated"),
            Metaspace(replacement="▁", prepend_scheme="first", split=True)])),
        "decoder_metaspace_only": dict(decoder=MetaspaceDecoder(replacement="▁", prepend_scheme="first", split=True)),
        "decoder_metaspace_never_only": dict(decoder=MetaspaceDecoder(replacement="▁", prepend_scheme="never",
                                                                      split=True)),
        "decoder_llama_no_strip": dict(decoder=llama_decoder(strip=False)),
        "decoder_strip_each_token": dict(decoder=strip_each_token),
        "decoder_strip_two": dict(decoder=strip_two),
        "decoder_byte_fallback_fuse": dict(decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])),
        "decoder_null": dict(decoder=None),
        "legacy_no_prefix": dict(normalizer=normalizers.Replace(" ", "▁"), pre_tokenizer=None),
        "legacy_nfc_prepend_replace": dict(normalizer=normalizers.Sequence([
            normalizers.NFC(), normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), pre_tokenizer=None),
        "legacy_replace_regex": dict(normalizer=normalizers.Sequence([
            normalizers.Prepend("▁"), normalizers.Replace(Regex(r"[ \t]+"), "▁")]), pre_tokenizer=None),
        "template_bos_eos": dict(post_processor=processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)])),
    }
    out = [(variant, *patch_json(tok, **parts)) for variant, parts in specs.items()]
    # Files written before prepend_scheme existed (tokenizers < 0.19) spell it add_prefix_space.
    old = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    out.append(("metaspace_add_prefix_space_key",
                *raw_patch(tok, {"normalizer": None, "pre_tokenizer": old, "decoder": old})))
    return out


def byte_level_variants(tok, name):
    return [(variant, *patch_json(tok, **parts)) for variant, parts in variants_for(tok, name).items()]


def case_texts(extra=()):
    out = [(n, t.encode("utf-8")) for n, t in list(TORTURE) + list(extra)] + list(INVALID)
    out.append(("all_concatenated", b" ".join(t for _, t in out)))
    return out


def encode_cases(tok, texts):
    cases = []
    for name, raw in texts:
        text = raw.decode("utf-8", "replace")
        plain = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        case = {"name": name, "ids": plain, "ids_special": special,
                "decode": tok.decode(special, skip_special_tokens=False),
                "decode_skip_special": tok.decode(special, skip_special_tokens=True)}
        try:
            raw.decode("utf-8")
            case["text"] = text
        except UnicodeDecodeError:
            case["text_hex"] = raw.hex()
        cases.append(case)
    return cases


def decode_cases(tok, special_ids):
    table = bytes_to_unicode()
    byte_id = lambda b: tok.token_to_id(table[b])
    word = tok.encode("hello", add_special_tokens=False).ids
    seqs = {
        "cjk_split_1of3": [byte_id(0xE4)],
        "cjk_split_2of3": [byte_id(0xE4), byte_id(0xB8)],
        "cjk_whole": [byte_id(0xE4), byte_id(0xB8), byte_id(0xAD)],
        "cjk_interrupted": [byte_id(0xE4), byte_id(ord("a")), byte_id(0xB8), byte_id(0xAD)],
        "emoji_bytes": [byte_id(b) for b in "🤗".encode("utf-8")] + word,
        "invalid_ff": [byte_id(0xFF)] + word + [byte_id(0xFE)],
        "lone_continuations": [byte_id(0x80), byte_id(0xBF)] + word,
        "surrogate_bytes": [byte_id(0xED), byte_id(0xA0), byte_id(0x80)],
        "overlong": [byte_id(0xC0), byte_id(0xAF), byte_id(0xE0), byte_id(0x80), byte_id(0xAF)],
        "specials_between": [special_ids[0]] + word + [special_ids[-1], byte_id(0xE4)] + word,
        "empty": [],
    }
    return record_decode_cases(tok, seqs, word)


def sentencepiece_decode_cases(tok, special_ids):
    byte_id = lambda b: tok.token_to_id("<0x%02X>" % b)
    word = tok.encode("hello", add_special_tokens=False).ids
    space = tok.token_to_id("▁")
    seqs = {
        "cjk_split_1of3": [byte_id(0xE4)],
        "cjk_split_2of3": [byte_id(0xE4), byte_id(0xB8)],
        "cjk_whole": [byte_id(0xE4), byte_id(0xB8), byte_id(0xAD)],
        "cjk_interrupted": [byte_id(0xE4)] + word + [byte_id(0xB8), byte_id(0xAD)],
        "euro": [byte_id(0xE2), byte_id(0x82), byte_id(0xAC)],
        "euro_between_words": word + [byte_id(0xE2), byte_id(0x82), byte_id(0xAC)] + word,
        "valid_then_invalid_run": [byte_id(0x41), byte_id(0xFF)] + word,
        "emoji_bytes": [byte_id(b) for b in "🤗".encode("utf-8")] + word,
        "invalid_ff": [byte_id(0xFF)] + word + [byte_id(0xFE)],
        "lone_continuations": [byte_id(0x80), byte_id(0xBF)] + word,
        "surrogate_bytes": [byte_id(0xED), byte_id(0xA0), byte_id(0x80)],
        "overlong": [byte_id(0xC0), byte_id(0xAF), byte_id(0xE0), byte_id(0x80), byte_id(0xAF)],
        "space_byte_first": [byte_id(0x20)] + word,
        "metaspace_bytes_first": [byte_id(b) for b in "▁".encode("utf-8")] + word,
        "lone_metaspace_first": [space] + word,
        "two_metaspaces_first": [space, space] + word,
        "specials_between": [special_ids[0]] + word + [special_ids[-1], byte_id(0xE4)] + word,
        "special_first_then_space": [special_ids[0], space] + word,
        "unk_between": word + [tok.token_to_id("<unk>")] + word,
        "empty": [],
    }
    return record_decode_cases(tok, seqs, word)


def record_decode_cases(tok, seqs, word):
    out = []
    for name, ids in seqs.items():
        assert all(i is not None for i in ids), name
        out.append({"name": name, "ids": ids, "decode": tok.decode(ids, skip_special_tokens=False),
                    "decode_skip_special": tok.decode(ids, skip_special_tokens=True)})
    try:
        text = tok.decode(word + [tok.get_vocab_size(with_added_tokens=True) + 7], skip_special_tokens=False)
        out.append({"name": "out_of_range_id", "ids": word + [tok.get_vocab_size(with_added_tokens=True) + 7],
                    "decode": text})
    except BaseException as error:  # record, do not guess (a Rust panic is not an Exception)
        out.append({"name": "out_of_range_id", "error": str(error)})
    return out


def legacy_merges(tokenizer_json):
    data = json.loads(tokenizer_json)
    merges = data["model"]["merges"]
    if merges and isinstance(merges[0], list):
        assert all(" " not in a and " " not in b for a, b in merges)
        data["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    return json.dumps(data, ensure_ascii=False, indent=2)


def build(name, tok, config, out_dir, texts, legacy, variants, decodes):
    os.makedirs(out_dir, exist_ok=True)
    text = tok.to_str(pretty=True)
    if legacy:
        text = legacy_merges(text)
        reloaded = Tokenizer.from_str(text)
        for _, raw in texts:
            s = raw.decode("utf-8", "replace")
            assert reloaded.encode(s).ids == tok.encode(s).ids, "legacy merges changed the encoding"
        tok = reloaded
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    specials = [tok.token_to_id(t) for t in (["<|endoftext|>", "<|padding|>"] if name == "neox"
                                            else ["<s>", "</s>"])]
    result = {"tokenizer": name, "cases": encode_cases(tok, texts), "decode_cases": decodes(tok, specials),
              "variants": []}
    for variant, patch, vtok in variants(tok, name):
        # The concatenation of all texts is left out of the variants to keep the file small.
        result["variants"].append({"name": variant, "patch": patch,
                                   "cases": encode_cases(vtok, [t for t in texts if t[0] != "all_concatenated"])})
    with open(os.path.join(out_dir, "cases.json"), "w", encoding="utf-8") as f:
        f.write(compact_json(result))
    return tok


def compact_json(result):
    """cases.json with one case per line: small, and a diff shows which case changed."""
    line = lambda value: json.dumps(value, ensure_ascii=False)
    cases = lambda items, pad: (",\n" + pad).join(line(c) for c in items)
    variants = ",\n  ".join(
        '{"name": %s, "patch": %s,\n   "cases": [\n    %s]}' % (line(v["name"]), line(v["patch"]),
                                                          cases(v["cases"], "    "))
        for v in result["variants"])
    return ('{"tokenizer": %s,\n "cases": [\n  %s],\n "decode_cases": [\n  %s],\n "variants": [\n  %s]}\n'
            % (line(result["tokenizer"]), cases(result["cases"], "  "), cases(result["decode_cases"], "  "),
               variants))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    lines = corpus()
    byte_level, sentencepiece = case_texts(), case_texts(SENTENCEPIECE_TORTURE)
    meta = {"tokenizers_version": tokenizers.__version__, "python": sys.version.split()[0], "styles": {}}
    # name, maker, merges in the legacy "a b" form, texts, variants, decode-only cases
    styles = (("neox", make_neox, False, byte_level, byte_level_variants, decode_cases),
              ("nemotron", make_nemotron, True, byte_level, byte_level_variants, decode_cases),
              ("llama", make_llama, True, sentencepiece, sentencepiece_variants, sentencepiece_decode_cases),
              ("metaspace", make_metaspace, False, sentencepiece, sentencepiece_variants, sentencepiece_decode_cases))
    for name, maker, legacy, texts, variants, decodes in styles:
        tok, config = maker(lines)
        tok = build(name, tok, config, os.path.join(args.out, name), texts, legacy, variants, decodes)
        big = "\n".join(lines) * 8
        start = time.perf_counter()
        n = len(tok.encode(big, add_special_tokens=False).ids)
        seconds = time.perf_counter() - start
        meta["styles"][name] = {"vocab_size": tok.get_vocab_size(with_added_tokens=True),
                                "reference_encode_mb_per_s": round(len(big.encode()) / seconds / 1e6, 2),
                                "reference_encode_tokens": n, "reference_encode_bytes": len(big.encode())}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
