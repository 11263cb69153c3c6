"""The fast YAML path reads what the safe loader reads, and leaves the rest to it."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.scenario import fast_yaml
from planner.scenario.fast_yaml import NOT_PLAIN, read_in_child, read_plain

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_every_bundled_scenario_reads_as_the_safe_loader_reads_it(path: Path) -> None:
    text = path.read_text()
    assert read_plain(text) == yaml.safe_load(text)


def test_the_child_reads_every_bundled_scenario_as_the_safe_loader_does() -> None:
    """`yaml_rs` in its child process, on every bundled scenario it takes (one child per file)."""
    read = 0
    for path in BUNDLED:
        text = path.read_text()
        got = read_in_child(text)
        if got is not NOT_PLAIN:
            assert got == yaml.safe_load(text), path
            read += 1
    assert read >= len(BUNDLED) // 2


def test_a_large_document_is_read_in_the_child_and_a_crash_there_falls_back(monkeypatch) -> None:
    """Past `CHILD_MIN_CHARS` the child reads; a child killed by a segmentation fault (what yaml_rs
    once did in the app's server) costs the libyaml read, not the caller's process."""
    text = "".join(f"w{i:05d}: {{rate: {i % 7}, on: yes, name: store-{i}}}\n" for i in range(8000))
    assert len(text) >= fast_yaml.CHILD_MIN_CHARS
    expected = yaml.safe_load(text)
    assert read_in_child(text) == expected
    assert read_plain(text) == expected
    monkeypatch.setattr(fast_yaml, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert read_in_child(text) is NOT_PLAIN
    assert read_plain(text) == expected


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",              # anchors and aliases: the libyaml path keeps them shared
    "a: !!str 1\n",                  # a tag
    "---\na: 1\n---\nb: 2\n",        # two documents
])
def test_documents_beyond_plain_data_take_the_libyaml_path(text: str) -> None:
    got = read_plain(text)
    assert got is NOT_PLAIN or got == yaml.safe_load(text)


def test_a_duplicate_key_is_left_to_the_safe_loader() -> None:
    assert read_plain("a: 1\na: 2\n") is NOT_PLAIN
    assert read_in_child("a: 1\na: 2\n") is NOT_PLAIN


def test_a_date_the_child_cannot_hand_back_is_left_to_the_libyaml_path() -> None:
    assert read_in_child("a: 2024-01-01\n") is NOT_PLAIN


def test_numbers_text_and_nesting() -> None:
    text = "n: 10\nx: 0.5\ns: plant-01\nl: [1, 2.5, on-site]\nm: {k: null, t: true}\n"
    assert read_plain(text) == {"n": 10, "x": 0.5, "s": "plant-01", "l": [1, 2.5, "on-site"],
                                "m": {"k": None, "t": True}}


def test_yaml_1_1_booleans_read_as_pyyaml_reads_them() -> None:
    text = "a: yes\nb: off\nc: [On, NO]\nd: only\n"
    assert read_plain(text) == read_in_child(text) == yaml.safe_load(text) \
        == {"a": True, "b": False, "c": [True, False], "d": "only"}
