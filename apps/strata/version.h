// `strata --version`: the version, the git revision the build came from and the compiled backends (the
// CPU instruction sets the kernels were built for, and CUDA with what this machine offers).
#pragma once

#include <string>

namespace strata::cli {

std::string version_text();

}  // namespace strata::cli
