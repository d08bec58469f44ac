"""Shared fixtures.

``shared_data`` gives the path of ``../shared/data``. Tests on real data are
skipped with a stated reason when it is absent, and fail instead when the
``CI`` environment variable is set (CI always has it beside the clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from riskengine.io.datasets import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None or not path.is_dir():
        msg = (
            "real data not found: ../shared/data is absent beside the project root "
            "(set RISKENGINE_SHARED_DATA to its path)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is a failure, not a skip")
        pytest.skip(msg)
    return path
