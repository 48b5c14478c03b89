"""Session set-up shared by the tests and the notebook checks (nbval).

nbval runs ``notebooks/*.ipynb`` as test items; they read the shipped sample's processed
data (``data/processed``, generated, not committed). On a fresh clone it does not exist
yet, so it is prepared once, before collection, when notebooks are going to run.
Ordinary tests never rely on it: they prepare what they need into a temporary folder
(fixture ``sample_processed``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pingan_eval import paths

#: The months the report tests read: the latest wave and the one before it.
PERIOD, PREVIOUS = "2026-11", "2026-10"


def _runs_notebooks(config: pytest.Config) -> bool:
    """True when nbval is on and the notebooks folder (or a notebook) is being collected."""
    if not (config.getoption("nbval", default=False)
            or config.getoption("nbval_lax", default=False)):
        return False
    base = (config.rootpath if config.args_source == pytest.Config.ArgsSource.TESTPATHS
            else config.invocation_params.dir)
    for arg in config.args:
        target = (base / arg.split("::")[0]).resolve()
        if (target.suffix == ".ipynb" or target == paths.NOTEBOOKS_DIR
                or paths.NOTEBOOKS_DIR.is_relative_to(target)):
            return True
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Prepare every sample wave missing from data/processed before nbval runs the notebooks."""
    if _runs_notebooks(session.config):
        from pingan_eval.summary import ensure_prepared

        ensure_prepared(paths.SAMPLE_RAW_DIR, paths.PROCESSED_DIR)


@pytest.fixture(scope="session")
def sample_processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped sample's two latest waves, prepared into a temporary folder."""
    from pingan_eval.summary import ensure_prepared

    out = tmp_path_factory.mktemp("processed")
    ensure_prepared(paths.SAMPLE_RAW_DIR, out, periods=[PREVIOUS, PERIOD])
    return out


@pytest.fixture(scope="session")
def sample_summary(sample_processed: Path):
    """period_summary of the sample's latest month (computed once per session)."""
    from pingan_eval.summary import period_summary

    return period_summary(PERIOD, processed_dir=sample_processed)


@pytest.fixture(scope="session")
def sample_trend(sample_processed: Path):
    """trend_summary of the sample's two latest months."""
    from pingan_eval.summary import trend_summary

    return trend_summary([PREVIOUS, PERIOD], processed_dir=sample_processed)
