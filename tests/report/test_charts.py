"""Charts draw Chinese (no missing glyphs, even with only the bundled font), flag honestly,
and give the same picture every run."""

from __future__ import annotations

import os
import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pingan_eval import labels
from pingan_eval.plan import load_plan
from pingan_eval.report import charts
from pingan_eval.report.fonts import (
    BUNDLED_FAMILY,
    BUNDLED_FONT,
    CJKFontWarning,
    default_candidates,
    setup_cjk_font,
)
from pingan_eval.summary import official_rows
from pingan_eval.summary.peers import lowest_townships, peer_distribution

PLAN = load_plan()


def _all_report_words() -> str:
    """Every Chinese label a chart can show."""
    words = [PLAN.county, *PLAN.townships, *(t.name_zh for t in PLAN.entries)]
    for table in labels.TABLES.values():
        words += list(table.values())
    words += ["与全县、其他乡镇比较：估计值及95%置信区间（）", "近个月走势（阴影为置信区间）",
              "各乡镇平安细胞命名率（截至；红框：低于目标，—：无应创建单位）", "空心、虚线：",
              "估计值与置信区间", "目标 ≥95%", "月\n2026", "全县", "哈萨克族汉族回族蒙古族其他男女",
              "样本过少或区间过宽", "×", "全部个乡镇",
              "各乡镇估计值：25%—75%分位（须线10%—90%，竖线中位数）"]
    return " ".join(words)


def _glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)
            or "Glyph" in str(w.message)]


def _render_words(words: str) -> None:
    fig = Figure(figsize=(12, 8), dpi=50)
    ax = fig.subplots()
    for i, chunk in enumerate(words[j:j + 40] for j in range(0, len(words), 40)):
        ax.text(0, i, chunk)
    ax.set_ylim(-1, len(words) // 40 + 1)
    charts.png_bytes(fig)


def test_bundled_font_draws_every_report_word():
    # Only DejaVu (no CJK) installed, as on a bare Linux box: the bundled font must do.
    with mpl.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        assert setup_cjk_font(candidates=()) == BUNDLED_FAMILY
        assert mpl.rcParams["font.sans-serif"][:2] == [BUNDLED_FAMILY, "DejaVu Sans"]
        assert _glyph_warnings(lambda: _render_words(_all_report_words())) == []


def test_bundled_font_in_every_weight_logs_nothing(tmp_path):
    """A bold title in the bundled font (one weight only), with a stale matplotlib font
    cache (built in an empty MPLCONFIGDIR before the font was registered) and no system
    CJK font: nothing reaches stderr, where a report would show it as a pink box
    (``findfont: Failed to find font weight bold for PinganEval Sans SC``)."""
    import subprocess
    import sys

    code = (
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "from matplotlib.figure import Figure\n"
        "from pingan_eval.report import charts, fonts\n"
        "assert fonts.setup_cjk_font(candidates=()) == fonts.BUNDLED_FAMILY\n"
        "fonts.setup_cjk_font(candidates=())  # twice: idempotent\n"
        "fig = Figure(); ax = fig.subplots()\n"
        "for w in ('light', 'normal', 'medium', 'semibold', 'bold', 'heavy', 'black'):\n"
        "    ax.set_title('青河镇 平安建设', fontweight=w); charts.png_bytes(fig)\n"
    )
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path)}
    # first a cache built without the bundled font (a stale one); building it may itself
    # say so on a slow machine ("Matplotlib is building the font cache"), which is
    # matplotlib's, once per machine, and not what this test is about
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                   capture_output=True, timeout=120, check=True)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


def test_without_cjk_font_there_is_a_warning_and_missing_glyphs():
    # The negative control: the glyph check above can fail.
    with mpl.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        with pytest.warns(CJKFontWarning, match="no CJK font found"):
            assert setup_cjk_font(candidates=(), bundled=None) == "DejaVu Sans"
        assert _glyph_warnings(lambda: _render_words("青河县知晓率")) != []


