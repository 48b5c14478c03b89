"""The safe-cell register of the plan year (``safe_cells.csv``, ``eligible.csv``), with planted
procedure defects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pingan_eval.data.synth.population import Population, Township, kind

#: Safe-cell categories, their naming windows (month, day) and a unit-id prefix.
CATEGORIES = ("family", "school", "unit", "hospital", "religious_site", "enterprise", "village",
              "township", "hotel", "shop", "pharmacy", "clinic", "internet_cafe",
              "entertainment", "compound")


_WINDOWS = {c: ((3, 1), (4, 30)) for c in CATEGORIES} | {"hotel": ((5, 1), (7, 31)),
                                                          "compound": ((3, 1), (5, 31))}


_PREFIX = {"family": "F", "school": "SC", "unit": "U", "hospital": "HO", "religious_site": "R",
           "enterprise": "E", "village": "V", "township": "T", "hotel": "HT", "shop": "SH",
           "pharmacy": "PH", "clinic": "CL", "internet_cafe": "IC", "entertainment": "EN",
           "compound": "CP"}


#: Eligible units of the county seat, and (low, high) ranges for the other townships.
_SEAT_UNITS = {"school": 8, "unit": 42, "hospital": 3, "religious_site": 4, "enterprise": 18,
               "hotel": 14, "shop": 86, "pharmacy": 9, "clinic": 6, "internet_cafe": 5,
               "entertainment": 6, "compound": 21}


_RURAL_UNITS = {"school": (2, 4), "unit": (8, 15), "hospital": (1, 1), "religious_site": (2, 6),
                "enterprise": (1, 6), "hotel": (0, 3), "shop": (8, 25), "pharmacy": (1, 3),
                "clinic": (1, 3), "internet_cafe": (0, 2), "entertainment": (0, 2),
                "compound": (0, 0)}


# ---------------------------------------------------------------- registers and task logs
def _dates_between(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    span = (hi - lo).astype(np.int64) + 1
    return lo + np.floor(rng.random(len(lo)) * span).astype("timedelta64[D]")


def _units(n: int, category: str, year: int, behind: bool, snapshot: np.datetime64,
           rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Applied / named / revoked dates of ``n`` eligible units (NaT where none)."""
    (m0, d0), (m1, d1) = _WINDOWS[category]
    start = np.datetime64(dt.date(year, m0, d0), "D")
    end = np.datetime64(dt.date(year, m1, d1), "D")
    probs = [0.72, 0.10, 0.12, 0.06] if behind else [0.95, 0.03, 0.015, 0.005]
    status = rng.choice(4, size=n, p=probs)  # in window, late, pending, not applied
    applied = start + rng.integers(-20, 25, n).astype("timedelta64[D]")
    lo = np.maximum(applied + np.timedelta64(7, "D"), start)
    status[(status == 0) & (lo > end)] = 1
    named = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    w = status == 0
    named[w] = _dates_between(lo[w], np.full(w.sum(), end), rng)
    late = status == 1
    named[late] = end + rng.integers(1, 91, late.sum()).astype("timedelta64[D]")
    revoked = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    rev = ~np.isnat(named) & (rng.random(n) < 0.015)
    revoked[rev] = named[rev] + rng.integers(30, 150, rev.sum()).astype("timedelta64[D]")
    named[named > snapshot] = np.datetime64("NaT")
    revoked[np.isnat(named) | (revoked > snapshot)] = np.datetime64("NaT")
    keep = (status != 3) & (applied <= snapshot)
    return {"applied_on": applied[keep], "named_on": named[keep], "revoked_on": revoked[keep],
            "index": np.flatnonzero(keep)}


