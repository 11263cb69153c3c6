"""Reading scenario YAML: safe loading, duplicate keys, syntax errors with line and column."""
from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import ScenarioError
from planner.gcpause import gc_paused
from planner.scenario.document import Scenario
from planner.scenario.fast_yaml import NOT_PLAIN, read_plain
from planner.scenario.limits import check_alias_expansion
from planner.scenario import fleets
from planner.scenario.fleets import fleet_specs
from planner.scenario.references import _resolve_file, check_references
from planner.scenario.validation_errors import _kind, _to_scenario_error

#: Largest scenario file the app takes as an upload. Files given to the CLI or the API have no
#: size limit (a fleet written out member by member runs to megabytes); what bounds the work
#: there is the alias budget (`limits.py`), checked before validation.
MAX_FILE_BYTES = 2_000_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain name, not a list or mapping", key_node.start_mark)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (line {mark.line + 1}, column {mark.column + 1})", key_node.start_mark
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@gc_paused
def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario YAML file; `ScenarioError` on any bad input."""
    p = Path(path)
    try:
        if not p.exists():
            raise ScenarioError(str(path), "", "file not found")
        if not p.is_file():
            raise ScenarioError(str(path), "", "not a file")
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), "", f"cannot read file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "cannot read file: not UTF-8 text") from None
    return parse_scenario(text, file=str(path), base_dir=p.parent)


def parse_scenario(
    text: str | Mapping[str, Any], file: str = "<scenario>", base_dir: str | Path | None = None,
    *, allow_paths: bool = True, attachments: Mapping[str, Path] | None = None,
) -> Scenario:
    """Validate scenario YAML text (or an already parsed mapping).

    `base_dir` resolves relative trace and .onnx paths. With `allow_paths=False` (uploads in the
    app) a scenario may only name files given in `attachments` (name -> local path), never a
    path on the server.
    """
    if not isinstance(text, (str, Mapping)):
        raise ScenarioError(file, "", f"expected a mapping of fields at the top level, got {_kind(text)}")
    data = _parse_yaml(text, file) if isinstance(text, str) else dict(text)
    if not isinstance(data, dict):
        raise ScenarioError(file, "", f"expected a mapping of fields at the top level, got {_kind(data)}")
    if "source_file" in data:
        raise ScenarioError(file, "source_file", "unknown field 'source_file'")
    check_alias_expansion(data, file)
    base = Path(base_dir) if base_dir is not None else Path(".")
    specs = fleet_specs(data, file)
    if not specs:
        sc = _validate(data, file)
        check_references(sc, file, base, allow_paths, attachments or {})
        return sc
    # Fleets: check the file as written (a fleet one site, a distribution its mean), so errors
    # name what the user wrote; then expand and check the members, naming errors as written.
    seed = _validate(fleets.as_written(data, specs, file), file).seed

    def resolve(name: str, field: str) -> tuple[Path, str]:
        path = _resolve_file(name, field, base, allow_paths, attachments or {}, _fail(file))
        return path, str(path) if allow_paths else name

    exp = fleets.expand(data, specs, seed, file, resolve)
    try:
        sc = _validate(exp.data, file)
        check_references(sc, file, base, allow_paths, attachments or {})
    except ScenarioError as e:
        raise exp.error_as_written(e) from None
    fleets.attach(sc, exp)
    return sc


def _validate(data: Mapping[str, Any], file: str) -> Scenario:
    try:
        return Scenario.model_validate({**data, "source_file": file})
    except ValidationError as e:
        raise _to_scenario_error(e, file) from None


def _fail(file: str) -> Any:
    def fail(field: str, reason: str, hint: str = "") -> None:
        raise ScenarioError(file, field, reason, hint)
    return fail


def _parse_yaml(text: str, file: str) -> Any:
    """The YAML document in `text`, safely loaded; `ScenarioError` with line and column."""
    data = read_plain(text)
    if data is not NOT_PLAIN:
        return data
    # not plain, or not valid: the full safe loader reads it, and says what is wrong
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (e.problem or e.context or "invalid YAML").strip()
        if "duplicate key" in problem:
            raise ScenarioError(file, _duplicate_path(text, e.problem_mark), problem) from None
        raise ScenarioError(file, "", f"YAML syntax error{where}: {problem}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ScenarioError(file, "", f"YAML syntax error at line {line}, column {col}: unacceptable character #x{e.character:04x}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(file, "", f"YAML error: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise ScenarioError(file, "", "YAML is nested too deeply") from None


def _duplicate_path(text: str, mark: Any) -> str:
    """The dotted path of the duplicated key at `mark` (composing does not check duplicates)."""
    seen: set[int] = set()  # an alias is walked once: an alias bomb must not expand here

    def walk(node: Any, path: str) -> str | None:
        if id(node) in seen:
            return None
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                here = f"{path}.{k.value}" if path else str(k.value)
                if mark is not None and k.start_mark.line == mark.line and k.start_mark.column == mark.column:
                    return here
                found = walk(v, here)
                if found:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                found = walk(v, f"{path}[{i}]")
                if found:
                    return found
        return None

    try:
        return walk(yaml.compose(text, Loader=yaml.SafeLoader), "") or ""
    except (yaml.YAMLError, RecursionError):
        return ""
