// ApiError: a request the server refuses, in OpenAI's error shape — the HTTP status and
// {"error": {"message", "type", "param", "code"}} — thrown by request parsing and caught at the HTTP
// boundary (server.cpp), which is the only place that turns it into a response.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace strata::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string type = "invalid_request_error",
           std::string code = {})
      : std::runtime_error(message), status_(status), param_(std::move(param)), type_(std::move(type)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& param() const { return param_; }

  nlohmann::json to_json() const {
    nlohmann::json error = {{"message", what()}, {"type", type_}};
    error["param"] = param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_);
    error["code"] = code_.empty() ? nlohmann::json(nullptr) : nlohmann::json(code_);
    return {{"error", error}};
  }

 private:
  int status_;
  std::string param_, type_, code_;
};

// 400 naming the field: "'temperature' must be a number between 0 and 2, got "hot"".
[[noreturn]] inline void bad_field(const std::string& field, const std::string& message) {
  throw ApiError(400, "'" + field + "' " + message, field);
}

}  // namespace strata::server
