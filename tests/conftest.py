"""Suite-wide settings: every test runs offline unless it starts its own model server."""

from __future__ import annotations

import os

for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STATELINE_OPENAI_BASE_URL", "STATELINE_DB", "STATELINE_MODEL"):
    os.environ.pop(_var, None)
os.environ["STATELINE_PROVIDER"] = "offline"
