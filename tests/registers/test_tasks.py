"""Campaign task completion on small hand-made logs, and on the shipped sample logs."""

from __future__ import annotations

import pandas as pd
import pytest

from pingan_eval.errors import DataError
from pingan_eval.paths import SAMPLE_RAW_DIR
from pingan_eval.plan import load_plan
from pingan_eval.registers.tasks import TASK_COLUMNS, load_tasks, task_completion

TOWNS = load_plan().townships
SEAT, TOWN = TOWNS[0], TOWNS[1]  # 青河镇 and 塔克什肯镇


def rows(out: pd.DataFrame, code: str) -> pd.DataFrame:
    return out[out["code"] == code].reset_index(drop=True)


def signboards(boards: dict[str, int], as_of: str = "2026-06-01") -> pd.DataFrame:
    return pd.DataFrame({"township": list(boards), "large_boards": list(boards.values()),
                         "themed_street": [int(t == SEAT) for t in boards], "as_of": as_of})


def test_schema_and_plan_order():
    out = task_completion({}, as_of="2026-11-30")
    assert tuple(out.columns) == TASK_COLUMNS
    codes = [t.code for t in load_plan().tasks]
    assert list(dict.fromkeys(out["code"])) == [c for c in codes if c in set(out["code"])]
    # No logs: every township and month row is there, without evidence.
    assert (out["note"].str.startswith("no log tasks/")).all()
    assert len(rows(out, "signboards")) == 7 and len(rows(out, "messages")) == 4


def test_signboard_counts_per_township():
    boards = {SEAT: 10, TOWN: 2, TOWNS[2]: 1}
    out = rows(task_completion({"signboards": signboards(boards)}, as_of="2026-06-01"),
               "signboards").set_index("township")
    assert out.loc[SEAT, ["required", "achieved", "verdict"]].tolist() == [10.0, 10.0, "met"]
    assert out.loc[TOWN, ["required", "achieved", "verdict"]].tolist() == [2.0, 2.0, "met"]
    assert out.loc[TOWNS[2], ["required", "achieved", "rate"]].tolist() == [2.0, 1.0, 0.5]
    assert out.loc[TOWNS[2], "verdict"] == "undecided"  # due 12-31
    assert out.loc[TOWNS[3], ["achieved", "note"]].tolist() == [0.0, "no record"]
    late = rows(task_completion({"signboards": signboards(boards)}, as_of="2027-01-01"),
                "signboards").set_index("township")
    assert late.loc[TOWNS[2], "verdict"] == "not_met"
    street = rows(task_completion({"signboards": signboards(boards)}, as_of="2026-06-01"),
                  "themed_street")
    assert street[["township", "achieved", "verdict"]].values.tolist() == [[SEAT, 1.0, "met"]]


def test_nine_boards_in_the_county_seat_are_not_enough():
    out = rows(task_completion({"signboards": signboards({SEAT: 9})}, as_of="2027-01-01"),
               "signboards").set_index("township")
    assert out.loc[SEAT, ["required", "achieved", "verdict"]].tolist() == [10.0, 9.0, "not_met"]


def test_a_village_without_a_log_row_is_not_met(tmp_path):
    log = pd.DataFrame({"township": [SEAT], "village": ["甲村"], "households_total": [120],
                        "households_visited": [120], "as_of": "2026-04-30"})
    walls = pd.DataFrame({"township": [SEAT], "village": ["甲村"], "wall": [1], "window": [1]})
    frame = pd.DataFrame({"township": [SEAT, SEAT, TOWN], "village": ["甲村", "乙村", "丙村"]})
    out = task_completion({"visits": log, "propaganda_walls": walls}, as_of="2026-11-30",
                          villages=frame)
    visits = rows(out, "visits").set_index("village")  # due 2026-04-30
    assert visits["verdict"].to_dict() == {"甲村": "met", "乙村": "not_met", "丙村": "not_met"}
    assert visits.loc["乙村", "note"] == "no record"
    walls = rows(out, "propaganda_wall").set_index("village")  # due at the year's end
    assert walls["verdict"].to_dict() == {"甲村": "met", "乙村": "undecided",
                                          "丙村": "undecided"}
    assert walls.loc[["乙村", "丙村"], "achieved"].tolist() == [0.0, 0.0]
    # without the list of villages only the logged ones are known (the old behaviour)
    assert list(rows(task_completion({"visits": log}, as_of="2026-11-30"),
                     "visits")["village"]) == ["甲村"]
    # a dataset folder brings its sampling frame: the shipped sample's 80 villages
    sample = rows(task_completion(SAMPLE_RAW_DIR, as_of="2026-11-30"), "visits")
    frame = pd.read_csv(SAMPLE_RAW_DIR / "frame.csv")
    assert len(sample) == len(frame) == 80


