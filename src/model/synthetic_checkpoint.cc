#include "model/synthetic_checkpoint.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/counter_rng.h"
#include "core/dtype.h"
#include "core/status_macros.h"
#include "model/content_hash.h"
#include "model/tensor_slice.h"

namespace qsweep {

namespace {

struct SyntheticModel {
  const char* name;
  const char* architecture;
  int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim, max_pos;
  double rms_eps, theta;
  RopeScaling rope;
  bool tied, bias;
};

constexpr RopeScaling kNoScaling{};
constexpr RopeScaling Llama3Rope(double factor, int64_t original) {
  return {RopeType::kLlama3, factor, 1.0, 4.0, original};
}

// Shapes of the public configs (the weights are random, not theirs).
const SyntheticModel kModels[] = {
    {"tiny", "LlamaForCausalLM", 512, 64, 176, 2, 4, 2, 16, 2048, 1e-5, 10000.0, kNoScaling,
     false, false},
    {"tiny-llama3", "LlamaForCausalLM", 1024, 128, 352, 2, 8, 2, 16, 512, 1e-5, 500000.0,
     Llama3Rope(8.0, 64), false, false},
    {"llama3-8b", "LlamaForCausalLM", 128256, 4096, 14336, 32, 32, 8, 128, 131072, 1e-5,
     500000.0, Llama3Rope(8.0, 8192), false, false},
    {"llama3-70b", "LlamaForCausalLM", 128256, 8192, 28672, 80, 64, 8, 128, 131072, 1e-5,
     500000.0, Llama3Rope(8.0, 8192), false, false},
    {"llama3.2-1b", "LlamaForCausalLM", 128256, 2048, 8192, 16, 32, 8, 64, 131072, 1e-5,
     500000.0, Llama3Rope(32.0, 8192), true, false},
    {"llama2-7b", "LlamaForCausalLM", 32000, 4096, 11008, 32, 32, 32, 128, 4096, 1e-5, 10000.0,
     kNoScaling, false, false},
    {"qwen2-0.5b-like", "Qwen2ForCausalLM", 151936, 896, 4864, 24, 14, 2, 64, 32768, 1e-6,
     1000000.0, kNoScaling, true, true},
};

class SyntheticCheckpoint : public Checkpoint {
 public:
  SyntheticCheckpoint(std::string source, std::string name, uint64_t seed, ModelConfig config)
      : source_(std::move(source)), seed_(seed), config_(std::move(config)) {
    for (const auto& t : ExpectedTensors(config_)) {
      tensors_.push_back({t.name, DType::kBF16, t.shape});
      inits_.push_back(SyntheticInitFor(t.name, t.shape));
      streams_.push_back(StreamId(t.name));
    }
    ContentHasher h;
    h.Update(std::string_view("synthetic"));
    h.Update(std::string_view(name));
    h.Update(seed);
    h.Update(config_);
    content_id_ = h.Hex();
  }

  const std::string& source() const override { return source_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string content_id() const override { return content_id_; }

  absl::Status ReadSlice(std::string_view name, int axis, int64_t begin, int64_t end,
                         std::span<float> out) const override {
    QSWEEP_ASSIGN_OR_RETURN(TensorSlice s,
                            ResolveSlice(*this, name, axis, begin, end, out.size()));
    Generate(s, [&](int64_t r, float* row) { return out.data() + r * s.out_cols(); },
             [](int64_t, const float*) {});
    return absl::OkStatus();
  }

  absl::Status ReadBlockBF16(std::string_view name, int64_t row_begin, int64_t row_end, int64_t col_begin,
                             int64_t col_end, std::span<uint16_t> out) const override {
    QSWEEP_ASSIGN_OR_RETURN(TensorSlice s,
                            ResolveBlockBF16(*this, name, row_begin, row_end, col_begin, col_end, out.size()));
    const int64_t oc = s.out_cols();
    Generate(s, [](int64_t, float* row) { return row; },
             [&](int64_t r, const float* row) {
               uint16_t* dst = out.data() + r * oc;
               for (int64_t c = 0; c < oc; ++c) dst[c] = FloatToBF16(row[c]);  // exact: already bf16
             });
    return absl::OkStatus();
  }

 private:
  // The slice's rows in parallel: `where(r, scratch)` says where row r's
  // values go (a thread's own row of scratch, or the output), `done(r,
  // values)` takes them once they are final.
  template <typename Where, typename Done>
  void Generate(const TensorSlice& s, Where where, Done done) const {
    const size_t k = static_cast<size_t>(s.info - tensors_.data());
    const SyntheticInit init = inits_[k];
    const uint64_t stream = streams_[k], seed = seed_;
    const int64_t rows = s.row_end - s.row_begin, oc = s.out_cols();
#pragma omp parallel if (s.numel() > (1 << 16))
    {
      std::vector<float> scratch(oc);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const uint64_t first = static_cast<uint64_t>((s.row_begin + r) * s.cols + s.col_begin);
        float* row = where(r, scratch.data());
        CounterNormals(seed, stream, first, oc, row);
        for (int64_t c = 0; c < oc; ++c) row[c] = SyntheticValueOf(init, row[c]);
        done(r, row);
      }
    }
  }

