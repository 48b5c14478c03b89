"""Tests of ``pingan-eval prepare`` on tiny hand-made datasets and on the sample county.

The helpers at the top build a small raw dataset folder (two townships, four sampled
villages, 32 respondents) that test_validation.py and test_readers.py reuse.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pingan_eval import paths
from pingan_eval.cli import main
from pingan_eval.data.prepare import (
    RESPONDENT_COLUMNS,
    available_periods,
    load_design,
    load_respondents,
    prepare_period,
)
from pingan_eval.errors import CalibrationError, DataError, ValidationFailed
from pingan_eval.fileio import sha256_file

PERIOD = "2026-11"
TOWNS = {"青河镇": ["团结社区", "和谐社区", "阔克托干村"],
         "阿热勒乡": ["阿热勒村", "喀让格托海村", "塔斯巴斯陶村"]}
PSU_PROB = {"团结社区": 0.6, "和谐社区": 0.5, "阿热勒村": 0.7, "喀让格托海村": 0.4}
QUESTIONS = {
    "q_awareness": ("awareness", [(1, "知道", 1, None, 0), (2, "不知道", 0, None, 0),
                                  (9, "说不清", 0, None, 1)]),
    "q_participation": ("participation", [(1, "参加过", 1, None, 0), (2, "没参加过", 0, None, 0),
                                          (9, "说不清", 0, None, 1)]),
    **{q: (ind, [(1, a, 1, 100, 0), (2, b, 1, 75, 0), (3, c, 1, 50, 0), (4, d, 0, 25, 0),
                 (5, e, 0, 0, 0), (9, "说不清", 0, None, 1)])
       for q, ind, (a, b, c, d, e) in [
           ("q_satisfaction", "satisfaction", ("很满意", "满意", "基本满意", "不太满意", "不满意")),
           ("q_security", "security", ("很安全", "安全", "基本安全", "不太安全", "不安全")),
           ("q_legal_satisfaction", "legal_satisfaction",
            ("很满意", "满意", "基本满意", "不太满意", "不满意"))]},
}
CENSUS = {"sex": {"男": 500, "女": 520},
          "age_group": {"18-34": 300, "35-49": 280, "50-64": 250, "65+": 190},
          "ethnicity": {"哈萨克族": 620, "汉族": 400, "回族": 0, "蒙古族": 0, "其他": 0}}


def good_rows() -> list[dict[str, str]]:
    """32 valid respondents (8 per sampled village); line number of rows[i] is i + 2."""
    rows = []
    for town, villages in TOWNS.items():
        for village in villages[:2]:
            for i in range(8):
                rows.append({
                    "respondent_id": f"{village}-{i + 1}", "township": town, "village": village,
                    "household_id": f"h{i + 1}", "interview_date": f"{PERIOD}-{i + 3:02d}",
                    "sex": "男" if i % 2 == 0 else "女", "age": str([22, 41, 57, 72][i // 2]),
                    "ethnicity": "汉族" if i in (0, 3, 5, 6) else "哈萨克族",
                    "household_adults": str(1 + i % 3),
                    "q_awareness": "129"[i % 3], "q_participation": "12"[i % 2],
                    "q_satisfaction": "123459"[i % 6], "q_security": "1234"[i % 4],
                    "q_legal_satisfaction": "231"[i % 3],
                })
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(rows[0]))
    for r in rows:
        # numbers as numbers, as a spreadsheet user types them
        ws.append([int(v) if v.isdigit() and k != "household_id" else v for k, v in r.items()])
    wb.save(path)
    return path


def write_dataset(root: Path, rows: list[dict[str, str]] | None = None, *,
                  fmt: str = "csv", encoding: str = "utf-8") -> Path:
    """A raw dataset folder with frame, census, codebook, fieldwork and one wave."""
    frame = []
    for town, villages in TOWNS.items():
        for j, v in enumerate(villages):
            frame.append({"township": town, "village": v, "kind": "社区" if "社区" in v else "村",
                          "households": str(100 + 10 * j), "adults": str(250 + 10 * j),
                          "psu_total": "3", "sampled": "1" if v in PSU_PROB else "0",
                          "psu_prob": str(PSU_PROB.get(v, ""))})
    write_csv(root / "frame.csv", frame)
    write_csv(root / "census.csv", [
        {"township": t, "margin": m, "level": lv, "population": str(p)}
        for t in TOWNS for m, levels in CENSUS.items() for lv, p in levels.items()])
    write_csv(root / "codebook.csv", [
        {"question": q, "indicator": ind, "code": str(c), "label_zh": lab, "positive": str(pos),
         "score": "" if s is None else str(s), "missing": str(miss)}
        for q, (ind, codes) in QUESTIONS.items() for c, lab, pos, s, miss in codes])
    write_csv(root / "fieldwork" / f"{PERIOD}.csv", [
        {"township": t, "village": v, "households_selected": "10", "households_responded": "8"}
        for t, vs in TOWNS.items() for v in vs[:2]])
    rows = good_rows() if rows is None else rows
    if fmt == "xlsx":
        (root / "survey").mkdir(parents=True, exist_ok=True)
        write_xlsx(root / "survey" / f"{PERIOD}.xlsx", rows)
    else:
        write_csv(root / "survey" / f"{PERIOD}.csv", rows, encoding=encoding)
    return root


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- tiny dataset ---------------------------------------------------------------------------

def test_clean_wave_weights_by_hand(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    before = tree_hashes(raw)
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert tree_hashes(raw) == before  # raw folder untouched
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)
    df = load_respondents(PERIOD, tmp_path / "out")
    assert list(df.columns) == list(RESPONDENT_COLUMNS)
    row = df.set_index("respondent_id").loc["团结社区-3"]
    # 1/psu_prob * households/selected * adults = 1/0.6 * 100/10 * 3; NR: * 10 selected / 8 kept
    assert row["base_weight"] == pytest.approx(1 / 0.6 * 100 / 10 * 3)
    assert row["nr_weight"] == pytest.approx(1 / 0.6 * 100 / 10 * 3 * 10 / 8)
    assert (row["age_group"], row["kind"], row["psu_total"]) == ("35-49", "社区", 3)
    # q_satisfaction "3" = 基本满意: positive, score 50; q_awareness "9": missing
    assert (row["satisfaction"], row["satisfaction_score"]) == (1.0, 50.0)
    assert np.isnan(row["awareness"]) and row["participation"] == 1.0
    # raking meets every township x margin census total
    for town in TOWNS:
        sub = df[df["township"] == town]
        for margin, levels in CENSUS.items():
            totals = sub.groupby(margin)["weight"].sum()
            for level, pop in levels.items():
                assert totals.get(level, 0.0) == pytest.approx(pop, abs=1.0)
    rep = json.loads((r.folder / "validation.json").read_text(encoding="utf-8"))
    w = df["weight"].to_numpy()
    assert rep["weighting"]["kish_deff"] == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2)
    assert rep["weighting"]["weight_min"] == pytest.approx(w.min())
    assert rep["weighting"]["rake_converged"] is True
    assert set(rep["inputs"]) == {"frame.csv", "census.csv", "codebook.csv",
                                  f"fieldwork/{PERIOD}.csv", f"survey/{PERIOD}.csv"}
    assert rep["inputs"][f"survey/{PERIOD}.csv"] == before[f"survey/{PERIOD}.csv"]
    assert "Kish" in (r.folder / "validation.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in r.folder.iterdir()) == [
        "margins.csv", "rejected.csv", "respondents.csv", "validation.json", "validation.md"]


def test_load_design_reproduces_stored_weights(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    prepare_period(PERIOD, raw, tmp_path / "out")
    d = load_design(PERIOD, tmp_path / "out")
    df = load_respondents(PERIOD, tmp_path / "out")
    np.testing.assert_allclose(d.weights, df["weight"], rtol=1e-12)
    assert d.calibrated
    # Raking to township sex totals: the estimated share of men is known exactly, SE 0.
    est = d.proportion("awareness", by="township")
    assert list(est["township"]) == sorted(TOWNS)
    # an edited weight is detected
    df.loc[0, "weight"] *= 1.01
    df.to_csv(tmp_path / "out" / PERIOD / "respondents.csv", index=False)
    with pytest.raises(DataError, match="stored weights differ"):
        load_design(PERIOD, tmp_path / "out")


def test_trimming_caps_weights_and_keeps_township_totals(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    prepare_period(PERIOD, raw, tmp_path / "a")
    r = prepare_period(PERIOD, raw, tmp_path / "b", trim=1.5)
    raked = load_respondents(PERIOD, tmp_path / "a")
    trimmed = load_respondents(PERIOD, tmp_path / "b")
    for town in TOWNS:
        a = raked.loc[raked["township"] == town, "weight"]
        b = trimmed.loc[trimmed["township"] == town, "weight"]
        assert b.sum() == pytest.approx(a.sum())
        assert b.max() <= 1.5 * a.median() + 1e-9 < a.max()
    assert r.report["weighting"]["trim"] == 1.5
    assert r.kish_deff < prepare_period(PERIOD, raw, tmp_path / "a").kish_deff
    np.testing.assert_allclose(load_design(PERIOD, tmp_path / "b").weights, trimmed["weight"])
    code = main(["prepare", "--period", PERIOD, "--raw", str(raw), "--out", str(tmp_path / "c"),
                 "--trim", "1.5"])
    assert code == 0
    pd.testing.assert_frame_equal(load_respondents(PERIOD, tmp_path / "c"), trimmed)


def test_rejected_rows_accounting_and_pii(tmp_path: Path):
    rows = good_rows()
    for i, r in enumerate(rows):
        r["name"] = f"张{i}"
        r["phone"] = f"1390000{i:04d}"
        r["id_card"] = f"65432119800101{i:04d}"
        r["note"] = "extra"
    rows[1]["age"] = "17"
    rows[5]["village"] = "不存在村"
    rows[5]["q_security"] = "7"
    raw = write_dataset(tmp_path / "raw", rows)
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.1)
    assert (r.read, r.kept, r.rejected) == (32, 30, 2)
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert list(rej["source_row"]) == ["3", "7"]
    assert rej.loc[1, "reasons"] == "unknown_village(village); code_not_in_codebook(q_security)"
    assert rej.loc[0, "age"] == "17"  # original values kept
    assert "note" not in rej.columns  # an undocumented column never reaches an output
    rep = json.loads((r.folder / "validation.json").read_text(encoding="utf-8"))
    assert rep["counts"] == {"read": 32, "kept": 30, "rejected": 2, "rejected_share": 2 / 32}
    assert rep["rule_counts"]["unknown_village"] == 1
    assert rep["personal_data_columns_dropped"] == ["id_card", "name", "phone"]
    assert rep["other_columns_dropped"] == ["note"]
    # no personal value reaches any output file (rows 3 and 7, line numbers, are rejected)
    for f in r.folder.iterdir():
        text = f.read_text(encoding="utf-8")
        for i in (1, 5, 10):
            for value in (f"张{i}", f"1390000{i:04d}", f"65432119800101{i:04d}"):
                assert value not in text, (f.name, value)
    assert "phone" not in rej.columns and "name" not in rej.columns
    assert "note" not in load_respondents(PERIOD, tmp_path / "out").columns


def test_threshold_failure_keeps_previous_output(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    out = tmp_path / "out"
    prepare_period(PERIOD, raw, out)
    before = tree_hashes(out / PERIOD)
    rows = good_rows()
    rows[0]["age"] = "abc"
    rows[9]["sex"] = "M"
    write_dataset(raw, rows)  # 2 of 32 = 6.25% > 5%
    with pytest.raises(ValidationFailed, match=r"2 of 32 rows rejected \(6.2%\)"):
        prepare_period(PERIOD, raw, out)
    assert tree_hashes(out / PERIOD) == before
    failed = json.loads((out / f"{PERIOD}.failed" / "validation.json").read_text("utf-8"))
    assert failed["status"] == "failed" and failed["counts"]["rejected"] == 2
    assert prepare_period(PERIOD, raw, out, max_rejected=0.07).rejected == 2
    assert sorted(p.name for p in out.iterdir()) == [PERIOD]  # stale failure report removed


def test_crash_while_writing_keeps_previous_output(tmp_path: Path, monkeypatch):
    raw = write_dataset(tmp_path / "raw")
    out = tmp_path / "out"
    prepare_period(PERIOD, raw, out)
    before = tree_hashes(out / PERIOD)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pingan_eval.data.prepare.report_markdown", boom)
    with pytest.raises(OSError, match="disk full"):
        prepare_period(PERIOD, raw, out)
    assert tree_hashes(out / PERIOD) == before
    assert sorted(p.name for p in out.iterdir()) == [PERIOD]


def test_missing_column_is_fatal_and_names_file_and_column(tmp_path: Path):
    rows = [{k: v for k, v in r.items() if k != "household_adults"} for r in good_rows()]
    raw = write_dataset(tmp_path / "raw", rows)
    with pytest.raises(DataError) as err:
        prepare_period(PERIOD, raw, tmp_path / "out")
    msg = str(err.value)
    assert f"survey/{PERIOD}.csv" in msg and "household_adults" in msg and "\n" not in msg
    assert not (tmp_path / "out").exists()


def test_missing_fieldwork_and_unknown_period(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    with pytest.raises(DataError, match=r"unknown period '2026-12'.*available: 2026-11"):
        prepare_period("2026-12", raw, tmp_path / "out")
    with pytest.raises(DataError, match=r"unknown period '2026-13'.*YYYY-MM"):
        prepare_period("2026-13", raw, tmp_path / "out")
    (raw / "fieldwork" / f"{PERIOD}.csv").unlink()
    with pytest.raises(DataError, match=rf"fieldwork/{PERIOD}.csv: file not found"):
        prepare_period(PERIOD, raw, tmp_path / "out")


def test_never_writes_under_raw(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    with pytest.raises(DataError, match="refusing to write under the raw data folder"):
        prepare_period(PERIOD, raw, raw / "processed")
    with pytest.raises(DataError, match="refusing"):
        prepare_period(PERIOD, raw, paths.RAW_DIR / "x")


def test_margin_that_cannot_be_met_names_township_and_level(tmp_path: Path):
    rows = [r for r in good_rows() if not (r["township"] == "阿热勒乡" and r["age"] == "72")]
    raw = write_dataset(tmp_path / "raw", rows)
    with pytest.raises(CalibrationError, match=r"township '阿热勒乡', age_group '65\+': census "
                       r"population 190 \(18.6% of the township\) but no kept respondent"):
        prepare_period(PERIOD, raw, tmp_path / "out")
    rows = good_rows()
    rows[0]["ethnicity"] = "回族"  # a census level, but with population 0
    write_dataset(raw, rows)
    with pytest.raises(CalibrationError, match=r"township=青河镇, ethnicity=回族 has 1 "
                       r"respondent\(s\) but population 0"):
        prepare_period(PERIOD, raw, tmp_path / "out")


def test_small_empty_level_is_merged_and_reported(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    census = pd.read_csv(raw / "census.csv")
    census.loc[(census["township"] == "青河镇") & (census["level"] == "蒙古族"), "population"] = 30
    census.loc[(census["township"] == "青河镇") & (census["level"] == "哈萨克族"),
               "population"] = 590
    census.to_csv(raw / "census.csv", index=False)
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    margins = pd.read_csv(r.folder / "margins.csv").set_index(["township", "level"])
    assert margins.loc[("青河镇", "哈萨克族"), "population"] == 620
    assert margins.loc[("青河镇", "蒙古族"), "population"] == 0
    assert any("蒙古族 (population 30, 2.9%) has no respondent; merged into 哈萨克族" in n
               for n in r.report["notes"])
    np.testing.assert_allclose(load_design(PERIOD, tmp_path / "out").weights,
                               load_respondents(PERIOD, tmp_path / "out")["weight"])


@pytest.mark.parametrize("fmt,encoding", [("csv", "gbk"), ("csv", "gb18030"),
                                          ("csv", "utf-8-sig"), ("xlsx", None)])
def test_encodings_and_xlsx_give_identical_output(tmp_path: Path, fmt, encoding):
    ref = prepare_period(PERIOD, write_dataset(tmp_path / "a"), tmp_path / "oa")
    raw = write_dataset(tmp_path / "b", fmt=fmt, encoding=encoding or "utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "ob")
    pd.testing.assert_frame_equal(load_respondents(PERIOD, tmp_path / "ob"),
                                  load_respondents(PERIOD, tmp_path / "oa"))
    assert r.report["encoding"] == {"gbk": "gb18030", None: "xlsx"}.get(encoding, encoding)
    assert ref.report["encoding"] == "utf-8"


def test_cli_all_periods(tmp_path: Path, capsys):
    raw = write_dataset(tmp_path / "raw")
    rows = good_rows()
    for r in rows:
        r["interview_date"] = r["interview_date"].replace(PERIOD, "2026-10")
    write_csv(raw / "survey" / "2026-10.csv", rows)
    fw = pd.read_csv(raw / "fieldwork" / f"{PERIOD}.csv")
    fw.to_csv(raw / "fieldwork" / "2026-10.csv", index=False)
    assert available_periods(raw) == ["2026-10", PERIOD]
    code = main(["prepare", "--period", "all", "--raw", str(raw), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("2026-10: read 32, kept 32, rejected 0 (0.0%); Kish deff ")
    assert out[1].endswith(str(tmp_path / "o" / PERIOD / "validation.md"))
    code = main(["prepare", "--period", "2030-01", "--raw", str(raw), "--out",
                 str(tmp_path / "o")])
    assert code == 2 and "unknown period '2030-01'" in capsys.readouterr().err
    # one failing period does not stop the others; the exit code says something failed
    for r in rows[:5]:
        r["age"] = "16"
    write_csv(raw / "survey" / "2026-10.csv", rows)
    code = main(["prepare", "--period", "all", "--raw", str(raw), "--out", str(tmp_path / "p")])
    captured = capsys.readouterr()
    assert code == 2 and "2026-10: " in captured.err and "5 of 32 rows rejected" in captured.err
    assert captured.out.startswith(f"{PERIOD}: read 32")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["2026-10.failed", PERIOD]


def test_row_order_does_not_matter(tmp_path: Path):
    rows = good_rows()
    rows[4]["age"] = "12"
    a = prepare_period(PERIOD, write_dataset(tmp_path / "a", rows), tmp_path / "oa")
    order = np.random.default_rng(1).permutation(len(rows))
    b = prepare_period(PERIOD, write_dataset(tmp_path / "b", [rows[i] for i in order]),
                       tmp_path / "ob")
    pd.testing.assert_frame_equal(load_respondents(PERIOD, tmp_path / "oa"),
                                  load_respondents(PERIOD, tmp_path / "ob"), rtol=1e-12)
    assert a.kish_deff == pytest.approx(b.kish_deff, rel=1e-12)
    assert (a.rejected, b.rejected) == (1, 1)


# -- the sample county ---------------------------------------------------------------------

SAMPLE = paths.SAMPLE_RAW_DIR
needs_sample = pytest.mark.skipif(not (SAMPLE / "survey").is_dir(),
                                  reason="sample county not generated")


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("processed")
    before = tree_hashes(SAMPLE)
    prepare_period(PERIOD, SAMPLE, out)
    assert tree_hashes(SAMPLE) == before
    return out


@needs_sample
def test_sample_every_planted_error_is_caught(sample_out: Path):
    """Each planted bad row is rejected under the rule it was planted for, and no other row
    of the (otherwise clean, simulated) wave is."""
    planted = pd.read_csv(SAMPLE / "planted_errors.csv", dtype=str, keep_default_na=False)
    planted = planted[planted["file"] == f"survey/{PERIOD}.csv"]
    assert len(planted) >= 10
    rep = json.loads((sample_out / PERIOD / "validation.json").read_text(encoding="utf-8"))
    caught = {(p["row"], p["column"], p["rule"]) for p in rep["problems"]}
    expected = {(int(line), col, rule) for line, col, rule in
                zip(planted["line"], planted["column"], planted["rule"], strict=True)}
    assert expected <= caught
    assert {p["row"] for p in rep["problems"]} == {r for r, _, _ in expected}
    assert rep["counts"]["rejected"] == len(planted)
    assert rep["counts"]["kept"] + rep["counts"]["rejected"] == rep["counts"]["read"]


@needs_sample
def test_sample_recovers_true_values(sample_out: Path):
    """95% CIs of the 2026-11 estimates cover the synthetic population's true values.

    With 95% intervals about 1 in 20 may miss, so the checks allow it: at least 4 of the 5
    county rates and 2 of the 3 county scores, and 85% of the 7 x 8 township estimates.
    """
    truth = pd.read_csv(SAMPLE / "truth.csv")
    truth = truth[truth["period"] == PERIOD].set_index(["area", "indicator"])["value"]
    d = load_design(PERIOD, sample_out)
    from pingan_eval.data.codebook import INDICATORS, SCORED

    scores = [f"{i}_score" for i in SCORED]
    county = {i: d.proportion(i).iloc[0] for i in INDICATORS}
    county.update({s: d.mean(s).iloc[0] for s in scores})
    covered = {k: c["ci_low"] <= truth[("青河县", k)] <= c["ci_high"] for k, c in county.items()}
    assert sum(covered[i] for i in INDICATORS) >= 4, covered
    assert sum(covered[s] for s in scores) >= 2, covered
    hits = []
    for k in [*INDICATORS, *scores]:
        est = d.proportion(k, by="township") if k in INDICATORS else d.mean(k, by="township")
        hits += [lo <= truth[(t, k)] <= hi
                 for t, lo, hi in zip(est["township"], est["ci_low"], est["ci_high"], strict=True)]
    assert len(hits) == 56 and np.mean(hits) >= 0.85, np.mean(hits)