def test_visits_at_every_household_and_the_due_date_boundary():
    log = pd.DataFrame({"township": [SEAT, SEAT], "village": ["甲村", "乙村"],
                        "households_total": [120, 80], "households_visited": [120, 79],
                        "as_of": "2026-04-30"})
    on_due = rows(task_completion({"visits": log}, as_of="2026-04-30"),
                  "visits").set_index("village")
    assert on_due["verdict"].to_dict() == {"甲村": "met", "乙村": "undecided"}  # due day open
    assert on_due["required"].to_dict() == {"甲村": 120.0, "乙村": 80.0}
    assert on_due.loc["乙村", "rate"] == pytest.approx(79 / 80)
    after = rows(task_completion({"visits": log}, as_of="2026-05-01"),
                 "visits").set_index("village")
    assert after["verdict"].to_dict() == {"甲村": "met", "乙村": "not_met"}


def test_snapshots_after_the_as_of_date_are_not_seen_and_late_completion_is_late():
    log = pd.DataFrame({"township": SEAT, "village": "甲村", "households_total": 100,
                        "households_visited": [90, 100], "as_of": ["2026-04-15", "2026-05-20"]})
    before = rows(task_completion({"visits": log}, as_of="2026-04-20"), "visits")
    assert before.loc[0, ["achieved", "verdict"]].tolist() == [90.0, "undecided"]
    after = rows(task_completion({"visits": log}, as_of="2026-06-01"), "visits")
    assert after.loc[0, ["achieved", "verdict", "note"]].tolist() == [
        100.0, "not_met", "met only after the due date"]
    # One snapshot after the due date and nothing before: it cannot show lateness.
    only_late = log.iloc[[1]]
    assert rows(task_completion({"visits": only_late}, as_of="2026-06-01"),
                "visits").loc[0, "verdict"] == "met"


@pytest.mark.parametrize(("test_date", "as_of", "verdict"), [
    ("2026-04-30", "2026-04-30", "met"),        # on the due date
    ("2026-05-01", "2026-05-10", "not_met"),    # a day late
    ("2026-04-20", "2026-04-19", "undecided"),  # the test has not happened yet
])
def test_cadre_test_by_the_end_of_april(test_date, as_of, verdict):
    log = pd.DataFrame({"township": [SEAT], "cadres_total": [40], "cadres_tested": [40],
                        "test_date": [test_date]})
    out = rows(task_completion({"cadre_test": log}, as_of=as_of),
               "cadre_test").set_index("township")
    assert out.loc[SEAT, "verdict"] == verdict
    assert out.drop(index=SEAT)["note"].eq("no record").all()


def test_messages_in_march_may_july_september():
    log = pd.DataFrame({"month": ["2026-03", "2026-04", "2026-05", "2026-07"],
                        "subscribers": [100, 100, 100, 100],
                        "messages_sent": [100, 100, 99, 100]})
    out = rows(task_completion({"messages": log}, as_of="2026-09-30"), "messages")
    assert out["month"].tolist() == ["2026-03", "2026-05", "2026-07", "2026-09"]  # no April
    assert out["verdict"].tolist() == ["met", "not_met", "met", "undecided"]
    assert out.loc[3, "due"] == pd.Timestamp("2026-09-30")
    assert rows(task_completion({"messages": log}, as_of="2026-10-01"),
                "messages").loc[3, "verdict"] == "not_met"
    assert len(rows(task_completion({"messages": log}, as_of="2026-02-28"), "messages")) == 0


def test_a_performance_every_month():
    log = pd.DataFrame({"month": ["2026-03", "2026-05"], "performances": [2, 1]})
    out = rows(task_completion({"performances": log}, as_of="2026-05-31"), "performances")
    assert out[["month", "achieved", "verdict"]].values.tolist() == [
        ["2026-03", 2.0, "met"], ["2026-04", 0.0, "not_met"], ["2026-05", 1.0, "met"]]


