// Statements: the template body and each `{% tag %}` Jinja2 chat templates use (for, if, set, macro, call,
// filter, with, print, break, continue and transformers' generation). Anything else, and any end tag
// that does not close the innermost open block, is refused here, so a template fails when it loads.
#include <algorithm>

#include "strata/template/globals.h"
#include "strata/template/parser.h"
#include "strata/template/parser_state.h"

namespace strata::jinja {
namespace {

// Nesting bound for {% if %}, {% for %}... so a hostile template cannot exhaust the stack while parsing
// or rendering; real chat templates nest a handful deep.
constexpr std::size_t kMaxBlockNesting = 64;

template <typename T>
StmtPtr make_stmt(SourcePos pos, T node) {
  auto s = std::make_unique<Stmt>();
  s->pos = pos;
  s->node = std::move(node);
  return s;
}

// Jinja2 statements strata does not implement, and why.
std::optional<std::string_view> unsupported_statement(std::string_view tag) {
  if (tag == "include" || tag == "import" || tag == "from" || tag == "extends") {
    return "strata renders one self-contained template and has no template loader";
  }
  if (tag == "block") return "template inheritance blocks are not supported";
  if (tag == "autoescape") return "autoescaping is off in transformers' environment and cannot be switched";
  if (tag == "do") return "transformers does not enable the jinja2.ext.do extension";
  if (tag == "trans" || tag == "pluralize") return "the i18n extension is not enabled in transformers";
  if (tag == "debug") return "the debug extension is not enabled in transformers";
  return std::nullopt;
}

std::string join_tags(const std::vector<std::string_view>& tags) {
  std::string out;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (i) out += i + 1 == tags.size() ? " or " : ", ";
    out += fmt::format("'{{% {} %}}'", tags[i]);
  }
  return out;
}

}  // namespace

void Parser::expect_block_end(std::string_view statement) {
  skip_op(":");  // Jinja2 tolerates `{% for x in y: %}`
  if (current().type != TokenType::BlockEnd) {
    fail(current(),
         fmt::format("expected '%}}' to end '{{% {} %}}', got {}", statement, describe_token(current())));
  }
  advance();
}

Body Parser::parse_template_body() {
  Body body = parse_body({});
  check_called_names();
  return body;
}

Body Parser::parse_body(const std::vector<std::string_view>& end_tags) {
  Body body;
  while (true) {
    const Token& t = current();
    switch (t.type) {
      case TokenType::Data:
        body.push_back(make_stmt(t.pos, TextStmt{advance().text}));
        break;
      case TokenType::VariableBegin: {
        const SourcePos pos = advance().pos;
        ExprPtr expr = parse_tuple(true, {});
        if (current().type != TokenType::VariableEnd) {
          fail(current(),
               fmt::format("expected '}}}}' to end the expression, got {}", describe_token(current())));
        }
        advance();
        body.push_back(make_stmt(pos, OutputStmt{std::move(expr)}));
        break;
      }
      case TokenType::BlockBegin: {
        advance();
        if (current().type == TokenType::Name &&
            std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end()) {
          return body;  // the caller consumes its end tag
        }
        body.push_back(parse_statement());
        break;
      }
      case TokenType::Eof:
        if (!end_tags.empty()) {
          const OpenBlock& open = open_blocks_.back();
          fail(open.pos,
               fmt::format("'{{% {} %}}' is never closed: expected {} before the end of the template",
                           open.tag, join_tags(open.end_tags)));
        }
        return body;
      default:
        fail(t, fmt::format("unexpected {}", describe_token(t)));
    }
  }
}

void Parser::fail_unknown_tag(const Token& tag) {
  const std::string& name = tag.text;
  if (name.rfind("end", 0) == 0 || name == "elif" || name == "else") {
    if (open_blocks_.empty()) fail(tag, fmt::format("'{{% {} %}}' has no open block to close", name));
    const OpenBlock& open = open_blocks_.back();
    fail(tag,
         fmt::format("'{{% {} %}}' does not match the innermost open block '{{% {} %}}' (line {} column {}), "
                     "which expects {}",
                     name, open.tag, open.pos.line, open.pos.column, join_tags(open.end_tags)));
  }
  if (auto why = unsupported_statement(name)) {
    fail(tag, fmt::format("unsupported statement '{{% {} %}}': {}", name, *why));
  }
  fail(tag, fmt::format("unknown statement '{{% {} %}}'", name));
}

