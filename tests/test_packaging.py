"""The conda environment, pyproject.toml and the CI entry point stay in step."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pingan_eval import paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((paths.PROJ_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _conda_names() -> set[str]:
    text = (paths.PROJ_ROOT / "environment.yml").read_text(encoding="utf-8")
    text = text.split("\ndependencies:", 1)[1]
    # Top-level conda dependencies are "  - name>=version" lines; pip lines are indented deeper.
    lines = re.findall(r"^  - ([A-Za-z0-9_.\-]+(?:[<>=!~][^\n]*)?)$", text, flags=re.M)
    return {_name(m) for m in lines}


@pytest.mark.parametrize(
    "requirement",
    [r for r in _pyproject()["project"]["dependencies"] if "python_version" not in r],
)
def test_every_runtime_dependency_is_in_environment_yml(requirement: str):
    assert _name(requirement) in _conda_names(), (
        f"{_name(requirement)} is in pyproject.toml but not in environment.yml"
    )


def test_environment_yml_has_no_dependency_pyproject_lacks():
    declared = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    extra = _conda_names() - declared - {"python", "pip"}
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"


def test_ci_runs_the_readme_test_command():
    readme = (paths.PROJ_ROOT / "README.md").read_text(encoding="utf-8")
    ci = (paths.PROJ_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make demo" in readme
    assert re.search(r"^make test$", ci, flags=re.M)


def test_public_names_resolve_and_stay_cheap_to_import():
    """Every exported name resolves to what it names; the package itself imports neither
    scipy.stats nor the estimation stack (report kernels import it; see __init__)."""
    code = (
        "import sys, pingan_eval as p\n"
        "assert not [m for m in ('scipy.stats', 'scipy.sparse', 'pingan_eval.survey.design',\n"
        "            'pingan_eval.registers.cells', 'matplotlib') if m in sys.modules]\n"
        "import pingan_eval.survey.change, pingan_eval.survey.reliability\n"
        "import pingan_eval.survey.design\n"
        "assert callable(p.change) and callable(p.reliability), 'a module shadows a function'\n"
        "assert p.SurveyDesign is pingan_eval.survey.design.SurveyDesign\n"
        "missing = [n for n in p.__all__ if getattr(p, n, None) is None]\n"
        "assert not missing, missing\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