def test_propaganda_wall_and_window_per_village():
    log = pd.DataFrame({"township": SEAT, "village": ["甲村", "乙村"], "wall": [1, 0],
                        "window": [1, 1]})
    out = task_completion({"propaganda_walls": log}, as_of="2027-01-01")
    wall = rows(out, "propaganda_wall").set_index("village")["verdict"].to_dict()
    assert wall == {"甲村": "met", "乙村": "not_met"}
    assert rows(out, "propaganda_window")["verdict"].tolist() == ["met", "met"]
    assert rows(out, "propaganda_wall")["village"].tolist() == ["乙村", "甲村"]  # sorted


@pytest.mark.parametrize(("table", "log", "message"), [
    ("signboards", {"township": ["北京"], "large_boards": [3], "as_of": ["2026-05-01"]},
     "row 0, column township: '北京' is not a township of the plan"),
    ("signboards", {"township": [SEAT], "large_boards": ["三"], "as_of": ["2026-05-01"]},
     "row 0, column large_boards: '三' is not a whole number"),
    ("signboards", {"township": [SEAT], "large_boards": [3], "as_of": ["5/1/2026"]},
     "row 0, column as_of: '5/1/2026' is not a date"),
    ("signboards", {"township": [SEAT], "large_boards": [3]},
     r"missing required column\(s\) as_of"),
    ("messages", {"month": ["2026-3"], "subscribers": [1], "messages_sent": [1]},
     "row 0, column month: '2026-3' is not a month"),
    ("performances", {"month": ["2026-03", "2026-03"], "performances": [1, 2]},
     "row 1: 2026-03 appears twice"),
])
def test_bad_logs_name_file_row_and_column(table, log, message):
    with pytest.raises(DataError, match=message):
        task_completion({table: pd.DataFrame(log)}, as_of="2026-11-30")


def test_logs_are_not_modified():
    log = signboards({SEAT: 3})
    before = log.copy()
    task_completion({"signboards": log}, as_of="2026-11-30")
    pd.testing.assert_frame_equal(log, before)


def test_load_tasks_missing_folder(tmp_path):
    with pytest.raises(DataError, match="task log folder not found"):
        load_tasks(tmp_path)


# -- the shipped sample logs -----------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    if not (SAMPLE_RAW_DIR / "tasks").is_dir():
        pytest.skip("sample task logs not generated (run `pingan-eval synth`)")
    return task_completion(SAMPLE_RAW_DIR, as_of="2026-11-30")


def test_sample_reads_from_files_with_row_numbers(sample):
    logs = load_tasks(SAMPLE_RAW_DIR)
    assert {"signboards", "visits", "messages", "cadre_test", "performances",
            "propaganda_walls"} <= set(logs)
    assert logs["visits"].index[0] == 2  # spreadsheet rows: the header is row 1
    assert set(sample["verdict"]) <= {"met", "not_met", "undecided"}


def test_sample_shortfalls(sample):
    boards = rows(sample, "signboards").set_index("township")
    assert boards.loc["青河镇", ["required", "verdict"]].tolist() == [10.0, "met"]
    assert (boards["achieved"] == 1).sum() == 1  # one township with a single board
    assert boards.loc[boards["achieved"] == 1, "verdict"].tolist() == ["undecided"]
    messages = rows(sample, "messages").set_index("month")
    assert messages.loc["2026-07", ["verdict", "note"]].tolist() == ["not_met", "no record"]
    assert (messages.drop(index="2026-07")["verdict"] == "met").all()
    cadre = rows(sample, "cadre_test").set_index("township")
    assert cadre.loc["萨尔托海乡", "verdict"] == "not_met"  # tested on 05-12
    assert (cadre.drop(index="萨尔托海乡")["verdict"] == "met").all()
    visits = rows(sample, "visits")
    assert (visits["verdict"] == "not_met").sum() == 4
    assert (visits.loc[visits["verdict"] == "not_met", "rate"] < 1).all()
    assert (rows(sample, "propaganda_wall")["achieved"] == 0).sum() == 3
    assert (rows(sample, "propaganda_window")["achieved"] == 0).sum() == 2
    assert (rows(sample, "performances")["verdict"] == "met").all()
