"""Where the project's data lives: catalogs and kernel profiles."""
from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the package is installed editable, so data/ sits beside planner/).
ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The catalog folder; PLANNER_DATA_DIR overrides it."""
    return Path(os.environ.get("PLANNER_DATA_DIR", ROOT / "data"))


def profile_dir() -> Path:
    """Where kernel profiles are read and written; PLANNER_PROFILE_DIR overrides it."""
    return Path(os.environ.get("PLANNER_PROFILE_DIR", data_dir() / "profiles"))
