// CPU loops behind kernels/elementwise.h.
#pragma once

#include "strata/core/thread_pool.h"
#include "strata/kernels/elementwise.h"

namespace strata::kernels::cpu {

void add_scaled(const Tensor& out, const Tensor& x, float alpha, ThreadPool& pool);
void scale(const Tensor& x, float alpha, ThreadPool& pool);
void copy_scaled(const Tensor& out, const Tensor& x, float alpha, ThreadPool& pool);
void scale_columns(const Tensor& x, const Tensor& column_scale, ThreadPool& pool);

}  // namespace strata::kernels::cpu
