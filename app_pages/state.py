"""The edited scenario, kept in the session as plain data, and how it is loaded.

``st.session_state["scn"]`` holds a dict:

    raw          the scenario as a dict (what the widgets edit)
    file         the name errors report (the example's or the upload's file name)
    attachments  name the scenario uses -> local path, the only files it may name
    original     the text it was loaded from (downloaded as is while unedited: it keeps comments)
    loaded       the scenario as loaded, dumped (to tell whether it has been edited)
    label        where it came from, for people

An uploaded scenario is data, never code: it is safe-loaded, size-limited, and may name only
files uploaded with it (a trace CSV, an `.onnx` model), never a path on the server.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

import planner

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DEFAULT_EXAMPLE = "smart_factory.yaml"

#: Largest scenario file read (the planner's own limit).
MAX_FILE_BYTES: int = planner.MAX_FILE_BYTES
#: Largest file uploaded beside a scenario (a trace CSV or an .onnx model).
MAX_ATTACHMENT_BYTES = 100_000_000
ATTACHMENT_TYPES = ("csv", "onnx")

#: Session-state keys that belong to one scenario's widgets and results: forgotten when it changes.
SCENARIO_KEY_PREFIXES = ("edit:", "sweep:", "sim_seed")

def field_name(path: Iterable[Any]) -> str:
    """A path as `ScenarioError` names fields: ``links[0].rtt_ms``, ``workloads.x.slo.p99_ms``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def dotted(path: Iterable[Any]) -> str:
    """A path as `planner.sweep` and `--set` take it: ``links.0.rtt_ms``."""
    return ".".join(str(p) for p in path)


def get_in(d: Any, path: tuple) -> Any:
    """The value at `path`, or None where some step is missing."""
    for p in path:
        try:
            d = d[p]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def set_in(d: dict, path: tuple, value: Any) -> None:
    """Set `path` in the nested dict `d`, creating mappings on the way; None removes the field."""
    for p in path[:-1]:
        if isinstance(d, dict) and not isinstance(d.get(p), (dict, list)):
            d[p] = {}
        d = d[p]
    if value is None:
        if isinstance(d, dict):
            d.pop(path[-1], None)
    else:
        d[path[-1]] = value


def dump(raw: dict) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)


def file_refs(raw: Any) -> list[str]:
    """The files a scenario names (trace CSVs, .onnx models, fleet inventories): what an upload
    must bring along, and all an example may read beside it."""
    return planner.referenced_files(raw)


def examples() -> dict[str, str]:
    """Example file name -> its question (the opening comment block)."""
    out = {}
    for p in sorted(SCENARIOS.glob("*.yaml")):
        lines = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        text = " ".join(lines)
        out[p.name] = re.sub(r"^Question:\s*", "", text.split("Expected decision:")[0]).strip()
    return out


def load_example(name: str) -> dict:
    """The state for an example scenario: its files are the ones beside it under scenarios/."""
    path = SCENARIOS / name
    if path.parent != SCENARIOS or not path.is_file():
        raise planner.PlannerError(f"no example '{name}'")
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    attachments = {}
    for ref in file_refs(raw):
        f = (SCENARIOS / ref).resolve()
        if f.is_relative_to(SCENARIOS.resolve()) and f.is_file():
            attachments[ref] = str(f)
    return {"raw": raw, "file": name, "attachments": attachments, "original": text, "loaded": dump(raw),
            "label": f"example {name}"}


def _error_of(text: str, name: str, attachments: dict[str, Path]) -> planner.ScenarioError | None:
    try:
        planner.parse_scenario(text, file=name, allow_paths=False, attachments=attachments)
    except planner.ScenarioError as e:
        return e
    return None


def load_upload(name: str, data: bytes, files: dict[str, bytes], folder: str | Path) -> dict:
    """The state for an uploaded scenario, or `ScenarioError` when it cannot be read at all.

    The YAML is safe-loaded (no tags that build objects), limited in size and expansion; the
    scenario may name only the uploaded `files` (by file name), which are written into `folder`.
    A scenario that reads but does not validate is returned all the same, to be fixed in place.
    """
    ScenarioError = planner.ScenarioError
    name = Path(name).name or "upload.yaml"
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(name, "", f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(name, "", "not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        raw = None
    if not isinstance(raw, dict):  # let the planner say what is wrong: syntax with line and column
        planner.parse_scenario(text, file=name, allow_paths=False)
        raise ScenarioError(name, "", "expected a mapping of fields at the top level")
    planner.check_alias_expansion(raw, name)  # the planner's own bound, as for the CLI and the API
    # The text must mean what its safe-loaded dict means (no duplicate keys and the like): the app
    # edits the dict, so a document whose errors the dict would hide is refused with the planner's reason.
    stand_ins = {r: Path("-") for r in file_refs(raw)}
    text_err, dict_err = (_error_of(t, name, stand_ins) for t in (text, dump(raw)))
    if text_err is not None and str(text_err) != str(dict_err):
        raise text_err
    saved: dict[str, Path] = {}
    folder = Path(folder)
    for fname, content in files.items():
        base = Path(fname).name
        if not re.fullmatch(r"[\w][\w.-]*", base) or base.rsplit(".", 1)[-1].lower() not in ATTACHMENT_TYPES:
            raise ScenarioError(base, "", f"attachments are {' or '.join(ATTACHMENT_TYPES)} files with plain names")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ScenarioError(base, "", f"file is larger than {MAX_ATTACHMENT_BYTES // 1_000_000} MB")
        target = folder / base
        target.write_bytes(content)
        saved[base] = target
    # A scenario names its files as it likes (`traces/x.csv`); an upload matches them by file name.
    attachments = {ref: str(saved[Path(ref).name]) for ref in file_refs(raw) if Path(ref).name in saved}
    return {"raw": raw, "file": name, "attachments": attachments, "original": text, "loaded": dump(raw),
            "label": f"upload {name}"}


def state() -> dict:
    """The scenario being edited in this session (the default example at first)."""
    if "scn" not in st.session_state:
        st.session_state["scn"] = load_example(DEFAULT_EXAMPLE)
    return st.session_state["scn"]


def replace_state(new: dict) -> None:
    """Switch scenario: forget widget values and results that belonged to the old one."""
    st.session_state["scn"] = new
    for k in [k for k in list(st.session_state) if str(k).startswith(SCENARIO_KEY_PREFIXES)]:
        st.session_state.pop(k, None)  # pop: a fast second edit may have removed it already


def edited(s: dict) -> bool:
    """Whether the scenario differs from the text it was loaded from."""
    return dump(s["raw"]) != s["loaded"]


def key_of(s: dict) -> tuple[str, str, tuple]:
    """What identifies a scenario for the caches: its text, file name and attached files."""
    return dump(s["raw"]), s["file"], tuple(sorted(s["attachments"].items()))


def scenario_name(s: dict) -> str:
    return str(s["raw"].get("name", "(unnamed)")) if isinstance(s["raw"], dict) else "?"
