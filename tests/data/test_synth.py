"""Tests of the sample-county generator and of the shipped sample it wrote.

The statistical test is a check with known truth: the finite population's true values
(truth.csv) must be covered by design-based intervals computed from the sample about as
often as the nominal level says.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pingan_eval import cli, paths
from pingan_eval.data.codebook import load_codebook
from pingan_eval.data.column_map import COLUMN_MAP_FILE, load_column_map
from pingan_eval.data.prepare import available_periods, survey_files
from pingan_eval.data.synth import CATEGORIES, TOWNSHIPS, synth_county
from pingan_eval.data.synth.generate import _pps_systematic
from pingan_eval.data.wave_files import read_mapped_wave
from pingan_eval.errors import PinganEvalError

SAMPLE = paths.SAMPLE_RAW_DIR
WAVES = ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 12)]
ENCODING = {"2026-09": "gb18030", "2026-08": "utf-8-sig"}
#: Waves shipped as 问卷星 exports (columns.toml maps them): 2026-07 text, 2026-06 number.
EXPORTED = {"2026-06": "number", "2026-07": "text"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _survey(period: str, root: Path = SAMPLE) -> pd.DataFrame:
    """A wave as text, exactly as written (no type guessing); an export wave as its column
    map reads it (the canonical columns)."""
    if period in EXPORTED:
        wave = read_mapped_wave(survey_files(root, period),
                                load_column_map(root / COLUMN_MAP_FILE), raw_dir=root,
                                codebook=load_codebook(root / "codebook.csv"), period=period)
        return wave.rows.reset_index(drop=True)
    text = (root / "survey" / f"{period}.csv").read_bytes().decode(ENCODING.get(period, "utf-8"))
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample regenerated the way `make synth` does it, through the command line."""
    out = tmp_path_factory.mktemp("synth") / "sample"
    assert cli.main(["synth", "--out", str(out), "--seed", "2026"]) == 0
    return out


def test_same_seed_same_bytes_and_seed_matters(tmp_path: Path):
    kw = dict(n_townships=3, respondents_per_wave=200, periods=2)
    a = _tree(synth_county(tmp_path / "a", seed=7, **kw))
    b = _tree(synth_county(tmp_path / "b", seed=7, **kw))
    c = _tree(synth_county(tmp_path / "c", seed=8, **kw))
    assert a == b
    assert a["survey/2026-11.csv"] != c["survey/2026-11.csv"]
    assert sorted(a) == sorted(c)


def test_shipped_sample_is_the_seed_2026_output(fresh: Path):
    shipped, regenerated = _tree(SAMPLE), _tree(fresh)
    assert sorted(shipped) == sorted(regenerated)
    differ = [name for name in shipped if shipped[name] != regenerated[name]]
    assert not differ, f"run `make synth` and commit data/raw/sample: {differ} changed"


def test_sample_is_small():
    assert sum(len(b) for b in _tree(SAMPLE).values()) < 5_000_000


def test_frame_and_design():
    frame = pd.read_csv(SAMPLE / "frame.csv")
    assert list(frame["township"].unique()) == list(TOWNSHIPS)
    assert 75 <= len(frame) <= 85 and frame["village"].is_unique
    sampled = frame[frame["sampled"] == 1]
    assert sampled.groupby("township").size().between(5, 6).all()
    assert (frame.groupby("township")["psu_total"].first()
            == frame.groupby("township").size()).all()
    assert frame.loc[frame["sampled"] == 0, "psu_prob"].isna().all()
    # PPS on households: below certainty, probability / households is one constant per
    # township, namely (PSUs left after certainty units) / (their households).
    for _, g in frame.groupby("township"):
        s = g[g["sampled"] == 1]
        below = s[s["psu_prob"] < 1]
        ratio = below["psu_prob"] / below["households"]
        assert np.allclose(ratio, ratio.iloc[0], rtol=1e-4)


def test_pps_systematic_inclusion_probabilities_by_simulation():
    sizes = np.array([900, 120, 300, 250, 80, 60, 400, 150, 200, 90])
    rng = np.random.default_rng(1)
    draws = 4000
    hits = np.zeros(len(sizes))
    for _ in range(draws):
        sel, pi = _pps_systematic(sizes, 4, rng)
        assert sel.sum() == 4
        hits += sel
    assert pi[0] == 1.0 and np.isclose(pi.sum(), 4)  # 900 households: taken with certainty
    sel3, pi3 = _pps_systematic(sizes[:3], 3, rng)  # every unit: all certain
    assert sel3.all() and (pi3 == 1).all()
    # Binomial standard error at most sqrt(0.25 / 4000) = 0.008; allow 4 of them.
    assert np.abs(hits / draws - pi).max() < 0.032