def test_bundled_font_covers_gb2312():
    cmap = TTFont(BUNDLED_FONT, lazy=True).getBestCmap()
    gb2312 = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                gb2312.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    assert len(gb2312) == 6763
    assert [c for c in gb2312 if ord(c) not in cmap] == []
    assert all(ord(c) in cmap for c in "0123456789%ABCxyz，。：；（）—")
    assert BUNDLED_FONT.stat().st_size < 4.5e6
    assert (BUNDLED_FONT.parent / "OFL.txt").read_text(encoding="utf-8").count("OPEN FONT") >= 1


def test_installed_candidate_wins():
    family = "DejaVu Sans"  # any installed family stands in for a system CJK font
    with mpl.rc_context():
        assert setup_cjk_font(candidates=["No Such Font", family]) == family
        assert mpl.rcParams["font.sans-serif"][0] == family
    assert default_candidates("darwin")[0] == "PingFang SC"
    assert default_candidates("linux")[0] == "Noto Sans CJK SC"


def _summary() -> pd.DataFrame:
    rows = []
    for i, area in enumerate((PLAN.county, *PLAN.townships)):
        for j, t in enumerate(PLAN.survey):
            est = 0.90 + 0.01 * ((i + j) % 9)
            flag = "suppress" if (i, j) == (2, 1) else ("review" if i > 3 else "ok")
            verdict = "met" if est - 0.02 >= 0.95 else ("not_met" if est + 0.02 < 0.95
                                                        else "undecided")
            rows.append({"period": "2026-11", "area": area,
                         "area_level": "county" if i == 0 else "township",
                         "indicator": t.code, "name_zh": t.name_zh, "source": "survey",
                         "estimate": est, "ci_low": est - 0.02, "ci_high": min(est + 0.02, 1),
                         "target": 0.95, "verdict": verdict, "flag": flag})
    for i, town in enumerate(PLAN.townships):
        for j, c in enumerate(PLAN.cells):
            rate = np.nan if (i, j) == (1, 14) else 0.85 + 0.01 * ((3 * i + j) % 16)
            rows.append({"period": "2026-11", "area": town, "area_level": "township",
                         "indicator": c.code, "name_zh": c.name_zh, "source": "register",
                         "estimate": rate, "ci_low": np.nan, "ci_high": np.nan,
                         "target": c.threshold, "verdict": "met" if rate >= c.threshold
                         else "not_met", "flag": "ok"})
    return pd.DataFrame(rows)


def test_forest_plot():
    s = _summary()
    fig = charts.forest_plot(s, "塔克什肯镇")
    (ax,) = fig.axes  # the panels are drawn in one axes (layout.panel_row)
    titles = [t.get_text() for t in ax.texts if t.get_gid() == "panel_title"]
    assert titles == [t.name_zh for t in PLAN.survey]
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == [PLAN.county, *PLAN.townships]
    bold = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["塔克什肯镇"]
    # the one suppressed estimate is named in its place, not silently dropped
    notes = [t.get_text().strip() for t in ax.texts if t.get_gid() != "panel_title"]
    assert notes == [labels.SUPPRESSED]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"达标", "未达标", "尚无定论"} <= set(legend)
    assert any(labels.FLAGS["review"] in t for t in legend)
    assert "塔克什肯镇" in fig.texts[0].get_text() and "2026-11" in fig.texts[0].get_text()


def test_charts_are_deterministic():
    s = _summary()
    assert charts.png_bytes(charts.forest_plot(s, "青河镇")) == \
        charts.png_bytes(charts.forest_plot(s, "青河镇"))
    assert charts.png_bytes(charts.naming_heatmap(s)) == charts.png_bytes(charts.naming_heatmap(s))


def test_trend_plot_gaps_for_suppressed_months():
    s = _summary()
    survey = s[s["source"] == "survey"]
    months = [str(p) for p in pd.period_range("2025-12", "2026-11", freq="M")]
    trend = pd.concat([survey.assign(period=m) for m in months], ignore_index=True)
    hide = (trend["area"] == "青河镇") & (trend["period"] == "2026-03")
    trend.loc[hide, "flag"] = "suppress"
    fig = charts.trend_plot(trend, "青河镇")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [t.name_zh for t in PLAN.survey]
    for ax in panels:
        assert [t.get_text() for t in ax.texts] == ["×"]  # one marked gap per panel
        line = ax.get_lines()[0]
        y = np.asarray(line.get_ydata(), dtype=float)
        assert len(y) == 12 and np.isnan(y[months.index("2026-03")])
    labels_ = [t.get_text() for t in panels[0].get_xticklabels()]
    assert labels_[0] == "12月\n2025" and labels_[1] == "1月\n2026" and labels_[2] == "2月"


