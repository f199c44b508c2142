// Tests only: arrays that own what a ChoiceScores / TokenScores view points to,
// built from per-sample rows so tests read like the hand computations.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "metrics/choice_scores.h"
#include "metrics/token_scores.h"

namespace qsweep::metrics {

struct OwnedChoiceScores {
  std::string what = "test";
  int64_t cmax = 0;
  std::vector<int32_t> n_choices, label, bytes;
  std::vector<double> logprob;

  // rows[i] are sample i's choice log-probs; padded with NaN (must be ignored).
  OwnedChoiceScores(std::vector<std::vector<double>> rows, std::vector<int32_t> labels,
                    std::vector<std::vector<int32_t>> byte_rows = {}) : label(std::move(labels)) {
    for (const auto& r : rows) cmax = std::max<int64_t>(cmax, r.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      n_choices.push_back(static_cast<int32_t>(rows[i].size()));
      for (int64_t j = 0; j < cmax; ++j) {
        logprob.push_back(j < static_cast<int64_t>(rows[i].size()) ? rows[i][j] : std::nan(""));
        if (!byte_rows.empty())
          bytes.push_back(j < static_cast<int64_t>(byte_rows[i].size()) ? byte_rows[i][j] : 0);
      }
    }
  }
  ChoiceScores View() const {
    return ChoiceScores{what, static_cast<int64_t>(n_choices.size()), cmax, n_choices, label,
                        logprob, bytes};
  }
};

struct OwnedTokenScores {
  std::string what = "test";
  int64_t k = 0;
  std::vector<float> nll, topk_logprob;
  std::vector<int32_t> topk_id, token_id;

  TokenScores View() const {
    return TokenScores{what, static_cast<int64_t>(nll.size()), k, nll, topk_id, topk_logprob,
                       token_id};
  }
};

}  // namespace qsweep::metrics
