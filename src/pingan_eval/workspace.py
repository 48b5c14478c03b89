"""A workspace: one county's folder, where every command reads and writes by default.

``pingan-eval init DIR`` makes one::

    DIR/
      pingan-eval.toml        the marker: names the folders below (paths relative to DIR)
      plan.toml               the county's plan, to edit (a copy of the shipped plan)
      data/raw/               inputs: README.md (the dataset layout), columns.toml.template
      data/processed/         written by `pingan-eval prepare`
      reports/                written by `pingan-eval batch`
      notebooks/              optional: a notebook here replaces the packaged one

A command finds its workspace from ``--workspace DIR``, else the environment variable
``PINGAN_EVAL_WORKSPACE`` (the command line sets it, so the report kernels see the same
workspace), else by walking up from the working directory to the first folder holding
``pingan-eval.toml``. The source checkout is a workspace too (its ``pingan-eval.toml``
names the sample county: ``data/raw/sample`` and the shipped plan), so ``make demo`` and
the tests work as before. Outside any workspace an installed package has no default
folders: a command asks for ``--workspace`` (or explicit ``--raw``/``--out``) instead of
writing into the installed package.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from pingan_eval import paths
from pingan_eval.errors import PinganEvalError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ENV_VAR", "MARKER", "Workspace", "WorkspaceError", "check_writable", "current",
           "find", "init_workspace", "load", "notebook", "set_plan_townships"]

#: The file that makes a folder a workspace.
MARKER = "pingan-eval.toml"
#: Environment variable naming the workspace (set by ``--workspace``).
ENV_VAR = "PINGAN_EVAL_WORKSPACE"
_DEFAULTS = {"plan": "plan.toml", "raw": "data/raw", "processed": "data/processed",
             "reports": "reports", "notebooks": "notebooks"}
_MARKER_TEXT = """\
# pingan-eval workspace: every pingan-eval command run in this folder (or below it, or
# with --workspace) reads and writes the folders named here (relative to this file).
[workspace]
plan = "plan.toml"              # the county's plan (edit it)
raw = "data/raw"                # input dataset (see data/raw/README.md); never written
processed = "data/processed"    # pingan-eval prepare writes here
reports = "reports"             # pingan-eval batch writes reports/<period>/ here
notebooks = "notebooks"         # a report notebook here replaces the packaged one
"""


class WorkspaceError(PinganEvalError):
    """No workspace, a broken marker file, or a folder the commands must not write."""


@dataclass(frozen=True)
class Workspace:
    """A workspace's folders, absolute (see the module docstring)."""

    root: Path
    plan: Path
    raw: Path
    processed: Path
    reports: Path
    notebooks: Path

    @property
    def plan_is_shipped(self) -> bool:
        """True when the plan is a file of the package (the source checkout's sample)."""
        return paths.PACKAGE_DIR in self.plan.resolve().parents


