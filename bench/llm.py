"""Predicted LLM serving figures: tokens per second and time to first token for every catalog
language model on every catalog GPU and Jetson, at batch 1 and at the largest batch whose KV
cache fits, with the source of each figure.

    python bench/llm.py [--prompt 512] [--output 128] [--csv out.csv]

- batch 1: one sequence decoding halfway through its answer (context = prompt + output / 2):
  tokens/s = 1 / decode iteration; TTFT = the prefill of one prompt on an idle device.
- max batch: the most sequences of prompt + output tokens whose KV cache fits beside the weights
  (at most 256, vLLM's default): tokens/s over the batch; TTFT = the prefill of all their prompts
  arriving together, in chunks of 2,048 tokens (the last prompt's first token).
- Tensor-parallel rows: models that fit no single GPU at fp16 on 8-GPU cloud instances.
- source: `extrapolated` = roofline on the datasheet (bandwidth x 0.85 streaming efficiency,
  compute at the MLPerf-calibrated efficiency of the device kind); `assumed` = a device kind
  with no calibration point.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import catalog  # noqa: E402
from planner.costs.llm import MAX_BATCHED_TOKENS, LLM_ARCH, llm_cost, llm_precisions  # noqa: E402

PRECISIONS = ("fp16", "bf16", "int8", "int4")  # bf16 only where there is no fp16 (TPU): same rate
TP_HARDWARE = ("a100-80gb", "h100-sxm", "h200", "mi300x")


def _ttft_batch_s(cost, prompt: int, batch: int) -> float:
    """All `batch` prompts prefilled together in chunks of the token budget: the last first token."""
    total, left = 0.0, prompt * batch
    while left > 0:
        c = min(MAX_BATCHED_TOKENS, left)
        # attention pairs of a chunk cut from prompts of `prompt` tokens, each from position 0
        seqs = c / prompt
        total += cost.step_s(c, max(1.0, seqs), seqs * prompt * (prompt + 1) / 2, 0.0)
        left -= c
    return total + cost.request_s  # and the runtime's time per request, once


def row(model: str, hw_id: str, precision: str, gpus: int, prompt: int, output: int) -> dict:
    c = llm_cost(model, hw_id, precision, gpus)
    ctx = prompt + output / 2
    out = {"model": model, "hardware": hw_id, "gpus": gpus, "precision": precision, "weights_gb": round(c.weight_gb, 1),
           "kv_kb_per_token": round(c.kv_bytes_per_token / 1e3), "kv_tokens": c.kv_capacity_tokens, "source": c.source}
    b_max = c.max_batch(prompt + output)
    if b_max < 1:
        out.update(fits=False, b1_tok_s=None, b1_tpot_ms=None, b1_ttft_ms=None, max_batch=0, max_tok_s=None,
                   max_ttft_ms=None)
        return out
    step1 = c.decode_step_s(1, ctx)
    stepn = c.decode_step_s(b_max, ctx)
    out.update(fits=True, b1_tok_s=round(1 / step1, 1), b1_tpot_ms=round(step1 * 1e3, 2),
               b1_ttft_ms=round(c.ttft_s(prompt) * 1e3, 1), max_batch=b_max, max_tok_s=round(b_max / stepn, 1),
               max_ttft_ms=round(_ttft_batch_s(c, prompt, b_max) * 1e3, 1))
    return out


def table(prompt: int, output: int) -> pd.DataFrame:
    rows = []
    gpus = [h for h in catalog.hardware_ids() if h != catalog.HOST and catalog.hardware(h).kind in ("gpu", "tpu")]
    for model in LLM_ARCH:
        for hw_id in gpus:
            runs = llm_precisions(hw_id)
            for p in PRECISIONS:
                if p in runs and not (p == "bf16" and "fp16" in runs):
                    rows.append(row(model, hw_id, p, 1, prompt, output))
        for hw_id in TP_HARDWARE:  # models too big for one GPU at 16 bits
            if not llm_cost(model, hw_id, "fp16").fits:
                rows.append(row(model, hw_id, "fp16", 8, prompt, output))
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", type=int, default=512, help="prompt tokens per request (default 512)")
    ap.add_argument("--output", type=int, default=128, help="output tokens per request (default 128)")
    ap.add_argument("--csv", help="also write the table to this CSV file")
    args = ap.parse_args()
    df = table(args.prompt, args.output)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 1000)
    print(f"Prompt {args.prompt} tokens, output {args.output}; decode at context prompt + output/2.\n")
    print(df.to_string(index=False))
    fits = df[df["fits"]]
    print(f"\n{len(df)} rows, {len(fits)} fit; sources: {fits['source'].value_counts().to_dict()}")
    if args.csv:
        df.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
