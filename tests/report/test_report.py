"""Report tables say what the summary says: same numbers, Chinese labels, nothing hidden
silently; the paragraph is generated from the table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pingan_eval import labels, official_rows, paths, report
from pingan_eval.data.prepare import load_design, load_respondents
from pingan_eval.errors import ReportError
from pingan_eval.fileio import sha256_file
from pingan_eval.plan import load_plan
from pingan_eval.report.inputs import read_breakdowns
from pingan_eval.survey.breakdowns import (
    BREAKDOWN_COLUMNS,
    LEVEL_ORDER,
    all_breakdowns,
    breakdowns,
)
from pingan_eval.survey.change import change

PLAN = load_plan()
PERIOD, PREVIOUS = "2026-11", "2026-10"  # as the conftest fixtures prepare them
TOWN = "青河镇"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def test_headline_numbers_are_the_summary_numbers(sample_summary):
    every = sample_summary[sample_summary["area"] == TOWN]
    rows = official_rows(every, PLAN)
    table = report.headline_table(sample_summary, TOWN, plan=PLAN)
    assert list(table.columns) == ["指标", "数据来源", "估计依据", "估计值", "95%置信区间",
                                   "目标", "结论", "可靠性", "样本量/单位数"]
    assert len(table) == len(rows)
    assert list(table["指标"]) == list(rows["name_zh"])
    for r, (_, t) in zip(rows.itertuples(), table.iterrows(), strict=True):
        if r.flag == "suppress":
            assert t["估计值"] == "—" and t["95%置信区间"] == "—"
            assert t["可靠性"].startswith(labels.SUPPRESSED)
            continue
        assert t["估计值"] == _pct(r.estimate)
        assert t["结论"] == labels.VERDICTS[r.verdict]
        assert t["样本量/单位数"] == f"{r.n:.0f}"
        if r.source == "survey":
            assert t["95%置信区间"] == f"{_pct(r.ci_low)}–{_pct(r.ci_high)}"
            assert t["目标"] == "≥95%"
            assert t["估计依据"] == "多月合并估计（10—11月）"
        else:
            assert t["95%置信区间"] == "—"
            assert t["估计依据"] == "台账全数统计"
    survey = table[table["数据来源"] == "抽样调查"]
    assert len(survey) == len(PLAN.survey)
    # every estimate beside the official one, marked
    both = report.estimates_table(sample_summary, TOWN, plan=PLAN)
    survey_rows = every[every["source"] == "survey"]
    assert len(both) == len(survey_rows)
    assert list(both["估计"]) == [labels.ESTIMATORS[e] for e in survey_rows["estimator"]]
    assert (both["正式结论"] == "是").sum() == len(PLAN.survey)
    marked = both[both["正式结论"] == "是"]
    assert set(marked["估计"]) == {"多月合并估计"}
    assert list(marked["结论"]) == list(table.loc[table["数据来源"] == "抽样调查", "结论"])
    for r, (_, t) in zip(survey_rows.itertuples(), both.iterrows(), strict=True):
        assert t["结论"] == labels.VERDICTS[r.verdict]
        assert t["估计值"] == ("—" if r.flag == "suppress" else _pct(r.estimate))
    county = report.headline_table(sample_summary, PLAN.county, plan=PLAN)
    assert set(county.loc[county["数据来源"] == "抽样调查", "估计依据"]) == {"本月直接估计"}


def test_suppressed_estimate_is_never_printed():
    s = pd.DataFrame({"period": PERIOD, "area": TOWN, "indicator": ["awareness", "security"],
                      "name_zh": ["知晓率", "安全感"], "source": "survey",
                      "estimate": [0.9321, 0.9876], "ci_low": [0.61, 0.97],
                      "ci_high": [0.99, 0.995], "target": 0.95, "n": [25, 200],
                      "verdict": ["undecided", "met"], "flag": ["suppress", "ok"],
                      "flag_reason": ["n_eff<30;ci_width>=0.30", ""]})
    table = report.headline_table(s, TOWN, plan=PLAN)
    text = table.to_string()
    assert "93.2" not in text and "61.0" not in text
    assert table.loc[0, "可靠性"] == ("数据不足，不予显示"
                                     "（有效样本量不足30；置信区间宽度达30个百分点以上）")
    assert table.loc[1, "估计值"] == "98.8%"
    paragraph = report.headline_paragraph(s, TOWN)
    assert "93.2" not in paragraph and "知晓率：有效样本量不足30" in paragraph
    assert "不予显示" in paragraph


def test_paragraph_is_generated_from_the_table(sample_summary):
    for area in (PLAN.county, TOWN, "萨尔托海乡"):
        rows = official_rows(sample_summary[sample_summary["area"] == area], PLAN)
        text = report.headline_paragraph(sample_summary, area, plan=PLAN)
        assert text.startswith(f"**2026年11月，{area}**")
        survey = rows[rows["source"] == "survey"]
        basis = "多月合并估计（10—11月）" if area != PLAN.county else "本月直接估计"
        assert f"（结论依据{basis}：" in text
        if area != PLAN.county:
            direct = sample_summary[(sample_summary["area"] == area)
                                    & (sample_summary["estimator"] == "direct")
                                    & (sample_summary["source"] == "survey")]
            decided = int((direct["verdict"] != "undecided").sum())
            assert f"仅用本月样本的直接估计可下结论的为{decided}项" in text
        for verdict in ("met", "not_met", "undecided"):
            names = survey.loc[survey["verdict"] == verdict, "name_zh"]
            if len(names):
                assert f"**{'、'.join(names)}{labels.VERDICTS[verdict]}**" in text
        for source, word in (("register", "平安细胞命名率"), ("task", "工作任务"),
                             ("structural", "结构性目标")):
            block = rows[rows["source"] == source]
            if len(block):
                assert f"{word}共{len(block)}项" in text
                n_met = int((block["verdict"] == "met").sum())
                if n_met:
                    assert f"{n_met}项达标" in text
            else:
                assert word not in text


def test_unknown_area_is_named(sample_summary):
    with pytest.raises(ReportError, match="青河乡"):
        report.headline_table(sample_summary, "青河乡")


def test_style_is_deterministic_html(sample_summary):
    table = report.headline_table(sample_summary, TOWN, plan=PLAN)
    html = report.style(table, uuid="headline").to_html()
    assert html == report.style(table, uuid="headline").to_html()
    assert 'id="T_headline"' in html and "0x" not in html
    assert "#D6EAF8" in html or "#FADBD8" in html or "#FDEBD0" in html
    assert ">知晓率<" in html


def test_displayed_tables_carry_their_styles_inline(sample_summary):
    """What a notebook displays has no <style> block (JupyterLab's sanitizer drops it in
    an untrusted notebook): the verdict colours are style attributes it keeps."""
    table = report.headline_table(sample_summary, TOWN, plan=PLAN)
    shown = report.html(table, uuid="headline", caption="标题").data
    assert "<style" not in shown and shown.lstrip().startswith("<table")
    verdicts = re.findall(r'<td id="T_headline_row\d+_col\d+" class="[^"]*" style="([^"]*)">'
                          r"(达标|未达标|尚无定论)<", shown)
    assert verdicts and all("background-color: #" in css for css, _ in verdicts)
    assert re.search(r'<th [^>]*style="[^"]*background-color: #F2F2F2', shown)
    assert re.search(r'<caption style="[^"]*font-weight: bold', shown)
    # the same cascade as the <style> block: the table's td rule outranks a cell's
    styled = report.style(table, uuid="headline").to_html()
    assert "text-align: center" in styled and "text-align: left" in styled


def test_comparison_table(sample_summary):
    wide = report.comparison_table(sample_summary, plan=PLAN)
    assert list(wide["地区"]) == [PLAN.county, *PLAN.townships]
    assert list(wide.columns[1:]) == [t.name_zh for t in PLAN.survey]
    r = sample_summary[(sample_summary["area"] == PLAN.county)
                       & (sample_summary["indicator"] == "awareness")].iloc[0]
    assert wide.loc[0, "知晓率"] == f"{_pct(r.estimate)}（{labels.VERDICTS[r.verdict]}）"
    tasks = report.comparison_table(sample_summary, source="task", plan=PLAN)
    assert "入户走访率" in tasks.columns and len(tasks) == 1 + len(PLAN.townships)


def test_breakdowns_are_domain_estimates(sample_processed):
    design = load_design(PERIOD, sample_processed)
    groups = breakdowns(design, TOWN, plan=PLAN, by=("sex", "ethnicity"))
    assert list(dict.fromkeys(groups["breakdown"])) == ["sex", "ethnicity"]
    sex = groups[(groups["breakdown"] == "sex") & (groups["indicator"] == "awareness")]
    assert list(sex["level"]) == ["男", "女"]
    direct = design.proportion("awareness", by=["township", "sex"])
    direct = direct[direct["township"] == TOWN].set_index("sex")
    for r in sex.itertuples():
        assert r.estimate == pytest.approx(direct.loc[r.level, "estimate"], rel=1e-12)
        assert r.ci_low == pytest.approx(direct.loc[r.level, "ci_low"], rel=1e-12)
    eth = groups[(groups["breakdown"] == "ethnicity") & (groups["indicator"] == "awareness")]
    present = [lv for lv in LEVEL_ORDER["ethnicity"] if lv in set(eth["level"])]
    assert list(eth["level"])[:len(present)] == present
    assert set(groups["flag"]) <= {"ok", "review", "suppress"}
    table = report.breakdown_table(groups, "ethnicity")
    assert list(table.columns) == ["民族", *(t.name_zh for t in PLAN.survey), "样本量"]
    hidden = groups[(groups["breakdown"] == "ethnicity") & (groups["flag"] == "suppress")]
    assert (table.to_numpy() == labels.SUPPRESSED).sum() == len(hidden)
    note = report.breakdown_note(groups, "ethnicity")
    if len(hidden):
        assert note.startswith(f"{len(hidden)}个估计不予显示")


def test_county_breakdown_uses_the_whole_design(sample_processed):
    design = load_design(PERIOD, sample_processed)
    groups = breakdowns(design, PLAN.county, plan=PLAN, by=("sex",))
    direct = design.proportion("security", by="sex").set_index("sex")
    rows = groups[groups["indicator"] == "security"].set_index("level")
    np.testing.assert_allclose(rows.loc[["男", "女"], "estimate"],
                               direct.loc[["男", "女"], "estimate"], rtol=1e-12)


def test_change_table_is_the_change_module(sample_trend):
    table = report.change_table(sample_trend, PLAN.county, PERIOD)
    assert list(table["指标"]) == [t.name_zh for t in PLAN.survey]
    sample_trend = sample_trend[sample_trend["estimator"] == "direct"]  # the months' own
    cur = sample_trend[(sample_trend["area"] == PLAN.county) & (sample_trend["period"] == PERIOD)]
    old = sample_trend[(sample_trend["area"] == PLAN.county)
                       & (sample_trend["period"] == PREVIOUS)]
    d = change(cur[["indicator", "estimate", "se", "df"]],
               old[["indicator", "estimate", "se", "df"]], by="indicator").set_index("indicator")
    row = table.iloc[0]
    assert row["本月"] == _pct(cur.iloc[0]["estimate"])
    assert float(row["变化（百分点）"].replace("±", "")) == pytest.approx(
        100 * d.loc["awareness", "estimate"], abs=0.05)
    assert row["p值"] == f"{d.loc['awareness', 'p_value']:.3f}"
    bounds = row["变化的95%置信区间"].replace("±", "+")
    lo, hi = (float(x) for x in re.findall(r"[+-]\d+\.\d", bounds))
    assert lo == pytest.approx(100 * d.loc["awareness", "ci_low"], abs=0.05)
    assert hi == pytest.approx(100 * d.loc["awareness", "ci_high"], abs=0.05)


def test_methods_and_provenance(sample_summary, sample_processed):
    methods = report.methods_table(sample_summary, TOWN, processed_dir=sample_processed)
    facts = dict(zip(methods["项目"], methods["内容"], strict=True))
    resp = load_respondents(PERIOD, sample_processed)
    n = int((resp["township"] == TOWN).sum())
    assert facts["样本量"].startswith(f"{n}名受访者")
    assert "logit" in facts["方差估计"] and "%" in facts["户应答率"]
    county = dict(zip(*report.methods_table(sample_summary, PLAN.county,
                                            processed_dir=sample_processed).to_numpy().T,
                      strict=True))
    assert county["样本量"].startswith(f"{len(resp)}名受访者")

    prov = report.provenance_table(PERIOD, processed_dir=sample_processed)
    facts = dict(zip(prov["项目"], prov["内容"], strict=True))
    survey = paths.SAMPLE_RAW_DIR / "survey" / f"{PERIOD}.csv"
    assert facts[f"数据文件 survey/{PERIOD}.csv"] == f"SHA-256 {sha256_file(survey)}"
    assert "数据文件 registers/safe_cells.csv" in facts
    assert re.fullmatch(r"[0-9a-f]{40}.*|未知.*", facts["代码版本（git commit）"])
    assert facts["pingan-eval"]


def test_task_detail_lists_what_is_left(sample_summary):
    detail = report.task_detail("阿热勒乡", PERIOD, plan=PLAN)
    rows = sample_summary[(sample_summary["area"] == "阿热勒乡")
                          & (sample_summary["source"] == "task")]
    open_tasks = set(rows.loc[rows["verdict"] != "met", "name_zh"])
    assert set(detail["任务"]) == open_tasks
    assert set(detail["结论"]) <= {"未达标", "尚无定论"}
    full = report.task_detail("阿热勒乡", PERIOD, plan=PLAN, only_open=False)
    assert len(full) > len(detail)


def test_load_inputs_reads_what_batch_writes(sample_summary, sample_trend, sample_processed,
                                             tmp_path):
    sample_summary.to_csv(tmp_path / "summary.csv", index=False)
    sample_trend.to_csv(tmp_path / "trends.csv", index=False)
    got = report.load_inputs(PERIOD, processed_dir=sample_processed,
                             summary_path=tmp_path / "summary.csv",
                             trend_path=tmp_path / "trends.csv")
    pd.testing.assert_frame_equal(got.summary, sample_summary)
    pd.testing.assert_frame_equal(got.trend, sample_trend)
    assert got.raw_dir == paths.SAMPLE_RAW_DIR and got.plan.county == PLAN.county
    with pytest.raises(ReportError, match="2026-09"):
        report.load_inputs("2026-09", processed_dir=sample_processed,
                           summary_path=tmp_path / "summary.csv",
                           trend_path=tmp_path / "trends.csv")


def test_cell_table_counts_defects_apart_and_shows_windows():
    planted = pd.read_csv(paths.SAMPLE_RAW_DIR / "planted_errors.csv", dtype=str)
    planted = planted[planted["file"] == "registers/safe_cells.csv"]
    county_detail = report.register_detail(PLAN.county, PERIOD)
    county_defects = county_detail.defects
    # Every planted register defect is listed, nothing more.
    assert len(county_defects) == len(planted) == 14
    town_detail = report.register_detail(TOWN, PERIOD)
    town = town_detail.cells
    assert list(town.columns) == ["类别", "应创建", "有效命名", "程序缺陷", "已摘牌", "命名率",
                                  "目标", "结论", "创建期限", "期限状态"]
    assert list(town["类别"]) == [labels.zh("category", c)
                                  for c in PLAN.cell_categories["category"]]
    assert set(town["期限状态"]) <= set(labels.WINDOW_STATUSES.values())
    assert town.loc[town["类别"] == "平安旅店", "创建期限"].item() == "05-01至07-31"
    # The rate excludes defective namings: named / eligible, as printed.
    for r in town.itertuples():
        assert r.命名率 == _pct(r.有效命名 / r.应创建)
    county = county_detail.cells
    assert list(county["乡镇"]) == list(PLAN.townships)
    # Per township, every defect found (as listed), and the standard read off the rates.
    assert county["程序缺陷"].sum() == len(county_defects)
    assert set(county["达到平安建设标准"]) <= {"是", "否"}
    assert ((county["达到平安建设标准"] == "是")
            == (county["达标类别"] == county["类别数"])).all()
    town_defects = town_detail.defects
    assert set(town_defects["乡镇"]) == {TOWN}
    assert town["程序缺陷"].sum() <= len(town_defects)


def test_skipped_checks_are_named(tmp_path):
    assert report.register_detail(TOWN, PERIOD).note == "台账字段齐全，全部程序核查均已执行。"
    raw = tmp_path / "raw"
    (raw / "registers").mkdir(parents=True)
    register = pd.read_csv(paths.SAMPLE_RAW_DIR / "registers" / "safe_cells.csv", dtype=str)
    register.drop(columns=["adults", "adults_signed"]).to_csv(
        raw / "registers" / "safe_cells.csv", index=False)
    (raw / "registers" / "eligible.csv").write_bytes(
        (paths.SAMPLE_RAW_DIR / "registers" / "eligible.csv").read_bytes())
    note = report.register_detail(TOWN, PERIOD, raw_dir=raw).note
    assert "成年家庭成员未全部本人签名" in note and "未执行" in note
    empty = tmp_path / "survey_only"
    empty.mkdir()
    nothing = report.register_detail(TOWN, PERIOD, raw_dir=empty)
    assert nothing.cells.empty and nothing.defects.empty and "未提供" in nothing.note


def test_cached_breakdowns_are_the_per_area_breakdowns(sample_processed, tmp_path):
    """What the batch computes once for all areas equals each notebook computing its own."""
    design = load_design(PERIOD, sample_processed)
    every = all_breakdowns(design, plan=PLAN)
    assert list(every.columns) == ["area", *BREAKDOWN_COLUMNS]
    assert list(dict.fromkeys(every["area"])) == [PLAN.county, *PLAN.townships]
    path = tmp_path / "breakdowns.csv"
    every.to_csv(path, index=False)
    for area, by in ((TOWN, report.BREAKDOWN_BY), (PLAN.county, ("sex", "ethnicity"))):
        direct = breakdowns(design, area, plan=PLAN, by=by)
        cached = read_breakdowns(path, area, by=by)
        pd.testing.assert_frame_equal(cached, direct, check_dtype=False)


# ---------------------------------------------------------------- hostile names

EVIL = '<img src=x onerror="alert(1)"> *乡* [a](javascript:x)'


def _evil_summary() -> pd.DataFrame:
    """Two survey rows of a township named :data:`EVIL`, its indicator named with markup."""
    return pd.DataFrame({
        "period": PERIOD, "area": EVIL, "area_level": "township",
        "indicator": ["awareness", "participation"],
        "name_zh": ["知晓率<script>x()</script>", "参与率"], "source": "survey",
        "estimator": "direct", "window_start": PERIOD, "estimate": [0.97, 0.90],
        "ci_low": [0.93, 0.84], "ci_high": [0.99, 0.95], "target": 0.95,
        "verdict": ["undecided", "not_met"], "flag": "ok", "flag_reason": "", "n": 200})


def _page(outputs: list) -> str:
    """The HTML page the batch exports for a notebook showing ``outputs``."""
    import nbformat
    from IPython.core.formatters import format_display_data

    from pingan_eval.report.htmlexport import notebook_to_html

    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data=format_display_data(o)[0])
                    for o in outputs]
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    return notebook_to_html(nb, title=f"{EVIL} 报告")


def test_names_with_markup_are_shown_not_run():
    """A township (or indicator) named with HTML or Markdown is printed as typed in the
    title, the paragraph and the tables of the exported page, never as live markup."""
    from IPython.display import Markdown

    summary = _evil_summary()
    page = _page([
        Markdown(report.report_heading(EVIL, PERIOD)),
        Markdown(report.headline_paragraph(summary, EVIL, plan=PLAN)),
        report.html(report.headline_table(summary, EVIL, plan=PLAN), uuid="headline",
                    caption=f"{EVIL}的指标"),
        report.html(pd.DataFrame({f"{EVIL}": [EVIL]}), uuid="raw"),
    ])
    assert "<img" not in page and "<script>x()" not in page
    assert not re.search(r'href="javascript', page)  # no link made of the name
    assert "&lt;img src=x" in page and "&lt;script&gt;x()" in page
    assert "<em>乡</em>" not in page  # the *...* of the name is not emphasis
    assert page.count("&lt;img src=x") >= 5  # heading, paragraph, caption, header, cell


def test_md_escape_keeps_plain_names_and_stops_markup():
    assert report.md_escape("青河镇") == "青河镇"
    assert report.md_escape("a\n\n# b") == "a \\# b"  # cannot end the line or the paragraph
    assert report.md_escape("<b>&") == "&lt;b&gt;&amp;"
    assert report.report_heading("青河镇", PERIOD) == "# 青河镇平安建设评估报告（2026年11月）"
