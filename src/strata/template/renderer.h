// Renders a parsed template against its context with Jinja2's scoping: `if` shares its enclosing scope,
// each for-loop iteration, macro call, `with`, block `set`/`filter` and `generation` body gets its own,
// so a `set` inside them does not leak out (namespace objects are how templates carry state out). Macros
// see the scope they were defined in, as it is when they are called. Limits bound the output size, the
// loop iterations and the macro call depth, so a hostile template fails with an error instead of
// exhausting the machine.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "strata/template/parser.h"
#include "strata/template/value.h"

namespace strata::jinja {

struct RenderLimits {
  std::size_t max_output_bytes = 0;
  std::size_t max_loop_iterations = 0;
  std::size_t max_call_depth = 0;
};

// One scope: its variables and the scope it is nested in.
struct Frame {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;

  explicit Frame(std::shared_ptr<Frame> parent_frame) : parent(std::move(parent_frame)) {}
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};

// The payload of a macro value: its definition and the scope it closes over.
struct Macro {
  const MacroStmt* stmt = nullptr;
  std::shared_ptr<Frame> closure;
};

// Renders `ast` with the template variables in `context` (a dict). Throws EvalError, positioned.
std::string render_template(const TemplateAst& ast, const Dict& context, const RenderLimits& limits);

}  // namespace strata::jinja
