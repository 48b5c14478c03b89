"""The plan file: the shipped Qinghe plan matches the brief; bad files fail clearly."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pingan_eval.errors import DataError, PlanError
from pingan_eval.plan import (
    CELL_CATEGORIES,
    DEFAULT_PLAN,
    INDICATORS,
    load_plan,
    replace_target,
    resolve_as_of,
)

QINGHE_TOWNSHIPS = ("青河镇", "塔克什肯镇", "阿热勒托别镇", "阿格达拉镇", "萨尔托海乡",
                    "查干郭勒乡", "阿热勒乡")

# The safe-cell table of the brief (plan 四.(二)): window (MM-DD), named by, filed with.
BRIEF_CELLS = {
    "family": ("03-01", "04-30", "village", "township"),
    "school": ("03-01", "04-30", "township", "county"),
    "unit": ("03-01", "04-30", "township", "county"),
    "hospital": ("03-01", "04-30", "township", "county"),
    "religious_site": ("03-01", "04-30", "township", "county"),
    "enterprise": ("03-01", "04-30", "township", "county"),
    "village": ("03-01", "04-30", "township", "county"),
    "township": ("03-01", "04-30", "county", "county"),
    "hotel": ("05-01", "07-31", "township", "county"),
    "shop": ("03-01", "04-30", "township", "county"),
    "pharmacy": ("03-01", "04-30", "township", "county"),
    "clinic": ("03-01", "04-30", "township", "county"),
    "internet_cafe": ("03-01", "04-30", "township", "county"),
    "entertainment": ("03-01", "04-30", "township", "county"),
    "compound": ("03-01", "05-31", "township", "county"),
}

MINIMAL = """
[plan]
county = "示例县"
year = 2027
townships = ["甲镇", "乙乡"]

[[survey]]
code = "security"
name_zh = "安全感"
threshold = 0.9

[[cells]]
category = "shop"
name_zh = "平安店铺"
threshold = 0.8
window_start = "04-01"
window_end = "06-30"
named_by = "township"
filed_with = "county"

