#include "io/request_file.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "core/output_file.h"
#include "io/h5_file.h"

namespace qsweep {
namespace {

constexpr int64_t kRequestSchemaVersion = 1;

// Ragged lists as flat values + offsets.
struct Ragged {
  std::vector<int64_t> offsets = {0};
  std::vector<int32_t> values;
  void Add(const std::vector<int32_t>& v) {
    values.insert(values.end(), v.begin(), v.end());
    offsets.push_back(static_cast<int64_t>(values.size()));
  }
};

}  // namespace

absl::Status WriteRequestFile(const std::string& path, const RequestSet& rs) {
  QSWEEP_RETURN_IF_ERROR(CreateParentFolder(path));
  QSWEEP_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Begin(path, {}));
  {
    QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Create(out.tmp()));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "kind", std::string("qsweep requests")));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "schema_version", kRequestSchemaVersion));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "content_id", rs.ContentId()));
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "tokenizer", rs.tokenizer));
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/tasks"));
    for (const McTaskRequests& t : rs.tasks) {
      const std::string g = "/tasks/" + t.name;
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      std::vector<int64_t> sample_id, context_begin = {0}, choice_begin = {0}, bytes;
      std::vector<int32_t> label;
      Ragged contexts, continuations;
      for (const McSampleRequest& s : t.samples) {
        sample_id.push_back(s.sample_id);
        label.push_back(s.label);
        for (const auto& c : s.contexts) contexts.Add(c);
        context_begin.push_back(static_cast<int64_t>(contexts.offsets.size()) - 1);
        for (const auto& c : s.continuations) continuations.Add(c);
        choice_begin.push_back(static_cast<int64_t>(continuations.offsets.size()) - 1);
        bytes.insert(bytes.end(), s.continuation_bytes.begin(), s.continuation_bytes.end());
      }
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/sample_id", sample_id));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/label", label));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/sample_contexts", context_begin));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/sample_choices", choice_begin));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/context_offsets", contexts.offsets));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/context_tokens", contexts.values));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/continuation_offsets", continuations.offsets));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/continuation_tokens", continuations.values));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/continuation_bytes", bytes));
    }
    QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/corpora"));
    for (const PplCorpusRequests& c : rs.corpora) {
      const std::string g = "/corpora/" + c.name;
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
      QSWEEP_RETURN_IF_ERROR(f.Write(g + "/tokens", c.tokens));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "window", c.window));
      QSWEEP_RETURN_IF_ERROR(f.SetAttr(g, "stride", c.stride));
    }
    if (!rs.gen_tasks.empty()) {
      QSWEEP_RETURN_IF_ERROR(f.CreateGroup("/generate"));
      for (const GenTaskRequests& t : rs.gen_tasks) {
        const std::string g = "/generate/" + t.name;
        QSWEEP_RETURN_IF_ERROR(f.CreateGroup(g));
        Ragged prompts;
        for (const GenSampleRequest& s : t.samples) prompts.Add(s.prompt);
        QSWEEP_RETURN_IF_ERROR(f.Write(g + "/prompt_offsets", prompts.offsets));
        QSWEEP_RETURN_IF_ERROR(f.Write(g + "/prompt_tokens", prompts.values));
        QSWEEP_RETURN_IF_ERROR(f.Write(g + "/samples", EncodeGenSamples(t)));
      }
    }
    QSWEEP_RETURN_IF_ERROR(f.SetAttr("/", "complete", int64_t{1}));
    QSWEEP_RETURN_IF_ERROR(f.Close());
  }
  return out.Commit();
}

namespace {

absl::Status Bad(const std::string& path, const std::string& g, const std::string& what) {
  return absl::DataLossError(absl::StrFormat("%s: %s: %s", path, g, what));
}

bool Monotone(const std::vector<int64_t>& o, int64_t end) {
  if (o.empty() || o[0] != 0 || o.back() != end) return false;
  for (size_t i = 1; i < o.size(); ++i)
    if (o[i] < o[i - 1]) return false;
  return true;
}

}  // namespace

