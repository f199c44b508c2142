#!/usr/bin/env python3
"""HF transformers' greedy generate against `qsweep generate`, on the GPU machine.

  hf_generate.py MODEL PROMPTS.txt QSWEEP_IDS.txt --max-tokens N [--eos ID ...]

PROMPTS.txt holds one prompt a line (space-separated ids), QSWEEP_IDS.txt the
ids `qsweep generate` made for each. HF runs LlamaForCausalLM/Qwen2ForCausalLM
in bf16 (eager attention) with generate(do_sample=False), the same EOS ids
(none: it runs to max_new_tokens). Per prompt: equal, or where the two part and
HF's margin between its two best logits there (a near tie is rounding, not a
bug). Exit 1 when a divergence is not a near tie (margin above --tie).
"""
import argparse
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("prompts")
    p.add_argument("qsweep")
    p.add_argument("--max-tokens", type=int, required=True)
    p.add_argument("--eos", type=int, nargs="*", default=[])
    p.add_argument("--tie", type=float, default=0.05, help="largest logit margin counted as a near tie")
    a = p.parse_args()
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.bfloat16, attn_implementation="eager")
    model = model.cuda().eval()
    prompts = [[int(t) for t in line.split()] for line in open(a.prompts) if line.strip()]
    ours = [[int(t) for t in line.split()] for line in open(a.qsweep)]
    if len(ours) != len(prompts):
        sys.exit(f"{a.qsweep}: {len(ours)} lines for {len(prompts)} prompts")
    gc = model.generation_config
    gc.eos_token_id = a.eos or None
    gc.pad_token_id = a.eos[0] if a.eos else 0
    equal = ties = bad = 0
    for i, (prompt, q) in enumerate(zip(prompts, ours)):
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt], device="cuda"), do_sample=False, max_new_tokens=a.max_tokens,
                                 generation_config=gc, output_scores=True, return_dict_in_generate=True)
        hf = out.sequences[0, len(prompt):].tolist()
        if hf == q:
            equal += 1
            continue
        at = next((j for j in range(min(len(hf), len(q))) if hf[j] != q[j]), min(len(hf), len(q)))
        margin = float("nan")
        if at < len(out.scores):
            top = torch.topk(out.scores[at][0].float(), 2).values
            margin = float(top[0] - top[1])
        tie = margin == margin and margin <= a.tie
        ties += tie
        bad += not tie
        print(f"  prompt {i}: parts at token {at} of {len(hf)}: HF {hf[at] if at < len(hf) else 'end'}, "
              f"qsweep {q[at] if at < len(q) else 'end'}; HF's top-2 logit margin there {margin:.4f}"
              f"{' (near tie)' if tie else ''}")
    print(f"{equal}/{len(prompts)} prompts token for token equal to HF generate(do_sample=False) bf16; "
          f"{ties} part at a near tie, {bad} otherwise")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
