"""Building blocks shared by every scenario model: the strict base model and constrained numbers."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

#: the precisions a workload runs at where the hardware has them and the workload names none
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")
#: ... and those it runs at only when it names them in `precisions:` (fp8 where the hardware has
#: it: Hopper, Ada, MI300X; the same dense rate as int8 there, so never chosen unasked)
NAMED_PRECISIONS = ("fp8",)
Precision = Literal["fp32", "fp16", "bf16", "int8", "int4", "fp8"]
Privacy = Literal["any", "region", "site"]

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
#: Sequences a language-model engine on a device or pool instance holds at once (vLLM's
#: `max_num_seqs`, TensorRT-LLM's `max_batch_size`); None: the engine default, 256 (vLLM's,
#: `costs.llm.MAX_SEQS`). Both engines let it be raised for throughput: TensorRT-LLM advises a
#: `max_batch_size` "high enough ... that it does not become the bottleneck of the throughput"
#: (https://nvidia.github.io/TensorRT-LLM/performance/perf-best-practices.html), and vLLM's
#: `--max-num-seqs` (https://docs.vllm.ai/en/latest/models/engine_args.html) is set to 512-4096
#: for throughput runs on large GPUs
#: (https://docs.vultr.com/inference-cookbook/cuda/optimization/concurrency-tuning). Bounded at
#: 4096: a logits buffer per sequence stays a small part of the memory.
MaxSeqs = Annotated[int, Field(ge=1, le=4096)]


class _Model(BaseModel):
    # strict: "6" is not a count; forbid: a misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
