// Reading a text the user names with -f: regular files only (a directory would read as nothing,
// /dev/zero never ends) of at most 1 GiB, each refusal naming the flag and the path.
#pragma once

#include <string>

namespace strata::cli {

// Throws strata::Error "-f 'PATH' is not a regular file" and the like.
std::string read_text_file(const std::string& path);

}  // namespace strata::cli
