"""Build the bundled CJK fallback font (report/assets/fonts/PinganEvalSansSC-Subset.ttf).

One-off tool; not run by the package or its tests. It needs Debian's ``fonts-noto-cjk``
(``apt-get install -y fonts-noto-cjk``) and fontTools (a matplotlib dependency):

    .venv/bin/python tools/make_cjk_subset.py

The source is Noto Sans CJK SC Regular (SIL Open Font License 1.1). The subset keeps
ASCII, Latin-1 punctuation, the whole GB2312 character set (all 6,763 hanzi, CJK
punctuation, full-width forms) and a few extra symbols the reports use. The CFF outlines
are converted to quadratic TrueType (glyf) outlines so every matplotlib backend can embed
the font, and the family is renamed ("PinganEval Sans SC") so that it is never mistaken
for the full system font (the OFL also asks modified versions to be renamed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, newTable

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_INDEX = 2  # Noto Sans CJK SC in the collection (JP, KR, SC, TC, HK, ...)
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "pingan_eval" / "report" / "assets" / "fonts" / "PinganEvalSansSC-Subset.ttf"
FAMILY = "PinganEval Sans SC"
EXTRA = "≥≤±×÷—–…·•‰℃№→←↑↓≈≠％（）【】《》“”‘’、。，；：！？"  # report symbols


def gb2312_characters() -> set[str]:
    """Every character GB2312 encodes (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def to_truetype(font) -> None:
    """Replace the CFF table by quadratic glyf outlines (as fontTools' otf2ttf snippet)."""
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in glyph_order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                 "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                 "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    maxp.compile(font)
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = glyph_order
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font) -> None:
    names = {1: FAMILY, 4: f"{FAMILY} Regular", 6: "PinganEvalSansSC-Regular",
             3: f"{FAMILY} Regular (subset of Noto Sans CJK SC 2.004)", 16: FAMILY}
    table = font["name"]
    for record in list(table.names):
        if record.nameID in (17,) or (record.nameID in names and record.platformID != 3):
            table.removeNames(nameID=record.nameID, platformID=record.platformID)
    for name_id, value in names.items():
        table.setName(value, name_id, 3, 1, 0x409)
    table.names = [r for r in table.names if r.platformID == 3 and r.langID == 0x409]


def main() -> int:
    chars = gb2312_characters() | {chr(c) for c in range(0x20, 0x7F)} | set(EXTRA)
    hanzi = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
    font = TTCollection(SOURCE).fonts[SOURCE_INDEX]
    options = subset.Options()
    options.layout_features = ["kern", "vert", "locl"]
    options.hinting = False
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 16]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    to_truetype(font)
    rename(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB, {len(chars)} characters, "
          f"{len(hanzi)} hanzi", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
