#include "model/safetensors_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/dtype.h"
#include "model/checkpoint.h"
#include "test_paths.h"

namespace qsweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A tensor to write: values are given in fp32 and stored as `dtype`.
struct TestTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

std::string Encode(DType t, const std::vector<float>& v) {
  std::string out;
  for (float f : v) {
    if (DTypeBytes(t) == 4) {  // F32, or I32 written with f32 bits for a dtype test
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else {
      const uint16_t h = t == DType::kBF16 ? FloatToBF16(f) : FloatToF16(f);
      out.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return out;
}

// The header a well-formed writer would produce, tensors laid out in order.
json MakeHeader(const std::vector<TestTensor>& tensors, std::string* data) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  for (const auto& t : tensors) {
    const std::string bytes = Encode(t.dtype, t.values);
    header[t.name] = {{"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {data->size(), data->size() + bytes.size()}}};
    *data += bytes;
  }
  return header;
}

void WriteRaw(const fs::path& path, const std::string& header_text, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header_text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header_text << data;
}

void WriteSafetensors(const fs::path& path, const std::vector<TestTensor>& tensors) {
  std::string data;
  const json header = MakeHeader(tensors, &data);
  WriteRaw(path, header.dump(), data);
}

// vocab 16, hidden 8, intermediate 12, 2 layers, 2 heads of 4, 1 kv head.
json TinyConfig() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"vocab_size", 16},
          {"hidden_size", 8},
          {"intermediate_size", 12},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"num_key_value_heads", 1},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"tie_word_embeddings", false},
          {"torch_dtype", "bfloat16"}};
}

std::vector<TestTensor> TinyTensors(DType dtype, uint32_t seed = 1) {
  ModelConfig c;
  c.vocab_size = 16;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_layers = 2;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<TestTensor> out;
  for (const auto& e : ExpectedTensors(c)) {
    TestTensor t{e.name, dtype, e.shape, {}};
    int64_t n = 1;
    for (int64_t s : e.shape) n *= s;
    for (int64_t i = 0; i < n; ++i) t.values.push_back(normal(rng));
    out.push_back(std::move(t));
  }
  return out;
}

fs::path WriteModelDir(const std::string& name, const std::vector<TestTensor>& tensors,
                       const json& config = TinyConfig()) {
  const fs::path dir = testing::ScratchDir(name);
  std::ofstream(dir / "config.json") << config.dump();
  WriteSafetensors(dir / "model.safetensors", tensors);
  return dir;
}

float Rounded(DType t, float v) {
  return t == DType::kF32 ? v : t == DType::kBF16 ? RoundBF16(v) : RoundF16(v);
}

absl::Status OpenError(const fs::path& p) {
  auto ck = OpenSafetensorsCheckpoint(p.string());
  return ck.ok() ? absl::OkStatus() : ck.status();
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, EveryTensorReadsBackExactly) {
  const DType dtype = GetParam();
  const auto tensors = TinyTensors(dtype);
  const fs::path dir = WriteModelDir(absl::StrFormat("st_roundtrip_%s", DTypeName(dtype)), tensors);
  auto ck = OpenSafetensorsCheckpoint(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ((*ck)->config().dtype, dtype);  // the files' type, not torch_dtype's
  ASSERT_EQ((*ck)->tensors().size(), tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    const auto& t = tensors[k];
    EXPECT_EQ((*ck)->tensors()[k].name, t.name);
    EXPECT_EQ((*ck)->tensors()[k].dtype, dtype);
    auto got = (*ck)->ReadAll(t.name);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<float> want;
    for (float v : t.values) want.push_back(Rounded(dtype, v));
    EXPECT_THAT(*got, ElementsAreArray(want)) << t.name;
  }
  EXPECT_EQ((*ck)->TotalBytes(), (*ck)->config().ParameterCount() * DTypeBytes(dtype));
}

INSTANTIATE_TEST_SUITE_P(DTypes, RoundTrip,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16));

