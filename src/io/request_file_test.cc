// Request files that are damaged or inconsistent are refused with one error
// naming the file, the group and the problem (the writer does not validate,
// so bad sets are written as they are and the reader must catch them).
#include "io/request_file.h"

#include <fstream>

#include <gtest/gtest.h>

#include "io/h5_edit_for_test.h"
#include "test_paths.h"

namespace qsweep {
namespace {

McSampleRequest Sample(int64_t id, int32_t label, std::vector<std::vector<int32_t>> continuations) {
  McSampleRequest s;
  s.sample_id = id;
  s.label = label;
  s.contexts = {{1, 7, 8, 9}};
  s.continuations = std::move(continuations);
  for (const auto& c : s.continuations) s.continuation_bytes.push_back(3 * static_cast<int64_t>(c.size()));
  return s;
}

RequestSet SmallSet() {
  RequestSet rs;
  rs.tokenizer = "tok";
  McTaskRequests t;
  t.name = "arc";
  t.samples = {Sample(0, 1, {{4}, {5, 6}}), Sample(1, 2, {{4}, {5}, {6, 6, 6}})};
  rs.tasks.push_back(t);
  PplCorpusRequests c;
  c.name = "wiki";
  c.tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  c.window = 4;
  c.stride = 2;
  rs.corpora.push_back(c);
  return rs;
}

// Writes `rs` and reads it back, expecting an error containing `needle`.
void ExpectReadError(const std::filesystem::path& path, const std::string& needle) {
  auto back = ReadRequestFile(path.string());
  ASSERT_FALSE(back.ok()) << "read " << path << " without error";
  const std::string msg(back.status().message());
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
}

TEST(RequestFile, SmallSetRoundTripsExactly) {
  const auto dir = testing::ScratchDir("request_small");
  const RequestSet rs = SmallSet();
  ASSERT_TRUE(WriteRequestFile((dir / "r.h5").string(), rs).ok());
  auto back = ReadRequestFile((dir / "r.h5").string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tokenizer, "tok");
  ASSERT_EQ(back->tasks.size(), 1u);
  EXPECT_EQ(back->tasks[0].samples[1].continuations, (std::vector<std::vector<int32_t>>{{4}, {5}, {6, 6, 6}}));
  EXPECT_EQ(back->tasks[0].samples[1].continuation_bytes, (std::vector<int64_t>{3, 3, 9}));
  EXPECT_EQ(back->tasks[0].samples[1].label, 2);
  EXPECT_EQ(back->corpora[0].tokens, rs.corpora[0].tokens);
  EXPECT_EQ(back->corpora[0].window, 4);
  EXPECT_EQ(back->corpora[0].stride, 2);
  EXPECT_EQ(back->ContentId(), rs.ContentId());
}

TEST(RequestFile, LabelOutOfRange) {
  const auto dir = testing::ScratchDir("request_label");
  RequestSet rs = SmallSet();
  rs.tasks[0].samples[1].label = 3;
  ASSERT_TRUE(WriteRequestFile((dir / "r.h5").string(), rs).ok());
  ExpectReadError(dir / "r.h5", "/tasks/arc: sample 1: label 3 outside [0, 3)");
  rs.tasks[0].samples[1].label = -1;
  ASSERT_TRUE(WriteRequestFile((dir / "r.h5").string(), rs).ok());
  ExpectReadError(dir / "r.h5", "label -1 outside [0, 3)");
}

TEST(RequestFile, EmptyContinuationAndNoChoices) {
  const auto dir = testing::ScratchDir("request_empty");
  RequestSet rs = SmallSet();
  rs.tasks[0].samples[0].continuations[1].clear();
  ASSERT_TRUE(WriteRequestFile((dir / "a.h5").string(), rs).ok());
  ExpectReadError(dir / "a.h5", "/tasks/arc: sample 0 has an empty continuation");
  rs = SmallSet();
  rs.tasks[0].samples[1].continuations.clear();
  rs.tasks[0].samples[1].continuation_bytes.clear();
  ASSERT_TRUE(WriteRequestFile((dir / "b.h5").string(), rs).ok());
  ExpectReadError(dir / "b.h5", "/tasks/arc: sample 1 has no choices");
}

TEST(RequestFile, BrokenOffsetsAreCorrupt) {
  const auto dir = testing::ScratchDir("request_offsets");
  const auto p = dir / "r.h5";
  // Non-monotone, out of range, and a wrong count of samples' offsets.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> edits = {
      {"/tasks/arc/continuation_offsets", {0, 1, 3, 2, 5, 8}},
      {"/tasks/arc/continuation_offsets", {0, 1, 3, 4, 5, 99}},
      {"/tasks/arc/sample_choices", {0, 2}},
      {"/tasks/arc/sample_contexts", {0, 1, 0}},
  };
  for (const auto& [name, values] : edits) {
    ASSERT_TRUE(WriteRequestFile(p.string(), SmallSet()).ok());
    {
      testing::H5Editor e(p.string());
      ASSERT_TRUE(e.ok());
      ASSERT_TRUE(e.Replace(name, values)) << name;
    }
    ExpectReadError(p, "/tasks/arc: inconsistent offsets or lengths");
  }
}

TEST(RequestFile, ChangedTokenFailsTheContentId) {
  const auto dir = testing::ScratchDir("request_content");
  const auto p = dir / "r.h5";
  ASSERT_TRUE(WriteRequestFile(p.string(), SmallSet()).ok());
  {
    testing::H5Editor e(p.string());
    ASSERT_TRUE(e.Replace("/corpora/wiki/tokens", std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 9}));
  }
  ExpectReadError(p, "do not match the stored content id");
}

TEST(RequestFile, BadWindow) {
  const auto dir = testing::ScratchDir("request_window");
  RequestSet rs = SmallSet();
  rs.corpora[0].stride = 4;  // stride must be < window
  ASSERT_TRUE(WriteRequestFile((dir / "r.h5").string(), rs).ok());
  ExpectReadError(dir / "r.h5", "/corpora/wiki: fewer than 2 tokens, or a bad window/stride");
}

TEST(RequestFile, IncompleteOtherVersionOrForeignFile) {
  const auto dir = testing::ScratchDir("request_flags");
  const auto p = dir / "r.h5";
  ASSERT_TRUE(WriteRequestFile(p.string(), SmallSet()).ok());
  {
    testing::H5Editor e(p.string());
    ASSERT_TRUE(e.SetIntAttr("/", "schema_version", 2));
  }
  ExpectReadError(p, "request schema version 2, expected 1");
  {
    testing::H5Editor e(p.string());
    ASSERT_TRUE(e.DeleteAttr("/", "complete"));
  }
  ExpectReadError(p, "incomplete request file");
  {
    testing::H5Editor e(p.string());
    ASSERT_TRUE(e.SetIntAttr("/", "kind", 7));  // not even a string
  }
  ExpectReadError(p, "not a qsweep request file");
  // A truncated HDF5 file: an error, never a crash or HDF5's stack on stderr.
  ASSERT_TRUE(WriteRequestFile(p.string(), SmallSet()).ok());
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  auto cut = ReadRequestFile(p.string());
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(std::string(cut.status().message()).find(p.string()), std::string::npos) << cut.status();
}

}  // namespace
}  // namespace qsweep
