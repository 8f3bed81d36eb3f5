// strata::Error: the one exception type thrown at boundaries (files, configs, CLI input, HTTP).
// Its message names what is wrong and where (file, tensor, field, layer) so a user can act on it.
// Kernels never throw: they assume input validated by the caller.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace strata {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws strata::Error with an fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace strata
