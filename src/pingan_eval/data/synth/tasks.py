"""The campaign task logs (``tasks/*.csv``), each with a few shortfalls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pingan_eval.data.synth.population import Population, Township


def tasks(towns: Sequence[Township], village_names: Sequence[str], pop: Population,
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


#: The sample ledger's planted cases (data/raw/README.md, "The sample county"): work done
#: after its due date, work never entered, and two rows without evidence.
_LATE = {("hospital_plan", "县卫生局"), ("leaflets", "县综治办"), ("unit_plans", "县民政局"),
         ("unit_study", "县司法局"), ("vehicle_slogans", "县交通局", "2026-06"),
         ("vehicle_slogans", "县交通局", "2026-09")}
_MISSING = {("unit_plans", "县发改委"), ("unit_plans", "县工商联"), ("unit_study", "县法院"),
            ("religious_publicity", "县委统战部"), ("tv_slogans", "县广电局", "2026-08"),
            ("volunteer_teams", "阿热勒乡")}
_NO_EVIDENCE = {("school_activities", "县教育局"), ("family_publicity", "县妇联")}


def ledger(towns: Sequence[Township], snapshot: np.datetime64,
           rng: np.random.Generator) -> pd.DataFrame:
    """The task ledger (``tasks/ledger.csv``): the plan's done tasks as of ``snapshot``.

    Most work is done on time; the cases of :data:`_LATE`, :data:`_MISSING` and
    :data:`_NO_EVIDENCE` are late, absent and without evidence; a task due at the year
    end is done by about half its departments; one row is a co-operating department's.
    """
    from pingan_eval.plan import load_plan

    day = pd.Timestamp(str(snapshot))
    plan = load_plan(year=day.year)
    names = [t.name for t in towns]
    rows = []
    serial = 0
    for t in plan.tasks:
        if t.measure != "done":
            continue
        who = [a for a in t.accountable if a in names or a not in plan.townships]
        if t.level == "township" and not all(a in plan.townships for a in t.accountable):
            pairs = [(a, tw) for a in who for tw in (t.townships or names) if tw in names]
        else:
            pairs = [(a, a if t.level == "township" else "") for a in who]
        months = [m for m in t.months if pd.Timestamp(day.year, m, 1) <= day]
        for dept, town in pairs:
            for month in ([f"{day.year}-{m:02d}" for m in months] or [""]):
                due = (pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0) if month
                       else t.window_end)
                key = (t.code, dept, month) if month else (t.code, dept)
                if key in _MISSING:
                    continue
                if key in _LATE:
                    date = due + pd.Timedelta(days=int(rng.integers(2, 20)))
                elif due > day:
                    if rng.random() < 0.5:
                        continue  # not done yet, not due yet
                    date = day - pd.Timedelta(days=int(rng.integers(5, 120)))
                else:
                    span = 25 if month else 40
                    date = due - pd.Timedelta(days=int(rng.integers(1, span)))
                serial += 1
                evidence = (f"{dept}{month}检查记录.pdf" if month
                            else f"青{dept[1:3]}发〔{day.year}〕{serial}号")
                if (t.code, dept) in _NO_EVIDENCE:
                    evidence = ""
                own_month = month if month and date.month != int(month[5:]) else ""
                rows.append({"task": t.code, "department": dept, "township": town,
                             "village": "", "month": own_month,
                             "date": date.strftime("%Y-%m-%d"),
                             "quantity": 4 if t.code == "entrance_boards" else "",
                             "evidence": evidence, "note": ""})
        if t.co_departments and t.level != "township":
            co = t.co_departments[0]
            serial += 1
            rows.append({"task": t.code, "department": co, "township": "", "village": "",
                         "month": "",
                         "date": (day - pd.Timedelta(days=30)).strftime("%Y-%m-%d"),
                         "quantity": "", "evidence": f"青{co[1:3]}发〔{day.year}〕{serial}号",
                         "note": "配合单位"})
    out = pd.DataFrame(rows, columns=["task", "department", "township", "village", "month",
                                      "date", "quantity", "evidence", "note"])
    return out.sort_values("date", kind="stable", ignore_index=True)