// Row slices and column slices equal the same block of the full tensor.
TEST(Safetensors, SlicesEqualBlocksOfTheFullTensor) {
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    const fs::path dir = WriteModelDir("st_slices", TinyTensors(dtype));
    auto ck = OpenSafetensorsCheckpoint(dir.string());
    ASSERT_TRUE(ck.ok()) << ck.status();
    for (const char* name : {"model.layers.1.mlp.down_proj.weight",
                             "model.layers.0.self_attn.q_proj.weight", "lm_head.weight"}) {
      const TensorInfo* info = (*ck)->Find(name);
      ASSERT_NE(info, nullptr);
      const int64_t rows = info->shape[0], cols = info->shape[1];
      auto full = (*ck)->ReadAll(name);
      ASSERT_TRUE(full.ok());
      for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 1}, {2, 5}, {1, 3}}) {
        std::vector<float> rs((e - b) * cols);
        ASSERT_TRUE((*ck)->ReadSlice(name, 0, b, e, rs).ok());
        for (int64_t r = b; r < e; ++r)
          for (int64_t c = 0; c < cols; ++c)
            ASSERT_EQ(rs[(r - b) * cols + c], (*full)[r * cols + c]) << name;
        std::vector<float> cs(rows * (e - b));
        ASSERT_TRUE((*ck)->ReadSlice(name, 1, b, e, cs).ok());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = b; c < e; ++c)
            ASSERT_EQ(cs[r * (e - b) + (c - b)], (*full)[r * cols + c]) << name;
      }
    }
    std::vector<float> norm(3);
    ASSERT_TRUE((*ck)->ReadSlice("model.norm.weight", 0, 4, 7, norm).ok());
    auto full = (*ck)->ReadAll("model.norm.weight");
    EXPECT_EQ(norm, std::vector<float>(full->begin() + 4, full->begin() + 7));
  }
}

TEST(Safetensors, BadSliceRequestsNameTheTensor) {
  const fs::path dir = WriteModelDir("st_bad_slices", TinyTensors(DType::kF32));
  auto ck = OpenSafetensorsCheckpoint(dir.string());
  ASSERT_TRUE(ck.ok());
  std::vector<float> buf(100);
  auto st = (*ck)->ReadSlice("model.norm.weight", 1, 0, 2, std::span(buf).first(2));
  EXPECT_THAT(st.message(), HasSubstr("'model.norm.weight': cannot slice a 1-D tensor along axis 1"));
  st = (*ck)->ReadSlice("lm_head.weight", 0, 10, 17, std::span(buf).first(7 * 8));
  EXPECT_THAT(st.message(), HasSubstr("slice [10, 17) of axis 0 is outside [0, 16)"));
  st = (*ck)->ReadSlice("lm_head.weight", 0, 0, 2, std::span(buf).first(15));
  EXPECT_THAT(st.message(), HasSubstr("output holds 15 floats but the slice has 16"));
  st = (*ck)->ReadSlice("nope.weight", 0, 0, 1, std::span(buf).first(1));
  EXPECT_THAT(st.message(), HasSubstr("no tensor 'nope.weight'"));
}

