// Calibration data for tests on the embedded tiny model: windows of its
// calibration text (decoder_calibration_test.cc, and the GPU's twin).
#pragma once
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/calibration.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace qsweep {

// Consecutive windows of `length` tokens of a file, BOS first.
inline std::vector<std::vector<int32_t>> Windows(const std::string& file, int64_t count, int64_t length) {
  auto tok = LoadTokenizer(testing::RepoTestData("tiny/model/tokenizer.json").string());
  EXPECT_TRUE(tok.ok()) << tok.status();
  std::ifstream in(testing::RepoTestData(file));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<int32_t> ids = {(*tok)->bos_id()};
  const std::vector<int32_t> body = (*tok)->Encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < count && (i + 1) * length <= static_cast<int64_t>(ids.size()); ++i)
    out.emplace_back(ids.begin() + i * length, ids.begin() + (i + 1) * length);
  EXPECT_EQ(static_cast<int64_t>(out.size()), count) << file;
  return out;
}

inline CalibrationSet TinyCalibration(int64_t sequences = 32, int64_t length = 128) {
  CalibrationSet set;
  set.sequences = Windows("tiny/calibration.txt", sequences, length);
  set.source = "tiny/calibration.txt";
  set.id = "test";
  return set;
}

}  // namespace qsweep
