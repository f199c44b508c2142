#include "eval/unit_codec.h"

#include "core/byte_buffer.h"

namespace qsweep {

std::vector<uint8_t> EncodeUnitResult(const UnitResult& result) {
  ByteWriter w;
  if (const auto* c = std::get_if<ChoiceRows>(&result)) {
    w.Put<uint8_t>(0);
    w.Put<int64_t>(c->samples);
    w.Put<int64_t>(c->max_choices);
    w.PutVector(c->sample_id);
    w.PutVector(c->label);
    w.PutVector(c->n_choices);
    w.PutVector(c->choice_logprob);
    w.PutVector(c->choice_tokens);
    w.PutVector(c->choice_bytes);
    w.PutVector(c->choice_greedy);
  } else {
    const auto& t = std::get<TokenRows>(result);
    w.Put<uint8_t>(1);
    w.Put<int64_t>(t.tokens);
    w.Put<int32_t>(t.topk);
    w.Put<int64_t>(t.vocab);
    w.PutVector(t.token_id);
    w.PutVector(t.nll);
    w.PutVector(t.logsumexp);
    w.PutVector(t.is_argmax);
    w.PutVector(t.topk_id);
    w.PutVector(t.topk_logprob);
    w.PutVector(t.logprob_f16);
  }
  return std::move(w.bytes());
}

UnitResult DecodeUnitResult(const std::vector<uint8_t>& bytes) {
  ByteReader r(bytes);
  if (r.Get<uint8_t>() == 0) {
    ChoiceRows c;
    c.samples = r.Get<int64_t>();
    c.max_choices = r.Get<int64_t>();
    c.sample_id = r.GetVector<int64_t>();
    c.label = r.GetVector<int32_t>();
    c.n_choices = r.GetVector<int32_t>();
    c.choice_logprob = r.GetVector<double>();
    c.choice_tokens = r.GetVector<int32_t>();
    c.choice_bytes = r.GetVector<int64_t>();
    c.choice_greedy = r.GetVector<uint8_t>();
    return c;
  }
  TokenRows t;
  t.tokens = r.Get<int64_t>();
  t.topk = r.Get<int32_t>();
  t.vocab = r.Get<int64_t>();
  t.token_id = r.GetVector<int32_t>();
  t.nll = r.GetVector<float>();
  t.logsumexp = r.GetVector<float>();
  t.is_argmax = r.GetVector<uint8_t>();
  t.topk_id = r.GetVector<int32_t>();
  t.topk_logprob = r.GetVector<float>();
  t.logprob_f16 = r.GetVector<uint16_t>();
  return t;
}

}  // namespace qsweep