TEST(Safetensors, SingleFilePathAndIgnoredExtras) {
  auto tensors = TinyTensors(DType::kBF16);
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", DType::kF32, {2}, {1, 2}});
  tensors.push_back({"some.extra.tensor", DType::kF32, {1}, {3}});
  const fs::path dir = WriteModelDir("st_single_file", tensors);
  auto ck = OpenSafetensorsCheckpoint((dir / "model.safetensors").string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ((*ck)->ignored_tensors(), std::vector<std::string>{"some.extra.tensor"});
  EXPECT_EQ((*ck)->tensors().size(), 21u);
  EXPECT_EQ((*ck)->Find("some.extra.tensor"), nullptr);
}

TEST(Safetensors, ShardedIndex) {
  const auto tensors = TinyTensors(DType::kBF16);
  const fs::path dir = testing::ScratchDir("st_sharded");
  std::ofstream(dir / "config.json") << TinyConfig().dump();
  std::vector<TestTensor> a(tensors.begin(), tensors.begin() + 9), b(tensors.begin() + 9, tensors.end());
  WriteSafetensors(dir / "model-00001-of-00002.safetensors", a);
  WriteSafetensors(dir / "model-00002-of-00002.safetensors", b);
  json index = {{"metadata", {{"total_size", 1}}}, {"weight_map", json::object()}};
  for (const auto& t : a) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : b) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();

  auto ck = OpenSafetensorsCheckpoint(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  for (const auto& t : tensors) {
    auto got = (*ck)->ReadAll(t.name);
    ASSERT_TRUE(got.ok());
    for (size_t i = 0; i < t.values.size(); ++i) ASSERT_EQ((*got)[i], RoundBF16(t.values[i]));
  }
  const std::string id = (*ck)->content_id();
  EXPECT_EQ(id.size(), 16u);
  auto again = OpenSafetensorsCheckpoint(dir.string());
  EXPECT_EQ((*again)->content_id(), id);

  // An index that points a tensor at the wrong shard.
  index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  auto st = OpenError(dir);
  EXPECT_THAT(st.message(), HasSubstr("model-00001-of-00002.safetensors: tensor 'lm_head.weight' "
                                      "listed in"));
  // A tensor missing from the index altogether.
  index["weight_map"].erase("lm_head.weight");
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  st = OpenError(dir);
  EXPECT_THAT(st.message(), HasSubstr("model.safetensors.index.json: tensor 'lm_head.weight' is "
                                      "missing (the config implies shape [16, 8])"));
  // A shard name that leaves the directory.
  index["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  EXPECT_THAT(OpenError(dir).message(), HasSubstr("not a file beside the index"));
}

TEST(Safetensors, ContentIdFollowsTheHeaders) {
  auto id_of = [](const std::string& name, DType dtype) {
    auto ck = OpenSafetensorsCheckpoint(WriteModelDir(name, TinyTensors(dtype)).string());
    return (*ck)->content_id();
  };
  EXPECT_EQ(id_of("st_id_a", DType::kBF16), id_of("st_id_b", DType::kBF16));
  EXPECT_NE(id_of("st_id_a", DType::kBF16), id_of("st_id_c", DType::kF32));
  // The same header over other weights (a fine-tune of one shape): another id.
  std::vector<TestTensor> other = TinyTensors(DType::kBF16);
  other[3].values[5] += 1.0f;
  auto ck = OpenSafetensorsCheckpoint(WriteModelDir("st_id_d", other).string());
  ASSERT_TRUE(ck.ok());
  EXPECT_NE((*ck)->content_id(), id_of("st_id_a", DType::kBF16));
}

// --- corruption: each gives one message naming the file and the tensor ---

TEST(SafetensorsCorrupt, TruncatedFile) {
  const fs::path dir = WriteModelDir("st_truncated", TinyTensors(DType::kF32));
  const fs::path file = dir / "model.safetensors";
  fs::resize_file(file, fs::file_size(file) - 10);
  auto st = OpenError(dir);
  EXPECT_THAT(st.message(), HasSubstr(file.string() + ": truncated: tensor 'lm_head.weight' has "
                                                      "data_offsets"));
  fs::resize_file(file, 5);
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr(file.string() + ": truncated: 5 bytes, too short"));
}

TEST(SafetensorsCorrupt, HeaderLengthBeyondFile) {
  const fs::path dir = WriteModelDir("st_header_len", TinyTensors(DType::kF32));
  const fs::path file = dir / "model.safetensors";
  const uint64_t size = fs::file_size(file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t n = size;  // more than the size - 8 bytes there are
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr(absl::StrFormat("%s: truncated: header says %d bytes but file has %d",
                                        file.string(), size, size)));
}

TEST(SafetensorsCorrupt, BadJson) {
  const fs::path dir = WriteModelDir("st_bad_json", TinyTensors(DType::kF32));
  WriteRaw(dir / "model.safetensors", "{\"lm_head.weight\": {\"dtype\": ", "");
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr((dir / "model.safetensors").string() + ": header is not valid JSON"));
  WriteRaw(dir / "model.safetensors", "[1, 2]", "");
  EXPECT_THAT(OpenError(dir).message(), HasSubstr("header is not a JSON object"));
}

// Rewrites the header of a valid tiny model with `edit` and returns the error.
std::string ErrorAfterHeaderEdit(const std::string& name, const std::function<void(json&)>& edit) {
  const fs::path dir = WriteModelDir(name, TinyTensors(DType::kF32));
  std::string data;
  json header = MakeHeader(TinyTensors(DType::kF32), &data);
  edit(header);
  WriteRaw(dir / "model.safetensors", header.dump(), data);
  return std::string(OpenError(dir).message());
}

TEST(SafetensorsCorrupt, OffsetsOutOfRange) {
  const std::string msg = ErrorAfterHeaderEdit("st_offsets", [](json& h) {
    h["model.layers.1.mlp.up_proj.weight"]["data_offsets"] = {100000, 100384};
  });
  EXPECT_THAT(msg, HasSubstr("model.safetensors: truncated: tensor "
                             "'model.layers.1.mlp.up_proj.weight' has data_offsets [100000, "
                             "100384] but the data region holds only"));
  EXPECT_THAT(ErrorAfterHeaderEdit("st_offsets_back", [](json& h) {
                h["model.norm.weight"]["data_offsets"] = {40, 8};
              }),
              HasSubstr("tensor 'model.norm.weight': data_offsets [40, 8] run backwards"));
  EXPECT_THAT(ErrorAfterHeaderEdit("st_offsets_neg", [](json& h) {
                h["model.norm.weight"]["data_offsets"] = {-8, 24};
              }),
              HasSubstr("tensor 'model.norm.weight': 'data_offsets' must be two non-negative"));
}

TEST(SafetensorsCorrupt, DTypeOrShapeInconsistentWithOffsets) {
  EXPECT_THAT(ErrorAfterHeaderEdit("st_dtype_bytes",
                                   [](json& h) { h["model.norm.weight"]["dtype"] = "BF16"; }),
              HasSubstr("model.safetensors: tensor 'model.norm.weight' has dtype BF16 and shape "
                        "[8] (16 bytes) but its data_offsets"));
  EXPECT_THAT(ErrorAfterHeaderEdit("st_shape_bytes",
                                   [](json& h) { h["lm_head.weight"]["shape"] = {16, 9}; }),
              HasSubstr("tensor 'lm_head.weight' has dtype F32 and shape [16, 9] (576 bytes) "
                        "but its data_offsets"));
}

TEST(SafetensorsCorrupt, Overlap) {
  EXPECT_THAT(ErrorAfterHeaderEdit("st_overlap",
                                   [](json& h) {
                                     auto off = h["model.layers.0.input_layernorm.weight"]
                                                    ["data_offsets"];
                                     h["model.norm.weight"]["data_offsets"] = off;
                                   }),
              HasSubstr("overlap in the data region"));
}

// The tensors must tile the data region: a header length one byte short
// (the data then starts a byte early) or bytes after the last tensor are
// corruption, not a model of garbage values.
TEST(SafetensorsCorrupt, TensorsMustTileTheDataRegion) {
  std::string data;
  const json header = MakeHeader(TinyTensors(DType::kF32), &data);
  std::string text = header.dump();
  text += " ";  // one byte of padding the length includes, as writers may add
  {
    const fs::path dir = WriteModelDir("st_tile_short", TinyTensors(DType::kF32));
    std::ofstream out(dir / "model.safetensors", std::ios::binary);
    const uint64_t n = text.size() - 1;  // one byte short
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << text << data;
    out.close();
    EXPECT_THAT(std::string(OpenError(dir).message()), HasSubstr("bytes of a"));
  }
  {
    const fs::path dir = WriteModelDir("st_tile_tail", TinyTensors(DType::kF32));
    WriteRaw(dir / "model.safetensors", header.dump(), data + "tail");
    EXPECT_THAT(std::string(OpenError(dir).message()),
                HasSubstr(absl::StrFormat("the tensors cover %d bytes of a %d-byte data region", data.size(),
                                          data.size() + 4)));
  }
}

