"""riskengine installs like a package (issue 18 point 5).

- Every third-party package that riskengine/ imports (an AST scan of every import
  statement, at module level or inside functions) is declared: in the base
  requirements, or in the extra of the part that needs it (``serve`` for
  riskengine/serve/, ``spark`` for riskengine/batch/spark.py). Checked against
  pyproject.toml (fast) and against the built wheel's own metadata as
  ``importlib.metadata.requires`` reports it once installed (slow).
- constraints.txt pins every declared requirement at a version its range accepts.
- The wheel is built from a copy of the sources, installed into a fresh virtual
  environment and run from a temporary directory outside the repository: it carries
  the shipped model, its metadata, the model card, the configuration and the example
  payload; ``riskengine.score(...)``, ``riskengine score`` and ``riskengine --version``
  work there; the default stores land in the working directory or ``$RISKENGINE_HOME``,
  never in the installed package.

The fresh environment sees the project environment's site-packages through a ``.pth``
file written after the install (so no dependency is downloaded, and pip never sees the
project's own riskengine while installing); riskengine itself is imported from the
fresh environment, which the test checks.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from sourcetree import parse_file

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "riskengine"

#: The extra a part of the package may draw on besides the base requirements.
EXTRA_OF = {"serve": "riskengine/serve/", "spark": "riskengine/batch/spark.py"}

#: The files a wheel must carry beside the modules.
SHIPPED = ("riskengine/_models/pd_model.skops", "riskengine/_models/pd_model.skops.json",
           "riskengine/_models/MODEL_CARD.md", "riskengine/_examples/debtor.json",
           "riskengine/_examples/debtor.schema.json", "riskengine/config/policy.toml",
           "riskengine/config/master_scale.toml", "riskengine/config/overlay.toml")


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module names imported anywhere in riskengine/ (not the stdlib, not
    riskengine) -> the files importing them (relative, POSIX)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = parse_file(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "riskengine":
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def declared(requirements: list[str]) -> dict[str, set[str]]:
    """Requirement strings (``Requires-Dist`` or pyproject's) -> canonical distribution
    names by extra (``""``: the base requirements)."""
    out: dict[str, set[str]] = {}
    for text in requirements:
        req = Requirement(text)
        extra = ""
        if req.marker is not None:
            extras = [e for e in ("serve", "spark", "dev") if req.marker.evaluate({"extra": e})]
            extra = extras[0] if extras else "?"
        out.setdefault(extra, set()).add(canonicalize_name(req.name))
    return out


def undeclared(by_extra: dict[str, set[str]]) -> list[str]:
    """Imports whose distribution is not declared where the importing file may use it."""
    dists = md.packages_distributions()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        names = {canonicalize_name(d) for d in dists.get(module, [module])}
        for file in sorted(files):
            allowed = set(by_extra.get("", set()))
            for extra, part in EXTRA_OF.items():
                if file == part or (part.endswith("/") and file.startswith(part)):
                    allowed |= by_extra.get(extra, set())
            if not names & allowed:
                problems.append(f"{file} imports {module} ({', '.join(sorted(names))}), "
                                "which is not declared for it")
    return problems


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_import_is_declared_in_pyproject() -> None:
    project = pyproject()["project"]
    by_extra = {"": {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}}
    for extra, reqs in project["optional-dependencies"].items():
        by_extra[extra] = {canonicalize_name(Requirement(r).name) for r in reqs}
    assert undeclared(by_extra) == []
    # the scan sees what it should: imports of the service, of Spark and inside functions
    found = third_party_imports()
    assert "riskengine/serve/api.py" in found["fastapi"]
    assert found["pyspark"] == {"riskengine/batch/spark.py"}
    assert "riskengine/tracking/pyfunc.py" in found["yaml"]
    assert {"fastapi", "uvicorn"} <= by_extra["serve"] and by_extra["spark"] == {"pyspark"}


def test_undeclared_import_is_reported() -> None:
    """The check fails on a missing declaration: without fastapi, serve/api.py is named."""
    project = pyproject()["project"]
    by_extra = {"": {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}}
    problems = undeclared(by_extra)
    assert any(p.startswith("riskengine/serve/api.py imports fastapi") for p in problems)
    assert any(p.startswith("riskengine/batch/spark.py imports pyspark") for p in problems)


def test_constraints_pin_every_declared_requirement_within_its_range() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version.strip())
    project = pyproject()["project"]
    reqs = [*project["dependencies"],
            *(r for extra in project["optional-dependencies"].values() for r in extra)]
    problems = []
    for text in reqs:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == "riskengine":
            continue  # the dev extra names the other extras
        if name not in pins:
            problems.append(f"{req.name}: no pin in constraints.txt")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}: pinned {pins[name]}, outside {req.specifier}")
    assert problems == []


# --- the wheel, installed --------------------------------------------------------------


def _build_wheel(dest: Path, work: Path) -> Path:
    """Build the wheel from a copy of the sources (never leaving build/ in the checkout).

    Without build isolation when the running environment has setuptools >= 77 (the dev
    extra pins it; offline), else with it (pip fetches setuptools, as a user's build does).
    """
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("riskengine", "models", "examples"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w", str(dest),
           "--quiet", "--disable-pip-version-check"]
    try:
        isolation = Version(md.version("setuptools")) < Version("77")
    except md.PackageNotFoundError:
        isolation = True
    if not isolation:
        cmd.append("--no-build-isolation")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = sorted(dest.glob("riskengine-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheel installed into a fresh virtual environment; its paths."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(work / "dist", work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--quiet", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies: the project environment's site-packages, after the install
    (site / "_riskengine_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run_dir = work / "run"
    run_dir.mkdir()
    return {"wheel": wheel, "python": python, "bin": venv / "bin", "site": site,
            "run": run_dir, "work": work}


def _env(**extra: str) -> dict[str, str]:
    """A clean environment: nothing pointing at the repository or its stores."""
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "NUMBA_CACHE_DIR")}
    return {**keep, **extra}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(**env), capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_wheel_carries_the_shipped_files(installed: dict[str, Path]) -> None:
    import zipfile

    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert set(SHIPPED) <= names
    # byte for byte the repository's files (one copy committed, mapped at build time)
    with zipfile.ZipFile(installed["wheel"]) as z:
        assert z.read("riskengine/_models/pd_model.skops") == \
            (ROOT / "models" / "pd_model.skops").read_bytes()
        assert z.read("riskengine/_examples/debtor.json") == \
            (ROOT / "examples" / "debtor.json").read_bytes()
    assert not any(n.startswith(("tests/", "benchmarks/", "models/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_scores_outside_the_repository(installed: dict[str, Path]) -> None:
    run, python = installed["run"], installed["python"]
    code = (
        "import json, riskengine\n"
        "from importlib import resources\n"
        "from riskengine.io.artifacts import default_model_dir\n"
        "payload = json.loads(resources.files('riskengine._examples')"
        ".joinpath('debtor.json').read_text())\n"
        "d = riskengine.score(payload)\n"
        "print(json.dumps({'file': riskengine.__file__, 'models': str(default_model_dir()),"
        " 'grade': d['grade'], 'approved': d['approved_limit'],"
        " 'version': d['model_version']}))\n"
    )
    done = _run([str(python), "-c", code], run)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(installed["site"]))  # the wheel's copy, not the checkout
    assert out["models"] == str(installed["site"] / "riskengine" / "_models")
    sha = json.loads((ROOT / "models" / "pd_model.skops.json").read_text())["sha256"]
    assert out["version"] == f"pd_model@{sha[:12]}"

    # the console script on the same payload: the same decision (as_of from the payload)
    example = installed["site"] / "riskengine" / "_examples" / "debtor.json"
    done = _run([str(installed["bin"] / "riskengine"), "score", str(example), "--json"], run)
    assert done.returncode == 0, done.stderr[-3000:]
    decision = json.loads(done.stdout)
    assert (decision["grade"], decision["approved_limit"]) == (out["grade"], out["approved"])

    done = _run([str(installed["bin"] / "riskengine"), "--version"], run)
    assert (done.returncode, done.stdout.strip()) == (0, "riskengine 0.1.0")


@pytest.mark.slow
def test_installed_metadata_declares_every_import(installed: dict[str, Path]) -> None:
    done = _run([str(installed["python"]), "-c", "import importlib.metadata as m, json; "
                 "print(json.dumps(m.requires('riskengine')))"], installed["run"])
    assert done.returncode == 0, done.stderr
    by_extra = declared(json.loads(done.stdout))
    assert undeclared(by_extra) == []
    assert {"fastapi", "uvicorn"} <= by_extra["serve"] and "pyspark" in by_extra["spark"]


@pytest.mark.slow
def test_default_stores_outside_the_installed_package(installed: dict[str, Path]) -> None:
    python, run = installed["python"], installed["run"]
    code = ("from riskengine.store.database import default_store_url\n"
            "from riskengine.tracking.runs import default_tracking_uri\n"
            "print(default_store_url()); print(default_tracking_uri())\n")
    done = _run([str(python), "-c", code], run)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"sqlite:///{run}/riskengine.db",
                                   f"sqlite:///{run}/mlruns/mlflow.db"]
    home = installed["work"] / "home"
    home.mkdir()  # a store's directory is never created for the user (docs/CLI.md)
    done = _run([str(python), "-c", code], run, RISKENGINE_HOME=str(home))
    assert done.stdout.split() == [f"sqlite:///{home}/riskengine.db",
                                   f"sqlite:///{home}/mlruns/mlflow.db"]
    # a command that opens the default store creates it there, and nothing in the package
    done = _run([str(installed["bin"] / "riskengine"), "fx-rates", "list"], run,
                RISKENGINE_HOME=str(home))
    assert done.returncode == 0, done.stderr
    assert (home / "riskengine.db").is_file()
    written = [p for p in (installed["site"] / "riskengine").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and p.suffix not in (".py", ".toml", ".json", ".css", ".j2", ".md", ".skops",
                                    ".typed")]
    assert written == []


# --- the compiled kernels' cache ---------------------------------------------------------


def test_kernels_found_and_warm_after_a_load() -> None:
    """Every disk-cached kernel is found (13 used by decisions, raw_scores on demand), and
    once an engine is loaded none of them is cold."""
    from riskengine.api import load_engine
    from riskengine.io.kernels import ON_DEMAND, cold_kernels, compiled_kernels

    load_engine()
    names = {f"{d.py_func.__module__}.{d.py_func.__name__}" for d in compiled_kernels()}
    assert ON_DEMAND <= names and len(names) >= 14
    assert "riskengine.features.adverse._adverse_pass" in names
    assert "riskengine.model.treekernel.explain_rows" in names
    assert cold_kernels() == []


@pytest.mark.slow
def test_cold_compile_says_so_once_on_a_terminal(tmp_path: Path) -> None:
    """An empty numba cache: one line on a terminal's stderr, then nothing on a second
    load (everything compiled at once, warm afterwards)."""
    code = ("import io, sys\n"
            "class Terminal(io.TextIOWrapper):\n"
            "    def isatty(self):\n"
            "        return True\n"
            "sys.stderr = Terminal(sys.stderr.buffer, line_buffering=True)\n"
            "from riskengine.api import load_engine\n"
            "from riskengine.io.kernels import cold_kernels\n"
            "load_engine()\n"
            "load_engine()\n"
            "print(cold_kernels())\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "NUMBA_CACHE_DIR": str(tmp_path / "numba")})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("riskengine: compiling kernels, once, about 20 s (13 ")
    assert done.stdout.strip() == "[]"
