#!/usr/bin/env python3
"""The HF transformers side of `qsweep bench forward`, run on the GPU machine.

  make     a random-weight Llama checkpoint (bf16 safetensors + config.json) that
           both sides load, so they run the same weights:
             hf_forward.py make --shape llama3-8b --out DIR
  bench    HF LlamaForCausalLM in bf16 with sdpa: forward + fp32 log-softmax of
           every position, the lm-eval/HF way; median tokens/s over the same
           batch shape as qsweep's (--batch x --seq random tokens):
             hf_forward.py bench DIR --batch 4 --seq 2048
  attention  torch's scaled_dot_product_attention alone at the bench's shape
           (causal, GQA), per backend torch has (flash, cuDNN, efficient):
           the reference for qsweep's attention stage and
           tools/bench/attention_variants.cu (same FLOP count):
             hf_forward.py attention --batch 4 --seq 2048
  compare  HF bf16 log-probs against `qsweep logprobs` output (.h5) for the
           same token ids; prints max relative L2 per sequence:
             hf_forward.py compare DIR TOKENS.txt QSWEEP.h5 [--max-rel-l2 1e-2]

The bench table has the same columns as qsweep's so the two lines sit side by
side; qsweep's ratio against HF is then tokens/s over tokens/s.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np
import torch

SHAPES = {  # Llama 3 shapes (the ones synthetic:NAME uses in qsweep)
    "llama3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                      rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False),
    "llama3-1b-ish": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                          num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                          rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False),
}


def make(args):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(args.seed)
    cfg = LlamaConfig(**SHAPES[args.shape], torch_dtype="bfloat16")
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(args.out, safe_serialization=True, max_shard_size="5GB")
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {args.shape}, {n / 1e9:.3f} B parameters, bf16")


def load(path, attn="sdpa"):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.bfloat16, attn_implementation=attn).cuda().eval()


def bench(args):
    model = load(args.model)
    params = sum(p.numel() for p in model.parameters())
    vocab = model.config.vocab_size
    g = torch.Generator(device="cuda").manual_seed(11)
    ids = torch.randint(0, vocab, (args.batch, args.seq), device="cuda", generator=g)

    def step():
        with torch.no_grad():
            logits = model(ids).logits
            lp = torch.log_softmax(logits.float(), dim=-1)
            return torch.gather(lp[:, :-1], 2, ids[:, 1:, None])

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        out = step()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    assert torch.isfinite(out).all() and (out <= 0).all(), "HF produced non-finite or positive log-probs"
    ms = statistics.median(times)
    tps = args.batch * args.seq / (ms / 1e3)
    print(f"# HF transformers {__import__('transformers').__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name()}: {args.model}, median of {args.iters} after {args.warmup} warm-up")
    print(f"# {'bench':<8} {'shape':<22} {'time_ms':>10} {'tokens/s':>11} {'TFLOP/s':>9}")
    print(f"  {'hf':<8} {f'{args.batch}x{args.seq} bf16 sdpa':<22} {ms:10.3f} {tps:11.0f} "
          f"{2 * params * tps / 1e12:9.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"ms": ms, "tokens_per_s": tps, "params": params}, fh)


def attention(args):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    hq, hkv, hd = args.heads, args.kv_heads, args.head_dim
    g = torch.Generator(device="cuda").manual_seed(3)
    q = torch.randn(args.batch, hq, args.seq, hd, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(args.batch, hkv, args.seq, hd, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(args.batch, hkv, args.seq, hd, device="cuda", dtype=torch.bfloat16, generator=g)
    flops = 4.0 * hd * hq * args.batch * args.seq * (args.seq + 1) / 2  # causal: keys 1..seq per row
    ref = None
    print(f"# torch {torch.__version__} sdpa on {torch.cuda.get_device_name()}: {args.batch}x{args.seq} causal, "
          f"{hq} q / {hkv} kv heads, hd {hd}")
    for name, backend in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
                          ("efficient", SDPBackend.EFFICIENT_ATTENTION)]:
        def run():
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        try:
            out = run()
        except RuntimeError as e:
            print(f"  {name:<10} unavailable: {str(e).splitlines()[0][:80]}")
            continue
        for _ in range(3):
            run()
        times = []
        for _ in range(15):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            run()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        ms = statistics.median(times)
        diff = 0.0 if ref is None else (out.float() - ref.float()).abs().max().item()
        ref = out if ref is None else ref
        print(f"  {name:<10} {ms:8.3f} ms {flops / ms / 1e9:7.1f} TFLOP/s   max |diff| vs the first {diff:.3g}")


def compare(args):
    import h5py
    model = load(args.model, attn="eager")
    seqs = [[int(t) for t in line.split()] for line in open(args.tokens) if line.strip()]
    with h5py.File(args.qsweep, "r") as f:
        q = f["/logprobs"]
        offsets = f["/offsets"][()]
        worst = 0.0
        for i, s in enumerate(seqs):
            with torch.no_grad():
                logits = model(torch.tensor([s], device="cuda")).logits[0].float()
                hf = torch.log_softmax(logits, dim=-1).double().cpu().numpy()
            ours = q[offsets[i]:offsets[i + 1]].astype(np.float64)
            rel = np.linalg.norm(ours - hf) / np.linalg.norm(hf)
            worst = max(worst, rel)
            print(f"  sequence {i}: {len(s)} tokens, relative L2 of log-probs {rel:.3e}")
    print(f"max relative L2 {worst:.3e} (limit {args.max_rel_l2:g}) against HF bf16 eager")
    if not worst <= args.max_rel_l2:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--shape", default="llama3-8b", choices=sorted(SHAPES))
    m.add_argument("--out", required=True)
    m.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench")
    b.add_argument("model")
    b.add_argument("--batch", type=int, default=4)
    b.add_argument("--seq", type=int, default=2048)
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--iters", type=int, default=10)
    b.add_argument("--json")
    a = sub.add_parser("attention")
    a.add_argument("--batch", type=int, default=4)
    a.add_argument("--seq", type=int, default=2048)
    a.add_argument("--heads", type=int, default=32)
    a.add_argument("--kv-heads", type=int, default=8)
    a.add_argument("--head-dim", type=int, default=128)
    c = sub.add_parser("compare")
    c.add_argument("model")
    c.add_argument("tokens")
    c.add_argument("qsweep")
    c.add_argument("--max-rel-l2", type=float, default=1e-2)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    {"make": make, "bench": bench, "attention": attention, "compare": compare}[args.cmd](args)


if __name__ == "__main__":
    main()
