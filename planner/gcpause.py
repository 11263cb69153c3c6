"""Python's cyclic garbage collector paused while the planner builds large acyclic structures.

Planning a fleet makes hundreds of thousands of options, bills and dictionaries that all stay
alive until the plan is built. Every 700 allocations the collector scans the young ones, and
each older generation it promotes them to is scanned again as it grows: at 10,000 workloads that
was a third of the time to build options (measured: `bench/plan_speed.py`). These structures hold
no reference cycles worth collecting, so the collector is paused for the call and resumed after;
whatever cycles a call leaves are collected at the next collection after it.
"""
from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run with the cyclic collector off (restored as it was, also on error; nested calls
    leave it to the outermost)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper
