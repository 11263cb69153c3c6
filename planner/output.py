"""Writing outputs whole or not at all: single files and whole folders.

- `write_atomic(path, data)`: a temporary file beside `path`, renamed over it, so a reader sees
  the old file or the whole new one.
- `staged_dir(target)`: a folder of outputs (a run's report) written into a temporary sibling and
  renamed into place once complete, replacing an earlier run's folder only then. A run killed
  with `kill -9` leaves the earlier folder as it was (and a hidden `.NAME.partial-PID-*` sibling,
  removed by the next run once PID is gone).

Files get mode 0666 less the umask (0644 usually), as `open()` would give them: `mkstemp` makes
them 0600, which would hide reports from the rest of a team sharing the folder.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from planner.errors import OutputError

#: Written last into a staged folder: the files it holds. Its presence marks the folder as ours,
#: so a later run may replace it whole.
MANIFEST = "manifest.json"


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open()` would give a new file (0644 with the usual umask)."""
    return 0o666 & ~_umask()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file so that readers see the old one or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            os.fchmod(fh.fileno(), file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Remove staging folders of runs into `name` whose process is gone (killed mid-write)."""
    for p in parent.glob(f".{glob.escape(name)}.*-*-*"):
        parts = p.name[len(name) + 2:].split("-")
        if len(parts) >= 3 and parts[0] in ("partial", "old") and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            shutil.rmtree(p, ignore_errors=True)


def _replaceable(target: Path, known: Iterable[str]) -> bool:
    """Whether `target` may be replaced whole: missing, empty, or holding only our outputs."""
    if not target.exists():
        return True
    if not target.is_dir():
        return False
    entries = {p.name for p in target.iterdir()}
    return not entries or MANIFEST in entries or entries <= set(known)


@contextmanager
def staged_dir(target: str | Path, known: Iterable[str] = (), what: str = "--out") -> Iterator[Path]:
    """Yield an empty folder beside `target`; when the block ends without error, move it into
    place as `target` (replacing an earlier output folder) with a manifest of its files.

    `target` must be missing, empty, an earlier output folder (it has `manifest.json`), or hold
    only files named in `known`: a folder of other files is never replaced (OutputError).
    """
    target = Path(target)
    known = set(known)
    if not _replaceable(target, known):
        raise OutputError(f"{what} {target}: " + ("not a folder" if target.exists() and not target.is_dir() else
                          "the folder holds other files; give a new or empty folder (or an earlier run's)"))
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, target.name)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=parent))
    try:
        os.chmod(stage, 0o777 & ~_umask())
        yield stage
        files = sorted(p.name for p in stage.iterdir())
        write_atomic(stage / MANIFEST, json.dumps({"files": files}, indent=2) + "\n")
        _swap_into_place(stage, target.absolute())
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_into_place(stage: Path, target: Path) -> None:
    if not target.exists():
        os.rename(stage, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    try:
        os.rename(target, old / "dir")
    except OSError:
        # A folder that cannot be moved (a mount point, the working directory on some systems):
        # replace its files one by one instead, the manifest last.
        shutil.rmtree(old, ignore_errors=True)
        for p in sorted(stage.iterdir(), key=lambda p: p.name == MANIFEST):
            os.replace(p, target / p.name)
        shutil.rmtree(stage, ignore_errors=True)
        return
    os.rename(stage, target)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["write_atomic", "staged_dir", "file_mode", "MANIFEST"]
