"""The ``riskengine`` command line (shell layer).

Each subcommand parses its arguments here and calls one function of a module;
the arithmetic lives in the core modules.

Manners shared by every subcommand (this module's plumbing):

- ``riskengine --version``;
- ``--json`` on every subcommand that prints results: the result the handler records
  (:func:`riskengine.io.console.set_result`) is printed as one JSON document on
  standard output, money rounded to cents, and its human text goes to standard error;
  a handler that records none is shown as ``{"command": ..., "lines": [...]}``.
  ``score``, ``evaluate`` and ``evidence`` print JSON themselves;
- a user error (bad input, missing file, bad option) exits with status 2 and one line
  on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

__all__ = ["main", "build_parser"]

#: Subcommands that print no result (a server): no ``--json``.
_NO_RESULT = frozenset({"serve"})
#: Subcommands that print JSON themselves under ``--json`` (their own flag or output).
_NATIVE_JSON = frozenset({"score", "evaluate", "evidence"})


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on standard error (status 2)."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (see {self.prog} --help)\n")

# subcommand -> "module:function"; the function takes the parsed Namespace and returns an exit code.
_HANDLERS: dict[str, str] = {
    "demo-data": "riskengine.commands:demo_data",
    "features": "riskengine.commands:features",
    "demo": "riskengine.commands:demo",
    "train": "riskengine.modeldev.training:train_command",
    "validate": "riskengine.modeldev.report:validate_command",
    "evaluate": "riskengine.modeldev.evaluate:evaluate_command",
    "evidence": "riskengine.modeldev.spanish:evidence_command",
    "score": "riskengine.commands:score",
    "serve": "riskengine.serve.api:serve_command",
    "rerate": "riskengine.batch.rerate:rerate_command",
    "report": "riskengine.serve.memo.report:report_command",
    "publish": "riskengine.tracking.pyfunc:publish_command",
    "insurer-responses": "riskengine.serve.insurer:responses_command",
    "fx-rates": "riskengine.commands:fx_rates_command",
    "users": "riskengine.serve.accounts:users_command",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from riskengine import __version__

    p = _Parser(
        prog="riskengine",
        description="Credit risk scoring and limit engine for factoring and credit insurance.",
    )
    p.add_argument("--version", action="version", version=f"riskengine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("demo-data", help="write a seeded SYNTHETIC portfolio (Parquet)")
    s.add_argument("--debtors", type=int, default=1000, help="number of debtors (default 1000)")
    s.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--as-of", default=None, help="as-of date of the portfolio (default 2026-06-30)")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    s.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out (replacing its portfolio files)")
    s.add_argument("--years", type=int, default=None,
                   help="1..10 years of history ending at --as-of, with the outcomes table "
                        "and truth/true_pd.parquet (the generator's true PDs; default: none)")

    s = sub.add_parser("features", help="validate a portfolio and compute its features")
    s.add_argument("--portfolio", required=True, help="portfolio directory")
    s.add_argument("--as-of", default=None,
                   help="as-of date YYYY-MM-DD (default: the manifest's; not after it)")
    s.add_argument("--allow-as-of-after-extract", action="store_true",
                   help="accept an --as-of after the manifest's as_of")
    s.add_argument("--out", default=None, help="write features.parquet and errors.parquet here")

    s = sub.add_parser("demo", help="run the main job on the bundled synthetic portfolio")
    s.add_argument("--debtors", type=int, default=2000)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--out", default="demo-out", help="output directory (default demo-out)")

    s = sub.add_parser("train", help="train the PD model on the US panel (real data), or "
                       "with --portfolio on a book's own outcomes")
    s.add_argument("--data", default=None, help="US panel CSV (default ../shared/data/us_listed)")
    s.add_argument("--portfolio", default=None,
                   help="a portfolio directory with an outcomes table: fit the engine's PD "
                        "(statement component and overlay weights) on the book")
    s.add_argument("--out", default=None, help="where to write the model (default models; "
                   "with --portfolio: book-model)")
    s.add_argument("--frequency", choices=("annual", "quarterly"), default="annual",
                   help="--portfolio: training snapshot dates (default annual year-ends)")
    s.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default sqlite)")
    s.add_argument("--no-register", action="store_true", help="do not register in MLflow")

    s = sub.add_parser("validate", help="write the validation report of the shipped model")
    s.add_argument("--out", default="validation-report", help="report directory")
    s.add_argument("--model-dir", default=None, help="model directory (default models/)")
    s.add_argument("--tracking-uri", default=None)
    s.add_argument("--quick", action="store_true", help="fewer bootstrap draws and walk-forward years")

    s = sub.add_parser("evaluate", help="score a US-panel file with the shipped model")
    s.add_argument("--us-panel", required=True, help="CSV(.gz) in the format of firm_years.csv.gz")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--model-dir", default=None)
    s.add_argument("--scores", default=None, metavar="FILE",
                   help="write one row per firm-year (firm_id, fiscal_year, pd, grade, "
                        "default_12m): .csv or .parquet")

    s = sub.add_parser("evidence", help="odds factors of adverse and qualitative evidence "
                       "on real data (the Spanish firms), out-of-time AUCs")
    s.add_argument("--spanish", nargs="?", const="", required=True, metavar="FILE",
                   help="the Spanish ARFF (default ../shared/data/spanish/"
                        "Bankruptcy_Spain_98-03.arff)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--test-from", type=int, default=2003,
                   help="first out-of-time year; the fit sees the earlier ones (default 2003)")
    s.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap draws of the AUC intervals (default 1000)")

    s = sub.add_parser("score", help="score one debtor from a JSON payload (examples/debtor.json)")
    s.add_argument("file", help="payload JSON file (one object or an array)")
    s.add_argument("--as-of", default=None,
                   help="decision date YYYY-MM-DD, overriding the payload's (not after today)")
    s.add_argument("--model-dir", default=None)
    s.add_argument("--policy", default=None, help="policy TOML (default: the shipped policy)")

    s = sub.add_parser("serve", help="HTTP service for funding systems (FastAPI on uvicorn)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--insecure-dev", action="store_true",
                   help="run WITHOUT authentication (development only; logged loudly)")
    s.add_argument("--token-file", default=None, help="file with one API token per line")
    s.add_argument("--factor-capital", type=float, default=None,
                   help="the factor's eligible capital in the policy's book currency "
                        "(default: the policy's book.factor_capital)")
    s.add_argument("--store", dest="store_url", default=None,
                   help="SQLAlchemy URL of the decision store (default sqlite file)")
    s.add_argument("--model-dir", default=None)

    s = sub.add_parser("report", help="one-page HTML decision memo of a debtor")
    s.add_argument("--debtor", required=True)
    s.add_argument("--supplier", default=None, help="the pair (default: first / latest)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--portfolio", default=None, help="decide from a portfolio dir (also sector peers)")
    g.add_argument("--store", default=None, help="store URL (default store when neither is given)")
    s.add_argument("--as-of", default=None,
                   help="portfolio mode; YYYY-MM-DD, default the manifest's (not after it)")
    s.add_argument("--allow-as-of-after-extract", action="store_true",
                   help="portfolio mode: accept an --as-of after the manifest's as_of")
    s.add_argument("--out", default=None, help="HTML file (default memo-<debtor>.html)")
    s.add_argument("--model-dir", default=None)
    s.add_argument("--policy", default=None)

    s = sub.add_parser("publish", help="log the engine to MLflow as a pyfunc, check it, "
                       "register riskengine@champion")
    s.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default sqlite)")
    s.add_argument("--model-dir", default=None)
    s.add_argument("--policy", default=None)
    s.add_argument("--master-scale", default=None)
    s.add_argument("--overlay", default=None)
    s.add_argument("--no-register", action="store_true", help="log and check only")

    s = sub.add_parser("insurer-responses", help="record an insurer's answers (limits granted, "
                       "reduced, ...) and decide the affected debtors again")
    ops = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = ops.add_parser("load", help="load answers from a CSV or JSON file (all or nothing)")
    s.add_argument("file", help="CSV (insurer_limits columns) or JSON (a list of objects)")
    s.add_argument("--store", dest="store_url", default=None,
                   help="SQLAlchemy URL of the store (default sqlite file)")
    s.add_argument("--model-dir", default=None)
    s.add_argument("--policy", default=None, help="policy TOML (default: the shipped policy)")

    s = sub.add_parser("fx-rates", help="dated exchange rates in the decision store")
    fx = s.add_subparsers(dest="fx_action", required=True, metavar="ACTION")
    f = fx.add_parser("load", help="load a rates file (date, currency, rate: units of the "
                      "policy's [book] currency per one unit) into the store")
    f.add_argument("file", help="CSV or Parquet file with the columns date, currency, rate")
    f.add_argument("--store", dest="store_url", default=None,
                   help="SQLAlchemy URL of the decision store (default sqlite file)")
    f.add_argument("--policy", default=None, help="policy TOML (its [book] currency)")
    f = fx.add_parser("list", help="print the store's rates as CSV")
    f.add_argument("--store", dest="store_url", default=None)

    from riskengine.serve.accounts import add_users_arguments

    add_users_arguments(sub)  # riskengine users add|list|disable|set-password

    from riskengine.batch.rerate import add_rerate_arguments

    add_rerate_arguments(sub.add_parser(
        "rerate", help="re-rate a whole portfolio: decisions, errors, limit actions, migrations"))
    _add_json_flags(sub)
    return p


def _add_json_flags(sub: argparse._SubParsersAction) -> None:
    """``--json`` on every subcommand (and action) that prints results and lacks it."""
    for name, parser in sub.choices.items():
        if name in _NO_RESULT:
            continue
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for action in nested:
                _add_json_flags(action)
        elif not any("--json" in a.option_strings for a in parser._actions):
            parser.add_argument("--json", action="store_true",
                                help="print the result as one JSON document on standard "
                                     "output (the text goes to standard error)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``riskengine`` command; returns its exit status."""
    return _run(build_parser().parse_args(argv))


def console() -> None:
    """Entry point of the ``riskengine`` console script.

    A finished ``rerate`` ends the process at once
    (:func:`riskengine.batch.rerate.end_process`: its outputs are durable when it
    returns, and tearing down the interpreter of a large run costs a noticeable
    part of a second); any other command exits as usual. A reader that stops
    early (``riskengine score - | head``) ends the command quietly, as Unix
    tools do, with the status a closed pipe gives (141).
    """
    args = build_parser().parse_args()
    try:
        code = _run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would print a traceback and then fail again flushing stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    if args.command == "rerate":
        from riskengine.batch.rerate import end_process

        end_process(code)
    sys.exit(code)


def _run(args: argparse.Namespace) -> int:
    _quiet_mlflow()
    module_name, func_name = _HANDLERS[args.command].split(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    from riskengine.errors import RiskEngineError

    try:
        if getattr(args, "json", False) and args.command not in _NATIVE_JSON:
            return _run_json(handler, args)
        return int(handler(args) or 0)
    except RiskEngineError as exc:
        return _user_error(args, str(exc))
    except OSError as exc:  # last resort: a file not found, not permitted, a directory
        if exc.filename is None:  # not about a file the user named: a bug, let it surface
            raise
        return _user_error(args, f"{exc.filename}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return _user_error(args, "interrupted", 130)


def _quiet_mlflow() -> None:
    """MLflow's INFO lines (creating its tables, ...) are not the command's output: its
    loggers at WARNING, whether MLflow is imported later (its variable) or already."""
    import logging

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if "mlflow" in sys.modules:
        logger = logging.getLogger("mlflow")
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))


def _user_error(args: argparse.Namespace, message: str, code: int = 2) -> int:
    """One line on standard error naming the command; the exit status."""
    print(f"riskengine {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


class _Tee(io.StringIO):
    """Text kept (for the ``lines`` of a command without a result) and shown on ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, s: str) -> int:
        self.stream.write(s)
        return super().write(s)

    def flush(self) -> None:
        self.stream.flush()


def _run_json(handler: Callable[[argparse.Namespace], int | None],
              args: argparse.Namespace) -> int:
    """Run ``handler`` with its text on standard error, then print its result as JSON."""
    from riskengine.io.console import get_result, print_json

    text = _Tee(sys.stderr)
    with contextlib.redirect_stdout(text):
        code = int(handler(args) or 0)
    result = get_result(args)
    if result is None:
        result = {"command": args.command, "lines": text.getvalue().splitlines()}
    print_json(result)
    return code


if __name__ == "__main__":  # pragma: no cover
    console()
