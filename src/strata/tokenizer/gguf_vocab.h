// The tokenizer of a GGUF file (tokenizer.ggml.*), as the tokenizer.json Hugging Face's `tokenizers` would
// read for it: llama.cpp's "gpt2" model is a byte-level BPE — tokens by id, merges, token types (3 control
// = special added token, 4 user-defined = added token, 5 unused = not in the vocabulary) — with the
// pre-tokenizer regex `tokenizer.ggml.pre` names and, with add_bos_token, BOS prepended on encode.
// Supported pre-tokenizers: "gpt-2", "default" and "mpt" (GPT-2's byte-level split; "mpt", what llama.cpp
// writes for GPT-NeoX vocabularies, with GPT-NeoX's NFC normalizer). Others, and SentencePiece ("llama")
// vocabularies, are refused naming the value.
#pragma once

#include <filesystem>

#include "strata/io/gguf.h"
#include "strata/tokenizer/json_fields.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::tokenizer {

// Whether the file has a vocabulary (tokenizer.ggml.model).
bool gguf_has_tokenizer(const io::GgufFile& file);
// The tokenizer.json and tokenizer_config.json equivalents. Throws strata::Error naming the file and key.
Json gguf_tokenizer_json(const io::GgufFile& file);
Json gguf_tokenizer_config(const io::GgufFile& file);
Tokenizer gguf_tokenizer(const io::GgufFile& file);

}  // namespace strata::tokenizer
