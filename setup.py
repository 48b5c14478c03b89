"""Build step: the wheel carries the report notebooks and the raw-data README.

``notebooks/*.ipynb`` (their source, run by nbval in place) go to ``pingan_eval/notebooks/``
and ``data/raw/README.md`` to ``pingan_eval/templates/raw_README.md`` (``pingan-eval init``
copies it into a workspace). Everything else is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
COPIES = [(HERE / "data" / "raw" / "README.md", Path("templates") / "raw_README.md"),
          *((nb, Path("notebooks") / nb.name)
            for nb in sorted((HERE / "notebooks").glob("*.ipynb")))]


class BuildPyWithNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout (paths.py)
        missing = [str(src) for src, _ in COPIES if not src.is_file()]
        if missing or not any(dest.parent.name == "notebooks" for _, dest in COPIES):
            raise SystemExit(f"setup.py: missing {missing or 'notebooks/*.ipynb'}")
        for src, dest in COPIES:
            target = Path(self.build_lib) / "pingan_eval" / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
