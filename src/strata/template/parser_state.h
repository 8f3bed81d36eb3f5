// The parser's shared state: a token cursor plus what load-time checks need (open blocks for end-tag
// errors, loop depth for break/continue, macro names and bound names for function calls). Internal to
// the template module: expression_parser.cpp and statement_parser.cpp implement its two halves.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/template/ast.h"
#include "strata/template/lexer.h"

namespace strata::jinja {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& template_name)
      : tokens_(std::move(tokens)), name_(template_name) {}

  Body parse_template_body();

  // Expressions (expression_parser.cpp), following Jinja2's parser method by method.
  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string_view>& extra_end_names,
                      bool explicit_parentheses = false);
  ExprPtr parse_expression(bool with_condexpr = true);
  ExprPtr parse_filter_chain_item(ExprPtr operand);  // one `name(args)` after a '|'
  void parse_call_args(Arguments& args);
  Target parse_assign_target(bool with_namespace, const std::vector<std::string_view>& extra_end_names);

 private:
  // Cursor.
  const Token& current() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_]; }
  const Token& advance() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool at_op(std::string_view op) const {
    return current().type == TokenType::Operator && current().text == op;
  }
  bool at_name(std::string_view name) const {
    return current().type == TokenType::Name && current().text == name;
  }
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);
  void expect_op(std::string_view op);
  const Token& expect_name(std::string_view what);
  void expect_block_end(std::string_view statement);
  [[noreturn]] void fail(const Token& at, const std::string& message) const;
  [[noreturn]] void fail(SourcePos at, const std::string& message) const;
  std::string describe_token(const Token& t) const;

  // Expressions.
  template <typename T>
  ExprPtr make_expr(SourcePos pos, T node);
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_subscribed();
  ExprPtr parse_call(ExprPtr callee);
  ExprPtr parse_test(ExprPtr operand);
  ExprPtr parse_list();
  ExprPtr parse_dict();
  bool is_tuple_end(const std::vector<std::string_view>& extra_end_names) const;
  void check_filter(const Token& at, const std::string& name, const Arguments& args) const;
  void check_test(SourcePos at, const std::string& name) const;

  // Statements (statement_parser.cpp).
  Body parse_body(const std::vector<std::string_view>& end_tags);
  StmtPtr parse_statement();
  StmtPtr parse_for(SourcePos pos);
  StmtPtr parse_if(SourcePos pos);
  StmtPtr parse_set(SourcePos pos);
  StmtPtr parse_macro(SourcePos pos);
  StmtPtr parse_call_block(SourcePos pos);
  StmtPtr parse_filter_block(SourcePos pos);
  StmtPtr parse_with(SourcePos pos);
  StmtPtr parse_scope(SourcePos pos, const std::string& tag);
  std::vector<MacroParam> parse_signature(const std::string& what);
  std::vector<ExprPtr> parse_filter_chain();
  void end_tag(std::string_view tag);
  [[noreturn]] void fail_unknown_tag(const Token& tag);
  void check_called_names() const;

  struct OpenBlock {
    std::string tag;
    SourcePos pos;
    std::vector<std::string_view> end_tags;
  };

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  const std::string& name_;
  int depth_ = 0;       // expression nesting, guarded so hostile input cannot exhaust the stack
  int loop_depth_ = 0;  // for loops around the current statement (reset inside macros)
  std::vector<OpenBlock> open_blocks_;
  std::vector<MacroStmt*> open_macros_;  // macros whose body is being parsed: they note varargs/kwargs/caller
  std::set<std::string> macro_names_;
  std::set<std::string> bound_names_;  // names assigned anywhere (set, for, with, macro parameters)
  std::vector<std::pair<std::string, SourcePos>> called_names_;
};

}  // namespace strata::jinja
