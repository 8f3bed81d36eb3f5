#include "strata/model/device_weights.h"

#include <vector>

#include "strata/core/convert.h"
#include "strata/core/error.h"
#include "strata/core/memory.h"

namespace strata::model {

const char* precision_name(Precision precision) { return precision == Precision::exact ? "exact" : "fast"; }

Precision parse_precision(std::string_view text) {
  if (text == "exact") return Precision::exact;
  if (text == "fast") return Precision::fast;
  fail("--precision: '{}' is not a precision (expected exact or fast)", text);
}

void WeightUploader::upload(Tensor& tensor) { upload(tensor, precision_); }

void WeightUploader::upload(Tensor& tensor, Precision precision) {
  if (tensor.data == nullptr || tensor.device == Device::cuda) return;
  const bool widen = precision == Precision::exact && (tensor.dtype == DType::bf16 || tensor.dtype == DType::f16);
  std::vector<int64_t> shape_and_strides;
  for (int d = 0; d < tensor.ndim; ++d) {
    shape_and_strides.push_back(tensor.shape[static_cast<size_t>(d)]);
    shape_and_strides.push_back(tensor.strides[static_cast<size_t>(d)]);
  }
  const Key key{tensor.data, static_cast<int>(tensor.dtype), tensor.ndim, shape_and_strides, widen};
  if (auto it = uploaded_.find(key); it != uploaded_.end()) {
    tensor = it->second;
    return;
  }
  if (!tensor.is_contiguous()) fail("upload to the GPU: tensor {} is not contiguous", tensor.describe());
  Tensor device = tensor;
  device.device = Device::cuda;
  if (widen) {
    device.dtype = DType::f32;
    for (int d = 0; d < tensor.ndim; ++d) device.strides[static_cast<size_t>(d)] = tensor.strides[static_cast<size_t>(d)];
    std::vector<float> wide(static_cast<size_t>(tensor.numel()));
    convert_to_f32(tensor, wide.data(), "weight upload");
    Buffer& b = buffers_.emplace_back(wide.size() * sizeof(float), Device::cuda);
    copy_memory(b.data(), wide.data(), wide.size() * sizeof(float), Device::cuda);
    device.data = b.data();
  } else {
    Buffer& b = buffers_.emplace_back(tensor.nbytes(), Device::cuda);
    copy_memory(b.data(), tensor.data, tensor.nbytes(), Device::cuda);
    device.data = b.data();
  }
  bytes_ += buffers_.back().size();
  uploaded_.emplace(key, device);
  tensor = device;
}

}  // namespace strata::model
