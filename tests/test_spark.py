"""The Spark path (``--engine spark``, pyspark ``mapInPandas`` in local mode) gives the
same bytes as the pandas path on the same SYNTHETIC portfolio.

Needs pyspark (dev extras) and Java 17+ (``scripts/install_java.sh``): skipped with
the reason when either is missing, failed instead when ``CI`` is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.batch.dataset import DIRNAME, part_files
from riskengine.batch.options import OUTPUT_FILES, RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.io.portfolio import write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"


def _require_spark() -> None:
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None:
        missing.append("Java is not on PATH (scripts/install_java.sh)")
    if missing:
        msg = "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is a failure, not a skip")
        pytest.skip(msg)


@pytest.mark.slow
def test_spark_local_mode_matches_pandas_byte_for_byte(tmp_path: Path) -> None:
    _require_spark()
    portfolio = tmp_path / "portfolio"
    write_portfolio(generate_portfolio(80, 23, AS_OF), portfolio,
                    manifest=synthetic_manifest(80, 23, AS_OF))
    common = {"portfolio": portfolio, "as_of": AS_OF, "chunk_size": 20, "tracking": False,
              "progress": False}
    run_rerate(RerateOptions(out=tmp_path / "pandas", **common), engine=load_engine())
    res = run_rerate(RerateOptions(out=tmp_path / "spark", engine="spark",
                                   spark_master="local[2]", **common))
    assert res.summary["reconciled"] and res.chunks == 4
    for name in OUTPUT_FILES:
        if name != DIRNAME:
            assert (tmp_path / "spark" / name).read_bytes() == (
                tmp_path / "pandas" / name).read_bytes(), name
    parts = {run: [(f.name, f.read_bytes()) for f in part_files(tmp_path / run / DIRNAME)]
             for run in ("spark", "pandas")}
    assert len(parts["spark"]) == 4 and parts["spark"] == parts["pandas"]
    dec = pd.read_parquet(tmp_path / "spark" / DIRNAME)
    assert dec.loc[dec["row_type"] == "rating", "debtor_id"].nunique() == 80
