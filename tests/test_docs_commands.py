"""The shell blocks of README.md and docs/*.md run as written (issue 18 point 9).

Every fenced block tagged ``sh``, ``bash`` or ``console`` is one of three kinds, said by an
HTML comment on the line before its fence, so the list of what is not run lives in the
docs themselves:

- no comment: the block is run, line by line as one bash script (``set -e``, ``pipefail``)
  in a temporary working directory that holds ``examples/`` and ``benchmarks/`` of this
  checkout (as a fresh clone would), with ``riskengine`` and ``python`` on the ``PATH``
  and ``RISKENGINE_HOME`` set to that directory (the default stores land there). The
  placeholders of ``SUBSTITUTIONS`` below are replaced first.
- ``<!-- options-only: reason -->``: a synopsis, or a command too slow or interactive for
  this test (the reason names the test that runs it): each ``riskengine`` line's
  subcommand, action and every ``--option`` must exist in the parser (what
  ``riskengine COMMAND --help`` prints), and every ``python FILE.py`` names a file that
  exists.
- ``<!-- not-run: reason -->``: skipped (a server in the foreground, a cluster, a remote
  database); counted and listed by ``test_every_shell_block_is_run_checked_or_skipped``.

A failure names the doc, its line and the command. README.md must list every subcommand
(in a checked block) and every ``benchmarks/*.py`` script.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskengine.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "console"}
MARKER = re.compile(r"<!--\s*(not-run|options-only):\s*(.+?)\s*-->")
FENCE = re.compile(r"^\s*```(\S*)\s*$")

#: Placeholders of the run blocks and what replaces them (``{work}``: the temporary
#: working directory). Absolute paths of the examples move under it; nothing else changes.
SUBSTITUTIONS: list[tuple[str, str]] = [
    ("/var/lib/riskengine", "{work}/var-lib-riskengine"),  # docs/SERVICE.md's store directory
]


@dataclass(frozen=True)
class Block:
    doc: str          # path relative to the repository
    line: int         # line of the block's first content line
    kind: str         # "run", "options-only" or "not-run"
    reason: str
    lines: tuple[str, ...]

    def where(self, offset: int = 0) -> str:
        return f"{self.doc}:{self.line + offset}"


def shell_blocks() -> list[Block]:
    """Every sh/bash/console block of the docs with its kind (the marker before it)."""
    out: list[Block] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(text):
            m = FENCE.match(text[i])
            if not m:
                i += 1
                continue
            lang, start = m.group(1), i + 1
            end = start
            while end < len(text) and not FENCE.match(text[end]):
                end += 1
            if lang in SHELL:
                prev = next((t for t in reversed(text[:i]) if t.strip()), "")
                mark = MARKER.search(prev)
                kind, reason = (mark.group(1), mark.group(2)) if mark else ("run", "")
                out.append(Block(str(path.relative_to(ROOT)), start + 1, kind, reason,
                                 tuple(text[start:end])))
            i = end + 1
    return out


def logical_lines(block: Block) -> list[tuple[int, str]]:
    """(offset in the block, command) with backslash continuations joined; in a synopsis
    (not run) an indented line starting with ``[`` or ``--`` continues the one above."""
    out: list[tuple[int, str]] = []
    buf, first = "", 0
    for k, line in enumerate(block.lines):
        if block.kind != "run":
            line = re.sub(r"\s+#\s.*$", "", line)
            if out and not buf and re.match(r"\s+(\[|--)", line):
                out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
                continue
        if not buf:
            first = k
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip() and not buf.strip().startswith("#"):
            out.append((first, buf.strip()))
        buf = ""
    return out


def _words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


def check_options(command: str) -> list[str]:
    """Problems of one ``riskengine ...`` line against the parser (empty: it is true)."""
    raw = _words(command)
    if "riskengine" not in raw:
        return []
    raw = raw[raw.index("riskengine") + 1:]
    words, depth = [], 0
    for w in raw:  # a pipe or a redirection ends the command, but not `|` in a [synopsis]
        if depth == 0 and w in {"|", "<", ">", ";", "&&", "||"}:
            break
        depth += w.count("[") - w.count("]")
        words.append(w.strip("[]"))
    root = build_parser()
    if not words or words[0].startswith("-"):
        unknown = [w for w in words if w.startswith("--") and w.split("=")[0]
                   not in _options(root)]
        return [f"unknown option {w!r} of riskengine" for w in unknown]
    commands = _subparsers(root)
    name, rest = words[0], words[1:]
    if name not in commands:
        return [f"no subcommand {name!r} (riskengine --help lists {sorted(commands)})"]
    parsers = [commands[name]]
    actions = _subparsers(commands[name])
    if actions and rest and not rest[0].startswith("-"):
        named = rest[0].split("|")
        missing = [a for a in named if a not in actions]
        if missing:
            return [f"riskengine {name} has no action {a!r}" for a in missing]
        parsers, rest = [actions[a] for a in named], rest[1:]
    known = set().union(*(_options(p) for p in parsers))
    problems = []
    for w in rest:
        for part in w.split("|"):
            flag = part.split("=")[0].strip("[]")
            if flag.startswith("--") and flag not in known:
                problems.append(f"riskengine {name} has no option {flag!r}")
    return problems


BLOCKS = shell_blocks()


def _ids(blocks: list[Block]) -> list[str]:
    return [b.where() for b in blocks]


def test_every_shell_block_is_run_checked_or_skipped() -> None:
    """The docs hold shell blocks of the three kinds, and each skip states its reason."""
    kinds = {k: [b for b in BLOCKS if b.kind == k] for k in ("run", "options-only", "not-run")}
    assert kinds["run"] and kinds["options-only"], {k: len(v) for k, v in kinds.items()}
    for b in kinds["not-run"] + kinds["options-only"]:
        assert len(b.reason) > 10, f"{b.where()}: a skip names its reason"
    print("doc shell blocks:", {k: len(v) for k, v in kinds.items()},
          "not run:", [f"{b.where()} ({b.reason})" for b in kinds["not-run"]])


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "options-only"],
                         ids=_ids([b for b in BLOCKS if b.kind == "options-only"]))
def test_options_only_blocks_name_real_commands_and_options(block: Block) -> None:
    for offset, command in logical_lines(block):
        problems = check_options(command)
        words = _words(command)
        if words and words[0] in {"python", "python3"} and len(words) > 1 \
                and words[1].endswith(".py"):
            if not (ROOT / words[1]).is_file():
                problems.append(f"no file {words[1]}")
        assert not problems, f"{block.where(offset)}: `{command}`: {'; '.join(problems)}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A working directory like a fresh clone's root (examples/, benchmarks/), a PATH with
    ``riskengine`` (this checkout's) and ``python``, and the data directory set to it."""
    work = tmp_path_factory.mktemp("docs")
    for name in ("examples", "benchmarks"):
        (work / name).symlink_to(ROOT / name)
    (work / "var-lib-riskengine").mkdir()
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    for name, args in (("riskengine", "-m riskengine.cli "), ("python", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}"$@"\n',
                                    encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in {"RISKENGINE_STORE_URL", "MLFLOW_TRACKING_URI"}}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", RISKENGINE_HOME=str(work),
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return work, env


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "run"],
                         ids=_ids([b for b in BLOCKS if b.kind == "run"]))