[[tasks]]
code = "boards"
name_zh = "宣传牌"
table = "signboards"
measure = "count"
column = "large_boards"
threshold = 3
by_township = { "甲镇" = 5 }
window_end = "09-30"
"""


def write(tmp_path, text: str):
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def day(month_day: str, year: int = 2026) -> pd.Timestamp:
    return pd.Timestamp(f"{year}-{month_day}")


# -- the shipped plan matches the brief ------------------------------------------------------

def test_shipped_plan_header():
    plan = load_plan()
    assert plan.path == str(DEFAULT_PLAN)
    assert plan.county == "青河县"
    assert plan.townships == QINGHE_TOWNSHIPS
    assert plan.year == 2026 and plan.source_year == 2013


def test_shipped_survey_targets():
    st = load_plan().survey_targets
    assert list(st.columns) == ["code", "name_zh", "threshold", "comparison", "level"]
    assert tuple(st["code"]) == INDICATORS
    assert st["name_zh"].tolist() == ["知晓率", "参与率", "满意率", "安全感", "政法干警满意度"]
    assert (st["threshold"] == 0.95).all() and (st["comparison"] == ">=").all()
    assert (st["level"] == "county").all()


def test_shipped_cell_categories_match_the_brief():
    plan = load_plan()
    cats = plan.cell_categories.set_index("category")
    assert tuple(cats.index) == CELL_CATEGORIES
    for category, (start, end, named_by, filed_with) in BRIEF_CELLS.items():
        row = cats.loc[category]
        assert (row["window_start"], row["window_end"]) == (day(start), day(end)), category
        assert (row["named_by"], row["filed_with"]) == (named_by, filed_with), category
        want = 1.0 if category == "township" else 0.95  # a re-inspection is pass/fail
        assert row["threshold"] == want, category
    assert cats.loc["family", "signatures"] and cats.loc["family", "public_notice"]
    assert not cats.drop(index="family")["signatures"].any()
    assert cats.loc["family", "lead_department"] == "县妇联"
    assert cats.loc["hotel", "lead_department"] == "县公安局、旅游局"


def test_shipped_structural_targets():
    plan = load_plan()
    t = plan.targets.set_index("code")
    assert t.loc["family_creation", "baseline"] == 0.916
    assert t.loc["family_creation", "threshold"] == 0.95
    for code in ("standard_townships", "standard_units", "standard_villages"):
        assert t.loc[code, "threshold"] == 0.95
        assert t.loc[code, "window_end"] == pd.Timestamp("2028-12-31")  # 2013 -> 2015
    assert t.loc["excellent_townships", "threshold"] == 0.80
    assert t.loc["excellent_first_year", "measure"] == "count"
    assert t.loc["excellent_first_year", "threshold"] == 1
    assert t.loc["excellent_first_year", "window_end"] == pd.Timestamp("2026-12-31")


def test_shipped_tasks():
    plan = load_plan()
    assert plan.target_for("signboards", "青河镇") == 10
    for town in QINGHE_TOWNSHIPS[1:]:
        assert plan.target_for("signboards", town) == 2
    assert plan.target("themed_street").townships == ("青河镇",)
    assert plan.target_for("visits") == 1.0
    assert plan.target("messages").months == (3, 5, 7, 9)
    assert plan.target("performances").months == tuple(range(3, 13))
    assert plan.target("cadre_test").window_end == day("04-30")
    assert {"propaganda_wall", "propaganda_window"} <= set(plan.targets["code"])


def test_targets_table_schema_and_sources():
    t = load_plan().targets
    for col in ("code", "name_zh", "source", "threshold", "comparison", "level",
                "window_start", "window_end", "lead_department", "named_by", "filed_with"):
        assert col in t.columns
    assert t["code"].is_unique
    assert set(t["source"]) == {"survey", "register", "structural", "task"}
    assert (t["source"] == "register").sum() == 15
    assert pd.api.types.is_datetime64_any_dtype(t["window_start"])
    assert t.loc[t["source"] == "survey", "window_end"].isna().all()


def test_year_is_a_setting():
    plan = load_plan(year=2013)
    assert plan.cell("hotel").window_start == pd.Timestamp("2013-05-01")
    assert plan.cell("compound").window_end == pd.Timestamp("2013-05-31")
    assert plan.target("standard_townships").window_end == pd.Timestamp("2015-12-31")


def test_target_for_unknown_code():
    with pytest.raises(PlanError, match="no target 'happiness'"):
        load_plan().target_for("happiness")


def test_replace_target_leaves_the_original():
    plan = load_plan()
    other = replace_target(plan, "cell_family", threshold=0.5)
    assert other.target_for("cell_family") == 0.5 and plan.target_for("cell_family") == 0.95


def test_resolve_as_of():
    plan = load_plan()
    assert resolve_as_of(dt.date(2026, 4, 30), plan) == pd.Timestamp("2026-04-30")
    assert resolve_as_of(None, plan) == pd.Timestamp("2026-12-31")
    with pytest.raises(DataError, match="as_of"):
        resolve_as_of("30/04/2026", plan)


# -- another county is another file ------------------------------------------------------------

def test_another_county_needs_no_code_change(tmp_path):
    plan = load_plan(write(tmp_path, MINIMAL))
    assert plan.county == "示例县" and plan.townships == ("甲镇", "乙乡")
    assert plan.cell("shop").window_start == pd.Timestamp("2027-04-01")
    assert plan.target_for("security") == 0.9
    assert plan.target_for("boards", "甲镇") == 5 and plan.target_for("boards", "乙乡") == 3
    assert list(plan.survey_targets["code"]) == ["security"]
    assert len(plan.targets) == 3


def test_full_dates_are_used_as_written(tmp_path):
    text = MINIMAL.replace('window_start = "04-01"', "window_start = 2027-03-15")
    assert load_plan(write(tmp_path, text)).cell("shop").window_start == pd.Timestamp(
        "2027-03-15")


# -- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "message"), [
    ('code = "security"', 'code = "happiness"', r"\[\[survey\]\] entry 1.*unknown code "
                                                 r"'happiness'"),
    ("threshold = 0.9", "threshold = 1.5", r"threshold 1.5 is outside \[0, 1\]"),
    ("threshold = 0.9", "threshold = -0.1", r"threshold -0.1 is outside \[0, 1\]"),
    ("threshold = 0.9", "threshold = 95", r"threshold 95 is outside \[0, 1\]"),
    ('window_end = "06-30"', 'window_end = "03-31"',
     r"'shop'.*window ends \(2027-03-31\) before it starts \(2027-04-01\)"),
    ('window_end = "06-30"', 'window_end = "02-30"', "'02-30' is not a day of the year 2027"),
    ('window_end = "06-30"', 'window_end = "June"', "must be 'MM-DD' or a date"),
    ('category = "shop"', 'category = "bakery"', "unknown category 'bakery'"),
    ('named_by = "township"', 'named_by = "province"', "unknown named_by 'province'"),
    ('name_zh = "平安店铺"', 'name_zh = "平安店铺"\nthreshhold = 0.9',
     r"unknown key\(s\) \['threshhold'\]"),
    ("threshold = 3", "threshold = 2.5", "must be a whole number >= 0 for a count target"),
    ('{ "甲镇" = 5 }', '{ "丙镇" = 5 }', "by_township names '丙镇'"),
    ('column = "large_boards"', 'column = "boards"', "unknown column 'boards'"),
    ('table = "signboards"', 'table = "billboards"', "unknown table 'billboards'"),
    ('code = "boards"', 'code = "security"', "target 'security'.*appears twice"),
    ('townships = ["甲镇", "乙乡"]', 'townships = ["甲镇", "甲镇"]', "listed twice"),
    ("year = 2027", 'year = "2027"', "year must be a whole number"),
    ("threshold = 0.9", 'threshold = 0.9\ncomparison = "=>"', "unknown comparison '=>'"),
])
def test_bad_plan_files_fail_clearly(tmp_path, old, new, message):
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(PlanError, match=message) as info:
        load_plan(path)
    assert str(path) in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(PlanError, match="plan file not found"):
        load_plan(tmp_path / "nope.toml")
    with pytest.raises(PlanError, match="not a valid TOML file"):
        load_plan(write(tmp_path, "[plan\ncounty = 1"))
    with pytest.raises(PlanError, match=r"missing the \[plan\] table"):
        load_plan(write(tmp_path, "[[survey]]" + MINIMAL.split("[[survey]]", 1)[1]))
    with pytest.raises(PlanError, match=r"unknown section\(s\) \['county'\]"):
        load_plan(write(tmp_path, MINIMAL.replace("[plan]", "[county]")))
    with pytest.raises(PlanError, match="missing required key 'threshold'"):
        load_plan(write(tmp_path, MINIMAL.replace("threshold = 0.9\n", "")))
    with pytest.raises(PlanError, match="missing required key 'window_end'"):
        load_plan(write(tmp_path, MINIMAL.replace('window_end = "09-30"\n', "")))


# -- estimation: pooled windows and the official estimator ---------------------------------

def test_shipped_estimation_defaults(tmp_path):
    plan = load_plan()
    assert plan.estimation.pooled_windows == ("rolling3", "ytd")
    assert {t.code: plan.official_estimator(t.code, "township") for t in plan.survey} == {
        t.code: "pooled" for t in plan.survey}
    assert plan.official_estimator("awareness", "county") == "direct"
    # a plan without [estimation] gets the same defaults
    assert load_plan(write(tmp_path, MINIMAL)).estimation == plan.estimation


def test_estimation_table_and_a_target_override(tmp_path):
    text = MINIMAL.replace('name_zh = "安全感"', 'name_zh = "安全感"\n'
                           'official = { township = "model" }', 1)
    text += ('\n[estimation]\npooled_windows = ["ytd", "rolling12"]\n'
             'official = { county = "pooled" }\n')
    plan = load_plan(write(tmp_path, text))
    assert plan.estimation.pooled_windows == ("ytd", "rolling12")
    assert plan.official_estimator("security", "township") == "model"
    assert plan.official_estimator("security", "county") == "pooled"


@pytest.mark.parametrize(("extra", "message"), [
    ('[estimation]\npooled_windows = ["week"]', r"\[estimation\]: pooled_windows must be"),
    ('[estimation]\npooled_windows = ["ytd", "ytd"]', "pooled_windows must be a list of distinct"),
    ('[estimation]\nofficial = { township = "guess" }', "unknown estimator 'guess' for township"),
    ('[estimation]\nofficial = { village = "model" }', "unknown level 'village'"),
    ('[estimation]\nofficial = { county = "model" }', "the model is fitted to townships"),
    ('[estimation]\nwindows = ["ytd"]', r"unknown key\(s\) \['windows'\]"),
    ('[estimation]\npooled_windows = []\nofficial = { township = "pooled" }',
     "an official 'pooled' estimator needs pooled_windows"),
    ('[estimaton]\nofficial = { county = "direct" }', r"unknown section\(s\) \['estimaton'\]"),
])
def test_bad_estimation_tables_fail_clearly(tmp_path, extra, message):
    path = write(tmp_path, MINIMAL + "\n" + extra + "\n")
    with pytest.raises(PlanError, match=message) as info:
        load_plan(path)
    assert str(path) in str(info.value)


def test_lonely_psu_rule_is_validated(tmp_path):
    plan = load_plan(write(tmp_path, MINIMAL + '\n[estimation]\nlonely_psu = "remove"\n'))
    assert plan.estimation.lonely_psu == "remove" and load_plan().estimation.lonely_psu == "adjust"
    with pytest.raises(PlanError, match="unknown lonely_psu 'ignore'"):
        load_plan(write(tmp_path, MINIMAL + '\n[estimation]\nlonely_psu = "ignore"\n'))
