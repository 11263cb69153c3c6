"""A fast path for reading plain YAML, the shape every scenario has.

libyaml composes the node tree (in C); mappings, lists and the core scalars (text, numbers,
true/false, null) are then built from it directly, through PyYAML's own scalar constructors so
that every value means what the safe loader makes of it. Anything else (merge keys, other tags,
a duplicate or unhashable key, a parser error, no libyaml) gives `NOT_PLAIN`, and the caller
reads the text with the full safe loader, whose messages (line, column, duplicate key) users see.
A 2.6 MB scenario reads in about a third of the time of the safe loader over libyaml.

Faster still, a large document without anchors, aliases, tags or merge keys (every scenario a
tool writes) is read by `yaml_rs` (a YAML 1.2 parser in Rust: 0.3 s instead of 2.8 s for a 2.6 MB
file), which refuses duplicate keys and bounds nesting. Its core schema reads plain `on`/`yes`
as text (turned into booleans here, as PyYAML reads them) and `1e3` as a number (PyYAML: text,
which no numeric field takes); a document it refuses goes the libyaml way, so users see PyYAML's
messages. `yaml_rs` runs in a child process: in the app's server it once died of a segmentation
fault on a 4 kB scenario (in a script thread, not reproducible alone), which took the server down
with it; in a child, a crash costs the libyaml read and nothing else.
"""
from __future__ import annotations

import marshal
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: What `read_plain` returns for a document it leaves to the full loader.
NOT_PLAIN: Any = object()

_T = "tag:yaml.org,2002:"
_SCALARS: dict[str, Callable[[Any, ScalarNode], Any]] = {
    _T + "str": lambda _loader, node: node.value,
    _T + "int": SafeConstructor.construct_yaml_int,
    _T + "float": SafeConstructor.construct_yaml_float,
    _T + "bool": SafeConstructor.construct_yaml_bool,
    _T + "null": SafeConstructor.construct_yaml_null,
}


class _NotPlain(Exception):
    """The document holds something the fast path leaves to the full loader."""


if getattr(yaml, "__with_libyaml__", False):
    class _Loader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
        """libyaml's safe loader with the tag of each plain scalar resolved once per document:
        a scenario repeats the same few hundred words, and the regular-expression matching of
        PyYAML's resolver took half the reading time of a 2.6 MB file."""

        def __init__(self, stream: str):
            super().__init__(stream)
            self._plain_tags: dict[str, str] = {}

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is ScalarNode and implicit[0]:  # a plain scalar's tag depends on its text only
                tag = self._plain_tags.get(value)
                if tag is None:
                    tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
                return tag
            return super().resolve(kind, value, implicit)

        # the safe loader has no path resolvers: nothing to track while descending
        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass


#: Documents shorter than this are read in process: a child process costs about 0.1 s, the
#: libyaml path about 1.1 s per MB.
CHILD_MIN_CHARS = 256_000
#: The child: the document on stdin, its value (plain data) marshalled on stdout. A value marshal
#: cannot write (a date) or a document yaml_rs refuses exits non-zero: the libyaml path reads it.
_CHILD = ("import marshal, sys, yaml_rs; "
          "sys.stdout.buffer.write(marshal.dumps(yaml_rs.loads(sys.stdin.buffer.read().decode())))")

#: What makes a document more than plain data: anchors, aliases, tags, merge keys.
_NOT_DATA = ("&", "*", "!", "<<")
#: A document marker after the start: several documents, which yaml_rs would return as a list.
_MORE_DOCUMENTS = re.compile(r"^(?:---|\.\.\.)", re.M)


#: YAML 1.1's booleans beyond true/false, which PyYAML reads as booleans and YAML 1.2 as text
_YAML11_BOOL = {w: v for ws, v in (("yes on", True), ("no off", False))
                for word in ws.split() for w in (word, word.title(), word.upper())}


def _yaml11_booleans(node: Any) -> Any:
    """`node` with the plain words PyYAML reads as booleans (yes/no/on/off) made booleans, so a
    scenario means the same read either way (a quoted 'on' becomes one too: the one difference)."""
    if isinstance(node, dict):
        for k, v in node.items():
            node[k] = _yaml11_booleans(v)
        if any(isinstance(k, str) and k in _YAML11_BOOL for k in node):  # `on:` as a key, too
            node = {_YAML11_BOOL.get(k, k) if isinstance(k, str) else k: v for k, v in node.items()}
    elif isinstance(node, list):
        node[:] = [_yaml11_booleans(v) for v in node]
    elif isinstance(node, str) and len(node) <= 3:
        return _YAML11_BOOL.get(node, node)
    return node


def read_plain(text: str) -> Any:
    """The document in `text`, or `NOT_PLAIN`."""
    if len(text) >= CHILD_MIN_CHARS and not any(c in text for c in _NOT_DATA) \
            and not _MORE_DOCUMENTS.search(text, 1) \
            and not yaml.reader.Reader.NON_PRINTABLE.search(text):  # PyYAML refuses these: let it say where
        value = read_in_child(text)
        if value is not NOT_PLAIN:
            return value
    if not getattr(yaml, "__with_libyaml__", False):
        return NOT_PLAIN
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(node, {}, loader)
    except (yaml.YAMLError, RecursionError, _NotPlain):
        return NOT_PLAIN
    finally:
        loader.dispose()


def read_in_child(text: str, timeout_s: float = 120.0) -> Any:
    """`text` read by `yaml_rs` in a child process, or `NOT_PLAIN` when it refused the document, failed
    to start, crashed or ran past `timeout_s`."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=text.encode(), capture_output=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return NOT_PLAIN
    if done.returncode != 0:
        return NOT_PLAIN
    try:
        return _yaml11_booleans(marshal.loads(done.stdout))
    except (EOFError, ValueError, TypeError):
        return NOT_PLAIN


def _build(node: Node, built: dict[int, Any], loader: Any) -> Any:
    """The value of `node`; `built` keeps each collection built once, so an alias stays a shared
    reference (what the safe loader does) and an alias bomb does not expand here."""
    if isinstance(node, ScalarNode):
        make = _SCALARS.get(node.tag)
        if make is None:
            raise _NotPlain
        return make(loader, node)
    if id(node) in built:
        return built[id(node)]
    if isinstance(node, SequenceNode) and node.tag == _T + "seq":
        items: list[Any] = []
        built[id(node)] = items
        items.extend([_build(v, built, loader) for v in node.value])
        return items
    if isinstance(node, MappingNode) and node.tag == _T + "map":
        out: dict[Any, Any] = {}
        built[id(node)] = out
        for key_node, value_node in node.value:
            key = _build(key_node, built, loader)
            if isinstance(key, (list, dict)) or key in out:
                raise _NotPlain
            out[key] = _build(value_node, built, loader)
        return out
    raise _NotPlain