StmtPtr Parser::parse_statement() {
  const Token& tag = current();
  if (open_blocks_.size() >= kMaxBlockNesting) {
    fail(tag, fmt::format("blocks nest more than {} deep", kMaxBlockNesting));
  }
  if (tag.type != TokenType::Name)
    fail(tag, fmt::format("expected a statement name after '{{%', got {}", describe_token(tag)));
  const std::string name = tag.text;
  const SourcePos pos = tag.pos;
  if (name == "for") return parse_for(pos);
  if (name == "if") return parse_if(pos);
  if (name == "set") return parse_set(pos);
  if (name == "macro") return parse_macro(pos);
  if (name == "call") return parse_call_block(pos);
  if (name == "filter") return parse_filter_block(pos);
  if (name == "with") return parse_with(pos);
  if (name == "generation") return parse_scope(pos, name);
  if (name == "print") {  // {% print a, b %} writes each expression (Jinja2's Output node)
    advance();
    Body outputs;
    while (current().type != TokenType::BlockEnd) {
      if (!outputs.empty()) expect_op(",");
      const SourcePos at = current().pos;
      outputs.push_back(make_stmt(at, OutputStmt{parse_expression()}));
    }
    expect_block_end("print");
    // A scope of output statements only: nothing is assigned, so the scope changes nothing.
    return make_stmt(pos, ScopeStmt{std::move(outputs)});
  }
  if (name == "break" || name == "continue") {
    advance();
    if (loop_depth_ == 0) fail(tag, fmt::format("'{{% {} %}}' outside a for loop", name));
    expect_block_end(name);
    return name == "break" ? make_stmt(pos, BreakStmt{}) : make_stmt(pos, ContinueStmt{});
  }
  fail_unknown_tag(tag);
}

void Parser::end_tag(std::string_view tag) {
  advance();  // the end tag's name
  expect_block_end(tag);
  open_blocks_.pop_back();
}

StmtPtr Parser::parse_for(SourcePos pos) {
  advance();
  ForStmt loop;
  loop.target = parse_assign_target(false, {"in"});
  if (!skip_name("in"))
    fail(current(), fmt::format("expected 'in' in '{{% for %}}', got {}", describe_token(current())));
  loop.iterable = parse_tuple(false, {"recursive"});
  if (skip_name("if")) loop.filter = parse_expression();
  if (at_name("recursive")) fail(current(), "recursive for loops are not supported");
  expect_block_end("for");
  open_blocks_.push_back({"for", pos, {"endfor", "else"}});
  ++loop_depth_;
  loop.body = parse_body({"endfor", "else"});
  --loop_depth_;
  if (skip_name("else")) {
    expect_block_end("else");
    open_blocks_.back().end_tags = {"endfor"};
    loop.otherwise = parse_body({"endfor"});
  }
  end_tag("endfor");
  return make_stmt(pos, std::move(loop));
}

StmtPtr Parser::parse_if(SourcePos pos) {
  advance();
  IfStmt stmt;
  open_blocks_.push_back({"if", pos, {"elif", "else", "endif"}});
  while (true) {
    ExprPtr test = parse_tuple(false, {});
    expect_block_end("if");
    Body body = parse_body({"elif", "else", "endif"});
    stmt.branches.emplace_back(std::move(test), std::move(body));
    if (skip_name("elif")) continue;
    if (skip_name("else")) {
      expect_block_end("else");
      open_blocks_.back().end_tags = {"endif"};
      stmt.otherwise = parse_body({"endif"});
    }
    break;
  }
  end_tag("endif");
  return make_stmt(pos, std::move(stmt));
}

std::vector<ExprPtr> Parser::parse_filter_chain() {
  std::vector<ExprPtr> filters;
  do {
    filters.push_back(parse_filter_chain_item(nullptr));
  } while (skip_op("|"));
  return filters;
}

StmtPtr Parser::parse_set(SourcePos pos) {
  advance();
  Target target = parse_assign_target(true, {});
  if (skip_op("=")) {
    ExprPtr value = parse_tuple(true, {});
    expect_block_end("set");
    return make_stmt(pos, SetStmt{std::move(target), std::move(value)});
  }
  SetBlockStmt block;
  block.target = std::move(target);
  if (skip_op("|")) block.filters = parse_filter_chain();
  expect_block_end("set");
  open_blocks_.push_back({"set", pos, {"endset"}});
  block.body = parse_body({"endset"});
  end_tag("endset");
  return make_stmt(pos, std::move(block));
}

