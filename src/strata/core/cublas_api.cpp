#include "strata/core/cublas_api.h"

#if STRATA_HAVE_CUDA

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "strata/core/error.h"

namespace strata::cuda {

namespace {

#define STRATA_STRINGIFY_EXPANDED(x) STRATA_STRINGIFY(x)
#define STRATA_STRINGIFY(x) #x

void* open_library(const char* name) {
  const std::string soname = std::string("lib") + name + ".so." + std::to_string(CUBLAS_VER_MAJOR);
  if (void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
  const std::string first_error = dlerror();
#ifdef STRATA_CUDA_LIBRARY_DIR
  const std::string path = std::string(STRATA_CUDA_LIBRARY_DIR) + "/" + soname;
  if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
#endif
  fail("CUDA: cannot load {} ({}); is the CUDA toolkit's library directory on LD_LIBRARY_PATH?", soname, first_error);
}

CublasApi load() {
  void* cublas = open_library("cublas");
  void* cublas_lt = open_library("cublasLt");
  CublasApi api;
  const auto symbol = [&](const char* name) {
    void* p = dlsym(cublas, name);
    if (p == nullptr) p = dlsym(cublas_lt, name);
    if (p == nullptr) fail("CUDA: cuBLAS has no function {} (a cuBLAS older than the headers strata was built with?)", name);
    return p;
  };
#define STRATA_CUBLAS_LOAD(name) api.name = reinterpret_cast<decltype(api.name)>(symbol(STRATA_STRINGIFY_EXPANDED(name)));
  STRATA_CUBLAS_FUNCTIONS(STRATA_CUBLAS_LOAD)
  STRATA_CUBLAS_LOAD(cublasGemmEx)
#undef STRATA_CUBLAS_LOAD
  return api;  // the libraries stay loaded for the process's life
}

}  // namespace

const CublasApi& cublas_api() {
  static const CublasApi api = load();  // thread-safe once; a failed load throws again on the next call
  return api;
}

}  // namespace strata::cuda

#endif  // STRATA_HAVE_CUDA
