"""Which machine a kernel profile describes, and whether it is this one.

A profile of `host` prices kernels as they ran on the CPU it was taken on. Read on another CPU
(a different model, instruction sets or core count) its predictions are carried over, not
interpolated from this machine's own timings: the estimator then labels them `transferred`.

The record is read from /proc/cpuinfo and the Python environment; nothing here runs a kernel,
so the predictors may import it freely.

The rule (`Machine.differences`): the identity fields are the processor name, the CPU id
(vendor, family, model, stepping, cache), the kernel-relevant instruction sets and the logical
core count. A profile is of this machine only when every one of them was recorded and matches.
A field the profile did not record (a profile older than these records) cannot be checked, and
an unchecked machine is not claimed to be this one: it counts as a difference. Library versions
are recorded and reported, but do not decide the label (the same CPU with a newer onnxruntime
mostly runs the same kernels).
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Mapping

#: Instruction-set flags (from /proc/cpuinfo) that change which kernels numpy's BLAS and
#: onnxruntime's MLAS pick: vector width, FMA, VNNI/bf16/fp16 dot products, AMX tiles, and
#: Arm's SIMD extensions. Other flags (security mitigations, virtualization) do not.
KERNEL_ISA = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq",
              "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
              "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16")
UNKNOWN = "unknown"
#: header keys of the record, in the order they are written
KEYS = ("processor", "cpu_id", "isa", "cores", "numpy", "onnxruntime")
IDENTITY = ("processor", "cpu_id", "isa", "cores")


@dataclass(frozen=True)
class Machine:
    """A CPU and the numeric libraries that time kernels on it; `UNKNOWN` where not recorded."""

    processor: str      # the "model name" line, e.g. "Intel(R) Xeon(R) Processor"
    cpu_id: str         # "GenuineIntel 6/207/2 307200 KB": vendor family/model/stepping and cache
    isa: str            # the KERNEL_ISA flags present, space-separated and sorted
    cores: str          # logical CPUs
    numpy: str
    onnxruntime: str

    def __repr__(self) -> str:
        return f"Machine({self.processor}, {self.cpu_id}, {self.cores} cores, isa: {self.isa or 'none'})"

    def header(self) -> dict[str, str]:
        """The `# key: value` lines a profile records."""
        return {k: getattr(self, k) for k in KEYS}

    @classmethod
    def from_header(cls, head: Mapping[str, str]) -> Machine:
        """The machine a profile header recorded (`UNKNOWN` for fields it lacks)."""
        return cls(**{k: str(head.get(k) or UNKNOWN).strip() for k in KEYS})

    def differences(self, here: Machine) -> list[str]:
        """Identity fields on which this (profiled) machine is not known to be `here`, each as
        'field: profiled vs here'. Empty when the profile is of this machine."""
        out = []
        for k in IDENTITY:
            mine, theirs = getattr(self, k), getattr(here, k)
            if mine == UNKNOWN or mine != theirs:
                out.append(f"{k}: {mine} vs {theirs}")
        return out


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty off Linux)."""
    out: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if not line.strip():
            if out:
                break
            continue
        key, _, value = line.partition(":")
        out.setdefault(key.strip(), value.strip())
    return out


def _version(*distributions: str) -> str:
    """The installed version of the first of `distributions` found, read from package metadata:
    importing onnxruntime just to ask would load the runtime into every prediction."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return UNKNOWN


@lru_cache(maxsize=1)
def this_machine() -> Machine:
    """This machine's record (read once per process)."""
    info = _cpuinfo()
    name = info.get("model name") or info.get("Model") or platform.processor() or platform.machine() or UNKNOWN
    ids = [info.get(k, "?") for k in ("cpu family", "model", "stepping")]
    cpu_id = f"{info.get('vendor_id') or info.get('CPU implementer', '?')} {'/'.join(ids)}"
    if info.get("cache size"):
        cpu_id += f" {info['cache size']}"
    flags = set((info.get("flags") or info.get("Features") or "").split())
    isa = " ".join(sorted(f for f in KERNEL_ISA if f in flags)) or "none"
    return Machine(name, cpu_id if info else UNKNOWN, isa if info else UNKNOWN, str(os.cpu_count() or 1),
                   _version("numpy"), _version("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino"))


__all__ = ["Machine", "this_machine", "KERNEL_ISA", "UNKNOWN"]
