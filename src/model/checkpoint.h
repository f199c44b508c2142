// A checkpoint: a config plus named tensors that can be read whole or by a
// row/column slice (what one tensor-parallel rank needs) without reading the
// rest. Readers: safetensors (single or sharded), llama2.c .bin, synthetic.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "model/model_config.h"
#include "quant/quantized_weights.h"

namespace qsweep {

// A tensor stored in a format of its own (a GGUF's ggml blocks, a GPTQ/AWQ
// layer's packed ints) rather than as its dtype: its bytes as stored.
struct StoredFormat {
  std::string name;    // canonical
  std::string format;  // "Q4_K", "gptq-int4-g128", "F16", ...
  int64_t bytes = 0;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

// "[4096, 128]", as error messages and `inspect` print shapes.
std::string FormatShape(const std::vector<int64_t>& shape);

class Checkpoint {
 public:
  virtual ~Checkpoint() = default;

  // What the user named: a path or "synthetic:NAME".
  virtual const std::string& source() const = 0;
  virtual const ModelConfig& config() const = 0;
  // Tensors in ExpectedTensors() order.
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Identifies the weights (a hash over what defines them) for run files:
  // two runs compare only if their checkpoints' ids are equal.
  virtual std::string content_id() const = 0;
  // Tensors in the files that the config does not use and that are not
  // known to be redundant (rotary inv_freq): shown by `inspect`.
  virtual std::vector<std::string> ignored_tensors() const { return {}; }
  // Every tensor's stored format and bytes where the checkpoint holds
  // quantized formats (reads dequantize them); empty where every tensor is
  // stored as its dtype.
  virtual std::vector<StoredFormat> stored_formats() const { return {}; }

  // Reads rows [begin, end) (axis 0) or columns [begin, end) (axis 1) of a
  // tensor, converted to fp32, into `out` (row-major, exactly the slice's
  // size). 1-D tensors take axis 0 only. Errors name the file and tensor.
  virtual absl::Status ReadSlice(std::string_view name, int axis, int64_t begin,
                                 int64_t end, std::span<float> out) const = 0;

  // Rows [begin, end) of a 2-D tensor in the packed format it is stored in,
  // where that is one of qsweep's (quantized_weights.h; GGUF's Q4_0, Q5_0
  // and Q8_0 are its symmetric int4, int5 and int8 with groups of 32): they
  // dequantize to ReadSlice's values bit for bit. nullopt where the tensor
  // is stored otherwise.
  virtual absl::StatusOr<std::optional<QuantizedWeights>> ReadStoredRows(std::string_view name, int64_t begin,
                                                                         int64_t end) const {
    return std::nullopt;
  }

  // Rows [row_begin, row_end) x columns [col_begin, col_end) of a 2-D
  // tensor stored as bf16, as bf16 bits (ReadSlice's values exactly), into
  // `out` (row-major, exactly the block's size): what an upload of dense
  // bf16 weights reads block by block into a staging buffer, with no fp32
  // copy. Tensors of other dtypes are refused. The default reads the rows
  // through ReadSlice.
  virtual absl::Status ReadBlockBF16(std::string_view name, int64_t row_begin, int64_t row_end, int64_t col_begin,
                                     int64_t col_end, std::span<uint16_t> out) const;

  const TensorInfo* Find(std::string_view name) const;
  absl::StatusOr<std::vector<float>> ReadAll(std::string_view name) const;
  int64_t TotalBytes() const;  // storage bytes of all tensors
};

// "synthetic:NAME[@SEED]", a directory with config.json + *.safetensors,
// a .safetensors file (config.json beside it), or a llama2.c .bin file.
absl::StatusOr<std::unique_ptr<Checkpoint>> OpenCheckpoint(const std::string& spec);

}  // namespace qsweep
