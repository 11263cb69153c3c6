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


class _Model(BaseModel):
    # strict: "6" is not a count; forbid: a misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
