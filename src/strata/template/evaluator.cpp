// Expression evaluation: names resolve through the scopes, then the context, then the globals; and/or
// short-circuit and return an operand, as in Python; calls dispatch to macros, globals and methods.
#include <type_traits>

#include "strata/template/filters.h"
#include "strata/template/globals.h"
#include "strata/template/is_tests.h"
#include "strata/template/methods.h"
#include "strata/template/operators.h"
#include "strata/template/pyformat.h"
#include "strata/template/renderer_state.h"

namespace strata::jinja {

const Value* Frame::find(const std::string& name) const {
  for (const auto& [key, value] : vars) {
    if (key == name) return &value;
  }
  return nullptr;
}

void Frame::set(const std::string& name, Value value) {
  for (auto& [key, existing] : vars) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

Value Renderer::lookup(const std::string& name, const Frame& frame) const {
  for (const Frame* f = &frame; f != nullptr; f = f->parent.get()) {
    if (const Value* v = f->find(name)) return *v;
  }
  if (const Value* v = context_.find(std::string_view(name))) return *v;
  if (auto global = find_global(name)) return Value(*global);
  return Value::undefined(fmt::format("'{}' is undefined", name));
}

Value Renderer::eval(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  try {
    return eval_node(expr, frame);
  } catch (EvalError& e) {
    if (!e.pos) e.pos = expr.pos;  // the innermost expression that failed names the position
    throw;
  }
}

CallArgs Renderer::eval_args(const Arguments& args, const std::shared_ptr<Frame>& frame) {
  CallArgs out;
  out.positional.reserve(args.positional.size());
  for (const auto& a : args.positional) out.positional.push_back(eval(*a, frame));
  for (const auto& k : args.keyword) out.keyword.emplace_back(k.name, eval(*k.value, frame));
  return out;
}

Value Renderer::apply_filter_expr(const FilterExpr& filter, Value input,
                                  const std::shared_ptr<Frame>& frame) {
  return apply_filter(filter.name, input, eval_args(filter.args, frame), build_);
}

Value Renderer::eval_call(const CallExpr& call, const std::shared_ptr<Frame>& frame, const Value* caller) {
  const Value callee = eval(*call.callee, frame);
  const CallArgs args = eval_args(call.args, frame);
  switch (callee.kind()) {
    case Kind::Macro:
      return call_macro(callee, args, caller);
    case Kind::Function:
      if (caller) eval_fail("'{{% call %}}' needs a macro, not a global function");
      return call_global(callee.builtin(), args);
    case Kind::Method:
      if (caller) eval_fail("'{{% call %}}' needs a macro, not a method");
      return call_method(callee.method(), args, build_);
    case Kind::Undefined:
      raise_undefined(callee);
    default:
      eval_fail("'{}' object is not callable", type_name(callee));
  }
}

Value Renderer::call_macro(const Value& macro_value, const CallArgs& args, const Value* caller) {
  const Macro& macro = macro_value.macro();
  const MacroStmt& stmt = *macro.stmt;
  if (++call_depth_ > limits_.max_call_depth) {
    eval_fail("macro calls nest deeper than the limit of {} (runaway recursion?)", limits_.max_call_depth);
  }
  struct DepthRestore {
    std::size_t& depth;
    ~DepthRestore() { --depth; }
  } restore{call_depth_};

  auto frame = std::make_shared<Frame>(macro.closure);
  const std::size_t n = stmt.params.size();
  if (args.positional.size() > n && !stmt.uses_varargs) {
    eval_fail("macro '{}' takes not more than {} argument(s)", stmt.name, n);
  }
  std::vector<std::optional<Value>> bound(n);
  for (std::size_t i = 0; i < n && i < args.positional.size(); ++i) bound[i] = args.positional[i];
  auto kwargs = std::make_shared<Dict>();
  for (const auto& [key, value] : args.keyword) {
    std::size_t i = 0;
    while (i < n && stmt.params[i].name != key) ++i;
    if (i < n) {
      if (bound[i]) eval_fail("macro '{}' got multiple values for argument '{}'", stmt.name, key);
      bound[i] = value;
    } else if (stmt.uses_kwargs) {
      kwargs->set(Value(key), value);
    } else {
      eval_fail("macro '{}' takes no keyword argument '{}'", stmt.name, key);
    }
  }
  // Defaults are evaluated at call time in the macro's scope, after the parameters before them are bound.
  for (std::size_t i = 0; i < n; ++i) {
    const MacroParam& param = stmt.params[i];
    if (bound[i]) {
      frame->set(param.name, *bound[i]);
    } else if (param.default_value) {
      frame->set(param.name, eval(*param.default_value, frame));
    } else {
      frame->set(param.name, Value::undefined(fmt::format("parameter '{}' was not provided", param.name)));
    }
  }
  if (stmt.uses_varargs) {
    std::vector<Value> extra;
    for (std::size_t i = n; i < args.positional.size(); ++i) extra.push_back(args.positional[i]);
    frame->set("varargs", Value::tuple(std::move(extra)));
  }
  if (stmt.uses_kwargs) frame->set("kwargs", Value(std::shared_ptr<const Dict>(std::move(kwargs))));
  if (caller) {
    if (!stmt.uses_caller)
      eval_fail("macro '{}' was called from a '{{% call %}}' block but never uses caller()", stmt.name);
    frame->set("caller", *caller);
  } else if (stmt.uses_caller) {
    frame->set("caller", Value::undefined("No caller defined"));
  }
  std::string out;
  exec_body(stmt.body, frame, out);
  return Value(std::move(out));
}

Value Renderer::eval_dict(const DictExpr& node, const std::shared_ptr<Frame>& frame) {
  auto dict = std::make_shared<Dict>();
  for (const auto& [key, value] : node.items) {
    Value k = eval(*key, frame);
    if (k.is_dict() || (k.is_sequence() && k.seq().kind == SeqKind::List)) {
      eval_fail("unhashable type: '{}'", type_name(k));
    }
    dict->set(std::move(k), eval(*value, frame));
  }
  return Value(std::shared_ptr<const Dict>(std::move(dict)));
}

Value Renderer::eval_slice(const SliceExpr& node, const std::shared_ptr<Frame>& frame) {
  const Value object = eval(*node.object, frame);
  Value bounds[3];  // Undefined: the part was omitted
  const ExprPtr* parts[3] = {&node.start, &node.stop, &node.step};
  for (int i = 0; i < 3; ++i) {
    if (*parts[i]) bounds[i] = eval(**parts[i], frame);
  }
  if (object.is_undefined()) raise_undefined(object);
  for (int i = 0; i < 3; ++i) {
    if (*parts[i] && bounds[i].is_undefined()) {
      eval_fail("slice indices must be integers or None or have an __index__ method");
    }
  }
  return get_slice(object, bounds[0], bounds[1], bounds[2]);
}

Value Renderer::eval_binary(const BinaryExpr& node, const std::shared_ptr<Frame>& frame) {
  Value left = eval(*node.left, frame);
  if (node.op == BinaryOp::And) return truthy(left) ? eval(*node.right, frame) : left;
  if (node.op == BinaryOp::Or) return truthy(left) ? left : eval(*node.right, frame);
  return binary_op(node.op, left, eval(*node.right, frame), build_);
}

Value Renderer::eval_compare(const CompareExpr& node, const std::shared_ptr<Frame>& frame) {
  Value left = eval(*node.first, frame);
  for (const auto& [op, operand] : node.rest) {  // chained like Python: each operand evaluated once
    Value right = eval(*operand, frame);
    if (!compare(op, left, right)) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Renderer::eval_node(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  return std::visit(
      [&](const auto& node) -> Value {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, Literal>) {
          return node.value;
        } else if constexpr (std::is_same_v<T, NameRef>) {
          return lookup(node.name, *frame);
        } else if constexpr (std::is_same_v<T, ListExpr> || std::is_same_v<T, TupleExpr>) {
          std::vector<Value> items;
          items.reserve(node.items.size());
          for (const auto& item : node.items) items.push_back(eval(*item, frame));
          return std::is_same_v<T, ListExpr> ? Value::list(std::move(items)) : Value::tuple(std::move(items));
        } else if constexpr (std::is_same_v<T, DictExpr>) {
          return eval_dict(node, frame);
        } else if constexpr (std::is_same_v<T, GetAttr>) {
          return get_attribute(eval(*node.object, frame), node.attribute);
        } else if constexpr (std::is_same_v<T, GetItem>) {
          const Value object = eval(*node.object, frame);
          return get_item(object, eval(*node.key, frame));
        } else if constexpr (std::is_same_v<T, SliceExpr>) {
          return eval_slice(node, frame);
        } else if constexpr (std::is_same_v<T, CallExpr>) {
          return eval_call(node, frame, nullptr);
        } else if constexpr (std::is_same_v<T, FilterExpr>) {
          return apply_filter_expr(node, eval(*node.operand, frame), frame);
        } else if constexpr (std::is_same_v<T, TestExpr>) {
          const Value operand = eval(*node.operand, frame);
          const bool result = apply_test(node.name, operand, eval_args(node.args, frame));
          return Value(node.negated ? !result : result);
        } else if constexpr (std::is_same_v<T, UnaryExpr>) {
          const Value operand = eval(*node.operand, frame);
          if (node.op == UnaryOp::Not) return Value(!truthy(operand));
          return node.op == UnaryOp::Neg ? unary_minus(operand) : unary_plus(operand);
        } else if constexpr (std::is_same_v<T, BinaryExpr>) {
          return eval_binary(node, frame);
        } else if constexpr (std::is_same_v<T, ConcatExpr>) {
          std::string out;
          for (const auto& part : node.parts) {
            out += to_str(eval(*part, frame));
            check_string_size(out.size(), build_);
          }
          return Value(std::move(out));
        } else if constexpr (std::is_same_v<T, CompareExpr>) {
          return eval_compare(node, frame);
        } else {
          static_assert(std::is_same_v<T, CondExpr>);
          if (truthy(eval(*node.test, frame))) return eval(*node.then, frame);
          if (node.otherwise) return eval(*node.otherwise, frame);
          return Value::undefined(
              "the inline if-expression evaluated to false and no else section was defined");
        }
      },
      expr.node);
}

}  // namespace strata::jinja
