// Expressions, method for method after Jinja2's parser.py, so precedence matches exactly: conditional <
// or < and < not < comparisons < + - < ~ < * / // % < ** (left-associative, as in Jinja2) < unary - + <
// postfix (.attr [item] (call)) < filters and tests, which bind tightest: `-x|abs` is `(-x)|abs`.
#include <algorithm>
#include <functional>
#include <type_traits>

#include "strata/template/filters.h"
#include "strata/template/globals.h"
#include "strata/template/is_tests.h"
#include "strata/template/methods.h"
#include "strata/template/operators.h"
#include "strata/template/parser_state.h"
#include "strata/template/printf_format.h"

namespace strata::jinja {
namespace {

constexpr int kMaxNesting = 120;

// A nesting guard: a template of a thousand '(' must fail cleanly, not overflow the stack.
struct DepthGuard {
  DepthGuard(int& depth, const std::function<void()>& on_overflow) : depth_(depth) {
    if (++depth_ > kMaxNesting) on_overflow();
  }
  ~DepthGuard() { --depth_; }
  int& depth_;
};

constexpr int kMaxExpressionDepth = 256;

const std::string* literal_string(const ExprPtr& e) {
  if (!e) return nullptr;
  const auto* lit = std::get_if<Literal>(&e->node);
  return lit && lit->value.is_string() ? &lit->value.as_string() : nullptr;
}

constexpr std::string_view kPythonOnlyMethods[] = {
    "casefold",  "center",       "encode",     "expandtabs",  "format",  "format_map", "isascii",
    "isdecimal", "isidentifier", "isnumeric",  "isprintable", "istitle", "ljust",      "maketrans",
    "partition", "rjust",        "rpartition", "translate",   "zfill",   "fromkeys"};
constexpr std::string_view kMutatingMethods[] = {"append",  "clear",      "extend",  "insert",
                                                 "pop",     "remove",     "reverse", "sort",
                                                 "popitem", "setdefault", "update"};

}  // namespace

bool Parser::skip_op(std::string_view op) {
  if (!at_op(op)) return false;
  advance();
  return true;
}

bool Parser::skip_name(std::string_view name) {
  if (!at_name(name)) return false;
  advance();
  return true;
}

void Parser::expect_op(std::string_view op) {
  if (!skip_op(op)) fail(current(), fmt::format("expected '{}', got {}", op, describe_token(current())));
}

const Token& Parser::expect_name(std::string_view what) {
  if (current().type != TokenType::Name)
    fail(current(), fmt::format("expected {}, got {}", what, describe_token(current())));
  return advance();
}

void Parser::fail(const Token& at, const std::string& message) const { syntax_error(name_, at.pos, message); }
void Parser::fail(SourcePos at, const std::string& message) const { syntax_error(name_, at, message); }

std::string Parser::describe_token(const Token& t) const {
  switch (t.type) {
    case TokenType::Name:
    case TokenType::Operator:
      return fmt::format("'{}'", t.text);
    case TokenType::String:
      return "a string";
    case TokenType::Integer:
    case TokenType::Float:
      return fmt::format("the number {}", t.text);
    default:
      return describe(t.type);
  }
}

bool Parser::is_tuple_end(const std::vector<std::string_view>& extra_end_names) const {
  const Token& t = current();
  if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || t.type == TokenType::Eof)
    return true;
  if (at_op(")")) return true;
  return t.type == TokenType::Name &&
         std::find(extra_end_names.begin(), extra_end_names.end(), t.text) != extra_end_names.end();
}

ExprPtr Parser::parse_tuple(bool with_condexpr, const std::vector<std::string_view>& extra_end_names,
                            bool explicit_parentheses) {
  const SourcePos pos = current().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (is_tuple_end(extra_end_names)) break;
    items.push_back(parse_expression(with_condexpr));
    if (at_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parentheses)
      fail(current(), fmt::format("expected an expression, got {}", describe_token(current())));
  }
  return make_expr(pos, TupleExpr{std::move(items)});
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  DepthGuard guard(depth_, [this] { fail(current(), "expression nests too deeply"); });
  return with_condexpr ? parse_condexpr() : parse_or();
}

