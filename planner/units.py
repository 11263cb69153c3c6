"""Units and conventions in one place: every layer (costs, planner, simulator, report, app) reads
these rather than writing its own, so a month, a kWh or an int8 element means the same thing
everywhere.
"""
from __future__ import annotations

#: A billing month: 730 h is what cloud providers bill a month of an instance (AWS, GCP, Azure
#: price pages quote "730 hours per month"), so hourly prices and electricity use the same month.
HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
SECONDS_PER_HOUR = 3600.0

#: Joules in a kilowatt-hour.
J_PER_KWH = 3.6e6
#: Bytes in a (decimal) gigabyte, as clouds bill egress.
BYTES_PER_GB = 1e9

#: Storage of one tensor element by precision (int4 packs two per byte).
BYTES_PER_ELEMENT: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5, "fp8": 1.0}

#: Bytes of UTF-8 text per token travelling to and from a language model (assumed: about four
#: characters a token, the rule of thumb OpenAI's tokenizer documentation gives for English).
BYTES_PER_TOKEN = 4.0

#: Input bytes of one sample when a model's catalog row has none: a 224x224x3 uint8 image.
DEFAULT_SAMPLE_BYTES = 224 * 224 * 3

#: Trained weights are shipped to where they serve as fp16; federated updates travel as fp32.
DEPLOY_BYTES_PER_PARAM = 2.0
UPDATE_BYTES_PER_PARAM = 4.0


def kwh(joules: float) -> float:
    """Joules as kilowatt-hours."""
    return joules / J_PER_KWH


def mbps(rate_per_s: float, size_bytes: float) -> float:
    """Megabits per second carried by `rate_per_s` messages of `size_bytes` each."""
    return rate_per_s * size_bytes * 8 / 1e6