  std::string source_;
  uint64_t seed_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::vector<SyntheticInit> inits_;
  std::vector<uint64_t> streams_;
  std::string content_id_;
};

}  // namespace

std::vector<std::string> SyntheticModelNames() {
  std::vector<std::string> names;
  for (const auto& m : kModels) names.push_back(m.name);
  return names;
}

absl::StatusOr<ModelConfig> SyntheticModelConfig(std::string_view name) {
  for (const auto& m : kModels) {
    if (name != m.name) continue;
    ModelConfig c;
    c.architecture = m.architecture;
    c.vocab_size = m.vocab;
    c.hidden_size = m.hidden;
    c.intermediate_size = m.inter;
    c.num_layers = m.layers;
    c.num_heads = m.heads;
    c.num_kv_heads = m.kv_heads;
    c.head_dim = m.head_dim;
    c.max_position_embeddings = m.max_pos;
    c.rms_norm_eps = m.rms_eps;
    c.rope_theta = m.theta;
    c.rope_scaling = m.rope;
    c.tie_word_embeddings = m.tied;
    c.attention_bias = m.bias;
    c.dtype = DType::kBF16;
    return c;
  }
  return absl::NotFoundError(absl::StrFormat("unknown synthetic model '%s' (valid: %s)", name,
                                             absl::StrJoin(SyntheticModelNames(), ", ")));
}

SyntheticInit SyntheticInitFor(std::string_view name, const std::vector<int64_t>& shape) {
  if (name.ends_with("norm.weight")) return {1.0f, 0.1f};
  if (name.ends_with(".bias")) return {0.0f, 0.02f};
  if (name == EmbedName()) return {0.0f, 1.0f};
  // Linear weights and lm_head: [out, in], unit-variance outputs for
  // unit-variance inputs.
  const int64_t in = shape.size() == 2 ? shape[1] : 1;
  return {0.0f, static_cast<float>(1.0 / std::sqrt(static_cast<double>(in)))};
}

float SyntheticValueOf(SyntheticInit init, float normal) {
  // volatile: a fused multiply-add would round once instead of twice and
  // change the bits for norms (offset 1).
  const volatile float product = init.scale * normal;
  return RoundBF16(init.offset + product);
}

float SyntheticValue(uint64_t seed, uint64_t stream, SyntheticInit init, uint64_t index) {
  return SyntheticValueOf(init, CounterNormal(seed, stream, index));
}

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenSyntheticCheckpoint(const std::string& spec) {
  std::string_view rest(spec);
  if (!rest.starts_with("synthetic:"))
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: a synthetic model is named synthetic:NAME[@SEED]", spec));
  rest.remove_prefix(std::string_view("synthetic:").size());
  uint64_t seed = 0;
  std::string_view name = rest;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    name = rest.substr(0, at);
    const std::string seed_text(rest.substr(at + 1));
    if (!absl::SimpleAtoi(seed_text, &seed))
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: seed '%s' is not a non-negative integer", spec, seed_text));
  }
  auto config = SyntheticModelConfig(name);
  if (!config.ok())
    return absl::Status(config.status().code(),
                        absl::StrFormat("%s: %s", spec, config.status().message()));
  return std::unique_ptr<Checkpoint>(
      new SyntheticCheckpoint(spec, std::string(name), seed, *std::move(config)));
}

}  // namespace qsweep
