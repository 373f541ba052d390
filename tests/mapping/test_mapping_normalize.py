"""Match-key normalisers: every spelling people use gives one key."""

from __future__ import annotations

from typing import Any

import pytest

from renkei.mapping import normalize_key, register_normalizer
from renkei.mapping.normalize import NORMALIZERS, company_name, to_katakana

SAKURA = ["株式会社サクラ精機", "(株)サクラ精機", "（株）サクラ精機", "㈱ｻｸﾗ精機", "サクラ精機株式会社",
          "サクラ精機 ㈱", "株式会社 サクラ精機", "ｻｸﾗ精機(株)", "サクラ精機"]


def test_company_key_folds_legal_forms_width_and_spaces() -> None:
    assert {normalize_key("company", name) for name in SAKURA} == {"サクラ精機"}


def test_company_key_folds_other_legal_forms_and_latin_names() -> None:
    assert normalize_key("company", "有限会社 山田商店") == normalize_key("company", "㈲山田商店")
    assert normalize_key("company", "合同会社ミドリ") == normalize_key("company", "ミドリ(同)")
    assert normalize_key("company", "Sakura Seiki Co., Ltd.") == "sakuraseiki"
    assert normalize_key("company", "ＳＡＫＵＲＡ　ＳＥＩＫＩ") == "sakuraseiki"
    assert normalize_key("company", "Incubate Fund Inc.") == "incubatefund"


def test_company_key_keeps_different_companies_apart() -> None:
    assert normalize_key("company", "サクラ精機") != normalize_key("company", "サクラ精工")


def test_email_key() -> None:
    assert normalize_key("email", " Taro@Example.CO.JP ") == "taro@example.co.jp"
    assert normalize_key("email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ") == "taro@example.jp"


def test_phone_key_is_e164() -> None:
    assert normalize_key("phone", "０３－１２３４－５６７８") == "+81312345678"
    assert normalize_key("phone", "03 (1234) 5678") == "+81312345678"
    assert normalize_key("phone", "内線 12") == "12"
    assert normalize_key("phone", "なし") is None


def test_text_key() -> None:
    assert normalize_key("text", "  Ｙａｍａｄａ　　Taro ") == "yamada taro"
    assert normalize_key("text", "山田") == "山田"


def test_kana_key() -> None:
    assert normalize_key("kana", "やまだ たろう") == "ヤマダタロウ"
    assert normalize_key("kana", "ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダタロウ"
    assert normalize_key("kana", "ヤマダ　タロウ") == "ヤマダタロウ"


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000"])
def test_blank_gives_no_key(value: Any) -> None:
    for name in NORMALIZERS:
        assert normalize_key(name, value) is None


def test_none_keeps_value_and_non_text_is_stringified() -> None:
    assert normalize_key("none", " A ") == " A "
    assert normalize_key("text", 12.0) == "12"
    assert normalize_key("text", True) == "true"


def test_helpers() -> None:
    assert to_katakana("ひらがな ﾊﾝｶｸ") == "ヒラガナ ハンカク"
    assert company_name("  ㈱　ｻｸﾗ  精機 ") == "株式会社サクラ 精機"


def test_register_normalizer() -> None:
    register_normalizer("test_digits", lambda s: "".join(c for c in s if c.isdigit()))
    try:
        assert normalize_key("test_digits", "〒100-0001") == "1000001"
    finally:
        del NORMALIZERS["test_digits"]
