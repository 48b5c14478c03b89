"""The sample county: a seeded generator of a synthetic Qinghe county (``pingan-eval synth``).

The generator builds a *finite population* first and only then draws the survey from it,
so the true values (``truth.csv``) are exact properties of a population the sample really
came from, and a design-based estimator is unbiased for them:

1. **Population.** Villages and communities per township, households per village,
   1-5 adults per household, each adult with sex, age and ethnicity (the ethnic mix of a
   household comes from its village, which scatters around its township's mix).
2. **Answers.** For every adult, month ``t`` and indicator ``k``::

       logit P(positive) = a[township, t, k] + u[village, k] + b_age + b_ethnicity + b_sex

   ``u ~ N(0, 0.4^2)`` is the village effect that makes answers cluster (intra-class
   correlation); ``a`` is solved so that the population share of the township equals a
   planned level moving from the first to the last wave (plus monthly noise). Five-point
   questions follow a cumulative-logit model whose "positive" split (codes 1-3) is that
   same probability. "Don't know" (code 9) is drawn at a few percent, twice as often at 65+.
3. **Design.** Townships are strata; per township 5-6 villages are drawn once by
   systematic PPS on households (certainty villages get ``psu_prob`` 1). Every month each
   sampled village draws households by simple random sampling, a village-specific share of
   them responds (75-95%), and one adult of each responding household is interviewed.
4. **Registers and task logs** of the campaign's plan year, with planted defects.

The last wave carries a dozen planted invalid rows, listed in ``planted_errors.csv``
together with the planted register defects. Every random stream is derived from the seed
and a fixed label, and every output is sorted and formatted without timestamps, so the
same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from pingan_eval.errors import PinganEvalError
from pingan_eval.fileio import atomic_directory

COUNTY = "青河县"

#: Townships of the shipped county, county seat first.
TOWNSHIPS = ("青河镇", "塔克什肯镇", "阿热勒托别镇", "阿格达拉镇", "萨尔托海乡", "查干郭勒乡",
             "阿热勒乡")

#: Villages (村) and communities (社区) per township: about 80 in all.
_VILLAGES: dict[str, tuple[str, ...]] = {
    "青河镇": (
        "团结路社区", "友好路社区", "幸福路社区", "和谐社区", "建设路社区", "胜利路社区",
        "文化路社区", "新城社区", "阿尕什敖包村", "喀拉乔拉村", "克孜勒希力克村",
        "阿克吐布克村", "塔斯巴斯陶村", "布鲁克村"),
    "塔克什肯镇": (
        "塔克什肯村", "库尔特村", "阿克喀仁村", "恰尔沙村", "巴斯克阔克村", "布尔根村",
        "阔斯阿热勒村", "加勒格孜阿尕什村", "喀英德布拉克村", "也克阿恰村", "阿克布拉克村",
        "托斯托别村"),
    "阿热勒托别镇": (
        "阿热勒托别村", "克孜勒加尔村", "萨尔布拉克村", "阿克乔克村", "吉别特村",
        "库木托别村", "阔克托干村", "铁热克提村", "哈拉吉拉村", "萨尔喀木斯村",
        "巴特巴克布拉克村"),
    "阿格达拉镇": (
        "阿格达拉村", "霍孜克村", "阔克玉尔特村", "塔斯喀拉村", "喀拉盖特村", "萨热布拉克村",
        "阿克加尔村", "恰库尔图村", "吐尔洪村", "玛依喀因村"),
    "萨尔托海乡": (
        "萨尔托海村", "喀拉托别村", "阔克塔斯村", "巴斯喀拉苏村", "阿克塔斯村",
        "加勒巴斯陶村", "库木布拉克村", "铁布喀村", "别斯铁热克村", "喀拉苏村", "阿合加尔村"),
    "查干郭勒乡": (
        "查干郭勒村", "乌兰布拉克村", "巴音郭勒村", "哈尔尕特村", "呼吉尔特村", "阿尔恰特村",
        "乌图布拉克村", "查干陶勒盖村", "塔斯托别村", "布尔塔拉村", "库热木图村"),
    "阿热勒乡": (
        "阿热勒村", "喀拉吉拉村", "阔克阿尕什村", "阿克铁热克村", "萨尔铁热克村", "塔拉特村",
        "科克托别村", "阿克萨依村", "加勒格孜托别村", "克孜勒托别村", "什巴尔库勒村"),
}

SEXES = ("男", "女")
AGE_GROUPS = ("18-34", "35-49", "50-64", "65+")
ETHNICITIES = ("哈萨克族", "汉族", "回族", "蒙古族", "其他")
INDICATORS = ("awareness", "participation", "satisfaction", "security", "legal_satisfaction")
#: Indicators asked on the five-point scale, with a 0-100 score index.
SCORED = ("satisfaction", "security", "legal_satisfaction")

#: Ethnic mix (哈萨克族, 汉族, 回族, 蒙古族, 其他) of each township's adults.
_ETHNIC_MIX = {
    "青河镇": (0.42, 0.38, 0.13, 0.03, 0.04),
    "塔克什肯镇": (0.80, 0.12, 0.05, 0.01, 0.02),
    "阿热勒托别镇": (0.88, 0.07, 0.03, 0.01, 0.01),
    "阿格达拉镇": (0.78, 0.13, 0.06, 0.01, 0.02),
    "萨尔托海乡": (0.93, 0.04, 0.015, 0.005, 0.01),
    "查干郭勒乡": (0.62, 0.06, 0.02, 0.29, 0.01),
    "阿热勒乡": (0.91, 0.05, 0.02, 0.01, 0.01),
}

#: Planned population shares (first wave, last wave) per indicator in INDICATORS order:
#: some townships end above 95%, some below, and 萨尔托海乡's sense of security falls.
_LEVELS = {
    "青河镇": ((0.955, 0.985), (0.86, 0.93), (0.93, 0.965), (0.965, 0.975), (0.93, 0.96)),
    "塔克什肯镇": ((0.94, 0.975), (0.84, 0.95), (0.92, 0.96), (0.96, 0.985), (0.92, 0.955)),
    "阿热勒托别镇": ((0.93, 0.965), (0.82, 0.90), (0.94, 0.97), (0.97, 0.985), (0.90, 0.94)),
    "阿格达拉镇": ((0.95, 0.98), (0.85, 0.92), (0.95, 0.975), (0.95, 0.965), (0.93, 0.965)),
    "萨尔托海乡": ((0.91, 0.94), (0.80, 0.86), (0.90, 0.93), (0.95, 0.935), (0.89, 0.92)),
    "查干郭勒乡": ((0.925, 0.96), (0.83, 0.91), (0.93, 0.955), (0.975, 0.99), (0.92, 0.95)),
    "阿热勒乡": ((0.935, 0.955), (0.81, 0.88), (0.91, 0.945), (0.96, 0.97), (0.91, 0.935)),
}

# Covariate effects on the logit scale, rows = indicators in INDICATORS order.
_AGE_EFFECT = np.array([[-0.3, 0.0, 0.2, -0.2], [-0.4, 0.0, 0.3, 0.1], [-0.2, 0.0, 0.1, 0.3],
                        [-0.1, 0.0, 0.1, 0.2], [-0.2, 0.0, 0.1, 0.2]])
_ETHNIC_EFFECT = np.array([[0.0, 0.2, 0.1, 0.0, -0.2], [0.1, -0.2, 0.0, 0.1, -0.1],
                           [0.0, 0.1, 0.0, 0.1, 0.0], [0.0, 0.2, 0.0, 0.0, 0.0],
                           [0.0, 0.1, 0.0, 0.0, -0.1]])
_SEX_EFFECT = np.array([[0.0, -0.1], [0.0, 0.1], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
_VILLAGE_SD = 0.4
_MONTH_SD = 0.06
#: Cumulative-logit offsets of codes 1..4 on the five-point scale; code <= 3 is positive.
_THETA = np.array([-3.0, -1.5, 0.0, 1.2])
#: "Don't know" rate per indicator (doubled at 65+).
_DONT_KNOW = np.array([0.02, 0.03, 0.03, 0.015, 0.04])
_ADULTS_P = np.array([0.13, 0.42, 0.26, 0.12, 0.07])  # 1..5 adults per household
_RESPONSE = 0.85  # planned mean household response rate (villages draw 0.75-0.95)

_SCALE_LABELS = {
    "satisfaction": ("很满意", "满意", "基本满意", "不太满意", "不满意"),
    "legal_satisfaction": ("很满意", "满意", "基本满意", "不太满意", "不满意"),
    "security": ("很安全", "安全", "基本安全", "不太安全", "不安全"),
}
_BINARY_LABELS = {"awareness": ("知道", "不知道"), "participation": ("参加过", "没参加过")}
_SCORES = (100, 75, 50, 25, 0)

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


@dataclass(frozen=True)
class _Township:
    name: str
    villages: tuple[str, ...]
    ethnic_mix: np.ndarray  # shares of ETHNICITIES
    levels: np.ndarray  # (indicator, first/last wave) planned population shares
    n_psu: int  # villages sampled


@dataclass(frozen=True)
class _Population:
    village_town: np.ndarray  # (V,) township index of every village
    village_households: np.ndarray  # (V,)
    village_first_hh: np.ndarray  # (V,) index of the village's first household
    hh_village: np.ndarray  # (H,)
    hh_local: np.ndarray  # (H,) 1-based number within the village
    hh_adults: np.ndarray  # (H,)
    hh_first: np.ndarray  # (H,) index of the household's first adult
    person_village: np.ndarray  # (N,)
    person_town: np.ndarray  # (N,)
    person_hh: np.ndarray  # (N,)
    sex: np.ndarray  # (N,) index into SEXES
    age: np.ndarray  # (N,)
    age_group: np.ndarray  # (N,) index into AGE_GROUPS
    ethnicity: np.ndarray  # (N,) index into ETHNICITIES


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per stream, so that one part can change without the others."""
    return np.random.default_rng([seed, *stream.encode()])


