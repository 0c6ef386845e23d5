"""Default locations, relative to the working directory unless overridden by the user.

``ODAPI_TUNER_HOME`` moves all of them at once (e.g. to a big disk).
"""
from __future__ import annotations

import os
from pathlib import Path

HOME = Path(os.environ.get("ODAPI_TUNER_HOME", "."))
#: Studies (one directory each) are written under this.
DEFAULT_RUN_DIR = HOME / "runs"
#: The generated demo dataset (embedded default when a config has placeholder paths).
DEMO_DATA_DIR = HOME / "data" / "shapes"
#: Bundled pipeline configs (``--base NAME`` looks here).
PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"
