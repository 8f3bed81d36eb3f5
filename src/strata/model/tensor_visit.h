// TensorVisitor: a function every model part applies to each tensor its forward reads, so the model can
// move all of them at once (Model::to_device uploads each to the GPU and rewrites the views in place)
// without a list of tensors kept apart from the layers that own them.
#pragma once

#include <functional>

#include "strata/core/tensor.h"

namespace strata::model {

using TensorVisitor = std::function<void(Tensor&)>;

}  // namespace strata::model