def test_breakdown_plot_keeps_suppressed_rows():
    t = pd.DataFrame({"level": ["哈萨克族", "汉族", "回族"] * 2,
                      "indicator": ["awareness"] * 3 + ["security"] * 3,
                      "name_zh": ["知晓率"] * 3 + ["安全感"] * 3,
                      "estimate": [0.97, 0.93, np.nan, 0.96, 0.9, 0.99],
                      "ci_low": [0.95, 0.88, np.nan, 0.94, 0.8, 0.9],
                      "ci_high": [0.98, 0.96, np.nan, 0.97, 0.95, 1.0],
                      "target": 0.95,
                      "flag": ["ok", "review", "suppress", "ok", "ok", "suppress"]})
    fig = charts.breakdown_plot(t, title="青河镇：按民族")
    (ax,) = fig.axes  # the panels are drawn in one axes (layout.panel_row)
    titles = [x for x in ax.texts if x.get_gid() == "panel_title"]
    assert [x.get_text() for x in titles] == ["知晓率", "安全感"]
    notes = [x for x in ax.texts if x.get_gid() != "panel_title"]
    assert [x.get_text().strip() for x in notes] == [labels.SUPPRESSED] * 2
    # each note in its own panel, on its row (回族, then 回族 again: rows 2 and 2)
    assert [x.get_position()[1] for x in notes] == [2.0, 2.0]
    middles = [x.get_position()[0] for x in titles]
    assert notes[0].get_position()[0] < middles[0] < notes[1].get_position()[0] < middles[1]
    assert [x.get_text() for x in ax.get_yticklabels()] == ["哈萨克族", "汉族", "回族"]
    legend = " ".join(x.get_text() for x in fig.legends[0].get_texts())
    assert labels.FLAGS["review"] in legend and labels.SUPPRESSED in legend


def test_naming_heatmap_values_and_frames():
    s = _summary()
    fig = charts.naming_heatmap(s)
    ax = fig.axes[0]
    cells = s[s["source"] == "register"]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(PLAN.townships) * len(PLAN.cells)
    assert texts.count("—") == 1  # the one category with no eligible units
    first = cells.iloc[0]
    assert texts[0] == ("100%" if first["estimate"] == 1 else f"{100 * first['estimate']:.1f}%")
    frames = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(frames) == int((cells["estimate"] < cells["target"]).sum())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(PLAN.townships)


def test_empty_input_is_an_error():
    s = _summary()
    with pytest.raises(ValueError, match="no survey rows"):
        charts.forest_plot(s[s["source"] == "register"], "青河镇")
    with pytest.raises(ValueError, match="no safe-cell"):
        charts.naming_heatmap(s[s["source"] == "survey"])


# Names of up to 10 characters, as a synthetic county may have (numbered to 100 towns).
LONG_NAMES = ("布尔根河谷边境口岸镇", "乌伦古河北岸牧业镇", "喀拉通克工业园区镇",
              "阿克托别哈拉苏乡")


def _long_named_county(n: int) -> pd.DataFrame:
    """:func:`_summary` with ``n`` townships of 10-character names (rows repeated)."""
    s = _summary()
    towns = list(PLAN.townships)
    parts = [s[s["area_level"] == "county"]]
    for k in range(n):
        name = f"{LONG_NAMES[k % len(LONG_NAMES)][:7]}{k:02d}乡"
        parts.append(s[s["area"] == towns[k % len(towns)]].assign(area=name))
    return pd.concat(parts, ignore_index=True)


