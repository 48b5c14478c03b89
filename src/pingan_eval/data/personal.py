"""Personal data in a survey wave: which columns hold it, and which columns are dropped.

A wave may carry names, phone numbers, ID-card numbers and the like. They stay in the raw
file; no output (processed data, ``rejected.csv``, reports, ``.failed/``) ever holds them.
Columns are recognised by their normalised name (:func:`is_personal_column`), and, more
strictly, only the documented wave columns may reach an output at all
(:func:`dropped_columns` lists the others, by name only, for the validation report).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["PII_COLUMNS", "dropped_columns", "is_personal_column"]

#: Personal-data columns named in the documentation (``is_personal_column`` finds others).
PII_COLUMNS = ("name", "phone", "id_card", "姓名", "电话", "手机", "手机号", "身份证", "身份证号")

#: Pieces of a column name (NFKC, case-folded) that mark personal data: Chinese anywhere
#: in the name, English ones as a word of it (``respondent_id`` is not an ID number).
_PII_ZH = ("姓名", "名字", "名称", "电话", "手机", "身份证", "证件", "联系方式", "住址", "地址",
           "户主", "签名", "护照", "微信", "邮箱")
_PII_WORDS = {"name", "names", "fullname", "firstname", "lastname", "surname", "phone",
              "telephone", "cellphone", "mobile", "tel", "cell", "contact", "idcard",
              "idno", "idnumber", "passport", "address", "email", "wechat", "qq", "signature"}
_PII_NAMES = {"id", "id_card", "id_no", "id_number", "phone_number", "mobile_number"}
_WORD = re.compile(r"[a-z]+")


def is_personal_column(name: str) -> bool:
    """Whether a column name looks like personal data (name, phone, ID card, address, ...).

    The name is NFKC-normalised (full-width ``ＮＡＭＥ`` is ``NAME``) and case-folded; it
    is personal when it contains a Chinese marker (姓名, 名字, 电话, 手机, 身份证, 证件, ...),
    has an English marker as a word (``Name``, ``mobile``, ``Tel``, ``Phone Number``),
    or is an ID column (``ID``, ``id_card``, ``ID No``).

    Examples
    --------
    >>> [is_personal_column(c) for c in ["户主姓名", "ＮＡＭＥ", "ID", "respondent_id", "hotel"]]
    [True, True, True, False, False]
    """
    key = unicodedata.normalize("NFKC", name).casefold().strip()
    if any(z in key for z in _PII_ZH):
        return True
    joined = re.sub(r"[\s\-.]+", "_", key)
    if joined in _PII_NAMES or joined.replace("_", "") in _PII_WORDS:
        return True
    return any(w in _PII_WORDS for w in _WORD.findall(key))


def dropped_columns(columns: Iterable[str], allowed: Iterable[str]) -> dict[str, list[str]]:
    """Names (never values) of the columns kept out of every output, for the report:
    ``personal`` (:func:`is_personal_column`) and ``other`` (not documented), sorted.
    """
    allowed = set(allowed)
    out: dict[str, list[str]] = {"personal": [], "other": []}
    for col in columns:
        if col in allowed and not is_personal_column(col):
            continue
        if col != "_extra_cells":  # surplus cells: a row problem, not a column
            out["personal" if is_personal_column(col) else "other"].append(col)
    return {kind: sorted(names) for kind, names in out.items()}
