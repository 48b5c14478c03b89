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
