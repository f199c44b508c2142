#include "eval/calibration_data.h"

#include <random>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "eval/tasks/task.h"
#include "model/content_hash.h"

namespace qsweep {

std::string CalibrationId(const std::vector<std::vector<int32_t>>& sequences) {
  ContentHasher h;
  h.Update(std::string_view("qsweep calibration tokens v1"));
  h.Update(static_cast<uint64_t>(sequences.size()));
  for (const std::vector<int32_t>& s : sequences) {
    h.Update(static_cast<uint64_t>(s.size()));
    h.Update(s.data(), s.size() * sizeof(int32_t));
  }
  return h.Hex();
}

absl::StatusOr<CalibrationSet> LoadCalibrationSet(const CalibrationSource& src, const Tokenizer& tok, bool add_bos) {
  if (src.sequences < 1 || src.length < 2)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: calibration needs sequences >= 1 and length >= 2 (got %d and %d)", src.path, src.sequences,
        src.length));
  std::string text;
  if (src.path.ends_with(".jsonl")) {
    QSWEEP_ASSIGN_OR_RETURN(tasks::McTask task, tasks::ReadTaskJsonl(src.path, "calibration"));
    for (const tasks::McSample& s : task.samples) {
      const size_t c = s.contexts.size() > 1 ? s.label : 0;
      if (!text.empty()) text += "\n\n";
      text += s.contexts[c] + s.continuations[s.label];
    }
    if (text.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: no samples to calibrate on", src.path));
  } else {
    QSWEEP_ASSIGN_OR_RETURN(text, tasks::ReadTextCorpus(src.path));
  }
  std::vector<int32_t> ids;
  if (add_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  const std::vector<int32_t> body = tok.Encode(text);
  if (body.empty())
    return absl::InvalidArgumentError(absl::StrFormat("%s: the calibration text tokenizes to no tokens", src.path));
  ids.insert(ids.end(), body.begin(), body.end());
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n < src.length)
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d tokens, shorter than one calibration sequence of %d tokens (lower calibration.length)", src.path, n,
        src.length));
  CalibrationSet set;
  set.source = src.path;
  set.seed = src.seed;
  std::mt19937_64 rng(static_cast<uint64_t>(src.seed));
  const uint64_t starts = static_cast<uint64_t>(n - src.length + 1);
  for (int64_t i = 0; i < src.sequences; ++i) {
    const int64_t begin = static_cast<int64_t>(rng() % starts);
    set.sequences.emplace_back(ids.begin() + begin, ids.begin() + begin + src.length);
  }
  set.id = CalibrationId(set.sequences);
  return set;
}

}  // namespace qsweep
