"""Where commands write: output directories they own and safe default file names (shell).

A command never overwrites what is not its own:

- ``riskengine rerate --out DIR`` writes into a new or empty directory, or into
  one it wrote before: the first thing it writes there is the marker
  :data:`RERATE_MARKER` (JSON: tool, version, creation time), so an interrupted
  run is resumed and a finished one re-run in place, while a directory holding
  anything else is refused (:func:`claim_rerate_out`). ``--out`` may not be the
  ``--portfolio`` or ``--previous`` directory.
- ``riskengine demo-data --out DIR`` refuses a non-empty directory unless
  ``--overwrite`` (:func:`refuse_non_empty`).
- ``riskengine report --debtor ID`` names its default file from a sanitised id
  (:func:`safe_file_stem`) in the working directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from riskengine.errors import InvalidInputError

__all__ = ["RERATE_MARKER", "claim_rerate_out", "refuse_non_empty", "safe_file_stem"]

#: Marker file of an output directory written by ``riskengine rerate``.
RERATE_MARKER = ".riskengine-rerate"
_TOOL = "riskengine rerate"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - 3:,} more" if len(names) > 3 else ""
    return ", ".join(repr(n) for n in names[:3]) + more


def _is_rerate_out(directory: Path) -> bool:
    try:
        data = json.loads((directory / RERATE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == _TOOL


def claim_rerate_out(out: Path, portfolio: Path, previous: Path | None) -> None:
    """Make ``out`` a rerate output directory, or refuse it.

    Creates ``out`` (and its parents) when absent and writes the marker into a
    new or empty directory; a directory with the marker is accepted as it is.

    Raises
    ------
    riskengine.errors.InvalidInputError
        ``out`` is the portfolio or the previous run's directory, is a file, or
        holds files without the marker.
    """
    where = out.resolve()
    for flag, other in (("--portfolio", portfolio), ("--previous", previous)):
        if other is not None and where == Path(other).resolve():
            raise InvalidInputError(
                f"--out {str(out)!r} is the {flag} directory; the run would overwrite its "
                "own input. Give another --out.")
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {str(out)!r} is a file, not a directory; give a new "
                                "or empty directory.")
    if out.is_dir() and _is_rerate_out(out):
        return
    if out.is_dir() and (names := _entries(out)):
        raise InvalidInputError(
            f"--out {str(out)!r} holds files riskengine rerate did not write ({_shown(names)}; "
            f"no {RERATE_MARKER} marker); give a new or empty directory, or the --out of an "
            "earlier rerate run.")
    out.mkdir(parents=True, exist_ok=True)
    from riskengine import __version__
    from riskengine.io.console import utc_stamp
    from riskengine.io.portfolio import atomic_write

    text = json.dumps({"tool": _TOOL, "version": __version__,
                       "created": utc_stamp()},
                      indent=2, sort_keys=True) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(out / RERATE_MARKER, write)


def refuse_non_empty(out: Path, flag: str = "--out", overwrite: bool = False) -> None:
    """Refuse an existing non-empty directory (or a file) unless ``overwrite``.

    Raises
    ------
    riskengine.errors.InvalidInputError
    """
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{flag} {str(out)!r} is a file, not a directory; give a "
                                "directory.")
    if not overwrite and out.is_dir() and (names := _entries(out)):
        raise InvalidInputError(
            f"{flag} {str(out)!r} is not empty ({_shown(names)}); give a new or empty "
            "directory, or --overwrite to replace the portfolio files in it.")


def safe_file_stem(text: str, fallback: str = "debtor") -> str:
    """``text`` as one file name part: only ``[A-Za-z0-9_.-]`` (others become ``_``),
    no leading dot, never empty.

    Examples
    --------
    >>> safe_file_stem("a/../../x"), safe_file_stem("..hidden"), safe_file_stem("")
    ('a_.._.._x', 'hidden', 'debtor')
    >>> safe_file_stem("D-102 SA")
    'D-102_SA'
    """
    stem = _UNSAFE.sub("_", text).lstrip(".")
    return stem[:120] or fallback
