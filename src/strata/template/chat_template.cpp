#include "strata/template/chat_template.h"

#include "strata/core/error.h"
#include "strata/template/globals.h"
#include "strata/template/parser.h"
#include "strata/template/renderer.h"

namespace strata {

struct ChatTemplate::Impl {
  std::string name;
  jinja::TemplateAst ast;
  jinja::RenderLimits limits;
};

ChatTemplate::ChatTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::parse(std::string_view source, std::string name, ChatTemplateLimits limits) {
  auto impl = std::make_shared<Impl>();
  impl->name = std::move(name);
  impl->ast = jinja::parse_template(source, impl->name);
  impl->limits = {limits.max_output_bytes, limits.max_loop_iterations, limits.max_call_depth};
  return ChatTemplate(std::move(impl));
}

const std::string& ChatTemplate::name() const { return impl_->name; }

namespace {

template <typename Json>
std::string render_json(const std::string& name, const jinja::TemplateAst& ast,
                        const jinja::RenderLimits& limits, const Json& context) {
  if (!context.is_object()) fail("template '{}': the render context must be a JSON object", name);
  const jinja::Value variables = jinja::from_json(context);
  try {
    return jinja::render_template(ast, variables.dict(), limits);
  } catch (const jinja::TemplateRaised& e) {
    const jinja::SourcePos pos = e.pos.value_or(jinja::SourcePos{});
    fail("template '{}' line {} column {}: raise_exception: {}", name, pos.line, pos.column, e.what());
  } catch (const jinja::EvalError& e) {
    const jinja::SourcePos pos = e.pos.value_or(jinja::SourcePos{});
    fail("template '{}' line {} column {}: {}", name, pos.line, pos.column, e.what());
  }
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render_json(impl_->name, impl_->ast, impl_->limits, context);
}

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return render_json(impl_->name, impl_->ast, impl_->limits, context);
}

}  // namespace strata
