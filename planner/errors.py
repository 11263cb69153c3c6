"""Errors a user can cause and fix: each names the file, the field and the reason."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(Exception):
    """Base of every error the CLI reports as one line with exit code 2."""


class InputError(PlannerError, ValueError):
    """A value given to the API or the CLI that it cannot use (an unknown objective, a bad
    placement); also a ValueError, as such errors were before."""


class OutputError(PlannerError):
    """An output cannot be written where asked (a folder of other files, not a folder)."""


class ScenarioError(PlannerError):
    """A scenario file is malformed: `file`, `field` (dotted path) and `reason` say where and why.

    The message reads ``FILE: REASON in FIELD; HINT``, for example
    ``f.yaml: unknown hardware 'jetson-orin-nx' in sites.plant.devices[0].hardware; did you mean 'jetson-orin-nx-16gb'?``
    """

    def __init__(self, file: str, field: str, reason: str, hint: str = ""):
        self.file, self.field, self.reason, self.hint = str(file), field, reason, hint
        msg = f"{self.file}: {reason}" if self.file else reason
        if field:
            msg += f" in {field}"
        if hint:
            msg += f"; {hint}"
        super().__init__(one_line(msg))


class CatalogError(PlannerError, KeyError):
    """An unknown hardware, network or model id; `hint` suggests the closest known id."""

    def __init__(self, kind: str, key: str, known: Iterable[str]):
        self.kind, self.key = kind, key
        self.hint = did_you_mean(key, known)
        super().__init__(f"unknown {kind} '{key}'" + (f"; {self.hint}" if self.hint else ""))

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


def one_line(text: str) -> str:
    """Escape newlines and other unprintable characters so a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """'did you mean 'x'?' for the closest of `known`, or '' when nothing is close."""
    known = list(known)
    match = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    if not match:  # prefixes such as 'jetson-orin-nx' -> 'jetson-orin-nx-16gb' score low on ratio
        match = [k for k in known if k.startswith(str(word)) or str(word).startswith(k)][:1]
    return f"did you mean '{match[0]}'?" if match else ""
