"""The county's finite population: places, households, adults and their answers.

Townships and villages, households of 1-5 adults with sex, age and ethnicity, every
adult's answer codes per month and indicator, and the tables computed from the whole
population: ``truth.csv``, ``census.csv`` and ``codebook.csv``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from pingan_eval.errors import PinganEvalError

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


_SCALE_LABELS = {
    "satisfaction": ("很满意", "满意", "基本满意", "不太满意", "不满意"),
    "legal_satisfaction": ("很满意", "满意", "基本满意", "不太满意", "不满意"),
    "security": ("很安全", "安全", "基本安全", "不太安全", "不安全"),
}


_BINARY_LABELS = {"awareness": ("知道", "不知道"), "participation": ("参加过", "没参加过")}


_SCORES = (100, 75, 50, 25, 0)


@dataclass(frozen=True)
class Township:
    name: str
    villages: tuple[str, ...]
    ethnic_mix: np.ndarray  # shares of ETHNICITIES
    levels: np.ndarray  # (indicator, first/last wave) planned population shares
    n_psu: int  # villages sampled


@dataclass(frozen=True)
class Population:
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


def parse_period(period: str) -> tuple[int, int]:
    try:
        year, month = (int(x) for x in period.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise PinganEvalError(f"synth: last_period {period!r} is not a YYYY-MM month") from None
    return year, month


def townships(n_townships: int, rng: np.random.Generator) -> list[Township]:
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
        towns.append(Township(name, villages, mix, levels, min(6 if i == 0 else 5,
                                                                len(villages))))
    return towns


def kind(village: str) -> str:
    return "社区" if village.endswith("社区") else "村"


def population(towns: Sequence[Township], rng: np.random.Generator) -> Population:
    villages = [v for t in towns for v in t.villages]
    village_town = np.repeat(np.arange(len(towns)), [len(t.villages) for t in towns])
    is_community = np.array([kind(v) == "社区" for v in villages])
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
    return Population(village_town, sizes, village_first_hh, hh_village, hh_local, hh_adults,
                       hh_first, person_village, person_town, person_hh, sex, age, age_group,
                       ethnicity)


def _draw_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category index per row of a (n, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((rng.random(len(probs))[:, None] > cdf).sum(axis=1), probs.shape[1] - 1)


def _intercepts(towns: Sequence[Township], pop: Population, lin: np.ndarray, n_periods: int,
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


def answers(towns: Sequence[Township], pop: Population, n_periods: int,
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


def truth(towns: Sequence[Township], pop: Population, codes: np.ndarray,
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


def census(towns: Sequence[Township], pop: Population) -> pd.DataFrame:
    rows = []
    for h, town in enumerate(towns):
        mask = pop.person_town == h
        for margin, levels, values in (("sex", SEXES, pop.sex), ("age_group", AGE_GROUPS,
                                       pop.age_group), ("ethnicity", ETHNICITIES, pop.ethnicity)):
            counts = np.bincount(values[mask], minlength=len(levels))
            rows += [(town.name, margin, lev, int(n))
                     for lev, n in zip(levels, counts, strict=True)]
    return pd.DataFrame(rows, columns=["township", "margin", "level", "population"])


def codebook() -> pd.DataFrame:
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