def test_forest_plot_of_a_large_county_folds_the_townships_into_their_spread():
    many = _long_named_county(charts.FOREST_FULL_ROWS + 5)
    town = "布尔根河谷边境04乡"
    fig = charts.forest_plot(many, town)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    n = charts.FOREST_FULL_ROWS + 5
    assert rows == [PLAN.county, town, f"全部{n}个乡镇"]
    shown = many[(many["indicator"] == "awareness") & (many["source"] == "survey")]
    towns = shown[(shown["area_level"] == "township") & (shown["flag"] != "suppress")]
    towns = official_rows(towns, PLAN)["estimate"]
    box = fig.axes[0].patches[0]  # the first panel's (awareness), x as drawn
    assert box.get_x() == pytest.approx(towns.quantile(0.25))
    assert box.get_x() + box.get_width() == pytest.approx(towns.quantile(0.75))
    whisker = [line for line in fig.axes[0].lines
               if list(line.get_xdata()) == pytest.approx([towns.quantile(0.1),
                                                          towns.quantile(0.9)])]
    assert len(whisker) == 1
    assert len(fig.axes[0].patches) == len(PLAN.survey)  # one box per panel
    # the batch's slice (own and county rows) with the cached spread draws the same rows
    sliced = many[many["area"].isin([PLAN.county, town])]
    peers = peer_distribution(many, PLAN)
    again = charts.forest_plot(sliced, town, peers=peers)
    assert [t.get_text() for t in again.axes[0].get_yticklabels()] == rows
    assert again.axes[0].patches[0].get_x() == pytest.approx(box.get_x())
    # the county overview still lists every township, as does a small county's report
    county_rows = charts.forest_plot(many, PLAN.county).axes[0].get_yticklabels()
    assert len(county_rows) == charts.FOREST_FULL_ROWS + 6
    few = _long_named_county(charts.FOREST_FULL_ROWS - 1)
    assert len(charts.forest_plot(few, town).axes[0].get_yticklabels()) == \
        charts.FOREST_FULL_ROWS
    # ... also given the spread (the batch gives it to every report; a small county's
    # reports get the whole table, and list every township)
    with_peers = charts.forest_plot(few, town, peers=peer_distribution(few, PLAN))
    assert len(with_peers.axes[0].get_yticklabels()) == charts.FOREST_FULL_ROWS


def _village_breakdown(n: int) -> pd.DataFrame:
    rows = []
    for i in range(n):
        village = f"{LONG_NAMES[i % len(LONG_NAMES)][:6]}{i}村"
        for j, t in enumerate(PLAN.survey):
            est = 0.80 + 0.01 * ((i + 2 * j) % 20)
            flag = ("suppress", "review", "ok")[(i + j) % 3]
            rows.append({"level": village, "indicator": t.code, "name_zh": t.name_zh,
                         "estimate": np.nan if flag == "suppress" else est,
                         "ci_low": est - 0.1, "ci_high": min(est + 0.05, 1.0),
                         "target": 0.95, "flag": flag})
    return pd.DataFrame(rows)


def _long_named_trend() -> pd.DataFrame:
    s = _summary()
    survey = s[s["source"] == "survey"].replace({"area": {"青河镇": LONG_NAMES[0],
                                                          PLAN.county: "乌伦古河北岸牧业县"}})
    months = [str(p) for p in pd.period_range("2025-12", "2026-11", freq="M")]
    return pd.concat([survey.assign(period=m) for m in months], ignore_index=True)


def _decorations(fig: Figure) -> list:
    """The texts a reader must read around the data: figure and panel titles, the tick
    labels of the visible axes, legend entries."""
    texts = list(fig.texts)
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        texts += legend.get_texts() if legend is not None else []
    for ax in fig.axes:
        texts.append(ax.title)
        texts += [t for t in ax.texts if t.get_gid() == "panel_title"]
        for axis in (ax.xaxis, ax.yaxis):
            if not (axis.get_visible() and ax.axison):
                continue
            lo, hi = sorted(axis.get_view_interval())
            ticks = axis.get_major_ticks(len(axis.get_majorticklocs()))
            texts += [t.label1 for t in ticks if lo - 1e-9 <= t.get_loc() <= hi + 1e-9]
    return [t for t in texts if t.get_visible() and t.get_text()]


def _own_frames(texts: list, boxes: np.ndarray) -> np.ndarray:
    """Per text: centre (u, v), width and height in the text's own rotated frame.

    A slanted label's axis-aligned box is much larger than the label: neighbouring
    slanted labels' boxes overlap although their glyphs do not. The box of a w x h text
    turned by a (not 45 degrees) has width w|cos a| + h|sin a| and height
    w|sin a| + h|cos a|, which gives w and h back; the centre is the box's.
    """
    frames = []
    for t, (x0, y0, x1, y1) in zip(texts, boxes, strict=True):
        a = np.deg2rad(t.get_rotation())
        c, s = abs(np.cos(a)), abs(np.sin(a))
        w, h = np.linalg.solve([[c, s], [s, c]], [x1 - x0, y1 - y0])
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        frames.append((cx * np.cos(a) + cy * np.sin(a), -cx * np.sin(a) + cy * np.cos(a), w, h))
    return np.array(frames)