def load(root: str | os.PathLike) -> Workspace:
    """The workspace whose marker is ``root/pingan-eval.toml``.

    Raises
    ------
    WorkspaceError
        No marker there, or it is not valid TOML, or it has an unknown key.
    """
    root = Path(root).resolve()
    marker = root / MARKER
    if not marker.is_file():
        raise WorkspaceError(f"{root}: not a pingan-eval workspace (no {MARKER}); "
                             f"create one with `pingan-eval init {root}`")
    try:
        table = tomllib.loads(marker.read_text(encoding="utf-8")).get("workspace", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{marker}: {exc}") from exc
    unknown = sorted(set(table) - set(_DEFAULTS))
    if unknown:
        raise WorkspaceError(f"{marker}: unknown key(s) {', '.join(unknown)} in [workspace] "
                             f"(known: {', '.join(_DEFAULTS)})")
    folders = {k: (root / str(table.get(k, v))).resolve() for k, v in _DEFAULTS.items()}
    return Workspace(root=root, **folders)


def find(start: str | os.PathLike | None = None) -> Workspace | None:
    """The workspace holding ``start`` (default: the working directory), or None."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return load(folder)
    return None


def current(explicit: str | os.PathLike | None = None) -> Workspace | None:
    """The workspace a command uses: ``explicit``, else ``$PINGAN_EVAL_WORKSPACE``, else
    the one holding the working directory, else the source checkout (if any), else None."""
    if explicit is not None:
        return load(explicit)
    if os.environ.get(ENV_VAR):
        return load(os.environ[ENV_VAR])
    found = find()
    if found is None and paths.SOURCE_ROOT is not None and (paths.SOURCE_ROOT / MARKER).is_file():
        found = load(paths.SOURCE_ROOT)
    return found


def notebook(name: str, workspace: Workspace | None = None) -> Path:
    """The report notebook ``name`` to run: the workspace's own copy
    (``<workspace>/notebooks/<name>``) if there is one, else the package's
    (:data:`pingan_eval.paths.NOTEBOOKS_DIR`)."""
    ws = workspace if workspace is not None else current()
    own = ws is not None and ws.notebooks != (paths.PROJ_ROOT / "notebooks").resolve()
    if own and (ws.notebooks / name).is_file():  # the checkout's are the packaged ones
        return ws.notebooks / name
    return paths.NOTEBOOKS_DIR / name


def check_writable(folder: str | os.PathLike, what: str) -> Path:
    """``folder``, resolved; refuse a folder inside the installed package.

    Raises
    ------
    WorkspaceError
        ``folder`` is (under) the package folder of an installed (not editable) package,
        e.g. ``<venv>/lib/python3.11/site-packages``.
    """
    folder = Path(folder).resolve()
    installed = paths.PACKAGE_DIR.parents[1]  # <venv>/lib/python3.X (site-packages' parent)
    if paths.SOURCE_ROOT is None and (folder == installed or installed in folder.parents):
        raise WorkspaceError(f"{folder}: refusing to write {what} inside the installed "
                             "package; run in a workspace (`pingan-eval init DIR`) or "
                             "pass --workspace DIR")
    return folder


def _raw_readme() -> Path:
    if paths.SOURCE_ROOT is not None:
        return paths.SOURCE_ROOT / "data" / "raw" / "README.md"
    return paths.TEMPLATES_DIR / "raw_README.md"


def _column_template() -> Path | None:
    path = paths.PACKAGE_DIR / "data" / "templates" / "columns.toml"
    return path if path.is_file() else None


def copy_raw_docs(raw: Path) -> list[Path]:
    """Put the dataset README and the column-map template into ``raw``; the files written."""
    written = []
    sources = [(_raw_readme(), raw / "README.md"),
               (_column_template(), raw / "columns.toml.template")]
    for source, target in sources:
        if source is not None and source.is_file():
            raw.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def init_workspace(root: str | os.PathLike) -> Workspace:
    """Create a workspace in ``root`` (see the module docstring); return it.

    ``root`` may exist but must not hold a workspace already.

    Raises
    ------
    WorkspaceError
        ``root`` is a workspace already, is a file, or lies inside the installed package.
    """
    root = check_writable(root, "a workspace")
    if (root / MARKER).exists():
        raise WorkspaceError(f"{root}: already a workspace ({MARKER} exists)")
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root}: exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.PLANS_DIR / "qinghe.toml", root / _DEFAULTS["plan"])
    for key in ("processed", "reports"):
        (root / _DEFAULTS[key]).mkdir(parents=True, exist_ok=True)
    copy_raw_docs(root / _DEFAULTS["raw"])
    (root / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    return load(root)


_TOWNSHIPS_LINE = re.compile(r"(?m)^townships = \[.*\]$")


def set_plan_townships(plan: Path, townships: list[str]) -> None:
    """Replace the ``townships = [...]`` line of the plan file ``plan`` (one line, as the
    shipped plan writes it); the rest of the file is left as it is.

    Raises
    ------
    WorkspaceError
        The plan has no such line.
    """
    text = plan.read_text(encoding="utf-8")
    listed = ", ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for t in townships)
    text, n = _TOWNSHIPS_LINE.subn(lambda _: f"townships = [{listed}]", text, count=1)
    if n != 1:
        raise WorkspaceError(f"{plan}: no one-line `townships = [...]` entry to update")
    plan.write_text(text, encoding="utf-8")