// Every node is built here, so the tree's depth is known as it grows: long operator or filter chains
// (a + a + ... + a) build deep trees without deep parser recursion, and evaluating or freeing a tree
// recurses through its depth.
template <typename T>
ExprPtr Parser::make_expr(SourcePos pos, T node) {
  auto e = std::make_unique<Expr>();
  e->pos = pos;
  e->node = std::move(node);
  for_each_child(*e, [&](const Expr& child) { e->depth = std::max(e->depth, child.depth + 1); });
  if (e->depth > kMaxExpressionDepth) {
    fail(pos, fmt::format("expression nests too deeply (more than {} levels of operators, filters or calls)",
                          kMaxExpressionDepth));
  }
  return e;
}

ExprPtr Parser::parse_condexpr() {
  const SourcePos pos = current().pos;
  ExprPtr expr = parse_or();
  while (skip_name("if")) {
    ExprPtr test = parse_or();
    ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
    expr = make_expr(pos, CondExpr{std::move(test), std::move(expr), std::move(otherwise)});
  }
  return expr;
}

ExprPtr Parser::parse_or() {
  const SourcePos pos = current().pos;
  ExprPtr left = parse_and();
  while (skip_name("or")) left = make_expr(pos, BinaryExpr{BinaryOp::Or, std::move(left), parse_and()});
  return left;
}

ExprPtr Parser::parse_and() {
  const SourcePos pos = current().pos;
  ExprPtr left = parse_not();
  while (skip_name("and")) left = make_expr(pos, BinaryExpr{BinaryOp::And, std::move(left), parse_not()});
  return left;
}

