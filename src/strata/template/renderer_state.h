// The renderer's state for one render (internal to the template module): the context, the limits and what
// has been spent of them. evaluator.cpp evaluates expressions, renderer.cpp executes statements.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/template/call_args.h"
#include "strata/template/renderer.h"

namespace strata::jinja {

class Renderer {
 public:
  Renderer(const Dict& context, const RenderLimits& limits)
      : context_(context), limits_(limits), build_{limits.max_output_bytes} {}
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  enum class Flow { Normal, Break, Continue };

  // Statements (renderer.cpp).
  Flow exec_body(const Body& body, const std::shared_ptr<Frame>& frame, std::string& out);

  // Expressions (evaluator.cpp). `caller` is the body of a {% call %} block, passed to the macro called.
  Value eval(const Expr& expr, const std::shared_ptr<Frame>& frame);
  Value eval_call(const CallExpr& call, const std::shared_ptr<Frame>& frame, const Value* caller);
  Value call_macro(const Value& macro, const CallArgs& args, const Value* caller);
  Value apply_filter_expr(const FilterExpr& filter, Value input, const std::shared_ptr<Frame>& frame);

 private:
  Flow exec(const Stmt& stmt, const std::shared_ptr<Frame>& frame, std::string& out);
  Flow exec_for(const ForStmt& loop, const std::shared_ptr<Frame>& frame, std::string& out);
  std::string render_in_child(const Body& body, const std::shared_ptr<Frame>& frame);
  void assign(const Target& target, Value value, Frame& frame);
  void append(std::string& out, std::string_view text) const;
  void count_iterations(std::size_t n);
  Value apply_filters(const std::vector<ExprPtr>& filters, Value input, const std::shared_ptr<Frame>& frame);

  Value eval_node(const Expr& expr, const std::shared_ptr<Frame>& frame);
  Value eval_dict(const DictExpr& node, const std::shared_ptr<Frame>& frame);
  Value eval_slice(const SliceExpr& node, const std::shared_ptr<Frame>& frame);
  Value eval_binary(const BinaryExpr& node, const std::shared_ptr<Frame>& frame);
  Value eval_compare(const CompareExpr& node, const std::shared_ptr<Frame>& frame);
  Value lookup(const std::string& name, const Frame& frame) const;
  CallArgs eval_args(const Arguments& args, const std::shared_ptr<Frame>& frame);

  const Dict& context_;
  const RenderLimits& limits_;
  BuildLimits build_;
  std::size_t iterations_ = 0;
  std::size_t call_depth_ = 0;
  std::vector<std::shared_ptr<Frame>> macro_frames_;  // scopes that define macros (reference cycles)
  std::vector<Value> assigned_namespaces_;            // namespaces given attributes (possible cycles)
};

}  // namespace strata::jinja
