"""Project paths, resolved from this file so nothing depends on the working directory.

In a source checkout (``src/pingan_eval`` under a folder with ``pyproject.toml``) the
constants name the checkout's folders: the checkout is the sample county's workspace
(``pingan-eval.toml`` at its root). Installed from a wheel there is no checkout:
:data:`SOURCE_ROOT` is ``None`` and the commands read and write the workspace they run
in (:mod:`pingan_eval.workspace`), never the folders named here.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parents[1]
#: The source checkout this package runs from (editable install), or None when installed.
SOURCE_ROOT: Path | None = (
    _CHECKOUT if PACKAGE_DIR.parent.name == "src" and (_CHECKOUT / "pyproject.toml").is_file()
    else None)
PROJ_ROOT = _CHECKOUT
DATA_DIR = PROJ_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
SAMPLE_RAW_DIR = RAW_DIR / "sample"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJ_ROOT / "reports"
#: The report notebooks: the checkout's ``notebooks/`` (their source), else the copies
#: the wheel ships in the package (``pingan_eval/notebooks/``).
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks" if SOURCE_ROOT is not None else PACKAGE_DIR / "notebooks"
PLANS_DIR = PACKAGE_DIR / "plan" / "plans"
FONTS_DIR = PACKAGE_DIR / "report" / "assets" / "fonts"
#: What ``pingan-eval init`` copies into a new workspace (``data/raw/README.md``, ...).
TEMPLATES_DIR = PACKAGE_DIR / "templates"
