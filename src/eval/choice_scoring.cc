#include "eval/choice_scoring.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace qsweep {
namespace {

// Where each choice's tokens are scored in a batch: row i predicts target i.
struct Target {
  int64_t sample;  // index within the range
  int64_t choice;
};

// The lengths of the sequences a sample packs into: one shared context with
// its branches, or one sequence per choice.
std::vector<int64_t> SampleSequences(const McSampleRequest& s) {
  std::vector<int64_t> lengths;
  for (int64_t c = 0; c < s.choices(); ++c) {
    const int64_t fed = static_cast<int64_t>(s.continuations[c].size()) - 1;
    if (s.contexts.size() != 1 || c == 0) lengths.push_back(static_cast<int64_t>(s.context(c).size()));
    lengths.back() += fed;
  }
  return lengths;
}

// Appends a sample to the batch and the rows/targets that score it.
void AddSample(const McSampleRequest& s, int64_t index, TokenBatch& batch, std::vector<int64_t>& rows,
               std::vector<int32_t>& targets, std::vector<Target>& owners) {
  auto fed = [&](int64_t c) {
    const auto& cont = s.continuations[c];
    return std::span<const int32_t>(cont.data(), cont.size() - 1);
  };
  auto score = [&](int64_t c, int64_t context_last_row, int64_t branch_first) {
    const auto& cont = s.continuations[c];
    for (size_t j = 0; j < cont.size(); ++j) {
      rows.push_back(j == 0 ? context_last_row : branch_first + static_cast<int64_t>(j) - 1);
      targets.push_back(cont[j]);
      owners.push_back({index, c});
    }
  };
  if (s.contexts.size() == 1) {
    std::vector<std::span<const int32_t>> branches;
    for (int64_t c = 0; c < s.choices(); ++c) branches.push_back(fed(c));
    const std::vector<int64_t> firsts = batch.AddShared(s.contexts[0], branches);
    // The context lies just before the first branch (after any filler rows).
    const int64_t context_last = (firsts.empty() ? batch.rows() : firsts[0]) - 1;
    for (int64_t c = 0; c < s.choices(); ++c) score(c, context_last, firsts[c]);
  } else {
    for (int64_t c = 0; c < s.choices(); ++c) {
      std::vector<int32_t> seq = s.contexts[c];
      const auto f = fed(c);
      seq.insert(seq.end(), f.begin(), f.end());
      const int64_t first = batch.AddSequence(seq);
      const int64_t context_last = first + static_cast<int64_t>(s.contexts[c].size()) - 1;
      score(c, context_last, context_last + 1);
    }
  }
}

}  // namespace

absl::StatusOr<ChoiceRows> ScoreChoices(LogitScorer& scorer, std::span<const McSampleRequest> samples,
                                        int64_t max_choices) {
  const int64_t n = static_cast<int64_t>(samples.size()), cm = max_choices;
  ChoiceRows out;
  out.samples = n;
  out.max_choices = cm;
  out.choice_logprob.assign(n * cm, NAN);
  out.choice_tokens.assign(n * cm, 0);
  out.choice_bytes.assign(n * cm, 0);
  out.choice_greedy.assign(n * cm, 0);
  for (const auto& s : samples) {
    out.sample_id.push_back(s.sample_id);
    out.label.push_back(s.label);
    out.n_choices.push_back(static_cast<int32_t>(s.choices()));
  }
  const int64_t capacity = scorer.max_batch_tokens();
  int64_t next = 0;
  while (next < n) {
    TokenBatch batch;
    batch.align = scorer.sequence_alignment();
    std::vector<int64_t> rows;
    std::vector<int32_t> targets;
    std::vector<Target> owners;
    const int64_t first = next;
    while (next < n) {
      const std::vector<int64_t> lengths = SampleSequences(samples[next]);
      TokenBatch empty;
      empty.align = batch.align;
      const int64_t need = empty.RowsAfter(lengths);
      if (need > capacity)
        return absl::InvalidArgumentError(absl::StrFormat(
            "sample %d needs %d tokens, more than the batch capacity of %d tokens",
            samples[next].sample_id, need, capacity));
      if (batch.RowsAfter(lengths) > capacity) break;
      AddSample(samples[next], next, batch, rows, targets, owners);
      ++next;
    }
    QSWEEP_ASSIGN_OR_RETURN(RowScores scores, scorer.Score(batch, rows, targets, 0, false));
    for (int64_t i = first; i < next; ++i)
      for (int64_t c = 0; c < samples[i].choices(); ++c) {
        out.choice_logprob[i * cm + c] = 0;
        out.choice_greedy[i * cm + c] = 1;
        out.choice_tokens[i * cm + c] = static_cast<int32_t>(samples[i].continuations[c].size());
        out.choice_bytes[i * cm + c] = samples[i].continuation_bytes[c];
      }
    for (size_t r = 0; r < owners.size(); ++r) {
      const int64_t at = owners[r].sample * cm + owners[r].choice;
      out.choice_logprob[at] += scores.target_logprob[r];
      out.choice_greedy[at] &= scores.target_is_argmax[r];
    }
  }
  return out;
}

}  // namespace qsweep
