// strata quantize HF_DIR OUT.gguf --type TYPE: a Hugging Face checkpoint written as a GGUF file in
// llama.cpp's conventions (model/gguf_export.h), with its matrices as TYPE — the file llama.cpp's
// convert_hf_to_gguf.py (f32/f16/bf16) or llama-quantize (q8_0) would write, readable by both.
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/core/error.h"
#include "strata/io/gguf.h"
#include "strata/model/gguf_export.h"

namespace strata::cli {
namespace {

struct QuantizeArgs {
  std::string model_dir, output, type = "q8_0";
};

io::GgmlType parse_type(const std::string& text) {
  if (text == "f32") return io::GgmlType::f32;
  if (text == "f16") return io::GgmlType::f16;
  if (text == "bf16") return io::GgmlType::bf16;
  if (text == "q8_0") return io::GgmlType::q8_0;
  if (text == "q4_k_m" || text == "q5_k_m" || text == "q6_k" || text == "q4_0")
    fail("--type {}: not written yet (f32, f16, bf16 and q8_0 are; the K-quant writers come next)", text);
  fail("--type '{}' is not a GGUF type strata writes (f32, f16, bf16, q8_0)", text);
}

void quantize(const QuantizeArgs& a) {
  const io::GgmlType type = parse_type(a.type);
  const std::filesystem::path dir = checked_model_dir(a.model_dir);
  if (io::is_gguf_file(dir))
    fail("MODEL_DIR '{}' is a GGUF file; quantize reads Hugging Face directories so far", a.model_dir);
  const model::GgufExportSummary s = model::export_gguf(dir, a.output, type);
  std::cerr << fmt::format("wrote {}: {} tensors, {} matrices as {}{}, {:.1f} MiB of tensor data\n", a.output, s.tensors,
                           s.quantized, io::ggml_type_name(type),
                           s.fallbacks ? fmt::format(" ({} kept F16: rows not whole blocks)", s.fallbacks) : "",
                           static_cast<double>(s.bytes) / (1 << 20));
  if (!s.llama_cpp_caveat.empty()) std::cerr << "warning: " << s.llama_cpp_caveat << "\n";
}

const CommandRegistration registration(45, [](CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Write a Hugging Face checkpoint as a GGUF file (llama.cpp's format)");
  cmd->add_option("MODEL_DIR", a->model_dir, "Hugging Face model directory (mamba2 or nemotron_h)")->required();
  cmd->add_option("OUT", a->output, "the GGUF file to write")->required();
  cmd->add_option("--type", a->type, "type of the matrices: f32, f16, bf16 or q8_0")->capture_default_str();
  cmd->callback([a] { quantize(*a); });
});

}  // namespace
}  // namespace strata::cli