def test_census_margins_agree_with_the_frame():
    census = pd.read_csv(SAMPLE / "census.csv")
    frame = pd.read_csv(SAMPLE / "frame.csv")
    totals = census.groupby(["township", "margin"])["population"].sum().unstack()
    assert (totals.nunique(axis=1) == 1).all()
    adults = frame.groupby("township")["adults"].sum()
    assert (totals["sex"] == adults.reindex(totals.index)).all()
    eth = census[census["margin"] == "ethnicity"].set_index(["township", "level"])["population"]
    assert eth["萨尔托海乡", "哈萨克族"] / totals.loc["萨尔托海乡", "sex"] > 0.85
    assert eth["青河镇", "汉族"] / totals.loc["青河镇", "sex"] > 0.25
    assert eth["查干郭勒乡", "蒙古族"] / totals.loc["查干郭勒乡", "sex"] > 0.15


def test_waves_match_fieldwork_and_the_readme():
    frame = pd.read_csv(SAMPLE / "frame.csv")
    village_town = frame.set_index("village")["township"]
    assert available_periods(SAMPLE) == WAVES
    for period in WAVES[:-1]:  # the last wave carries the planted errors
        s = _survey(period)
        fw = pd.read_csv(SAMPLE / "fieldwork" / f"{period}.csv")
        assert 1400 <= len(s) <= 1600
        assert s["respondent_id"].is_unique
        assert (s["village"].map(village_town) == s["township"]).all()
        assert not s.duplicated(["village", "household_id"]).any()
        assert s["interview_date"].str.startswith(period + "-").all()
        assert (s["age"].astype(int) >= 18).all()
        assert (s["household_adults"].astype(int).between(1, 5)).all()
        assert set(s["sex"]) == {"男", "女"}
        counts = s.groupby("village").size().to_dict()
        assert dict(zip(fw["village"], fw["households_responded"], strict=True)) == counts
        assert (fw["households_responded"] <= fw["households_selected"]).all()
        assert 0.8 < fw["households_responded"].sum() / fw["households_selected"].sum() < 0.9
        codes = s[[c for c in s if c.startswith("q_")]].astype(int)
        assert set(np.unique(codes)) <= {1, 2, 3, 4, 5, 9}
        assert (codes == 9).to_numpy().mean() < 0.06


