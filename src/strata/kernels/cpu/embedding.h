// CPU row gathers behind kernels/embedding.h.
#pragma once

#include "strata/core/thread_pool.h"
#include "strata/kernels/embedding.h"

namespace strata::kernels::cpu {

void embedding_gather(const Tensor& table, const Tensor& token_ids, const Tensor& out, ThreadPool& pool);
void gather_rows(const Tensor& src, const Tensor& rows, const Tensor& out, ThreadPool& pool);

}  // namespace strata::kernels::cpu