absl::StatusOr<RequestSet> ReadRequestFile(const std::string& path) {
  QSWEEP_ASSIGN_OR_RETURN(h5::File f, h5::File::Open(path));
  if (!f.HasAttr("/", "kind") || f.GetStringAttr("/", "kind").value_or("") != "qsweep requests")
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a qsweep request file (run qsweep prepare)", path));
  if (!f.HasAttr("/", "complete"))
    return absl::FailedPreconditionError(absl::StrFormat("%s: incomplete request file", path));
  QSWEEP_ASSIGN_OR_RETURN(int64_t version, f.GetIntAttr("/", "schema_version"));
  if (version != kRequestSchemaVersion)
    return absl::FailedPreconditionError(absl::StrFormat("%s: request schema version %d, expected %d", path,
                                                         version, kRequestSchemaVersion));
  RequestSet rs;
  QSWEEP_ASSIGN_OR_RETURN(rs.tokenizer, f.GetStringAttr("/", "tokenizer"));
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> tasks, f.Children("/tasks"));
  for (const std::string& name : tasks) {
    const std::string g = "/tasks/" + name;
    QSWEEP_ASSIGN_OR_RETURN(auto sample_id, f.Read<int64_t>(g + "/sample_id"));
    QSWEEP_ASSIGN_OR_RETURN(auto label, f.Read<int32_t>(g + "/label"));
    QSWEEP_ASSIGN_OR_RETURN(auto sample_contexts, f.Read<int64_t>(g + "/sample_contexts"));
    QSWEEP_ASSIGN_OR_RETURN(auto sample_choices, f.Read<int64_t>(g + "/sample_choices"));
    QSWEEP_ASSIGN_OR_RETURN(auto context_offsets, f.Read<int64_t>(g + "/context_offsets"));
    QSWEEP_ASSIGN_OR_RETURN(auto context_tokens, f.Read<int32_t>(g + "/context_tokens"));
    QSWEEP_ASSIGN_OR_RETURN(auto cont_offsets, f.Read<int64_t>(g + "/continuation_offsets"));
    QSWEEP_ASSIGN_OR_RETURN(auto cont_tokens, f.Read<int32_t>(g + "/continuation_tokens"));
    QSWEEP_ASSIGN_OR_RETURN(auto bytes, f.Read<int64_t>(g + "/continuation_bytes"));
    const int64_t n = static_cast<int64_t>(sample_id.size());
    if (static_cast<int64_t>(label.size()) != n || !Monotone(sample_contexts, static_cast<int64_t>(context_offsets.size()) - 1) ||
        !Monotone(sample_choices, static_cast<int64_t>(cont_offsets.size()) - 1) ||
        static_cast<int64_t>(sample_contexts.size()) != n + 1 || static_cast<int64_t>(sample_choices.size()) != n + 1 ||
        !Monotone(context_offsets, static_cast<int64_t>(context_tokens.size())) ||
        !Monotone(cont_offsets, static_cast<int64_t>(cont_tokens.size())) ||
        bytes.size() + 1 != cont_offsets.size())
      return Bad(path, g, "inconsistent offsets or lengths (corrupt file)");
    McTaskRequests t;
    t.name = name;
    for (int64_t i = 0; i < n; ++i) {
      McSampleRequest s;
      s.sample_id = sample_id[i];
      s.label = label[i];
      for (int64_t c = sample_contexts[i]; c < sample_contexts[i + 1]; ++c)
        s.contexts.emplace_back(context_tokens.begin() + context_offsets[c], context_tokens.begin() + context_offsets[c + 1]);
      for (int64_t c = sample_choices[i]; c < sample_choices[i + 1]; ++c) {
        s.continuations.emplace_back(cont_tokens.begin() + cont_offsets[c], cont_tokens.begin() + cont_offsets[c + 1]);
        s.continuation_bytes.push_back(bytes[c]);
        if (s.continuations.back().empty())
          return Bad(path, g, absl::StrFormat("sample %d has an empty continuation", i));
      }
      if (s.continuations.empty()) return Bad(path, g, absl::StrFormat("sample %d has no choices", i));
      if (s.label < 0 || s.label >= s.choices())
        return Bad(path, g, absl::StrFormat("sample %d: label %d outside [0, %d)", i, s.label, s.choices()));
      if (s.contexts.size() != 1 && static_cast<int64_t>(s.contexts.size()) != s.choices())
        return Bad(path, g, absl::StrFormat("sample %d: %d contexts for %d choices", i, s.contexts.size(), s.choices()));
      t.samples.push_back(std::move(s));
    }
    rs.tasks.push_back(std::move(t));
  }
  QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> corpora, f.Children("/corpora"));
  for (const std::string& name : corpora) {
    const std::string g = "/corpora/" + name;
    PplCorpusRequests c;
    c.name = name;
    QSWEEP_ASSIGN_OR_RETURN(c.tokens, f.Read<int32_t>(g + "/tokens"));
    QSWEEP_ASSIGN_OR_RETURN(c.window, f.GetIntAttr(g, "window"));
    QSWEEP_ASSIGN_OR_RETURN(c.stride, f.GetIntAttr(g, "stride"));
    if (c.tokens.size() < 2 || c.window < 2 || c.stride < 1 || c.stride >= c.window)
      return Bad(path, g, "fewer than 2 tokens, or a bad window/stride");
    rs.corpora.push_back(std::move(c));
  }
  // Generative tasks (absent in files of before them).
  if (f.Exists("/generate")) {
    QSWEEP_ASSIGN_OR_RETURN(std::vector<std::string> gens, f.Children("/generate"));
    for (const std::string& name : gens) {
      const std::string g = "/generate/" + name;
      QSWEEP_ASSIGN_OR_RETURN(auto offsets, f.Read<int64_t>(g + "/prompt_offsets"));
      QSWEEP_ASSIGN_OR_RETURN(auto tokens, f.Read<int32_t>(g + "/prompt_tokens"));
      QSWEEP_ASSIGN_OR_RETURN(auto samples, f.Read<uint8_t>(g + "/samples"));
      if (offsets.size() < 2 || !Monotone(offsets, static_cast<int64_t>(tokens.size())))
        return Bad(path, g, "inconsistent prompt offsets (corrupt file)");
      GenTaskRequests t;
      t.name = name;
      t.samples.resize(offsets.size() - 1);
      for (size_t i = 0; i + 1 < offsets.size(); ++i)
        t.samples[i].prompt.assign(tokens.begin() + offsets[i], tokens.begin() + offsets[i + 1]);
      if (absl::Status s = DecodeGenSamples(samples, t); !s.ok()) return Bad(path, g, std::string(s.message()));
      rs.gen_tasks.push_back(std::move(t));
    }
  }
  QSWEEP_ASSIGN_OR_RETURN(std::string stored, f.GetStringAttr("/", "content_id"));
  if (stored != rs.ContentId())
    return absl::DataLossError(absl::StrFormat("%s: contents do not match the stored content id %s (corrupt file)", path, stored));
  return rs;
}

}  // namespace qsweep
