"""The hybrid placement planner in the browser: ``streamlit run app.py``.

Pages: the scenario (pick an example or upload one, edit it with widgets), the plan, the
simulation, comparison, the Pareto front and sweeps, and the cost explorer; each is a module of
`app_pages/`. Every number comes from the public API (`import planner`); the app holds no
modelling logic, only choosing what to ask, caching, and showing the answer with where it came from.

`.streamlit/config.toml` binds the server to 127.0.0.1 with usage statistics off; to serve it to
others, `streamlit run app.py --server.address 0.0.0.0`.
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder on the path, but `streamlit.testing` and other runners may not,
# and app_pages/ is not an installed package.
ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app_pages.main import main  # noqa: E402 - after the path is set

if __name__ == "__main__":
    main()
