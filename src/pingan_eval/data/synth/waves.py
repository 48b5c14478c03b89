"""The monthly survey waves: fieldwork, interviews, personal data and planted errors.

Every month each sampled village draws households by simple random sampling, a
village-specific share of them responds and one adult of each responding household is
interviewed. One wave carries fake personal data columns, the last one planted invalid rows.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pingan_eval.data.synth.population import (
    ETHNICITIES,
    INDICATORS,
    SEXES,
    Population,
    Township,
    parse_period,
)

_RESPONSE = 0.85  # planned mean household response rate (villages draw 0.75-0.95)


@dataclass(frozen=True)
class _Fieldplan:
    villages: np.ndarray  # sampled village indices, frame order
    take: np.ndarray  # planned households per village and month
    response: np.ndarray  # household response probability per village


def fieldplan(towns: Sequence[Township], pop: Population, sampled: np.ndarray,
               respondents_per_wave: int, rng: np.random.Generator) -> _Fieldplan:
    villages = np.flatnonzero(sampled)
    per_town = respondents_per_wave / len(towns) / _RESPONSE
    take = np.empty(len(villages), dtype=np.int64)
    for h in range(len(towns)):
        idx = np.flatnonzero(pop.village_town[villages] == h)
        base, extra = divmod(round(per_town), len(idx))
        take[idx] = base + (np.arange(len(idx)) < extra)
    return _Fieldplan(villages, take, rng.uniform(0.75, 0.95, len(villages)))


def wave(towns: Sequence[Township], village_names: Sequence[str], pop: Population,
          codes: np.ndarray, plan: _Fieldplan, period: str,
          rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fieldwork and survey tables of one month."""
    year, month = parse_period(period)
    ndays = calendar.monthrange(year, month)[1]
    field, persons, days = [], [], []
    for v, take, resp in zip(plan.villages, plan.take, plan.response, strict=True):
        n = int(np.clip(take + rng.integers(-2, 3), 1, pop.village_households[v]))
        chosen = rng.choice(pop.village_households[v], size=n, replace=False)
        hh = pop.village_first_hh[v] + chosen[rng.random(n) < resp]
        persons.append(pop.hh_first[hh] + rng.integers(0, pop.hh_adults[hh]))
        days.append(rng.integers(1, ndays + 1, len(hh)))
        field.append((towns[pop.village_town[v]].name, village_names[v], n, len(hh)))
    fieldwork = pd.DataFrame(field, columns=["township", "village", "households_selected",
                                             "households_responded"])
    p = np.concatenate(persons)
    day = np.concatenate(days)
    hh = pop.person_hh[p]
    order = np.lexsort((pop.hh_local[hh], day, pop.person_village[p]))
    p, day, hh = p[order], day[order], hh[order]
    survey = pd.DataFrame({
        "respondent_id": [f"{period}-{i:06d}" for i in range(1, len(p) + 1)],
        "township": [towns[t].name for t in pop.person_town[p]],
        "village": [village_names[v] for v in pop.person_village[p]],
        "household_id": [f"H{n:04d}" for n in pop.hh_local[hh]],
        "interview_date": [f"{period}-{d:02d}" for d in day],
        "sex": [SEXES[s] for s in pop.sex[p]],
        "age": pop.age[p],
        "ethnicity": [ETHNICITIES[e] for e in pop.ethnicity[p]],
        "household_adults": pop.hh_adults[hh],
    })
    for j, ind in enumerate(INDICATORS):
        survey[f"q_{ind}"] = codes[j, p]
    return fieldwork, survey


# ---------------------------------------------------------------- personal data (one wave)
_KAZAKH_MALE = ("努尔兰", "叶尔兰", "别克", "阿斯哈尔", "达吾列提", "哈那提", "赛力克",
                "叶尔波拉提", "吐尔逊", "马合沙提")


_KAZAKH_FEMALE = ("古丽娜尔", "阿依古丽", "热依拉", "扎依拉", "娜孜古丽", "阿娜尔", "沙吾列",
                  "巴合提古丽")


_MONGOL = ("巴特尔", "其木格", "乌云", "孟和", "娜仁", "额尔敦", "斯琴", "巴图")


_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "马", "赵", "周", "吴", "马", "韩")