def _parse_period(period: str) -> tuple[int, int]:
    try:
        year, month = (int(x) for x in period.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise PinganEvalError(f"synth: last_period {period!r} is not a YYYY-MM month") from None
    return year, month


def _periods(last_period: str, n: int) -> list[str]:
    year, month = _parse_period(last_period)
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - n + 1, index + 1)]


def _townships(n_townships: int, rng: np.random.Generator) -> list[_Township]:
    towns = []
    for i in range(n_townships):
        if i < len(TOWNSHIPS):
            name = TOWNSHIPS[i]
            villages = _VILLAGES[name]
            mix, levels = np.array(_ETHNIC_MIX[name]), np.array(_LEVELS[name])
        else:
            name = f"测试乡{i - len(TOWNSHIPS) + 1:03d}"
            villages = tuple(f"{name}第{j:02d}村" for j in range(1, int(rng.integers(8, 15)) + 1))
            mix = rng.dirichlet([8.0, 1.0, 0.5, 0.3, 0.2])
            first = rng.uniform([0.91, 0.80, 0.90, 0.94, 0.88], [0.96, 0.90, 0.96, 0.98, 0.95])
            levels = np.column_stack([first, np.minimum(first + rng.uniform(-0.01, 0.05, 5),
                                                        0.995)])
        towns.append(_Township(name, villages, mix, levels, min(6 if i == 0 else 5,
                                                                len(villages))))
    return towns


