"""The whole engine as an MLflow *models-from-code* pyfunc (the logged source file).

MLflow copies this file into the logged model and executes it at load time
(``mlflow.models.set_model`` at the bottom names the model object), so nothing
is unpickled: the PD model comes from its sha256-checked skops artifact and the
credit policy, master scale and overlay come from the model's ``model_config``
(plain dicts, validated by ``CreditPolicy.from_dict``, ``MasterScale.from_dict``
and ``Overlay.from_dict``). :mod:`riskengine.tracking.pyfunc` logs, checks and registers it.

Input
-----
A DataFrame with one string column ``payload``: each row is one debtor payload
as a JSON document (the form of ``examples/debtor.json``). The signature
describes it as ``payload: string``, which ``mlflow models serve`` accepts as
``{"dataframe_split": {"columns": ["payload"], "data": [["{...}"]]}}`` or
``{"dataframe_records": [{"payload": "{...}"}]}``. Called in Python (not through
``PyFuncModel.predict``) the model also takes a list of payload dicts or JSON
strings.

Params (all optional strings): ``as_of`` (decision date for payloads without
one; default today, UTC), ``decided_at`` (the timestamp recorded in each
decision; default now, UTC) and ``reference_date`` (records dated after it are
invalid; default today, UTC). Pass all three to get byte-identical decisions.

Output
------
A list with one entry per row: a payload with ``exposure`` gives its decision
dict (:meth:`riskengine.contracts.decision.Decision.to_dict`), one with
``exposures`` the list of its pairs' decision dicts
(:func:`riskengine.contracts.payload.by_payload`). One row goes through
:meth:`~riskengine.scoring.engine.Engine.decide_payload` (the single-debtor fast path),
several through :meth:`~riskengine.scoring.engine.Engine.score_payloads` (the batch
path), as in the HTTP service; the engine's tests prove the two agree. An
invalid payload fails the call with an ``MlflowException``
(``INVALID_PARAMETER_VALUE``, HTTP 400 when served) whose message names the
row and the field path, never the submitted value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from riskengine.contracts.payload import by_payload
from riskengine.errors import InvalidInputError, PolicyError
from riskengine.model.master_scale import MasterScale
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.scoring.engine import Engine
from riskengine.scoring.overlay import Overlay

__all__ = [
    "INPUT_COLUMN",
    "PARAM_NAMES",
    "PD_MODEL_ARTIFACT",
    "CONFIG_KEYS",
    "RiskEngineModel",
    "build_engine",
    "payloads_from_input",
]

#: The one input column: a debtor payload as a JSON string.
INPUT_COLUMN = "payload"
#: Inference params (strings, default None).
PARAM_NAMES: tuple[str, ...] = ("as_of", "decided_at", "reference_date")
#: Name of the artifact directory holding ``pd_model.skops`` and its metadata.
PD_MODEL_ARTIFACT = "pd_model"
#: Keys of ``model_config``: required (the three TOML documents) and optional.
CONFIG_KEYS: tuple[str, ...] = ("policy", "master_scale", "overlay")
_OPTIONAL_KEYS: tuple[str, ...] = ("default_product",)


def _config_section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in config:
        raise PolicyError(f"model_config: '{key}' is missing; log the model with "
                          "riskengine.tracking.pyfunc.log_engine_model (it puts the policy, master "
                          "scale and overlay TOML documents there).", key=key)
    section = config[key]
    if not isinstance(section, Mapping):
        raise PolicyError(f"model_config: '{key}' must be a mapping (the parsed TOML "
                          f"document), not {type(section).__name__}.", key=key)
    return section


def build_engine(pd_model_dir: Any, config: Mapping[str, Any]) -> Engine:
    """The engine on a PD-model artifact directory and a ``model_config``.

    Parameters
    ----------
    pd_model_dir : path-like
        Directory with ``pd_model.skops`` and ``pd_model.skops.json``; the
        artifact is loaded with skops after its sha256 is checked
        (:func:`riskengine.io.artifacts.load_champion`).
    config : mapping
        ``{"policy": {...}, "master_scale": {...}, "overlay": {...}}`` (the
        parsed TOML documents) and optionally ``"default_product"``.

    Returns
    -------
    Engine
        Its ``model_version`` is ``"pd_model@<sha256[:12]>"``, as in
        :func:`riskengine.api.load_engine`, so both give identical decisions.

    Raises
    ------
    PolicyError
        A section is missing, unknown or invalid (the key is named).
    ModelArtifactError
        The artifact is missing, tampered with (sha256) or not a PD model.
    """
    from riskengine.io.artifacts import (
        champion_money_unit,
        champion_path,
        load_champion,
        read_metadata,
    )

    extra = sorted(set(config) - set(CONFIG_KEYS) - set(_OPTIONAL_KEYS))
    if extra:
        raise PolicyError(f"model_config: unknown key '{extra[0]}'; expected "
                          f"{', '.join(CONFIG_KEYS + _OPTIONAL_KEYS)}.", key=extra[0])
    policy = CreditPolicy.from_dict(dict(_config_section(config, "policy")))
    scale = MasterScale.from_dict(dict(_config_section(config, "master_scale")))
    overlay = Overlay.from_dict(dict(_config_section(config, "overlay")))
    model = load_champion(pd_model_dir)
    sha = str(read_metadata(champion_path(pd_model_dir)).get("sha256", ""))
    return Engine(model, scale, policy, overlay=overlay, model_version=f"pd_model@{sha[:12]}",
                  default_product=str(config.get("default_product", "non_recourse")),
                  money_unit=champion_money_unit(pd_model_dir))


def _bad_input(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _payload(value: Any, row: int) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str | bytes):
        raise _bad_input(f"row {row}: '{INPUT_COLUMN}' must be a JSON object as a string, "
                         f"not {type(value).__name__}.")
    try:
        doc = json.loads(value)
    except json.JSONDecodeError as exc:
        # the position only: the submitted text is never echoed
        raise _bad_input(f"row {row}: '{INPUT_COLUMN}' is not valid JSON (line {exc.lineno}, "
                         f"column {exc.colno}: {exc.msg}); send one debtor payload as in "
                         "examples/debtor.json.") from None
    if not isinstance(doc, dict):
        raise _bad_input(f"row {row}: '{INPUT_COLUMN}' must hold a JSON object (one debtor "
                         f"payload), not a JSON {type(doc).__name__}.")
    return doc


def payloads_from_input(model_input: Any) -> list[dict[str, Any]]:
    """The payload dicts of a model input (DataFrame with ``payload``, or a list).

    Raises
    ------
    mlflow.exceptions.MlflowException
        ``INVALID_PARAMETER_VALUE``: no ``payload`` column, or a row that is not
        a JSON object (the row number is named, the value is not echoed).
    """
    if isinstance(model_input, pd.DataFrame):
        if INPUT_COLUMN not in model_input.columns:
            raise _bad_input(f"the input needs a column '{INPUT_COLUMN}' (one debtor payload "
                             "as a JSON string per row).")
        values: Sequence[Any] = model_input[INPUT_COLUMN].tolist()
    elif isinstance(model_input, Mapping):
        values = [model_input]
    elif isinstance(model_input, Sequence) and not isinstance(model_input, str | bytes):
        values = list(model_input)
    else:
        raise _bad_input(f"unsupported input type {type(model_input).__name__}; send a "
                         f"DataFrame with a '{INPUT_COLUMN}' column.")
    return [_payload(v, i) for i, v in enumerate(values)]


class RiskEngineModel(PythonModel):
    """The riskengine :class:`~riskengine.scoring.engine.Engine` behind MLflow's pyfunc API."""

    engine: Engine | None = None

    def load_context(self, context: Any) -> None:
        """Build the engine from the ``pd_model`` artifact and ``model_config``."""
        self.engine = build_engine(context.artifacts[PD_MODEL_ARTIFACT],
                                   dict(context.model_config or {}))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One entry per payload row: its decision dict, or with ``exposures`` its
        pairs' list (see the module docstring)."""
        if self.engine is None:
            raise MlflowException("the riskengine model is not loaded (load_context not run).")
        payloads = payloads_from_input(model_input)
        p = {k: v for k, v in (params or {}).items() if k in PARAM_NAMES and v not in (None, "")}
        now = dt.datetime.now(dt.UTC)  # the shell reads the clock, the engine never does
        kw: dict[str, Any] = {
            "decided_at": p.get("decided_at",
                                now.strftime("%Y-%m-%dT%H:%M:%SZ")),  # RFC 3339, Z
            "reference_date": p.get("reference_date", now.date().isoformat()),
            "as_of": p.get("as_of", now.date().isoformat()),
        }
        try:
            if len(payloads) == 1:
                return by_payload(payloads, self.engine.decide_payload(payloads[0], **kw))
            return by_payload(payloads, self.engine.score_payloads(payloads, **kw))
        except InvalidInputError as exc:
            raise _bad_input(str(exc)) from None


mlflow.models.set_model(RiskEngineModel())
