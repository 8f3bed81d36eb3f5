#include "text_file.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "strata/core/error.h"

namespace strata::cli {

std::string read_text_file(const std::string& path) {
  constexpr uintmax_t kMaxTextBytes = uintmax_t{1} << 30;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("-f '{}' does not exist", path);
  if (!std::filesystem::is_regular_file(path, ec)) fail("-f '{}' is not a regular file", path);
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxTextBytes) fail("-f '{}' is larger than the {} bytes a text file may be", path, kMaxTextBytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("-f '{}': cannot read it", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace strata::cli