def _kind(village: str) -> str:
    return "社区" if village.endswith("社区") else "村"


def _population(towns: Sequence[_Township], rng: np.random.Generator) -> _Population:
    villages = [v for t in towns for v in t.villages]
    village_town = np.repeat(np.arange(len(towns)), [len(t.villages) for t in towns])
    is_community = np.array([_kind(v) == "社区" for v in villages])
    n_v = len(villages)
    sizes = np.where(is_community, rng.integers(350, 901, n_v), rng.integers(90, 301, n_v))
    village_first_hh = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hh_village = np.repeat(np.arange(n_v), sizes)
    hh_local = np.arange(len(hh_village)) - village_first_hh[hh_village] + 1
    hh_adults = rng.choice(5, size=len(hh_village), p=_ADULTS_P) + 1
    hh_first = np.concatenate([[0], np.cumsum(hh_adults)[:-1]])
    # Households share an ethnicity drawn from their village's mix; a few adults differ.
    town_mix = np.array([t.ethnic_mix for t in towns])
    village_mix = np.array([rng.dirichlet(town_mix[t] * 40 + 0.05) for t in village_town])
    hh_eth = _draw_categorical(village_mix[hh_village], rng)
    person_hh = np.repeat(np.arange(len(hh_village)), hh_adults)
    person_village = hh_village[person_hh]
    person_town = village_town[person_village]
    ethnicity = hh_eth[person_hh]
    other = rng.random(len(person_hh)) < 0.04
    ethnicity[other] = _draw_categorical(town_mix[person_town[other]], rng)
    sex = (rng.random(len(person_hh)) < 0.49).astype(np.int8)
    age = 18 + np.floor(rng.beta(1.5, 2.4, len(person_hh)) * 73).astype(np.int64)
    age_group = np.searchsorted([35, 50, 65], age, side="right")
    return _Population(village_town, sizes, village_first_hh, hh_village, hh_local, hh_adults,
                       hh_first, person_village, person_town, person_hh, sex, age, age_group,
                       ethnicity)


