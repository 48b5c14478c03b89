"""``synth_county``: every part of the sample county in order, written atomically.

Draws the sample of villages once (systematic PPS, ``frame.csv``), then the waves, the
registers and the task logs, each from its own random stream derived from the seed and a
fixed label, and writes them without timestamps, so the same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.data.synth.population import (
    TOWNSHIPS,
    Population,
    Township,
    answers,
    census,
    codebook,
    kind,
    parse_period,
    population,
    townships,
    truth,
)
from pingan_eval.data.synth.registers import registers
from pingan_eval.data.synth.tasks import ledger, tasks
from pingan_eval.data.synth.waves import (
    EXPORTS,
    add_personal_data,
    column_map_toml,
    fieldplan,
    plant_errors,
    wave,
    write_export,
)
from pingan_eval.errors import PinganEvalError
from pingan_eval.fileio import atomic_directory


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per stream, so that one part can change without the others."""
    return np.random.default_rng([seed, *stream.encode()])


def _periods(last_period: str, n: int) -> list[str]:
    year, month = parse_period(last_period)
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - n + 1, index + 1)]


def _pps_systematic(sizes: np.ndarray, m: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Systematic PPS sample of ``m`` units: (selected mask, inclusion probabilities).

    Units whose probability ``m * size / total`` would reach 1 are taken with certainty and
    the others share the remaining draws, so every probability is exact and at most 1.
    The non-certainty units are put in random order and a systematic sample with a random
    start is taken along their cumulated probabilities (Madow's method), which gives each
    unit exactly its probability ``pi`` and a fixed sample size.

    References
    ----------
    Särndal, Swensson and Wretman (1992), *Model Assisted Survey Sampling*, section 3.6.
    """
    sizes = sizes.astype(float)
    certain = np.zeros(len(sizes), dtype=bool)
    pi = np.ones(len(sizes))
    while (rest := m - int(certain.sum())) > 0:
        pi = np.where(certain, 1.0, rest * sizes / sizes[~certain].sum())
        new = (pi >= 1.0) & ~certain
        if not new.any():
            break
        certain |= new
    selected = certain.copy()
    order = rng.permutation(np.flatnonzero(~certain))
    if rest > 0:
        cum = np.cumsum(pi[order])
        points = rng.random() + np.arange(rest)
        selected[order[np.searchsorted(cum, points, side="right")]] = True
    return selected, pi


def _frame(towns: Sequence[Township], pop: Population,
           rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """frame.csv and the sampled mask of villages."""
    sampled = np.zeros(len(pop.village_town), dtype=bool)
    prob = np.zeros(len(pop.village_town))
    for h, town in enumerate(towns):
        idx = np.flatnonzero(pop.village_town == h)
        sel, pi = _pps_systematic(pop.village_households[idx], town.n_psu, rng)
        sampled[idx], prob[idx] = sel, pi
    adults = np.bincount(pop.hh_village, weights=pop.hh_adults).astype(np.int64)
    frame = pd.DataFrame({
        "township": [t.name for t in towns for _ in t.villages],
        "village": [v for t in towns for v in t.villages],
        "kind": [kind(v) for t in towns for v in t.villages],
        "households": pop.village_households,
        "adults": adults,
        "psu_total": [len(t.villages) for t in towns for _ in t.villages],
        "sampled": sampled.astype(int),
        "psu_prob": [f"{p:.6f}" if s else "" for p, s in zip(prob, sampled, strict=True)],
    })
    return frame, sampled


# ---------------------------------------------------------------- writing
def _write_csv(path: Path, df: pd.DataFrame, encoding: str = "utf-8",
               line_end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(df.to_csv(index=False, lineterminator=line_end).encode(encoding))


def synth_county(out: Path, *, seed: int = 2026, n_townships: int | None = None,
                 respondents_per_wave: int = 1500, periods: int = 12,
                 last_period: str = "2026-11") -> Path:
    """Generate a synthetic county's raw data folder (the shipped sample, by default).

    Parameters
    ----------
    out : Path
        Folder to write; replaced as a whole, atomically.
    seed : int
        Seed of every random stream. The same arguments give the same bytes.
    n_townships : int, optional
        Townships to generate (default 7: Qinghe's). Beyond 7, extra townships named
        ``测试乡001``, ``测试乡002``, ... with 8-14 villages each are added (benchmarks).
    respondents_per_wave : int
        Planned respondents per monthly wave (about; nonresponse is random).
    periods : int
        Number of monthly waves, ending at ``last_period``.
    last_period : str
        ``YYYY-MM`` of the last wave; its year is the plan year of the registers, which
        are a snapshot at the end of that month.

    Returns
    -------
    Path
        ``out``, holding the layout of ``data/raw/README.md``: frame.csv, census.csv,
        codebook.csv, truth.csv, planted_errors.csv, fieldwork/ and survey/<period>.csv,
        registers/ and tasks/.

    Raises
    ------
    PinganEvalError
        If ``last_period`` is not ``YYYY-MM`` or a count is below 1.

    Notes
    -----
    The waves carry the mess real files have: the last wave has about a dozen invalid
    rows (listed in ``planted_errors.csv``), the one before it carries personal data
    columns (name, phone, id_card; all fake), the one before that is GB18030 with CRLF
    line ends (Excel on a Chinese Windows) and the one before that is UTF-8 with a BOM.
    The two before those (with 6 waves or more) are written as 问卷星 exports
    (:data:`~pingan_eval.data.synth.waves.EXPORTS`: a GBK text export, a number export of
    one XLSX per township) with their column map ``columns.toml``; they prepare to the
    same processed data as the canonical waves they stand for.

    Examples
    --------
    >>> import tempfile
    >>> out = synth_county(Path(tempfile.mkdtemp()) / "tiny", n_townships=2,
    ...                    respondents_per_wave=60, periods=1)
    >>> sorted(p.name for p in (out / "survey").iterdir())
    ['2026-11.csv']
    >>> pd.read_csv(out / "frame.csv")["township"].unique().tolist()
    ['青河镇', '塔克什肯镇']
    """
    n_townships = len(TOWNSHIPS) if n_townships is None else n_townships
    if min(n_townships, respondents_per_wave, periods) < 1:
        raise PinganEvalError("synth: n_townships, respondents_per_wave and periods must be >= 1")
    waves = _periods(last_period, periods)
    towns = townships(n_townships, _rng(seed, "townships"))
    village_names = [v for t in towns for v in t.villages]
    pop = population(towns, _rng(seed, "population"))
    codes = answers(towns, pop, periods, _rng(seed, "answers"))
    frame, sampled = _frame(towns, pop, _rng(seed, "psu"))
    plan = fieldplan(towns, pop, sampled, respondents_per_wave, _rng(seed, "fieldplan"))
    year, month = parse_period(last_period)
    snapshot = np.datetime64(dt.date(year, month, calendar.monthrange(year, month)[1]), "D")
    reg, eligible, planted = registers(towns, village_names, pop, year, snapshot,
                                        _rng(seed, "registers"))
    exported: dict[str, str] = {}  # waves written as survey-platform exports: their mode
    with atomic_directory(out) as tmp:
        _write_csv(tmp / "frame.csv", frame)
        _write_csv(tmp / "census.csv", census(towns, pop))
        _write_csv(tmp / "codebook.csv", codebook())
        _write_csv(tmp / "truth.csv", truth(towns, pop, codes, waves))
        for t, period in enumerate(waves):
            rng = _rng(seed, f"wave {period}")
            fieldwork, survey = wave(towns, village_names, pop, codes[t], plan, period, rng)
            back = len(waves) - 1 - t  # waves before the last
            encoding, line_end = "utf-8", "\n"
            if back == 0:
                survey, rows = plant_errors(survey, towns, period, f"survey/{period}.csv", rng)
                planted = rows + planted
            elif back == 1:
                add_personal_data(survey, period, rng)
            elif back == 2:
                encoding, line_end = "gb18030", "\r\n"
            elif back == 3:
                encoding = "utf-8-sig"
            _write_csv(tmp / "fieldwork" / f"{period}.csv", fieldwork)
            if back in EXPORTS:  # a 问卷星 export, read back through columns.toml
                exported[period] = EXPORTS[back]
                write_export(tmp, survey, period, EXPORTS[back], codebook(),
                             [t.name for t in towns])
            else:
                _write_csv(tmp / "survey" / f"{period}.csv", survey, encoding, line_end)
        if exported:
            (tmp / "columns.toml").write_bytes(
                column_map_toml(exported, codebook(), [t.name for t in towns]).encode())
        _write_csv(tmp / "planted_errors.csv",
                   pd.DataFrame(planted, columns=["file", "row", "line", "column", "rule",
                                                  "value"]))
        _write_csv(tmp / "registers" / "safe_cells.csv", reg)
        _write_csv(tmp / "registers" / "eligible.csv", eligible)
        for name, table in tasks(towns, village_names, pop, snapshot,
                                  _rng(seed, "tasks")).items():
            _write_csv(tmp / "tasks" / f"{name}.csv", table)
        _write_csv(tmp / "tasks" / "ledger.csv", ledger(towns, snapshot, _rng(seed, "ledger")))
    return Path(out)


def main_synth(args: argparse.Namespace) -> int:
    """``pingan-eval synth``: write a synthetic county to ``args.out`` from ``args.seed``
    (``args.townships``, ``args.periods``, ``args.last_period`` and ``args.respondents``
    where given; the defaults make the shipped sample)."""
    start = time.perf_counter()
    n_townships = getattr(args, "townships", None)
    out = synth_county(args.out, seed=args.seed, n_townships=n_townships,
                       respondents_per_wave=getattr(args, "respondents", None) or 1500,
                       periods=getattr(args, "periods", None) or 12,
                       last_period=getattr(args, "last_period", None) or "2026-11")
    fieldwork = sorted((out / "fieldwork").glob("*.csv"))
    n = sum(int(pd.read_csv(p)["households_responded"].sum()) for p in fieldwork)
    print(f"synth: wrote {out} (seed {args.seed}: {n_townships or len(TOWNSHIPS)} townships, "
          f"{len(fieldwork)} waves, {n} respondents) in {time.perf_counter() - start:.1f} s")
    return 0
