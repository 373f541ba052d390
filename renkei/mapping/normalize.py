"""Japanese text helpers and the match-key normalisers.

Match keys decide whether two records are the same person or company, so a normaliser folds
every spelling people actually use into one key: full/half width (ＡＢＣ, ｶﾀｶﾅ), the legal-form
variants of a company name (株式会社 / (株) / （株） / ㈱), spaces and case.

Example:
    >>> normalize_key("company", "(株)ｻｸﾗ精機") == normalize_key("company", "サクラ精機株式会社")
    True
    >>> normalize_key("email", " Taro@Example.CO.JP ")
    'taro@example.co.jp'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import phonenumbers

#: Abbreviated legal forms (after NFKC, so ㈱ and （株） are already "(株)") → spelled out.
LEGAL_FORM_ABBREVIATIONS: dict[str, str] = {
    "株": "株式会社",
    "有": "有限会社",
    "同": "合同会社",
    "名": "合名会社",
    "資": "合資会社",
}
LEGAL_FORMS: tuple[str, ...] = tuple(dict.fromkeys(LEGAL_FORM_ABBREVIATIONS.values()))

_ABBREVIATION = re.compile(r"\(\s*([" + "".join(LEGAL_FORM_ABBREVIATIONS) + r"])\s*\)")
_FORMS = "|".join(LEGAL_FORMS)
_SPACE_AFTER_FORM = re.compile(rf"^({_FORMS})\s+(?=[^\x00-\x7f])")
_SPACE_BEFORE_FORM = re.compile(rf"(?<=[^\x00-\x7f])\s+({_FORMS})$")
_LEGAL_WORDS = re.compile(
    rf"{_FORMS}|\b(?:co\.?\s*,?\s*ltd\.?|inc\.?|corp\.?|corporation|llc|k\.\s*k\.|kk|ltd\.?"
    r"|limited)(?=\W|$)",
)
_HALF_WIDTH_KANA = re.compile(r"[\uff61-\uff9f]+")
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_HIRAGANA_TO_KATAKANA.update({0x309D: 0x30FD, 0x309E: 0x30FE})


def nfkc(text: str) -> str:
    """Unicode NFKC: ＡＢＣ → ABC, ０３ → 03, ｶﾀｶﾅ → カタカナ, ㈱ → (株)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def collapse_spaces(text: str) -> str:
    """Trim and turn every run of white space (ideographic spaces too) into one space."""
    return " ".join(text.split())


def to_katakana(text: str) -> str:
    """Hiragana and half-width katakana → full-width katakana; other characters unchanged.

    Example:
        >>> to_katakana("さくら ｻｸﾗ ｶﾞ")
        'サクラ サクラ ガ'
    """
    if _HALF_WIDTH_KANA.search(text):
        text = _HALF_WIDTH_KANA.sub(lambda m: nfkc(m.group(0)), text)
    return text.translate(_HIRAGANA_TO_KATAKANA)


def company_name(text: str) -> str:
    """Canonical company name: NFKC, spaces collapsed, legal forms spelled out in place.

    Example:
        >>> company_name("（株）サクラ精機"), company_name("ｻｸﾗ精機㈱")
        ('株式会社サクラ精機', 'サクラ精機株式会社')
    """
    text = collapse_spaces(nfkc(text))
    if "(" in text:
        text = _ABBREVIATION.sub(lambda m: LEGAL_FORM_ABBREVIATIONS[m.group(1)], text)
    if " " in text:
        text = _SPACE_AFTER_FORM.sub(r"\1", text)
        text = _SPACE_BEFORE_FORM.sub(r"\1", text)
        text = collapse_spaces(text)
    return text


# Match keys are pure functions of the text, and company names repeat across a company's
# leads; the cache spares the per-character Unicode walk (~8 µs a name).
@lru_cache(maxsize=16384)
def company_key(text: str) -> str:
    """Matching key of a company name: legal forms dropped, no spaces or punctuation.

    株式会社サクラ精機, (株)サクラ精機, ㈱ｻｸﾗ精機 and サクラ精機株式会社 all give ``サクラ精機``.
    """
    text = company_name(text).casefold()
    text = _LEGAL_WORDS.sub(" ", text)
    return "".join(ch for ch in nfkc(text) if _keeps(ch))


def _keeps(ch: str) -> bool:
    category = unicodedata.category(ch)
    return not (category[0] in "PZ" or category[0] == "S" or category == "Cc")


def text_key(text: str) -> str:
    """NFKC, trimmed, inner spaces collapsed, case folded."""
    return collapse_spaces(nfkc(text)).casefold()


def email_key(text: str) -> str:
    """NFKC, trimmed, lower case."""
    return nfkc(text).strip().lower()


@lru_cache(maxsize=16384)
def kana_key(text: str) -> str:
    """Full-width katakana with no spaces."""
    return "".join(to_katakana(nfkc(text)).split())


def phone_key(text: str, region: str = "JP") -> str:
    """E.164 (``+81312345678``) when the number parses; else only its digits."""
    text = nfkc(text)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "".join(ch for ch in text if ch.isdigit())


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": email_key,
    "company": company_key,
    "phone": phone_key,
    "text": text_key,
    "kana": kana_key,
    "none": lambda text: text,
}
"""Match-key normalisers by name; ``none`` keeps the value as it is."""


def register_normalizer(name: str, function: Callable[[str], str]) -> None:
    """Add a match-key normaliser that mapping files can name in ``match[].normalize``."""
    NORMALIZERS[name] = function


def normalize_key(name: str, value: Any) -> str | None:
    """Normalise one field value for matching; ``None`` when it is blank.

    Raises:
        KeyError: ``name`` is not a registered normaliser.
    """
    function = NORMALIZERS[name]
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = value if isinstance(value, str) else str(value)
    key = function(text)
    return key if key and not key.isspace() else None
