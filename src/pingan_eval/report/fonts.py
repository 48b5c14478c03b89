"""A font that can draw Chinese, on any machine, or a clear warning that there is none.

matplotlib's default font (DejaVu Sans) has no hanzi: without help every Chinese title
becomes a row of empty boxes. :func:`setup_cjk_font` picks an installed CJK font (the usual
ones of Windows, macOS and Linux), else registers the subset of Noto Sans CJK SC shipped in
``pingan_eval/report/assets/fonts/`` (GB2312, SIL Open Font License; made by
``tools/make_cjk_subset.py``), and warns when neither is available.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

from pingan_eval import paths

#: Installed CJK families tried in order; the running platform's own fonts come first.
SYSTEM_CJK_FONTS: dict[str, tuple[str, ...]] = {
    "win32": ("Microsoft YaHei", "SimHei"),
    "darwin": ("PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti"),
    "linux": ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
              "WenQuanYi Zen Hei", "Droid Sans Fallback"),
}

#: The bundled fallback (GB2312 + ASCII): path and family name.
BUNDLED_FONT: Path = paths.FONTS_DIR / "PinganEvalSansSC-Subset.ttf"
BUNDLED_FAMILY = "PinganEval Sans SC"


class CJKFontWarning(UserWarning):
    """No font that covers Chinese is available: Chinese text will render as boxes."""


def default_candidates(platform: str | None = None) -> tuple[str, ...]:
    """Candidate CJK families, those of ``platform`` (default: this one) first.

    Examples
    --------
    >>> default_candidates("win32")[:2]
    ('Microsoft YaHei', 'SimHei')
    >>> len(default_candidates("linux")) == sum(map(len, SYSTEM_CJK_FONTS.values()))
    True
    """
    platform = platform or sys.platform
    own = next((k for k in SYSTEM_CJK_FONTS if platform.startswith(k)), "linux")
    others = [f for k, fams in SYSTEM_CJK_FONTS.items() if k != own for f in fams]
    return SYSTEM_CJK_FONTS[own] + tuple(others)


def setup_cjk_font(
    candidates: Sequence[str] | None = None,
    bundled: str | Path | None = BUNDLED_FONT,
) -> str:
    """Make matplotlib draw Chinese text; return the CJK font family chosen.

    Parameters
    ----------
    candidates : sequence of str, optional
        Installed font families to try, in order. Default :func:`default_candidates`
        (Windows: Microsoft YaHei, SimHei; macOS: PingFang SC, Hiragino Sans GB, Heiti SC,
        STHeiti; Linux: Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro/Zen Hei,
        Droid Sans Fallback). Pass ``()`` to skip system fonts.
    bundled : path or None
        Fallback font file registered when no candidate is installed (default: the
        bundled GB2312 subset of Noto Sans CJK SC). ``None`` disables the fallback.

    Returns
    -------
    str
        The family put first in ``rcParams["font.sans-serif"]``. When no CJK font is
        available, the unchanged first sans-serif family (with a warning).

    Warns
    -----
    CJKFontWarning
        (a ``UserWarning``) when neither a candidate nor the bundled font is available:
        Chinese text would render as boxes.

    Notes
    -----
    Changes matplotlib's global ``rcParams``: ``font.family`` becomes ``sans-serif``, the
    chosen family is put first in ``font.sans-serif`` (the other families stay behind it
    for matplotlib's per-glyph fallback), and ``axes.unicode_minus`` is switched off
    because several CJK fonts lack U+2212. Calling it again is cheap and idempotent.

    Every weight the chosen family lacks (the bundled subset has only the regular one,
    WenQuanYi Micro Hei too) is registered as its nearest face: a bold title then prints
    in the regular weight instead of matplotlib logging ``findfont: Failed to find font
    weight bold`` into every report (a stderr box under each chart).

    Examples
    --------
    >>> family = setup_cjk_font()
    >>> import matplotlib
    >>> matplotlib.rcParams["font.sans-serif"][0] == family
    True
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    chosen = next((f for f in (default_candidates() if candidates is None else candidates)
                   if f in installed), None)
    if chosen is None and bundled is not None and Path(bundled).is_file():
        bundled = Path(bundled)
        if not any(Path(f.fname) == bundled for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(str(bundled))
        chosen = font_manager.FontProperties(fname=str(bundled)).get_name()
    if chosen is not None:
        _alias_weights(chosen)
    if chosen is None:
        warnings.warn(
            "no CJK font found; Chinese text will render as boxes; install one (Linux: "
            "`apt-get install fonts-noto-cjk` or `fonts-wqy-microhei`; Windows: Microsoft "
            "YaHei; macOS: PingFang SC) or reinstall pingan-eval, whose bundled font "
            f"{BUNDLED_FONT.name} is missing",
            CJKFontWarning,
            stacklevel=2,
        )
        return str(mpl.rcParams["font.sans-serif"][0])
    rest = [f for f in mpl.rcParams["font.sans-serif"] if f != chosen]
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["font.sans-serif"] = [chosen, *rest]
    mpl.rcParams["axes.unicode_minus"] = False
    return chosen


def _alias_weights(family: str) -> None:
    """Register a face of ``family`` for every CSS weight (100-900) it lacks: the nearest.

    matplotlib picks the nearest weight anyway, but logs a warning each time it does;
    with the aliases the lookup is exact and silent. Idempotent.
    """
    manager = font_manager.fontManager
    faces = [f for f in manager.ttflist if f.name == family]
    if not faces:
        return
    have = {_weight(f.weight) for f in faces}
    for weight in range(100, 1000, 100):
        if weight not in have:
            nearest = min(faces, key=lambda f: (abs(_weight(f.weight) - weight),
                                                -_weight(f.weight) if weight >= 600
                                                else _weight(f.weight)))
            manager.ttflist.append(dataclasses.replace(nearest, weight=weight))
    cached = getattr(manager, "_findfont_cached", None)  # cleared as addfont clears it
    if cached is not None:
        cached.cache_clear()


def _weight(weight: int | str) -> int:
    """A font weight as a number (``"bold"`` -> 700), as matplotlib compares them."""
    return int(weight) if isinstance(weight, int | float) else font_manager.weight_dict[weight]