std::vector<MacroParam> Parser::parse_signature(const std::string& what) {
  std::vector<MacroParam> params;
  expect_op("(");
  while (!at_op(")")) {
    if (!params.empty()) expect_op(",");
    const Token& name = expect_name("a parameter name");
    MacroParam param{name.text, nullptr};
    bound_names_.insert(name.text);
    if (skip_op("=")) {
      param.default_value = parse_expression();
    } else if (!params.empty() && params.back().default_value) {
      fail(name, fmt::format("{}: a parameter without a default follows one with a default", what));
    }
    params.push_back(std::move(param));
  }
  expect_op(")");
  return params;
}

StmtPtr Parser::parse_macro(SourcePos pos) {
  advance();
  auto macro = std::make_shared<MacroStmt>();
  macro->name = expect_name("a macro name").text;
  macro_names_.insert(macro->name);
  bound_names_.insert(macro->name);
  macro->params = parse_signature(fmt::format("macro '{}'", macro->name));
  expect_block_end("macro");
  open_blocks_.push_back({"macro", pos, {"endmacro"}});
  open_macros_.push_back(macro.get());
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;  // a macro body is its own frame: break/continue cannot reach an enclosing loop
  macro->body = parse_body({"endmacro"});
  loop_depth_ = saved_loop_depth;
  open_macros_.pop_back();
  end_tag("endmacro");
  return make_stmt(pos, std::move(macro));
}

StmtPtr Parser::parse_call_block(SourcePos pos) {
  advance();
  auto caller = std::make_shared<MacroStmt>();
  caller->name = "caller";
  if (at_op("(")) caller->params = parse_signature("call block");
  ExprPtr call = parse_expression();
  if (!std::holds_alternative<CallExpr>(call->node)) fail(call->pos, "'{% call %}' expects a macro call");
  expect_block_end("call");
  open_blocks_.push_back({"call", pos, {"endcall"}});
  open_macros_.push_back(caller.get());
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  caller->body = parse_body({"endcall"});
  loop_depth_ = saved_loop_depth;
  open_macros_.pop_back();
  end_tag("endcall");
  return make_stmt(pos, CallBlockStmt{std::move(call), std::move(caller)});
}

StmtPtr Parser::parse_filter_block(SourcePos pos) {
  advance();
  FilterBlockStmt block;
  block.filters = parse_filter_chain();
  expect_block_end("filter");
  open_blocks_.push_back({"filter", pos, {"endfilter"}});
  block.body = parse_body({"endfilter"});
  end_tag("endfilter");
  return make_stmt(pos, std::move(block));
}

StmtPtr Parser::parse_with(SourcePos pos) {
  advance();
  WithStmt with;
  while (current().type != TokenType::BlockEnd) {
    if (!with.assignments.empty()) expect_op(",");
    Target target = parse_assign_target(false, {});
    expect_op("=");
    with.assignments.emplace_back(std::move(target), parse_expression());
  }
  expect_block_end("with");
  open_blocks_.push_back({"with", pos, {"endwith"}});
  with.body = parse_body({"endwith"});
  end_tag("endwith");
  return make_stmt(pos, std::move(with));
}

StmtPtr Parser::parse_scope(SourcePos pos, const std::string& tag) {
  advance();
  expect_block_end(tag);
  const std::string end = fmt::format("end{}", tag);
  open_blocks_.push_back({tag, pos, {"endgeneration"}});
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;  // transformers compiles the body as a call block, i.e. a macro
  Body body = parse_body({"endgeneration"});
  loop_depth_ = saved_loop_depth;
  end_tag(end);
  return make_stmt(pos, ScopeStmt{std::move(body)});
}

void Parser::check_called_names() const {
  for (const auto& [name, pos] : called_names_) {
    if (find_global(name) || macro_names_.count(name) || bound_names_.count(name) || name == "caller")
      continue;
    if (is_unsupported_jinja_global(name)) {
      fail(pos, fmt::format("function '{}()' is not supported by strata's Jinja subset", name));
    }
    fail(pos,
         fmt::format("unknown function '{}()': not a global, a macro or a variable of the template", name));
  }
}

TemplateAst parse_template(std::string_view source, const std::string& template_name) {
  Parser parser(tokenize(source, template_name), template_name);
  TemplateAst ast;
  ast.body = parser.parse_template_body();
  return ast;
}

}  // namespace strata::jinja