def test_run_blocks_run_as_written(block: Block, workdir: tuple[Path, dict[str, str]]) -> None:
    work, env = workdir
    script = "\n".join(block.lines)
    for placeholder, value in SUBSTITUTIONS:
        script = script.replace(placeholder, value.format(work=work))
    for offset, command in logical_lines(block):
        assert not check_options(command), f"{block.where(offset)}: {check_options(command)}"
    trap = 'trap \'echo "DOCLINE $LINENO" >&2\' ERR\n'
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", trap + script], cwd=work,
                          env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        m = re.search(r"DOCLINE (\d+)", proc.stderr)
        offset = int(m.group(1)) - 2 if m else 0  # the trap is line 1
        offset = max(0, min(offset, len(block.lines) - 1))
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        pytest.fail(f"{block.where(offset)}: `{block.lines[offset].strip()}` exited "
                    f"{proc.returncode}:\n{tail}")


def test_readme_lists_every_subcommand_and_benchmark() -> None:
    """README.md names every subcommand in a checked shell block and every benchmark script."""
    named = set()
    for b in BLOCKS:
        if b.doc != "README.md" or b.kind == "not-run":
            continue
        for _, command in logical_lines(b):
            words = _words(command)
            if "riskengine" in words and len(words) > words.index("riskengine") + 1:
                named.add(words[words.index("riskengine") + 1])
    commands = set(_subparsers(build_parser()))
    assert commands - named == set(), f"README.md does not list: {sorted(commands - named)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
    missing = [s for s in scripts if f"`{s}`" not in readme]
    assert not missing, f"README.md does not list the benchmarks {missing}"


def test_option_check_catches_a_wrong_option() -> None:
    """The synopsis check is not vacuous: a misspelt option and subcommand are found."""
    assert check_options("riskengine rerate --portfolio DIR [--wokers N]") == [
        "riskengine rerate has no option '--wokers'"]
    assert check_options("riskengine rerun --x")[0].startswith("no subcommand 'rerun'")
    assert check_options("riskengine users add|remove NAME") == [
        "riskengine users has no action 'remove'"]
    assert check_options("riskengine score - < examples/debtor.json") == []
