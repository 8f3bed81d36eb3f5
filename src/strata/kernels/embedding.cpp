#include "strata/kernels/embedding.h"

#include "strata/kernels/cpu/embedding.h"
#include "strata/kernels/dispatch.h"

namespace strata::kernels {

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, const Exec& exec) {
  detail::device_for("embedding_gather", exec, {&table, &token_ids, &out});
  cpu::embedding_gather(table, token_ids, out, exec.pool());
}

void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, const Exec& exec) {
  detail::device_for("gather_rows", exec, {&src, &rows, &out});
  cpu::gather_rows(src, rows, out, exec.pool());
}

}  // namespace strata::kernels