def _draw_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category index per row of a (n, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((rng.random(len(probs))[:, None] > cdf).sum(axis=1), probs.shape[1] - 1)


def _intercepts(towns: Sequence[_Township], pop: _Population, lin: np.ndarray, n_periods: int,
                rng: np.random.Generator) -> np.ndarray:
    """Township x period x indicator intercepts hitting the planned population shares."""
    step = np.linspace(0.0, 1.0, n_periods) if n_periods > 1 else np.ones(1)
    a = np.empty((len(towns), n_periods, len(INDICATORS)))
    for h, town in enumerate(towns):
        first, last = logit(town.levels[:, 0]), logit(town.levels[:, 1])
        target = expit(first + np.outer(step, last - first)
                       + rng.normal(0.0, _MONTH_SD, (n_periods, len(INDICATORS))))
        x = lin[pop.person_town == h]  # (n_h, K)
        ah = logit(target)
        for _ in range(8):  # Newton steps on mean(expit(a + x)) = target
            p = expit(ah[:, None, :] + x[None, :, :])
            ah -= (p.mean(axis=1) - target) / (p * (1 - p)).mean(axis=1)
        a[h] = ah
    return a


def _answers(towns: Sequence[_Township], pop: _Population, n_periods: int,
             rng: np.random.Generator) -> np.ndarray:
    """Answer codes of every adult: an int8 array (period, indicator, person)."""
    k = np.arange(len(INDICATORS))
    u = rng.normal(0.0, _VILLAGE_SD, (len(pop.village_town), len(INDICATORS)))
    lin = (u[pop.person_village] + _AGE_EFFECT[k, pop.age_group[:, None]]
           + _ETHNIC_EFFECT[k, pop.ethnicity[:, None]] + _SEX_EFFECT[k, pop.sex[:, None]])
    a = _intercepts(towns, pop, lin, n_periods, rng)
    n = len(pop.person_hh)
    codes = np.empty((n_periods, len(INDICATORS), n), dtype=np.int8)
    dk_scale = np.where(pop.age >= 65, 2.0, 1.0)
    for t in range(n_periods):
        eta = a[pop.person_town, t, :] + lin
        for j, ind in enumerate(INDICATORS):
            draw = rng.random(n)
            if ind in SCORED:
                cum = expit(eta[:, j, None] + _THETA[None, :])
                c = 1 + (draw[:, None] > cum).sum(axis=1)
            else:
                c = np.where(draw < expit(eta[:, j]), 1, 2)
            c[rng.random(n) < _DONT_KNOW[j] * dk_scale] = 9
            codes[t, j] = c
    return codes


def _truth(towns: Sequence[_Township], pop: _Population, codes: np.ndarray,
           periods: Sequence[str]) -> pd.DataFrame:
    """True population shares (among adults not answering 'don't know') and mean scores."""
    score_of = np.full(10, np.nan)
    score_of[1:6] = _SCORES
    rows = []
    n_t = len(towns)
    areas = [t.name for t in towns] + [COUNTY]
    for t, period in enumerate(periods):
        for j, ind in enumerate(INDICATORS):
            c = codes[t, j]
            valid = c != 9
            positive = valid & (c <= (3 if ind in SCORED else 1))
            den = np.bincount(pop.person_town, weights=valid, minlength=n_t)
            num = np.bincount(pop.person_town, weights=positive, minlength=n_t)
            values = {ind: np.append(num, num.sum()) / np.append(den, den.sum())}
            if ind in SCORED:
                s = np.bincount(pop.person_town, weights=np.where(valid, score_of[c], 0.0),
                                minlength=n_t)
                values[f"{ind}_score"] = np.append(s, s.sum()) / np.append(den, den.sum())
            for name, vals in values.items():
                rows += [(period, area, name, v) for area, v in zip(areas, vals, strict=True)]
    df = pd.DataFrame(rows, columns=["period", "area", "indicator", "value"])
    df["value"] = df["value"].map(lambda v: f"{v:.6f}")
    return df


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


def _frame(towns: Sequence[_Township], pop: _Population,
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
        "kind": [_kind(v) for t in towns for v in t.villages],
        "households": pop.village_households,
        "adults": adults,
        "psu_total": [len(t.villages) for t in towns for _ in t.villages],
        "sampled": sampled.astype(int),
        "psu_prob": [f"{p:.6f}" if s else "" for p, s in zip(prob, sampled, strict=True)],
    })
    return frame, sampled


