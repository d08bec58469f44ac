"""The money unit of the PD model (issue 16/17): riskengine/features/units.py and every path
that feeds the model its size features.

Golden values are hand calculations. The example debtor (examples/debtor.json) has total
assets EUR 11,640,000 and revenue EUR 21,160,000 in its 2025 statement and gives the rate
1 USD = 0.9259 EUR (so 1 EUR = 1 / 0.9259 = 1.080030 USD); the shipped champion declares
``money_unit = {"currency": "USD", "scale": 1e6}`` (the US panel's unit, USD millions):

    st_log_total_assets = log(11,640,000 x 1.080030 / 1e6) = log(12.571552) = 2.531436
    st_log_revenue      = log(21,160,000 x 1.080030 / 1e6) = log(22.853440) = 3.129102

where before issue 17 the model was fed log(11,640,000) = 16.269958, beyond the panel's
largest firm (about 12.4 in log USD millions).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskengine.api import load_engine
from riskengine.contracts.payload import parse_payload, payload_to_frames
from riskengine.contracts.schemas import CURRENCIES
from riskengine.errors import ModelArtifactError
from riskengine.features.fx import CURRENCY_CODE, FxRates
from riskengine.features.units import MoneyUnit, size_in_unit, size_shift
from riskengine.io.artifacts import champion_money_unit, metadata_path
from riskengine.io.datasets import US_PANEL_UNIT
from riskengine.scoring.debtor_inputs import debtor_inputs
from riskengine.validation import validate_portfolio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
AS_OF = "2026-06-30"
STAMP = "2026-06-30T12:00:00Z"
USD_MILLIONS = MoneyUnit("USD", 1e6)
EUR, RON, USD = CURRENCY_CODE["EUR"], CURRENCY_CODE["RON"], CURRENCY_CODE["USD"]
#: hand calculations of the module docstring
LOG_TA = math.log(11_640_000 / 0.9259 / 1e6)
LOG_REV = math.log(21_160_000 / 0.9259 / 1e6)


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _rates(**per_unit: float) -> np.ndarray:
    """A rate vector over CURRENCIES (EUR per unit; EUR 1; NaN: none)."""
    out = np.full(len(CURRENCIES), np.nan)
    out[EUR] = 1.0
    for cur, r in per_unit.items():
        out[CURRENCY_CODE[cur]] = r
    return out


def _size(inputs: Any, engine: Any) -> np.ndarray:
    names = list(engine.feature_names)
    return inputs.st_X[:, [names.index("st_log_total_assets"), names.index("st_log_revenue")]]


# --- the shift --------------------------------------------------------------------------


def test_shift_of_a_eur_statement_into_usd_millions_by_hand() -> None:
    """log(11,640,000) + log(1 / 0.9259) - log(1e6) = 16.269958 + 0.076989 - 13.815511
    = 2.531436 (module docstring: log 12.571552)."""
    shift = size_shift([EUR], _rates(USD=0.9259), USD_MILLIONS)
    assert shift[0] == pytest.approx(math.log(1 / 0.9259) - math.log(1e6), abs=1e-12)
    assert math.log(11_640_000) + shift[0] == pytest.approx(2.531436, abs=1e-6)
    assert math.log(11_640_000) + shift[0] == pytest.approx(LOG_TA, abs=1e-12)


def test_a_eur_and_a_ron_statement_of_one_firm_give_one_size() -> None:
    """The same firm, TA EUR 1,887,147 or RON 9,379,120.59 at 4.97 RON per EUR (rate
    1 / 4.97 EUR per RON): one size in USD millions, log(1,887,147 x 1.0814 / 1e6) = 0.713."""
    rates = _rates(USD=1 / 1.0814, RON=1 / 4.97)
    X = np.log(np.array([[1_887_147.0, 2_000_000.0], [1_887_147.0 * 4.97, 2_000_000.0 * 4.97]]))
    out, missing = size_in_unit(X, ["st_log_total_assets", "st_log_revenue"], [EUR, RON],
                                rates, USD_MILLIONS)
    assert out[0] == pytest.approx(out[1], abs=1e-12)
    assert out[0, 0] == pytest.approx(math.log(1.887147 * 1.0814), abs=1e-12)
    assert round(float(out[0, 0]), 3) == 0.713
    assert not missing.any()


def test_only_size_columns_move_and_the_input_is_not_modified() -> None:
    X = np.array([[1.5, math.log(2e6), 0.3]])
    out, _ = size_in_unit(X, ["st_current_ratio", "st_log_revenue", "st_roa"], [USD],
                          _rates(USD=0.9), USD_MILLIONS)
    assert out[0, 0] == 1.5 and out[0, 2] == 0.3
    assert out[0, 1] == pytest.approx(math.log(2.0), abs=1e-12)
    assert X[0, 1] == math.log(2e6)


def test_no_rate_makes_the_size_missing_and_flags_the_row() -> None:
    """No USD rate in force: the sizes are NaN (never a number in the statement's units);
    a debtor without statements (NaN sizes, no currency) is not flagged."""
    X = np.log(np.array([[1e7, 2e7], [np.nan, np.nan]]))
    out, missing = size_in_unit(X, ["st_log_total_assets", "st_log_revenue"], [EUR, -1],
                                _rates(), USD_MILLIONS)
    assert np.isnan(out).all()
    assert missing.tolist() == [True, False]


def test_the_us_panel_unit_leaves_the_panel_features_unchanged_to_the_bit() -> None:
    """A panel in USD millions fed to a USD-millions model: the shift is exactly 0.0, so the
    training features are the same bits as before the unit existed."""
    rng = np.random.default_rng(7)
    X = np.log(rng.lognormal(5.0, 3.0, size=(500, 2)))
    out, missing = size_in_unit(X, ["st_log_total_assets", "st_log_revenue"],
                                np.full(500, USD), _rates(USD=0.93), USD_MILLIONS,
                                US_PANEL_UNIT.scale)
    assert out.tobytes() == X.tobytes() and not missing.any()
    assert US_PANEL_UNIT == USD_MILLIONS


@pytest.mark.realdata
def test_us_panel_frame_in_the_champions_unit_is_the_training_frame(shared_data: Path) -> None:
    """evaluate/validate read the panel in the champion's unit (USD millions, the panel's):
    the same bits as the frame training used."""
    from riskengine.modeldev.protocol import us_panel_frame

    path = shared_data / "us_listed" / "firm_years.csv.gz"
    a = us_panel_frame(path)
    b = us_panel_frame(path, champion_money_unit())
    cols = ["st_log_total_assets", "st_log_revenue"]
    assert a[cols].to_numpy().tobytes() == b[cols].to_numpy().tobytes()
    eur = us_panel_frame(path, MoneyUnit("EUR", 1e6))  # no rate in the panel: missing
    assert eur[cols].isna().all().all()


# --- the model's declared unit ----------------------------------------------------------


def test_the_shipped_champion_declares_usd_millions() -> None:
    assert champion_money_unit() == USD_MILLIONS
    assert load_engine().money_unit == USD_MILLIONS


def test_a_model_without_a_money_unit_is_refused(tmp_path: Path) -> None:
    """Metadata without ``money_unit``: refused, naming the metadata file and the key."""
    src = ROOT / "models"
    for f in ("pd_model.skops", "pd_model.skops.json"):
        shutil.copy2(src / f, tmp_path / f)
    meta_file = metadata_path(tmp_path / "pd_model.skops")
    meta = json.loads(meta_file.read_text())
    del meta["money_unit"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelArtifactError, match=r"pd_model\.skops\.json: key 'money_unit'"):
        load_engine(tmp_path)
    meta["money_unit"] = {"currency": "USD", "scale": 0}
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelArtifactError, match="money_unit"):
        load_engine(tmp_path)


# --- every path: the same function -----------------------------------------------------


def test_single_and_batch_paths_feed_the_same_sizes(engine: Any) -> None:
    """The example debtor through the single path (fastpath) and through the batch path
    (debtor_inputs): identical feature rows, sizes as the module docstring's hand
    calculation."""
    single, _ = engine._fast.inputs(parse_payload(EXAMPLE), AS_OF, AS_OF)
    frames = payload_to_frames([EXAMPLE])
    vp = validate_portfolio({k: v for k, v in frames.items() if k != "fx_rates"},
                            reference_date=AS_OF)
    fx = FxRates.from_frame(frames["fx_rates"], engine.policy.book.currency)
    batch, _, _ = debtor_inputs(engine, vp.frames, AS_OF, engine.rates_on(fx, AS_OF))
    assert single.st_X.tobytes() == batch.st_X.tobytes()
    assert _size(single, engine)[0] == pytest.approx([LOG_TA, LOG_REV], abs=1e-9)
    assert not single.size_unconverted.any() and not batch.size_unconverted.any()


def test_a_ron_statement_decides_like_the_same_eur_statement(engine: Any) -> None:
    """The example's statements restated in RON at 4.97 RON per EUR (and the rate given):
    the same size features, so the same model PD and grade."""
    ron = copy.deepcopy(EXAMPLE)
    for s in ron["statements"]:
        for k, v in list(s.items()):
            if isinstance(v, float) and k not in ("period_end",):
                s[k] = v * 4.97
        s["currency"] = "RON"
    ron["fx_rates"] = [*EXAMPLE["fx_rates"],
                       {"date": "2026-06-01", "currency": "RON", "rate": 1 / 4.97}]
    a, _ = engine._fast.inputs(parse_payload(EXAMPLE), AS_OF, AS_OF)
    b, _ = engine._fast.inputs(parse_payload(ron), AS_OF, AS_OF)
    assert _size(b, engine) == pytest.approx(_size(a, engine), abs=1e-9)
    da = engine.decide_one(EXAMPLE, decided_at=STAMP)
    db = engine.decide_one(ron, decided_at=STAMP)
    assert db["pd_model"] == pytest.approx(da["pd_model"], rel=1e-9)
    assert db["grade"] == da["grade"]


def test_without_a_usd_rate_the_decision_says_size_not_converted(engine: Any) -> None:
    """No USD rate in the call: the size features are missing and every decision carries
    the note ``size_not_converted`` on both paths; the batch summary counts them through
    the decisions' notes."""
    bare = copy.deepcopy(EXAMPLE)
    del bare["fx_rates"]
    single = engine.decide_one(bare, decided_at=STAMP)
    assert "size_not_converted" in single["limit_notes"]
    inputs, _ = engine._fast.inputs(parse_payload(bare), AS_OF, AS_OF)
    assert np.isnan(_size(inputs, engine)).all() and inputs.size_unconverted.tolist() == [True]
    batch = engine.decide(payload_to_frames([bare]), AS_OF, decided_at=STAMP,
                          reference_date=AS_OF)
    notes = batch.decisions["limit_notes"].iloc[0]
    assert "size_not_converted" in list(notes)
    assert batch.decisions["pd_model"].iloc[0] == pytest.approx(single["pd_model"], rel=1e-12)
    with_rate = engine.decide_one(EXAMPLE, decided_at=STAMP)
    assert "size_not_converted" not in with_rate["limit_notes"]


def test_a_turnover_collapse_never_lowers_a_book_debtors_pd(engine: Any) -> None:
    """Issue 17's property on the book path, sizes now in USD millions: the example's
    latest P&L (revenue and every cost and earnings line) x k, balance sheet unchanged,
    never gives a lower model PD as k falls (the shift into the unit is one constant per
    currency and date, so the monotone constraints still hold)."""
    from riskengine.modeldev.protocol import PNL_ITEMS

    pds = []
    for k in (0.1, 0.3, 0.5, 0.9, 1.0):
        p = copy.deepcopy(EXAMPLE)
        latest = p["statements"][-1]
        for item in PNL_ITEMS:
            latest[item] = latest[item] * k
        pds.append(engine.decide_one(p, decided_at=STAMP)["pd_model"])
    assert all(a >= b for a, b in zip(pds, pds[1:], strict=False)), pds
    assert pds[0] > pds[-1]
