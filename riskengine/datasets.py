"""Loaders for the real public data sets in ``../shared/data`` (shell layer).

The files stay where they are: riskengine reads them from ``../shared/data``
beside the project root (or from ``$RISKENGINE_SHARED_DATA``) and never copies
them into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir"]

_PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The directory of the shared real data, or None when it cannot be found.

    ``$RISKENGINE_SHARED_DATA`` wins; otherwise ``../shared/data`` beside the
    project root.
    """
    env = os.environ.get("RISKENGINE_SHARED_DATA")
    if env:
        return Path(env)
    candidate = _PROJECT_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None