def _census(towns: Sequence[_Township], pop: _Population) -> pd.DataFrame:
    rows = []
    for h, town in enumerate(towns):
        mask = pop.person_town == h
        for margin, levels, values in (("sex", SEXES, pop.sex), ("age_group", AGE_GROUPS,
                                       pop.age_group), ("ethnicity", ETHNICITIES, pop.ethnicity)):
            counts = np.bincount(values[mask], minlength=len(levels))
            rows += [(town.name, margin, lev, int(n))
                     for lev, n in zip(levels, counts, strict=True)]
    return pd.DataFrame(rows, columns=["township", "margin", "level", "population"])


def _codebook() -> pd.DataFrame:
    rows = []
    for ind in INDICATORS:
        q = f"q_{ind}"
        if ind in SCORED:
            labels = zip(_SCALE_LABELS[ind], _SCORES, strict=True)
            for code, (label, score) in enumerate(labels, start=1):
                rows.append((q, ind, code, label, int(code <= 3), str(score), 0))
        else:
            for code, label in enumerate(_BINARY_LABELS[ind], start=1):
                rows.append((q, ind, code, label, int(code == 1), "", 0))
        rows.append((q, ind, 9, "说不清", 0, "", 1))
    return pd.DataFrame(rows, columns=["question", "indicator", "code", "label_zh", "positive",
                                       "score", "missing"])