_GIVEN = ("建国", "丽", "伟", "秀英", "军", "娟", "海燕", "志强", "芳", "红梅", "晓东", "玉兰")


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _fake_id(birth: dt.date, seq: int) -> str:
    """An 18-character ID-card number with a valid check digit and a region code (990000)
    that no real place has."""
    body = f"990000{birth:%Y%m%d}{seq:03d}"
    check = "10X98765432"[int(np.dot(_ID_WEIGHTS, [int(c) for c in body])) % 11]
    return body + check


def add_personal_data(survey: pd.DataFrame, period: str, rng: np.random.Generator) -> None:
    year, _ = parse_period(period)
    names, phones, ids = [], [], []
    for sex, age, eth in zip(survey["sex"], survey["age"], survey["ethnicity"], strict=True):
        u = int(rng.integers(0, 1 << 30))
        if eth == "哈萨克族":
            first = _KAZAKH_MALE if sex == "男" else _KAZAKH_FEMALE
            names.append(f"{first[u % len(first)]}·{_KAZAKH_MALE[(u >> 8) % len(_KAZAKH_MALE)]}")
        elif eth == "蒙古族":
            names.append(_MONGOL[u % len(_MONGOL)])
        else:
            names.append(_SURNAMES[u % len(_SURNAMES)] + _GIVEN[(u >> 8) % len(_GIVEN)])
        phones.append(f"{(139, 158, 180, 199)[u % 4]}{int(rng.integers(0, 10**8)):08d}")
        birth = dt.date(year - int(age) - 1, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        ids.append(_fake_id(birth, int(rng.integers(0, 1000))))
    survey["name"], survey["phone"], survey["id_card"] = names, phones, ids


# ---------------------------------------------------------------- planted invalid rows
def plant_errors(survey: pd.DataFrame, towns: Sequence[Township], period: str,
                  file: str, rng: np.random.Generator) -> tuple[pd.DataFrame, list[tuple]]:
    """Plant one row per validation rule in a wave; return it (as text) and the list.

    Each listed row is a 1-based data row (header excluded). For a pair (a repeated
    respondent_id, two respondents from a one-adult household) the later row is listed.
    """
    df = survey.astype(str)
    n = len(df)
    year, month = parse_period(period)
    rows: list[tuple] = []
    used: set[int] = set()

    def pick(candidates: np.ndarray | None = None) -> int:
        pool = np.setdiff1d(np.arange(n) if candidates is None else candidates, list(used))
        i = int(rng.choice(pool))
        used.add(i)
        return i

    def plant(i: int, column: str, rule: str, value: str) -> None:
        df.loc[i, column] = value
        rows.append((file, i + 1, i + 2, column, rule, value))

    a, b = sorted((pick(), pick()))
    plant(b, "respondent_id", "duplicate_respondent_id", df.loc[a, "respondent_id"])
    plant(pick(), "township", "unknown_township", "青河乡")
    if len(towns) > 1:
        i = pick()
        df.loc[i, "township"] = next(t.name for t in towns if t.name != df.loc[i, "township"])
        rows.append((file, i + 1, i + 2, "village", "village_not_in_township",
                     df.loc[i, "village"]))
    plant(pick(), "village", "unknown_village", "阿克苏村")
    plant(pick(), "q_security", "code_not_in_codebook", "7")
    plant(pick(), "age", "age_under_18", "16")
    plant(pick(), "age", "not_an_integer", "abc")
    before = dt.date(year, month, 1) - dt.timedelta(days=1)
    plant(pick(), "interview_date", "date_outside_period", before.isoformat())
    plant(pick(), "sex", "missing_required", "")
    plant(pick(), "household_adults", "household_adults_below_1", "0")
    plant(pick(), "ethnicity", "unknown_level", "维吾尔族")
    # A second respondent from a one-adult household of the same village.
    single = np.flatnonzero(df["household_adults"].to_numpy() == "1")
    a = pick(single)
    b = pick(np.flatnonzero(df["village"].to_numpy() == df.loc[a, "village"]))
    df.loc[b, "household_adults"] = "1"
    df.loc[b, "household_id"] = df.loc[a, "household_id"]
    later = max(a, b)
    rows.append((file, later + 1, later + 2, "household_adults", "household_adults_exceeded", "1"))
    return df, rows
