// The 4-bit code tables of bitsandbytes (functional.py, get_4bit_type), as
// used by QLoRA: values in [-1, 1] that multiply a block's absmax.
#pragma once

namespace qsweep {

// NF4: quantiles of N(0, 1) normalized to [-1, 1], with an exact zero
// (Dettmers et al., QLoRA, 2023; bitsandbytes get_4bit_type("nf4")).
inline constexpr float kNf4Table[16] = {
    -1.0f,                 -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f,  0.16093020141124725f,  0.24611230194568634f,  0.33791524171829224f,
    0.44070982933044434f,  0.5626170039176941f,   0.7229568362236023f,   1.0f};

// FP4 (e2m1 with bitsandbytes' code order): get_4bit_type("fp4") lists
// [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3]
// and divides by the largest magnitude, 12.
inline constexpr float kFp4Table[16] = {
    0.0f,       0.0625f / 12, 8.0f / 12,  12.0f / 12, 4.0f / 12,  6.0f / 12,  2.0f / 12,  3.0f / 12,
    -0.0f,      -0.0625f / 12, -8.0f / 12, -12.0f / 12, -4.0f / 12, -6.0f / 12, -2.0f / 12, -3.0f / 12};

}  // namespace qsweep
