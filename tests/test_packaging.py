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


def _conda_names(name: str = "environment.yml") -> set[str]:
    text = (paths.PROJ_ROOT / name).read_text(encoding="utf-8")
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


def test_the_two_conda_environments_agree():
    """environment.yml (analysts: the wheel, no checkout) and environment-dev.yml (the
    checkout, editable with the dev tools) list the same conda packages."""
    assert _conda_names() == _conda_names("environment-dev.yml")
    users = (paths.PROJ_ROOT / "environment.yml").read_text(encoding="utf-8")
    dev = (paths.PROJ_ROOT / "environment-dev.yml").read_text(encoding="utf-8")
    assert "-e " not in users.split("\ndependencies:", 1)[1]  # no checkout needed
    assert re.search(r"^      - pingan-eval$", users, flags=re.M)
    assert '-e ".[dev]"' in dev


def test_ci_checks_the_installed_wheel():
    ci = (paths.PROJ_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert lines.index("make test") < lines.index("tools/check_wheel.sh")
    script = (paths.PROJ_ROOT / "tools" / "check_wheel.sh").read_text(encoding="utf-8")
    for step in ("init ws", "synth --townships", "prepare --period all", "batch --period"):
        assert step in script


def test_data_and_fixtures_are_kept_byte_exact_by_git():
    """.gitattributes: no end-of-line conversion of data, fixtures and notebooks (a
    Windows checkout with core.autocrlf would change their bytes and hashes)."""
    attrs = (paths.PROJ_ROOT / ".gitattributes").read_text(encoding="utf-8").splitlines()
    rules = dict(line.split(None, 1) for line in attrs if line and not line.startswith("#"))
    for pattern in ("data/**", "tests/golden/**", "tests/fixtures/**", "*.csv", "*.ipynb"):
        assert rules.get(pattern) == "-text", pattern
    assert rules.get("*") == "text=auto eol=lf"


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


# Absolute paths of one machine: a POSIX home or work folder, or a Windows drive.
_MACHINE_PATH = re.compile(r"(?<![\w.])(?:/work/|/home/|/Users/|/mnt/|[A-Za-z]:\\\\)")


def test_nothing_refers_to_a_path_on_one_machine():
    """The package, the notebooks and the docs name files by paths inside the repository,
    never by a folder of the machine they were written on."""
    root = paths.PROJ_ROOT
    files = [root / "README.md", root / "pyproject.toml", root / "Makefile",
             root / "environment.yml", *(root / "notebooks").glob("*.ipynb"),
             *(p for folder in ("src", "benchmarks", "tools") for p in (root / folder).rglob("*")
               if p.is_file() and p.suffix in {".py", ".toml", ".txt", ".md", ".cfg", ".sh"})]
    hits = [f"{p.relative_to(root)}:{n}: {line.strip()}"
            for p in files for n, line in enumerate(
                p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if _MACHINE_PATH.search(line)]
    assert not hits, "\n".join(hits)


def _plan_source() -> str:
    text = (paths.PLANS_DIR / "qinghe.toml").read_text(encoding="utf-8")
    match = re.search(r"Source: (\S+?)[,.]?\s", text)
    assert match, "the shipped plan names no source text"
    return match.group(1)


def test_the_plan_source_text_is_in_the_package():
    source = _plan_source()
    assert not source.startswith(("/", "\\")) and ":" not in source, source
    text = (paths.PLANS_DIR / source).read_text(encoding="utf-8")
    assert "青河县争创自治区优秀平安县实施方案" in text[:200]


def test_wheel_ships_the_plans_their_source_text_and_the_fonts(tmp_path):
    """The wheel carries every data file the package reads: the plans, the plan's source
    text beside them, the report font and CSS, the report notebooks (copied from
    notebooks/ by setup.py) and the raw-data README. (Builds with pip; skipped where it
    cannot.)"""
    import shutil
    import zipfile

    # a copy, so that setuptools' build/ and egg-info stay out of the work tree
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy2(paths.PROJ_ROOT / name, tree / name)
    shutil.copytree(paths.PROJ_ROOT / "src", tree / "src", ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info"))
    shutil.copytree(paths.PROJ_ROOT / "notebooks", tree / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (tree / "data" / "raw").mkdir(parents=True)
    shutil.copy2(paths.PROJ_ROOT / "data" / "raw" / "README.md", tree / "data" / "raw")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "-q",
         "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    wheels = list((tmp_path / "dist").glob("*.whl"))
    if build.returncode != 0 or not wheels:
        pytest.skip(f"pip could not build the wheel here: {build.stderr.strip()[-300:]}")
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    shipped = {f"pingan_eval/{p.relative_to(paths.PACKAGE_DIR).as_posix()}"
               for p in (paths.PLANS_DIR.iterdir())
               if p.is_file() and not p.name.endswith(".py")}
    assert f"pingan_eval/plan/plans/{_plan_source()}" in shipped
    assert shipped <= names, sorted(shipped - names)
    assert any(n.startswith("pingan_eval/report/assets/fonts/") and n.endswith(".ttf")
               for n in names)
    # the report notebooks and their CSS, and what `pingan-eval init` copies
    notebooks = {f"pingan_eval/notebooks/{p.name}" for p in
                 (paths.PROJ_ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks and notebooks <= names, sorted(notebooks - names)
    assert "pingan_eval/report/assets/report.css" in names
    assert "pingan_eval/templates/raw_README.md" in names