TEST(SafetensorsCorrupt, MissingTensor) {
  auto tensors = TinyTensors(DType::kF32);
  std::erase_if(tensors, [](const TestTensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  const fs::path dir = WriteModelDir("st_missing", tensors);
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr((dir / "model.safetensors").string() +
                        ": tensor 'model.layers.1.mlp.up_proj.weight' is missing (the config "
                        "implies shape [12, 8])"));
}

TEST(SafetensorsCorrupt, ShapeDiffersFromConfig) {
  auto tensors = TinyTensors(DType::kF32);
  for (auto& t : tensors)
    if (t.name == "model.layers.1.mlp.up_proj.weight") t.shape = {8, 12};
  const fs::path dir = WriteModelDir("st_shape", tensors);
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr((dir / "model.safetensors").string() +
                        ": tensor 'model.layers.1.mlp.up_proj.weight' has shape [8, 12] but the "
                        "config implies [12, 8]"));
}

TEST(SafetensorsCorrupt, UnreadableDTypeAndMissingFiles) {
  auto tensors = TinyTensors(DType::kF32);
  for (auto& t : tensors)
    if (t.name == "model.norm.weight") t.dtype = DType::kI32;  // 4 bytes, written as f32
  const fs::path dir = WriteModelDir("st_int_dtype", tensors);
  EXPECT_THAT(OpenError(dir).message(),
              HasSubstr("tensor 'model.norm.weight' has dtype I32; only F32, F16 and BF16"));

  fs::remove(dir / "config.json");
  EXPECT_THAT(OpenError(dir).message(), HasSubstr("missing config.json"));
  const fs::path empty = testing::ScratchDir("st_empty_dir");
  EXPECT_THAT(OpenError(empty).message(),
              HasSubstr("no model.safetensors or model.safetensors.index.json"));
}

// Files written by transformers 5 (save_pretrained, rope_parameters style).
TEST(Safetensors, TransformersWrittenFixtures) {
  auto l = OpenSafetensorsCheckpoint(testing::RepoTestData("models/llama3_features").string());
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ((*l)->config().rope_scaling.type, RopeType::kLlama3);
  EXPECT_EQ((*l)->config().head_dim, 32);  // explicit, != 64 / 4
  EXPECT_EQ((*l)->config().dtype, DType::kBF16);
  EXPECT_TRUE((*l)->ignored_tensors().empty());
  auto q = OpenSafetensorsCheckpoint(testing::RepoTestData("models/qwen2_features").string());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE((*q)->config().attention_bias);
  EXPECT_TRUE((*q)->config().tie_word_embeddings);
  EXPECT_DOUBLE_EQ((*q)->config().rope_theta, 1e6);
  auto bias = (*q)->ReadAll("model.layers.1.self_attn.k_proj.bias");
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(bias->size(), 32u);
}

TEST(Safetensors, OpenCheckpointDispatches) {
  const fs::path dir = WriteModelDir("st_dispatch", TinyTensors(DType::kBF16));
  auto a = OpenCheckpoint(dir.string());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = OpenCheckpoint((dir / "model.safetensors").string());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->content_id(), (*b)->content_id());
  auto c = OpenCheckpoint((dir / "nope").string());
  EXPECT_THAT(c.status().message(), HasSubstr("no such file or directory"));
  std::ofstream(dir / "weights.pt") << "x";
  auto d = OpenCheckpoint((dir / "weights.pt").string());
  EXPECT_THAT(d.status().message(), HasSubstr("unknown checkpoint format"));
  std::ofstream(dir / "pytorch_model.bin") << "PK\x03\x04";
  auto e = OpenCheckpoint((dir / "pytorch_model.bin").string());
  EXPECT_THAT(e.status().message(), HasSubstr("a PyTorch pickle checkpoint, which is not supported"));
}

}  // namespace
}  // namespace qsweep