def _overlapping(texts: list, boxes: np.ndarray) -> list[tuple[str, str]]:
    """Pairs of texts that overlap by more than half a pixel: in their own frame when
    both are turned by the same angle, else by their axis-aligned boxes."""
    u, v, w, h = _own_frames(texts, boxes).T
    x0, y0, x1, y1 = boxes.T
    rotation = np.array([t.get_rotation() for t in texts])
    same = rotation[:, None] == rotation
    by_frame = ((np.abs(u[:, None] - u) < (w[:, None] + w) / 2 - 0.5)
                & (np.abs(v[:, None] - v) < (h[:, None] + h) / 2 - 0.5))
    by_box = ((np.minimum(x1[:, None], x1) - np.maximum(x0[:, None], x0) > 0.5)
              & (np.minimum(y1[:, None], y1) - np.maximum(y0[:, None], y0) > 0.5))
    overlap = np.where(same, by_frame, by_box)
    return [(texts[i].get_text(), texts[j].get_text())
            for i, j in zip(*np.nonzero(overlap), strict=True) if i < j]


def test_overlap_check_sees_overlaps():
    # The negative control of the layout test below: it can fail.
    fig = Figure(figsize=(3, 2), dpi=90)
    charts.FigureCanvasAgg(fig)
    # the third slanted label's axis-aligned box overlaps the others', its glyphs do not
    texts = [fig.text(0.1, 0.5, "青河镇"), fig.text(0.15, 0.5, "塔克什肯镇"),
             *(fig.text(x, 0.1, name, rotation=40)
               for x, name in [(0.1, "优秀平安家庭"), (0.12, "平安诊所"), (0.3, "平安药店")])]
    renderer = fig.canvas.get_renderer()
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])
    assert _overlapping(texts, boxes) == [("青河镇", "塔克什肯镇"), ("优秀平安家庭", "平安诊所")]
    x0, y0, x1, y1 = boxes[2:].T
    assert (np.minimum(x1[0], x1[2]) > np.maximum(x0[0], x0[2])
            and np.minimum(y1[0], y1[2]) > np.maximum(y0[0], y0[2]))


#: A township name of 130 characters, markup included: no chart may fail or grow for it.
HUGE_NAME = '<img src=x onerror="alert(1)"> $\\frac{$ ' + "布尔根河谷边境口岸镇" * 10


def _huge_named(table: pd.DataFrame, old: str = "青河镇") -> pd.DataFrame:
    return table.replace({"area": {old: HUGE_NAME}})


@pytest.mark.parametrize(("draw", "widest"), [
    pytest.param(lambda: charts.forest_plot(_huge_named(_summary()), HUGE_NAME), 14,
                 id="forest-huge-name"),
    pytest.param(lambda: charts.forest_plot(_huge_named(_summary()), PLAN.county), 14,
                 id="forest-huge-name-county"),
    # 18 in: its title's width, as with short names
    pytest.param(lambda: charts.naming_heatmap(_huge_named(_long_named_county(12).assign(
        source="register"), "布尔根河谷边境00乡")), 18.5, id="heatmap-huge-name"),
    pytest.param(lambda: charts.trend_plot(_huge_named(_long_named_trend(), LONG_NAMES[0]),
                                           HUGE_NAME), 13, id="trend-huge-name"),
    pytest.param(lambda: charts.breakdown_plot(
        _village_breakdown(3).replace({"level": {_village_breakdown(3)["level"][0]:
                                                 HUGE_NAME}}),
        title=f"{HUGE_NAME}：按村"), 13, id="breakdown-huge-name"),
])
def test_a_huge_name_is_shortened_not_fatal(draw, widest):
    """A name of any length is shortened in rows, titles and legends ("…"): every chart
    draws, at its usual size (``widest`` inches at most), and nothing is clipped or
    overlaps."""
    fig = draw()
    test_long_names_are_not_clipped_and_nothing_overlaps(lambda: fig)
    assert fig.get_figwidth() < widest
    texts = [t.get_text() for t in _decorations(fig)]
    assert not [t for t in texts if HUGE_NAME in t]
    assert [t for t in texts if "…" in t]


