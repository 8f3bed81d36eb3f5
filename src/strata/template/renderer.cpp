// Statement execution: output, control flow and Jinja2's scoping rules (see renderer.h).
#include "strata/template/renderer.h"

#include <type_traits>

#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/renderer_state.h"

namespace strata::jinja {

void Renderer::append(std::string& out, std::string_view text) const {
  if (out.size() + text.size() > limits_.max_output_bytes) {
    eval_fail("the rendered text would exceed the limit of {} bytes", limits_.max_output_bytes);
  }
  out += text;
}

void Renderer::count_iterations(std::size_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations) {
    eval_fail("for loops ran more than the limit of {} iterations in one render",
              limits_.max_loop_iterations);
  }
}

std::string Renderer::render_in_child(const Body& body, const std::shared_ptr<Frame>& frame) {
  std::string out;
  exec_body(body, std::make_shared<Frame>(frame), out);
  return out;
}

Value Renderer::apply_filters(const std::vector<ExprPtr>& filters, Value input,
                              const std::shared_ptr<Frame>& frame) {
  for (const auto& f : filters) {
    try {
      input = apply_filter_expr(std::get<FilterExpr>(f->node), std::move(input), frame);
    } catch (EvalError& e) {
      if (!e.pos) e.pos = f->pos;
      throw;
    }
  }
  return input;
}

void Renderer::assign(const Target& target, Value value, Frame& frame) {
  switch (target.kind) {
    case Target::Kind::Name:
      frame.set(target.name, std::move(value));
      return;
    case Target::Kind::Attribute: {
      const Value ns = lookup(target.name, frame);
      if (ns.kind() != Kind::Namespace) {
        eval_fail("cannot assign attribute '{}' on '{}': it is not a namespace() object", target.attribute,
                  target.name);
      }
      ns.ns().attrs.set(Value(target.attribute), std::move(value));
      assigned_namespaces_.push_back(ns);
      return;
    }
    case Target::Kind::Unpack: {
      std::vector<Value> items = iterate(value);
      if (items.size() < target.names.size()) {
        eval_fail("not enough values to unpack (expected {}, got {})", target.names.size(), items.size());
      }
      if (items.size() > target.names.size())
        eval_fail("too many values to unpack (expected {})", target.names.size());
      for (std::size_t i = 0; i < items.size(); ++i) frame.set(target.names[i], std::move(items[i]));
      return;
    }
  }
}

Renderer::Flow Renderer::exec_body(const Body& body, const std::shared_ptr<Frame>& frame, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, frame, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_for(const ForStmt& loop, const std::shared_ptr<Frame>& frame,
                                  std::string& out) {
  std::vector<Value> all = iterate(eval(*loop.iterable, frame));
  count_iterations(all.size());
  auto items = std::make_shared<std::vector<Value>>();
  if (loop.filter) {
    // The filter sees the loop variable but not `loop` (Jinja2 filters before counting).
    for (Value& item : all) {
      auto probe = std::make_shared<Frame>(frame);
      assign(loop.target, item, *probe);
      if (truthy(eval(*loop.filter, probe))) items->push_back(std::move(item));
    }
  } else {
    *items = std::move(all);
  }
  if (items->empty()) {
    // `else` runs in its own scope, where a break or continue belongs to an enclosing loop.
    return exec_body(loop.otherwise, std::make_shared<Frame>(frame), out);
  }
  auto state = std::make_shared<LoopState>();
  state->items = items;
  // Jinja2's loop.depth counts enclosing loops only for recursive loops, which strata does not support.
  state->depth0 = 0;
  const Value loop_value(state);
  for (std::size_t i = 0; i < items->size(); ++i) {
    state->index0 = i;
    auto iteration = std::make_shared<Frame>(frame);
    assign(loop.target, (*items)[i], *iteration);
    iteration->set("loop", loop_value);
    const Flow flow = exec_body(loop.body, iteration, out);
    if (flow == Flow::Break) break;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec(const Stmt& stmt, const std::shared_ptr<Frame>& frame, std::string& out) {
  try {
    return std::visit(
        [&](const auto& node) -> Flow {
          using T = std::decay_t<decltype(node)>;
          if constexpr (std::is_same_v<T, TextStmt>) {
            append(out, node.text);
          } else if constexpr (std::is_same_v<T, OutputStmt>) {
            append(out, to_str(eval(*node.expr, frame)));
          } else if constexpr (std::is_same_v<T, IfStmt>) {
            for (const auto& [test, body] : node.branches) {
              if (truthy(eval(*test, frame))) return exec_body(body, frame, out);
            }
            return exec_body(node.otherwise, frame, out);
          } else if constexpr (std::is_same_v<T, ForStmt>) {
            return exec_for(node, frame, out);
          } else if constexpr (std::is_same_v<T, SetStmt>) {
            assign(node.target, eval(*node.value, frame), *frame);
          } else if constexpr (std::is_same_v<T, SetBlockStmt>) {
            Value text(render_in_child(node.body, frame));
            assign(node.target, apply_filters(node.filters, std::move(text), frame), *frame);
          } else if constexpr (std::is_same_v<T, std::shared_ptr<MacroStmt>>) {
            auto macro = std::make_shared<Macro>();
            macro->stmt = node.get();
            macro->closure = frame;
            macro_frames_.push_back(frame);
            frame->set(node->name, Value(std::shared_ptr<const Macro>(std::move(macro))));
          } else if constexpr (std::is_same_v<T, CallBlockStmt>) {
            auto caller = std::make_shared<Macro>();
            caller->stmt = node.caller.get();
            caller->closure = frame;
            const Value caller_value(std::shared_ptr<const Macro>(std::move(caller)));
            append(out, to_str(eval_call(std::get<CallExpr>(node.call->node), frame, &caller_value)));
          } else if constexpr (std::is_same_v<T, FilterBlockStmt>) {
            append(out, to_str(apply_filters(node.filters, Value(render_in_child(node.body, frame)), frame)));
          } else if constexpr (std::is_same_v<T, WithStmt>) {
            // Values are evaluated in the enclosing scope, then bound in the new one.
            auto inner = std::make_shared<Frame>(frame);
            std::vector<Value> values;
            for (const auto& [target, value] : node.assignments) values.push_back(eval(*value, frame));
            for (std::size_t i = 0; i < values.size(); ++i)
              assign(node.assignments[i].first, values[i], *inner);
            return exec_body(node.body, inner, out);
          } else if constexpr (std::is_same_v<T, ScopeStmt>) {
            return exec_body(node.body, std::make_shared<Frame>(frame), out);
          } else if constexpr (std::is_same_v<T, BreakStmt>) {
            return Flow::Break;
          } else {
            static_assert(std::is_same_v<T, ContinueStmt>);
            return Flow::Continue;
          }
          return Flow::Normal;
        },
        stmt.node);
  } catch (EvalError& e) {
    if (!e.pos) e.pos = stmt.pos;
    throw;
  }
}

Renderer::~Renderer() {
  // A macro's scope holds the macro, and a namespace can hold itself: empty them so the shared
  // pointers of those cycles are released when the render ends.
  for (auto& frame : macro_frames_) frame->vars.clear();
  for (auto& ns : assigned_namespaces_) ns.ns().attrs = Dict();
}

std::string render_template(const TemplateAst& ast, const Dict& context, const RenderLimits& limits) {
  Renderer renderer(context, limits);
  std::string out;
  renderer.exec_body(ast.body, std::make_shared<Frame>(nullptr), out);
  return out;
}

}  // namespace strata::jinja