ExprPtr Parser::parse_not() {
  if (at_name("not")) {
    const SourcePos pos = advance().pos;
    DepthGuard guard(depth_, [this] { fail(current(), "expression nests too deeply"); });
    return make_expr(pos, UnaryExpr{UnaryOp::Not, parse_not()});
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const SourcePos pos = current().pos;
  ExprPtr first = parse_math1();
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  while (true) {
    std::optional<CompareOp> op;
    if (current().type == TokenType::Operator) {
      const std::string& t = current().text;
      if (t == "==") op = CompareOp::Eq;
      if (t == "!=") op = CompareOp::Ne;
      if (t == "<") op = CompareOp::Lt;
      if (t == "<=") op = CompareOp::Le;
      if (t == ">") op = CompareOp::Gt;
      if (t == ">=") op = CompareOp::Ge;
      if (op) advance();
    } else if (at_name("in")) {
      advance();
      op = CompareOp::In;
    } else if (at_name("not") && look().type == TokenType::Name && look().text == "in") {
      advance();
      advance();
      op = CompareOp::NotIn;
    }
    if (!op) break;
    rest.emplace_back(*op, parse_math1());
  }
  if (rest.empty()) return first;
  return make_expr(pos, CompareExpr{std::move(first), std::move(rest)});
}

ExprPtr Parser::parse_math1() {
  const SourcePos pos = current().pos;
  ExprPtr left = parse_concat();
  while (at_op("+") || at_op("-")) {
    const BinaryOp op = advance().text == "+" ? BinaryOp::Add : BinaryOp::Sub;
    left = make_expr(pos, BinaryExpr{op, std::move(left), parse_concat()});
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  const SourcePos pos = current().pos;
  std::vector<ExprPtr> parts;
  parts.push_back(parse_math2());
  while (skip_op("~")) parts.push_back(parse_math2());
  if (parts.size() == 1) return std::move(parts[0]);
  return make_expr(pos, ConcatExpr{std::move(parts)});
}

ExprPtr Parser::parse_math2() {
  const SourcePos pos = current().pos;
  ExprPtr left = parse_pow();
  while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
    const Token& op_token = advance();
    const BinaryOp op = op_token.text == "*"    ? BinaryOp::Mul
                        : op_token.text == "/"  ? BinaryOp::Div
                        : op_token.text == "//" ? BinaryOp::FloorDiv
                                                : BinaryOp::Mod;
    if (op == BinaryOp::Mod) {
      if (const std::string* format = literal_string(left)) {
        if (auto problem = check_printf_format(*format)) fail(op_token, *problem);
      }
    }
    left = make_expr(pos, BinaryExpr{op, std::move(left), parse_pow()});
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  const SourcePos pos = current().pos;
  ExprPtr left = parse_unary(true);
  while (skip_op("**")) left = make_expr(pos, BinaryExpr{BinaryOp::Pow, std::move(left), parse_unary(true)});
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(depth_, [this] { fail(current(), "expression nests too deeply"); });
  const SourcePos pos = current().pos;
  ExprPtr node;
  if (skip_op("-")) {
    node = make_expr(pos, UnaryExpr{UnaryOp::Neg, parse_unary(false)});
  } else if (skip_op("+")) {
    node = make_expr(pos, UnaryExpr{UnaryOp::Pos, parse_unary(false)});
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  const Token& t = current();
  const SourcePos pos = t.pos;
  switch (t.type) {
    case TokenType::Name: {
      const std::string name = advance().text;
      if (name == "true" || name == "True") return make_expr(pos, Literal{Value(true)});
      if (name == "false" || name == "False") return make_expr(pos, Literal{Value(false)});
      if (name == "none" || name == "None") return make_expr(pos, Literal{Value::none()});
      for (MacroStmt* macro : open_macros_) {
        if (name == "varargs") macro->uses_varargs = true;
        if (name == "kwargs") macro->uses_kwargs = true;
        if (name == "caller") macro->uses_caller = true;
      }
      return make_expr(pos, NameRef{name});
    }
    case TokenType::String: {
      std::string text;
      while (current().type == TokenType::String) text += advance().text;  // 'a' 'b' is 'ab'
      return make_expr(pos, Literal{Value(std::move(text))});
    }
    case TokenType::Integer:
      return make_expr(pos, Literal{Value(advance().int_value)});
    case TokenType::Float:
      return make_expr(pos, Literal{Value(advance().float_value)});
    case TokenType::Operator:
      if (t.text == "(") {
        advance();
        ExprPtr inner = parse_tuple(true, {}, true);
        expect_op(")");
        return inner;
      }
      if (t.text == "[") return parse_list();
      if (t.text == "{") return parse_dict();
      break;
    default:
      break;
  }
  fail(t, fmt::format("unexpected {}", describe_token(t)));
}

ExprPtr Parser::parse_list() {
  const SourcePos pos = advance().pos;
  std::vector<ExprPtr> items;
  while (!at_op("]")) {
    if (!items.empty()) expect_op(",");
    if (at_op("]")) break;
    items.push_back(parse_expression());
  }
  expect_op("]");
  return make_expr(pos, ListExpr{std::move(items)});
}

ExprPtr Parser::parse_dict() {
  const SourcePos pos = advance().pos;
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
  while (!at_op("}")) {
    if (!items.empty()) expect_op(",");
    if (at_op("}")) break;
    ExprPtr key = parse_expression();
    expect_op(":");
    items.emplace_back(std::move(key), parse_expression());
  }
  expect_op("}");
  return make_expr(pos, DictExpr{std::move(items)});
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (at_op(".") || at_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (at_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (skip_op("|")) {
      node = parse_filter_chain_item(std::move(node));
    } else if (at_name("is")) {
      node = parse_test(std::move(node));
    } else if (at_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  const Token& opener = advance();
  const SourcePos pos = opener.pos;
  if (opener.text == ".") {
    const Token& attr = current();
    if (attr.type == TokenType::Name) return make_expr(pos, GetAttr{std::move(node), advance().text});
    if (attr.type == TokenType::Integer) {
      return make_expr(pos,
                       GetItem{std::move(node), make_expr(attr.pos, Literal{Value(advance().int_value)})});
    }
    fail(attr, fmt::format("expected a name or number after '.', got {}", describe_token(attr)));
  }
  std::vector<ExprPtr> keys;
  while (!at_op("]")) {
    if (!keys.empty()) expect_op(",");
    keys.push_back(parse_subscribed());
  }
  expect_op("]");
  if (keys.size() == 1) {
    if (auto* slice = std::get_if<SliceExpr>(&keys[0]->node)) {
      SliceExpr full = std::move(*slice);  // rebuilt so the depth counts the sliced object
      full.object = std::move(node);
      return make_expr(keys[0]->pos, std::move(full));
    }
    return make_expr(pos, GetItem{std::move(node), std::move(keys[0])});
  }
  if (keys.empty()) fail(current(), "expected a subscript inside '[]'");
  for (const auto& k : keys) {
    if (std::holds_alternative<SliceExpr>(k->node))
      fail(k->pos, "slices inside a tuple subscript are not supported");
  }
  return make_expr(pos, GetItem{std::move(node), make_expr(pos, TupleExpr{std::move(keys)})});
}

// One subscript: an expression, or a slice start:stop:step with any part omitted.
ExprPtr Parser::parse_subscribed() {
  const SourcePos pos = current().pos;
  ExprPtr start;
  if (!at_op(":")) {
    start = parse_expression();
    if (!at_op(":")) return start;
  }
  advance();  // ':'
  SliceExpr slice;
  slice.start = std::move(start);
  if (!at_op(":") && !at_op("]") && !at_op(",")) slice.stop = parse_expression();
  if (skip_op(":")) {
    if (!at_op("]") && !at_op(",")) slice.step = parse_expression();
  }
  return make_expr(pos, std::move(slice));
}

void Parser::parse_call_args(Arguments& args) {
  expect_op("(");
  bool first = true;
  while (!at_op(")")) {
    if (!first) {
      expect_op(",");
      if (at_op(")")) break;  // trailing comma
    }
    first = false;
    if (at_op("*") || at_op("**")) fail(current(), "'*args' and '**kwargs' in calls are not supported");
    if (current().type == TokenType::Name && look().type == TokenType::Operator && look().text == "=") {
      std::string key = advance().text;
      advance();
      args.keyword.push_back(Keyword{std::move(key), parse_expression()});
    } else {
      if (!args.keyword.empty()) fail(current(), "a positional argument follows a keyword argument");
      args.positional.push_back(parse_expression());
    }
  }
  expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr callee) {
  const SourcePos pos = callee->pos;  // errors point at what is called, as Jinja2's line numbers do
  if (const auto* attr = std::get_if<GetAttr>(&callee->node)) {
    const std::string& method = attr->attribute;
    if (!is_supported_method(method)) {
      if (std::find(std::begin(kMutatingMethods), std::end(kMutatingMethods), method) !=
          std::end(kMutatingMethods)) {
        fail(callee->pos,
             fmt::format("method '.{}()' is not supported: it mutates its object, which transformers' "
                         "immutable sandbox forbids too",
                         method));
      }
      if (std::find(std::begin(kPythonOnlyMethods), std::end(kPythonOnlyMethods), method) !=
          std::end(kPythonOnlyMethods)) {
        fail(callee->pos, fmt::format("method '.{}()' is not supported by strata's Jinja subset", method));
      }
      fail(callee->pos, fmt::format("unknown method '.{}()'", method));
    }
  } else if (const auto* name = std::get_if<NameRef>(&callee->node)) {
    called_names_.emplace_back(name->name, callee->pos);
  }
  CallExpr call;
  call.callee = std::move(callee);
  parse_call_args(call.args);
  return make_expr(pos, std::move(call));
}

void Parser::check_filter(const Token& at, const std::string& name, const Arguments& args) const {
  if (is_unsupported_jinja_filter(name)) {
    fail(at, fmt::format("filter '{}' is not supported by strata's Jinja subset", name));
  }
  if (!is_supported_filter(name)) fail(at, fmt::format("unknown filter '{}'", name));
  // Filters that name another filter or test: check a literal name now rather than when rendering.
  const std::string* inner = nullptr;
  if ((name == "map" || name == "select" || name == "reject") && !args.positional.empty()) {
    inner = literal_string(args.positional[0]);
  }
  if ((name == "selectattr" || name == "rejectattr") && args.positional.size() > 1) {
    inner = literal_string(args.positional[1]);
  }
  if (inner == nullptr) return;
  if (name == "map") {
    if (is_unsupported_jinja_filter(*inner)) {
      fail(at, fmt::format("filter '{}' (used by map) is not supported by strata's Jinja subset", *inner));
    }
    if (!is_supported_filter(*inner)) fail(at, fmt::format("unknown filter '{}' used by map", *inner));
  } else if (!is_supported_test(*inner)) {
    fail(at, fmt::format("unknown test '{}' used by {}", *inner, name));
  }
}

void Parser::check_test(SourcePos at, const std::string& name) const {
  if (!is_supported_test(name)) fail(at, fmt::format("unknown test '{}'", name));
}

ExprPtr Parser::parse_filter_chain_item(ExprPtr operand) {
  const Token& name_token = expect_name("a filter name");
  std::string name = name_token.text;
  while (skip_op(".")) name += fmt::format(".{}", expect_name("a filter name").text);
  FilterExpr filter;
  filter.operand = std::move(operand);
  filter.name = name;
  if (at_op("(")) parse_call_args(filter.args);
  check_filter(name_token, filter.name, filter.args);
  return make_expr(name_token.pos, std::move(filter));
}

ExprPtr Parser::parse_test(ExprPtr operand) {
  const SourcePos pos = advance().pos;  // 'is'
  TestExpr test;
  test.operand = std::move(operand);
  test.negated = skip_name("not");
  const Token& name_token = expect_name("a test name");
  test.name = name_token.text;
  while (skip_op(".")) test.name += fmt::format(".{}", expect_name("a test name").text);
  check_test(name_token.pos, test.name);
  const Token& t = current();
  if (at_op("(")) {
    parse_call_args(test.args);
  } else if ((t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Integer ||
              t.type == TokenType::Float || at_op("(") || at_op("[") || at_op("{")) &&
             !at_name("else") && !at_name("or") && !at_name("and")) {
    // Jinja2's bare test argument: `x is divisibleby 3`, `x is sameas none`.
    if (at_name("is")) fail(t, "tests cannot be chained with 'is'");
    test.args.positional.push_back(parse_postfix(parse_primary()));
  }
  return make_expr(pos, std::move(test));
}

Target Parser::parse_assign_target(bool with_namespace,
                                   const std::vector<std::string_view>& extra_end_names) {
  Target target;
  target.pos = current().pos;
  auto take_name = [&]() {
    const Token& t = expect_name("a variable name");
    if (t.text == "true" || t.text == "false" || t.text == "none" || t.text == "True" || t.text == "False" ||
        t.text == "None") {
      fail(t, fmt::format("cannot assign to the constant '{}'", t.text));
    }
    bound_names_.insert(t.text);
    return t.text;
  };
  if (with_namespace && current().type == TokenType::Name && look().type == TokenType::Operator &&
      look().text == ".") {
    target.kind = Target::Kind::Attribute;
    target.name = advance().text;
    advance();
    target.attribute = expect_name("an attribute name").text;
    return target;
  }
  const bool parenthesized = skip_op("(");
  std::vector<std::string> names;
  names.push_back(take_name());
  bool is_tuple = parenthesized && at_op(",");
  while (skip_op(",")) {
    is_tuple = true;
    if (is_tuple_end(extra_end_names) || at_op("=")) break;
    names.push_back(take_name());
  }
  if (parenthesized) expect_op(")");
  if (!is_tuple) {
    target.name = names[0];
    return target;
  }
  target.kind = Target::Kind::Unpack;
  target.names = std::move(names);
  return target;
}

}  // namespace strata::jinja