@pytest.mark.parametrize("draw", [
    pytest.param(lambda: charts.forest_plot(_long_named_county(100), "布尔根河谷边境04乡"),
                 id="forest-100-towns"),
    pytest.param(lambda: charts.forest_plot(_long_named_county(100), PLAN.county),
                 id="forest-100-towns-county"),
    pytest.param(lambda: charts.forest_plot(_long_named_county(12), PLAN.county,
                                            indicators=["awareness"]), id="forest-1-panel"),
    pytest.param(lambda: charts.naming_heatmap(_long_named_county(100)), id="heatmap-100-towns"),
    pytest.param(lambda: charts.breakdown_plot(_village_breakdown(25),
                                               title="布尔根河谷边境口岸镇：按村"),
                 id="breakdown-25-villages"),
    pytest.param(lambda: charts.trend_plot(_long_named_trend(), LONG_NAMES[0]), id="trend"),
])
def test_long_names_are_not_clipped_and_nothing_overlaps(draw):
    fig = draw()
    charts.png_bytes(fig)  # lays out and draws as a report does
    renderer = fig.canvas.get_renderer()
    texts = _decorations(fig)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])
    width, height = fig.bbox.width, fig.bbox.height
    outside = [t.get_text() for t, (x0, y0, x1, y1) in zip(texts, boxes, strict=True)
               if x0 < 0 or y0 < 0 or x1 > width or y1 > height]
    assert outside == []
    assert _overlapping(texts, boxes) == []
    # no title, tick label or legend entry runs into a panel
    x0, y0, x1, y1 = boxes.T
    panels = np.array([ax.bbox.extents for ax in fig.axes if ax.axison])
    into = ((np.minimum(x1[:, None], panels[:, 2]) - np.maximum(x0[:, None], panels[:, 0]) > 0.5)
            & (np.minimum(y1[:, None], panels[:, 3]) - np.maximum(y0[:, None], panels[:, 1])
               > 0.5))
    assert [texts[i].get_text() for i in np.flatnonzero(into.any(axis=1))] == []


def test_county_charts_of_a_large_county_show_the_spread_and_those_furthest_behind():
    many = _long_named_county(charts.COUNTY_FULL_ROWS + 10)
    fig = charts.forest_plot(many, PLAN.county)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    survey = official_rows(many[many["source"] == "survey"], PLAN)
    lowest = lowest_townships(survey, charts.COUNTY_LOWEST)
    assert rows[:2] == [PLAN.county, f"全部{charts.COUNTY_FULL_ROWS + 10}个乡镇"]
    assert rows[2:] == [charts.layout.short_name(t) for t in lowest]
    assert "离目标最远的30个" in fig.texts[0].get_text()
    # the worst township is furthest below its target among all, not only those shown
    margin = (survey["estimate"] - survey["target"]).groupby(survey["area"]).min()
    margin = margin.drop(PLAN.county)
    assert margin[lowest[0]] == margin.min()
    assert margin[lowest].max() <= margin.drop(lowest).min()
    heat = charts.naming_heatmap(many)
    towns = [t.get_text() for t in heat.axes[0].get_yticklabels()]
    assert len(towns) == charts.HEATMAP_MAX_ROWS
    assert "显示离目标最远的40个" in heat.axes[0].get_title()


def test_breakdown_plot_draws_an_estimate_just_outside_its_interval():
    # a table made elsewhere (the village model's own intervals now hold their estimates,
    # fay_herriot): drawn, with no whisker on the far side
    t = pd.DataFrame({"level": ["甲村", "乙村"], "indicator": "awareness", "name_zh": "知晓率",
                      "estimate": [0.995, 0.93], "ci_low": [0.97, 0.90],
                      "ci_high": [0.994, 0.96], "target": 0.95, "flag": "ok"})
    fig = charts.breakdown_plot(t, title="测试乡：按村")
    assert len(fig.axes[0].collections) >= 1