def _iso(dates: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(dates, unit="D")
    return np.where(np.isnat(dates), "", text)


def registers(towns: Sequence[Township], village_names: Sequence[str], pop: Population,
               year: int, snapshot: np.datetime64,
               rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple]]:
    """safe_cells.csv, eligible.csv and the planted register defects."""
    n_t = len(towns)
    over_town = min(3, n_t - 1)  # this township names one pharmacy more than it has
    behind = rng.random((n_t, len(CATEGORIES))) < 0.2
    behind[:, 0] = False
    behind[[h for h in (4, 6) if h < n_t], 0] = True  # families behind in two townships
    eligible_rows, chunks = [], []
    for h, town in enumerate(towns):
        vidx = np.flatnonzero(pop.village_town == h)
        communities = [v for v in vidx if kind(village_names[v]) == "社区"] or list(vidx)
        for c, cat in enumerate(CATEGORIES):
            if cat == "family":
                units_village = pop.hh_village[np.isin(pop.hh_village, vidx)]
                adults = pop.hh_adults[np.isin(pop.hh_village, vidx)]
            elif cat == "village":
                units_village, adults = vidx, None
            elif cat == "township":
                units_village, adults = np.full(1, -1), None
            else:
                if h == 0:
                    n = _SEAT_UNITS[cat]
                else:
                    lo, hi = _RURAL_UNITS[cat]
                    n = int(rng.integers(lo, hi + 1))
                if cat == "compound" and h != 0:
                    n = 0
                pool = communities if cat == "compound" else vidx
                units_village, adults = rng.choice(pool, size=n), None
            n = len(units_village)
            eligible_rows.append((town.name, cat, n))
            over = h == over_town and cat == "pharmacy"
            u = _units(n, cat, year, behind[h, c] and not over, snapshot, rng)
            if over:  # every pharmacy named, then (last, on 04-28) one unit too many
                start = np.datetime64(dt.date(year, 3, 20), "D")
                days = np.append(rng.integers(14, 35, n), 39).astype("timedelta64[D]")
                named_on = start + days
                named_on[named_on > snapshot] = np.datetime64("NaT")
                u = {"applied_on": np.full(n + 1, start), "named_on": named_on,
                     "revoked_on": np.full(n + 1, np.datetime64("NaT"), dtype="datetime64[D]"),
                     "index": np.append(np.arange(n), 0)}
            chunk = pd.DataFrame({
                "township": town.name,
                "village": [village_names[v] if v >= 0 else "" for v in units_village[u["index"]]],
                "category": cat,
                "applied_on": _iso(u["applied_on"]),
                "named_on": _iso(u["named_on"]),
                "revoked_on": _iso(u["revoked_on"]),
                "named_by": {"family": "village", "township": "county"}.get(cat, "township"),
                "filed_with": "township" if cat == "family" else "county",
            })
            # A seven-day public notice (公示) ending three days before the naming.
            day = np.timedelta64(1, "D")
            chunk["notice_start"] = _iso(u["named_on"] - 9 * day)
            chunk["notice_end"] = _iso(u["named_on"] - 3 * day)
            if cat == "family":
                chunk["adults"] = adults[u["index"]]
            else:
                chunk["adults"] = pd.array([pd.NA] * len(chunk), dtype="Int64")
            chunk["adults_signed"] = chunk["adults"]
            chunk.insert(0, "unit_id", [f"{_PREFIX[cat]}{h + 1:02d}{i:05d}"
                                        for i in range(1, len(chunk) + 1)])
            chunks.append(chunk)
    reg = pd.concat(chunks, ignore_index=True)
    eligible = pd.DataFrame(eligible_rows, columns=["township", "category", "eligible"])
    return reg, eligible, _register_defects(reg, towns[over_town].name, rng)


def _register_defects(reg: pd.DataFrame, over_town: str, rng: np.random.Generator) -> list[tuple]:
    """Plant procedure defects in the register (in place) and list them.

    Rule codes are those of :data:`pingan_eval.registers.cells.DEFECT_RULES`.
    """
    file = "registers/safe_cells.csv"
    planted: list[tuple] = []
    used: set[int] = set()
    named = (reg["named_on"] != "") & (reg["revoked_on"] == "")

    def pick(mask: pd.Series, k: int) -> list[int]:
        pool = np.setdiff1d(np.flatnonzero(mask.to_numpy()), list(used))
        chosen = sorted(int(i) for i in rng.choice(pool, size=min(k, len(pool)), replace=False))
        used.update(chosen)
        return chosen

    def plant(i: int, column: str, rule: str, value: object) -> None:
        reg.loc[i, column] = value
        planted.append((file, i + 1, i + 2, column, rule, str(value)))

    family = reg["category"] == "family"
    for i in pick(named & family & (reg["adults"] >= 2), 4):
        plant(i, "adults_signed", "signatures", int(reg.loc[i, "adults"]) - 1)
    for i in pick(named & family, 1):
        reg.loc[i, "notice_end"] = ""
        plant(i, "notice_start", "no_public_notice", "")
    for i in pick(named & family, 1):
        end = dt.date.fromisoformat(reg.loc[i, "named_on"]) + dt.timedelta(days=2)
        plant(i, "notice_end", "notice_out_of_order", end.isoformat())
    for i in pick(named & (reg["category"] == "school"), 1):
        plant(i, "named_by", "wrong_level", "village")
    for i in pick(named & ~family & ~reg["category"].isin(["township"]), 3):
        plant(i, "filed_with", "not_filed", "")
    for i in pick(named & ~family, 2):
        applied = dt.date.fromisoformat(reg.loc[i, "named_on"]) + dt.timedelta(days=5)
        plant(i, "applied_on", "named_before_applied", applied.isoformat())
    for i in pick(named & ~family, 1):
        revoked = dt.date.fromisoformat(reg.loc[i, "named_on"]) - dt.timedelta(days=10)
        plant(i, "revoked_on", "revoked_before_named", revoked.isoformat())
    # The surplus naming is the latest one of the cell, its last row.
    last = int(np.flatnonzero((reg["township"] == over_town)
                              & (reg["category"] == "pharmacy"))[-1])
    if named[last]:
        planted.append((file, last + 1, last + 2, "named_on", "outside_eligible",
                        reg.loc[last, "named_on"]))
    return planted
