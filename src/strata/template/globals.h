// The global functions of transformers' Jinja environment: Jinja2's range (capped at the sandbox's
// MAX_RANGE of 100000 items), dict and namespace, and transformers' raise_exception and strftime_now.
// Jinja2's other globals (cycler, joiner, lipsum) are refused at load.
#pragma once

#include <optional>
#include <string_view>

#include "strata/template/call_args.h"
#include "strata/template/value.h"

namespace strata::jinja {

// The range cap of Jinja2's SandboxedEnvironment (jinja2.sandbox.MAX_RANGE).
inline constexpr std::int64_t kMaxRange = 100000;

std::optional<Builtin> find_global(std::string_view name);
bool is_unsupported_jinja_global(std::string_view name);

// raise_exception(message) throws this, so the renderer can report it as the template's own error.
class TemplateRaised : public EvalError {
 public:
  explicit TemplateRaised(const std::string& message) : EvalError(message) {}
};

Value call_global(Builtin function, const CallArgs& args);

}  // namespace strata::jinja
