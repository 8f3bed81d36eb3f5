// The parsed template: Jinja2's node types for the subset strata supports, each carrying its line and
// column for error messages. Expressions and statements are variants of plain structs; the renderer walks
// them. A filter chain with no operand (the `{% filter %}` and `{% set x | f %}` forms) is applied to
// rendered text.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "strata/template/value.h"

namespace strata::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Keyword {
  std::string name;
  ExprPtr value;
};

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<Keyword> keyword;
};

struct Literal {
  Value value;
};
struct NameRef {
  std::string name;
};
struct ListExpr {
  std::vector<ExprPtr> items;
};
struct TupleExpr {
  std::vector<ExprPtr> items;
};
struct DictExpr {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
struct GetAttr {  // x.name: attribute first, then item (Jinja2's environment.getattr)
  ExprPtr object;
  std::string attribute;
};
struct GetItem {  // x[key] and x.0: item first, then attribute
  ExprPtr object;
  ExprPtr key;
};
struct SliceExpr {  // x[start:stop:step], any part optional
  ExprPtr object;
  ExprPtr start, stop, step;
};
struct CallExpr {
  ExprPtr callee;
  Arguments args;
};
struct FilterExpr {
  ExprPtr operand;  // null when applied to a block's rendered text
  std::string name;
  Arguments args;
};
struct TestExpr {
  ExprPtr operand;
  std::string name;
  Arguments args;
  bool negated = false;  // `is not`
};
enum class UnaryOp { Not, Neg, Pos };
struct UnaryExpr {
  UnaryOp op;
  ExprPtr operand;
};
enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, And, Or };
struct BinaryExpr {
  BinaryOp op;
  ExprPtr left, right;
};
struct ConcatExpr {  // a ~ b ~ c
  std::vector<ExprPtr> parts;
};
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct CompareExpr {  // chained like Python: a < b < c
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct CondExpr {  // then if test else otherwise; no else gives undefined
  ExprPtr test, then, otherwise;
};

struct Expr {
  SourcePos pos;
  int depth = 1;  // of the tree below, which the parser bounds
  std::variant<Literal, NameRef, ListExpr, TupleExpr, DictExpr, GetAttr, GetItem, SliceExpr, CallExpr,
               FilterExpr, TestExpr, UnaryExpr, BinaryExpr, ConcatExpr, CompareExpr, CondExpr>
      node;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Where `set`, `for` and `with` store a value: a name, names to unpack into, or a namespace attribute.
struct Target {
  enum class Kind { Name, Unpack, Attribute } kind = Kind::Name;
  std::string name;                // Name; the namespace variable for Attribute
  std::string attribute;           // Attribute
  std::vector<std::string> names;  // Unpack
  SourcePos pos;
};

struct TextStmt {
  std::string text;
};
struct OutputStmt {  // {{ expr }}
  ExprPtr expr;
};
struct IfStmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, then each elif
  Body otherwise;
};
struct ForStmt {
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; null when absent
  Body body;
  Body otherwise;  // runs when no item passed the filter
};
struct SetStmt {
  Target target;
  ExprPtr value;
};
struct SetBlockStmt {
  Target target;
  std::vector<ExprPtr> filters;  // FilterExprs without operand
  Body body;
};
struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};
struct MacroStmt {
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  bool uses_varargs = false;  // the body reads `varargs` / `kwargs`, so extra arguments are allowed
  bool uses_kwargs = false;
  bool uses_caller = false;
};
struct CallBlockStmt {  // {% call(params) macro(args) %}body{% endcall %}: body becomes `caller`
  ExprPtr call;
  std::shared_ptr<MacroStmt> caller;
};
struct FilterBlockStmt {
  std::vector<ExprPtr> filters;
  Body body;
};
struct WithStmt {
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};
struct ScopeStmt {  // transformers' {% generation %}: a body in its own scope (it is a call block there)
  Body body;
};
struct BreakStmt {};
struct ContinueStmt {};

struct Stmt {
  SourcePos pos;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, std::shared_ptr<MacroStmt>,
               CallBlockStmt, FilterBlockStmt, WithStmt, ScopeStmt, BreakStmt, ContinueStmt>
      node;
};

// Calls f on each direct child of an expression.
template <typename F>
inline void for_each_child(const Expr& expr, F&& f) {
  auto each = [&](const ExprPtr& child) {
    if (child) f(*child);
  };
  auto args = [&](const Arguments& a) {
    for (const auto& p : a.positional) each(p);
    for (const auto& k : a.keyword) each(k.value);
  };
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, ListExpr> || std::is_same_v<T, TupleExpr>) {
          for (const auto& item : node.items) each(item);
        } else if constexpr (std::is_same_v<T, DictExpr>) {
          for (const auto& [k, v] : node.items) each(k), each(v);
        } else if constexpr (std::is_same_v<T, GetAttr>) {
          each(node.object);
        } else if constexpr (std::is_same_v<T, GetItem>) {
          each(node.object), each(node.key);
        } else if constexpr (std::is_same_v<T, SliceExpr>) {
          each(node.object), each(node.start), each(node.stop), each(node.step);
        } else if constexpr (std::is_same_v<T, CallExpr>) {
          each(node.callee), args(node.args);
        } else if constexpr (std::is_same_v<T, FilterExpr> || std::is_same_v<T, TestExpr>) {
          each(node.operand), args(node.args);
        } else if constexpr (std::is_same_v<T, UnaryExpr>) {
          each(node.operand);
        } else if constexpr (std::is_same_v<T, BinaryExpr>) {
          each(node.left), each(node.right);
        } else if constexpr (std::is_same_v<T, ConcatExpr>) {
          for (const auto& part : node.parts) each(part);
        } else if constexpr (std::is_same_v<T, CompareExpr>) {
          each(node.first);
          for (const auto& [op, operand] : node.rest) each(operand);
        } else if constexpr (std::is_same_v<T, CondExpr>) {
          each(node.test), each(node.then), each(node.otherwise);
        }
      },
      expr.node);
}

}  // namespace strata::jinja
