// Parses a template's tokens into statements and expressions with Jinja2's grammar and precedence.
// Everything strata does not support is refused here, at load: unknown or unsupported statements
// (include, extends, import, block, do...), filters, tests, methods and functions, mismatched or missing end
// tags, break/continue outside a loop. Errors are strata::Error naming the construct, line and column.
#pragma once

#include <string>
#include <string_view>

#include "strata/template/ast.h"

namespace strata::jinja {

struct TemplateAst {
  Body body;
};

TemplateAst parse_template(std::string_view source, const std::string& template_name);

}  // namespace strata::jinja