@dataclass(frozen=True)
class _Fieldplan:
    villages: np.ndarray  # sampled village indices, frame order
    take: np.ndarray  # planned households per village and month
    response: np.ndarray  # household response probability per village


def _fieldplan(towns: Sequence[_Township], pop: _Population, sampled: np.ndarray,
               respondents_per_wave: int, rng: np.random.Generator) -> _Fieldplan:
    villages = np.flatnonzero(sampled)
    per_town = respondents_per_wave / len(towns) / _RESPONSE
    take = np.empty(len(villages), dtype=np.int64)
    for h in range(len(towns)):
        idx = np.flatnonzero(pop.village_town[villages] == h)
        base, extra = divmod(round(per_town), len(idx))
        take[idx] = base + (np.arange(len(idx)) < extra)
    return _Fieldplan(villages, take, rng.uniform(0.75, 0.95, len(villages)))


def _wave(towns: Sequence[_Township], village_names: Sequence[str], pop: _Population,
          codes: np.ndarray, plan: _Fieldplan, period: str,
          rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fieldwork and survey tables of one month."""
    year, month = _parse_period(period)
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


def _add_personal_data(survey: pd.DataFrame, period: str, rng: np.random.Generator) -> None:
    year, _ = _parse_period(period)
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
def _plant_errors(survey: pd.DataFrame, towns: Sequence[_Township], period: str,
                  file: str, rng: np.random.Generator) -> tuple[pd.DataFrame, list[tuple]]:
    """Plant one row per validation rule in a wave; return it (as text) and the list.

    Each listed row is a 1-based data row (header excluded). For a pair (a repeated
    respondent_id, two respondents from a one-adult household) the later row is listed.
    """
    df = survey.astype(str)
    n = len(df)
    year, month = _parse_period(period)
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


def _registers(towns: Sequence[_Township], village_names: Sequence[str], pop: _Population,
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
        communities = [v for v in vidx if _kind(village_names[v]) == "社区"] or list(vidx)
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


def _tasks(towns: Sequence[_Township], village_names: Sequence[str], pop: _Population,
           snapshot: np.datetime64,
           rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The campaign task logs, each with a few shortfalls."""
    as_of = str(snapshot)
    year = int(as_of[:4])
    n_t = len(towns)
    boards = rng.integers(2, 5, n_t)
    boards[0] = 12
    boards[-1] = 1 if n_t > 1 else boards[-1]  # one township with a single board
    signboards = pd.DataFrame({"township": [t.name for t in towns], "large_boards": boards,
                               "themed_street": (np.arange(n_t) == 0).astype(int),
                               "as_of": as_of})
    n_v = len(village_names)
    short = rng.choice(n_v, size=min(4, n_v), replace=False)
    visited = pop.village_households.copy()
    visited[short] = np.floor(visited[short] * rng.uniform(0.90, 0.99, len(short))).astype(int)
    visits = pd.DataFrame({"township": [towns[t].name for t in pop.village_town],
                           "village": village_names, "households_total": pop.village_households,
                           "households_visited": visited, "as_of": as_of})
    sent_months = [f"{year}-{m:02d}" for m in (3, 5, 9)]  # July's messages were never sent
    sent_months = [m for m in sent_months if m <= as_of[:7]]
    subscribers = 38000 + np.cumsum(rng.integers(50, 300, len(sent_months)))
    messages = pd.DataFrame({"month": sent_months, "subscribers": subscribers,
                             "messages_sent": subscribers})
    cadres = rng.integers(25, 46, n_t)
    cadres[0] = 60
    test_day = rng.integers(10, 29, n_t)
    test_dates = [f"{year}-04-{d:02d}" for d in test_day]
    if n_t > 4:
        test_dates[4] = f"{year}-05-12"  # 萨尔托海乡 tested after the end of April
    cadre_test = pd.DataFrame({"township": [t.name for t in towns], "cadres_total": cadres,
                               "cadres_tested": cadres, "test_date": test_dates})
    months = [p for p in (f"{year}-{m:02d}" for m in range(1, 13)) if p <= as_of[:7]]
    months = [m for m in months if m != f"{year}-02"]  # no performance at Spring Festival
    performances = pd.DataFrame({"month": months,
                                 "performances": rng.integers(1, 4, len(months))})
    wall = np.ones(n_v, dtype=int)
    window = np.ones(n_v, dtype=int)
    wall[rng.choice(n_v, size=min(3, n_v), replace=False)] = 0
    window[rng.choice(n_v, size=min(2, n_v), replace=False)] = 0
    walls = pd.DataFrame({"township": [towns[t].name for t in pop.village_town],
                          "village": village_names, "wall": wall, "window": window})
    return {"signboards": signboards, "visits": visits, "messages": messages,
            "cadre_test": cadre_test, "performances": performances, "propaganda_walls": walls}


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
    towns = _townships(n_townships, _rng(seed, "townships"))
    village_names = [v for t in towns for v in t.villages]
    pop = _population(towns, _rng(seed, "population"))
    codes = _answers(towns, pop, periods, _rng(seed, "answers"))
    frame, sampled = _frame(towns, pop, _rng(seed, "psu"))
    plan = _fieldplan(towns, pop, sampled, respondents_per_wave, _rng(seed, "fieldplan"))
    year, month = _parse_period(last_period)
    snapshot = np.datetime64(dt.date(year, month, calendar.monthrange(year, month)[1]), "D")
    reg, eligible, planted = _registers(towns, village_names, pop, year, snapshot,
                                        _rng(seed, "registers"))
    with atomic_directory(out) as tmp:
        _write_csv(tmp / "frame.csv", frame)
        _write_csv(tmp / "census.csv", _census(towns, pop))
        _write_csv(tmp / "codebook.csv", _codebook())
        _write_csv(tmp / "truth.csv", _truth(towns, pop, codes, waves))
        for t, period in enumerate(waves):
            rng = _rng(seed, f"wave {period}")
            fieldwork, survey = _wave(towns, village_names, pop, codes[t], plan, period, rng)
            back = len(waves) - 1 - t  # waves before the last
            encoding, line_end = "utf-8", "\n"
            if back == 0:
                survey, rows = _plant_errors(survey, towns, period, f"survey/{period}.csv", rng)
                planted = rows + planted
            elif back == 1:
                _add_personal_data(survey, period, rng)
            elif back == 2:
                encoding, line_end = "gb18030", "\r\n"
            elif back == 3:
                encoding = "utf-8-sig"
            _write_csv(tmp / "fieldwork" / f"{period}.csv", fieldwork)
            _write_csv(tmp / "survey" / f"{period}.csv", survey, encoding, line_end)
        _write_csv(tmp / "planted_errors.csv",
                   pd.DataFrame(planted, columns=["file", "row", "line", "column", "rule",
                                                  "value"]))
        _write_csv(tmp / "registers" / "safe_cells.csv", reg)
        _write_csv(tmp / "registers" / "eligible.csv", eligible)
        for name, table in _tasks(towns, village_names, pop, snapshot,
                                  _rng(seed, "tasks")).items():
            _write_csv(tmp / "tasks" / f"{name}.csv", table)
    return Path(out)


def main_synth(args: argparse.Namespace) -> int:
    """``pingan-eval synth``: write the sample county to ``args.out`` from ``args.seed``."""
    start = time.perf_counter()
    out = synth_county(args.out, seed=args.seed)
    fieldwork = sorted((out / "fieldwork").glob("*.csv"))
    n = sum(int(pd.read_csv(p)["households_responded"].sum()) for p in fieldwork)
    print(f"synth: wrote {out} (seed {args.seed}: {len(TOWNSHIPS)} townships, "
          f"{len(fieldwork)} waves, {n} respondents) in {time.perf_counter() - start:.1f} s")
    return 0
