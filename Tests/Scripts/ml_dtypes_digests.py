#!/usr/bin/env python3
"""Prints the ml_dtypes-derived constants of Tests/TestSupport/MLDtypesDigests.swift.

Run off-line only (`pip install ml_dtypes numpy`); the Swift tests never need Python. Every digest is
FNV-1a-64 over the little-endian bytes of the outputs, in input order. The input sets are defined
identically in Tests/TestSupport/InputSets.swift:
  * all 65536 bf16 bit patterns, ascending;
  * the fp8 midpoint set: for each adjacent pair (a, b) of non-negative finite fp8 magnitudes, plus
    (max, max + top ulp), the midpoint m = (a + b) / 2 as float32; for k in -2...2 the float32 with bits
    bits(m) + k; for each, first +, then - (sign bit set);
  * the float32 stride sweep: bit patterns i * 1021 for i in 0 ..< 2^22.
Saturate-mode digests are ml_dtypes' (overflow "nan" mode) codes with every overflow code of a non-NaN
input replaced by sign|max, which is the documented definition of CK_OVERFLOW_SATURATE.
"""
import numpy as np
import ml_dtypes as md

FNV_OFFSET, FNV_PRIME, MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv_np(arr) -> int:
    """FNV-1a-64 over the array's bytes (native little-endian order)."""
    h = FNV_OFFSET
    for b in np.ascontiguousarray(arr).view(np.uint8).tobytes():
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


FORMATS = {"e4m3fn": (md.float8_e4m3fn, 0x7E, 0x7F), "e5m2": (md.float8_e5m2, 0x7B, 0x7C)}


def encode(x_f32_or_bf16, fmt):
    dtype, max_code, overflow_code = FORMATS[fmt]
    with np.errstate(all="ignore"):
        nan_mode = x_f32_or_bf16.astype(dtype).view(np.uint8)
    isnan = np.isnan(x_f32_or_bf16.astype(np.float32))
    mag = nan_mode & 0x7F
    sign = nan_mode & 0x80
    over = (mag == overflow_code) & ~isnan
    sat = np.where(over, sign | max_code, nan_mode).astype(np.uint8)
    return nan_mode, sat


def midpoint_set(fmt):
    dtype = FORMATS[fmt][0]
    vals = np.arange(128, dtype=np.uint8).view(dtype).astype(np.float64)
    vals = np.sort(vals[np.isfinite(vals)])
    top_ulp = vals[-1] - vals[-2]
    vals = np.append(vals, vals[-1] + top_ulp)
    out = []
    for a, b in zip(vals[:-1], vals[1:]):
        m = np.float32((a + b) / 2)
        assert float(m) == (a + b) / 2
        mb = int(np.array([m], dtype=np.float32).view(np.uint32)[0])
        for k in range(-2, 3):
            for s in (0, 0x80000000):
                out.append((mb + k) | s)
    return np.array(out, dtype=np.uint32).view(np.float32)


def main():
    lines = []
    bf16_all = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(md.bfloat16)
    stride = (np.arange(1 << 22, dtype=np.uint64) * 1021).astype(np.uint32).view(np.float32)
    for fmt, (dtype, _, _) in FORMATS.items():
        codes = np.arange(256, dtype=np.uint8).view(dtype)
        lines.append((f"decode_{fmt}_f32", fnv_np(codes.astype(np.float32).view(np.uint32))))
        lines.append((f"decode_{fmt}_bf16", fnv_np(codes.astype(md.bfloat16).view(np.uint16))))
        nan_mode, sat = encode(bf16_all, fmt)
        lines.append((f"bf16_all_{fmt}_nan", fnv_np(nan_mode)))
        lines.append((f"bf16_all_{fmt}_saturate", fnv_np(sat)))
        mids = midpoint_set(fmt)
        nan_mode, sat = encode(mids, fmt)
        lines.append((f"midpoints_{fmt}_count", len(mids)))
        lines.append((f"midpoints_{fmt}_nan", fnv_np(nan_mode)))
        lines.append((f"midpoints_{fmt}_saturate", fnv_np(sat)))
        nan_mode, sat = encode(stride, fmt)
        lines.append((f"stride_{fmt}_nan", fnv_np(nan_mode)))
        lines.append((f"stride_{fmt}_saturate", fnv_np(sat)))
    with np.errstate(all="ignore"):
        lines.append(("stride_bf16", fnv_np(stride.astype(md.bfloat16).view(np.uint16))))
    for name, value in lines:
        print(f"{name} = 0x{value:016X}" if value > 10**6 else f"{name} = {value}")


if __name__ == "__main__":
    main()