def test_encodings_and_personal_data():
    raw09 = (SAMPLE / "survey" / "2026-09.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw09.decode("utf-8")
    assert b"\r\n" in raw09
    assert (SAMPLE / "survey" / "2026-08.csv").read_bytes().startswith(codecs.BOM_UTF8)
    for period in WAVES:
        has_personal = {"name", "phone", "id_card"} <= set(_survey(period).columns)
        assert has_personal == (period == "2026-10")
    ids = _survey("2026-10")["id_card"]
    assert ids.str.fullmatch(r"990000\d{11}[\dX]").all()


def test_two_waves_are_wjx_exports_with_their_column_map():
    text = (SAMPLE / "survey" / "2026-07.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        text.decode("utf-8")
    header = text.decode("gbk").splitlines()[0].split(",")
    assert header[:6] == ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
    assert "其他〖" in text.decode("gbk") and "(跳过)" in text.decode("gbk")
    books = sorted(p.name for p in (SAMPLE / "survey" / "2026-06").iterdir())
    assert books == sorted(f"{t}.xlsx" for t in TOWNSHIPS)
    m = load_column_map(SAMPLE / COLUMN_MAP_FILE)
    assert {s.mode for s in m.sources} == {"text", "number"}
    assert m.source_for("survey/2026-07.csv").mode == "text"
    assert m.source_for("survey/2026-06/青河镇.xlsx").mode == "number"
    for period in EXPORTED:
        s = _survey(period)
        assert s["respondent_id"].str.fullmatch(period + r"-\d{6}").all()
        assert s["respondent_id"].is_unique and not s["ethnicity"].str.contains("〖").any()


def test_truth_has_both_sides_of_the_target():
    truth = pd.read_csv(SAMPLE / "truth.csv")
    assert set(truth["area"]) == {*TOWNSHIPS, "青河县"}
    assert set(truth["period"]) == set(WAVES)
    assert len(truth) == len(WAVES) * 8 * 8
    last = truth[(truth["period"] == "2026-11") & (truth["area"] != "青河县")]
    rates = last[~last["indicator"].str.endswith("_score")]
    assert rates["value"].between(0.8, 1.0).all()
    for ind in ("awareness", "satisfaction", "security", "legal_satisfaction"):
        v = rates.loc[rates["indicator"] == ind, "value"]
        assert (v > 0.95).any() and (v < 0.95).any(), ind
    part = truth[truth["indicator"] == "participation"].pivot(index="period", columns="area",
                                                               values="value")
    assert (part.loc["2026-11"] > part.loc["2025-12"]).all()  # the rates move over the year


def _ratio_interval(d: pd.DataFrame, y: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    """Weighted ratio sum(w y) / sum(w v), its with-replacement linearized SE and df."""
    r = (d["w"] * y).sum() / (d["w"] * v).sum()
    z = d["w"] * (y - r * v) / (d["w"] * v).sum()
    t = z.groupby(d["village"]).sum()
    n = len(t)
    se = np.sqrt(n / (n - 1) * ((t - t.mean()) ** 2).sum())
    return r, se, n - 1


def test_design_based_intervals_cover_the_truth():
    """Known truth: HT-weighted ratio estimates with linearized SEs (PSUs with replacement,
    t quantiles on PSUs - 1 df, as R's svyciprop(method = "mean")) cover truth.csv."""
    frame = pd.read_csv(SAMPLE / "frame.csv")[["village", "households", "psu_prob"]]
    truth = pd.read_csv(SAMPLE / "truth.csv").set_index(["period", "area", "indicator"])["value"]
    covered, gaps = [], []
    for period in WAVES[:-1]:
        s = _survey(period)
        fw = pd.read_csv(SAMPLE / "fieldwork" / f"{period}.csv")
        d = s.merge(fw, on=["township", "village"]).merge(frame, on="village")
        d["w"] = (d["households"] / d["psu_prob"] / d["households_responded"]
                  * d["household_adults"].astype(int))
        for ind in ("awareness", "participation", "satisfaction", "security",
                    "legal_satisfaction"):
            code = d[f"q_{ind}"].astype(int)
            valid = (code != 9).to_numpy(float)
            pos = ((code <= (1 if ind in ("awareness", "participation") else 3))
                   & (code != 9)).to_numpy(float)
            for town, g in d.groupby("township"):
                r, se, df = _ratio_interval(g, pos[g.index], valid[g.index])
                half = stats.t.ppf(0.975, df) * se
                covered.append(abs(r - truth[period, town, ind]) <= half)
            gaps.append(_ratio_interval(d, pos, valid)[0] - truth[period, "青河县", ind])
    assert 0.88 <= np.mean(covered) <= 1.0, np.mean(covered)
    assert abs(np.mean(gaps)) < 0.005  # county estimates unbiased on average


def test_planted_errors_are_where_the_list_says():
    planted = _csv("planted_errors.csv")
    survey = planted[planted["file"] == "survey/2026-11.csv"]
    assert len(survey) == 12 and survey["rule"].is_unique
    wave = _survey("2026-11")
    assert 1400 <= len(wave) <= 1600
    frame = pd.read_csv(SAMPLE / "frame.csv")
    for _, p in survey.iterrows():
        row = wave.iloc[int(p["row"]) - 1]
        assert int(p["line"]) == int(p["row"]) + 1
        assert row[p["column"]] == p["value"], p["rule"]
        if p["rule"] == "duplicate_respondent_id":
            assert (wave["respondent_id"] == p["value"]).sum() == 2
        if p["rule"] == "village_not_in_township":
            assert frame.set_index("village").loc[row["village"], "township"] != row["township"]
        if p["rule"] == "household_adults_exceeded":
            same = wave[(wave["village"] == row["village"])
                        & (wave["household_id"] == row["household_id"])]
            assert len(same) == 2 and (same["household_adults"] == "1").all()
    # Rows not listed are clean (no accidental errors beyond the planted ones).
    bad = set(survey["row"].astype(int))
    pairs = survey[survey["rule"].isin(["duplicate_respondent_id", "household_adults_exceeded"])]
    for _, p in pairs.iterrows():
        twin = wave.iloc[int(p["row"]) - 1]
        key = ["respondent_id"] if p["rule"] == "duplicate_respondent_id" else ["village",
                                                                               "household_id"]
        rows = wave.index[(wave[key] == twin[key]).all(axis=1)] + 1
        bad |= set(rows)
    clean = wave.drop(index=[r - 1 for r in bad])
    assert clean["respondent_id"].is_unique
    assert clean["township"].isin(TOWNSHIPS).all() and clean["age"].str.isdigit().all()
    assert (clean["age"].astype(int) >= 18).all() and (clean["sex"] != "").all()


def test_registers_cover_every_category_with_defects():
    eligible = pd.read_csv(SAMPLE / "registers" / "eligible.csv")
    assert len(eligible) == len(TOWNSHIPS) * len(CATEGORIES)
    e = eligible.set_index(["township", "category"])["eligible"]
    frame = pd.read_csv(SAMPLE / "frame.csv")
    by_town = frame.groupby("township")
    assert e.xs("village", level="category").sort_index().equals(by_town.size())
    assert e.xs("family", level="category").sort_index().equals(by_town["households"].sum())
    assert (e.xs("township", level="category") == 1).all()
    assert e["青河镇", "compound"] > 0 and e.xs("compound", level="category").iloc[1:].eq(0).all()
    reg = _csv("registers/safe_cells.csv")
    assert reg["unit_id"].is_unique and set(reg["category"]) <= set(CATEGORIES)
    live = reg[(reg["named_on"] != "") & (reg["revoked_on"] == "")]
    rate = (live.groupby(["township", "category"]).size()
            .reindex(e.index, fill_value=0) / e.replace(0, np.nan)).dropna()
    assert (rate >= 0.95).any() and (rate < 0.95).any()
    family = rate.xs("family", level="category")
    assert (family < 0.95).any() and (family >= 0.95).any()
    assert (reg["revoked_on"] != "").sum() > 0 and (reg["named_on"] == "").sum() > 0
    assert (reg.loc[reg["category"] == "hotel", "named_on"].replace("", np.nan).dropna()
            >= "2026-05-01").all()
    planted = _csv("planted_errors.csv")
    defects = planted[planted["file"] == "registers/safe_cells.csv"]
    assert set(planted["file"]) == {"survey/2026-11.csv", "registers/safe_cells.csv"}
    assert set(defects["rule"]) == {"signatures", "wrong_level", "not_filed",
                                    "named_before_applied", "revoked_before_named",
                                    "no_public_notice", "notice_out_of_order",
                                    "outside_eligible"}
    for _, p in defects.iterrows():
        row = reg.iloc[int(p["row"]) - 1]
        assert row[p["column"]] == p["value"]
        if p["rule"] == "signatures":
            assert int(row["adults_signed"]) < int(row["adults"])
        if p["rule"] == "named_before_applied":
            assert row["named_on"] < row["applied_on"]
        if p["rule"] == "revoked_before_named":
            assert row["revoked_on"] < row["named_on"]
        if p["rule"] == "notice_out_of_order":
            assert row["notice_end"] > row["named_on"]
        if p["rule"] == "outside_eligible":  # the latest naming of a cell that has too many
            cell = live[(live["township"] == row["township"])
                        & (live["category"] == row["category"])]
            assert len(cell) == e[row["township"], row["category"]] + 1
            assert row["named_on"] == cell["named_on"].max()
    # Rows not listed follow the procedure.
    ok = reg.drop(index=defects["row"].astype(int) - 1)
    ok = ok[ok["named_on"] != ""]
    assert (ok["notice_end"] < ok["named_on"]).all() and (ok["applied_on"] <= ok["named_on"]).all()
    assert (ok["filed_with"] != "").all()
    fam = ok[ok["category"] == "family"]
    assert (fam["adults"] == fam["adults_signed"]).all() and (fam["named_by"] == "village").all()


def test_task_logs_have_their_shortfalls():
    tasks = SAMPLE / "tasks"
    boards = pd.read_csv(tasks / "signboards.csv").set_index("township")
    assert boards.loc["青河镇", "large_boards"] >= 10 and boards.loc["青河镇", "themed_street"] == 1
    assert (boards["large_boards"] == 1).sum() == 1
    assert list(pd.read_csv(tasks / "messages.csv")["month"]) == ["2026-03", "2026-05", "2026-09"]
    months = list(pd.read_csv(tasks / "performances.csv")["month"])
    assert "2026-02" not in months and len(months) == 10
    cadre = pd.read_csv(tasks / "cadre_test.csv")
    assert (cadre["test_date"] > "2026-04-30").sum() == 1
    visits = pd.read_csv(tasks / "visits.csv")
    assert 0 < (visits["households_visited"] < visits["households_total"]).sum() < 10
    walls = pd.read_csv(tasks / "propaganda_walls.csv")
    assert len(walls) == len(visits) and 0 < (walls[["wall", "window"]] == 0).to_numpy().sum()


def test_more_townships_and_bad_arguments(tmp_path: Path):
    out = synth_county(tmp_path / "big", n_townships=9, respondents_per_wave=300, periods=1)
    frame = pd.read_csv(out / "frame.csv")
    assert list(frame["township"].unique())[-2:] == ["测试乡001", "测试乡002"]
    census = pd.read_csv(out / "census.csv")
    assert census["township"].nunique() == 9
    areas = {*TOWNSHIPS, "测试乡001", "测试乡002", "青河县"}
    assert set(pd.read_csv(out / "truth.csv")["area"]) == areas
    with pytest.raises(PinganEvalError, match="YYYY-MM"):
        synth_county(tmp_path / "x", last_period="2026-13")
    with pytest.raises(PinganEvalError, match=">= 1"):
        synth_county(tmp_path / "x", periods=0)
    assert not (tmp_path / "x").exists()
