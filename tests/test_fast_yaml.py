"""The fast YAML path reads what the safe loader reads, and leaves the rest to it."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.scenario.fast_yaml import NOT_PLAIN, read_plain

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_every_bundled_scenario_reads_as_the_safe_loader_reads_it(path: Path) -> None:
    text = path.read_text()
    assert read_plain(text) == yaml.safe_load(text)


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


def test_numbers_text_and_nesting() -> None:
    text = "n: 10\nx: 0.5\ns: plant-01\nl: [1, 2.5, on-site]\nm: {k: null, t: true}\n"
    assert read_plain(text) == {"n": 10, "x": 0.5, "s": "plant-01", "l": [1, 2.5, "on-site"],
                                "m": {"k": None, "t": True}}


def test_yaml_1_1_booleans_read_as_pyyaml_reads_them() -> None:
    text = "a: yes\nb: off\nc: [On, NO]\nd: only\n"
    assert read_plain(text) == yaml.safe_load(text) == {"a": True, "b": False, "c": [True, False], "d": "only"}
