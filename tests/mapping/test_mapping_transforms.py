"""Every transform, both ways, on real Japanese data."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei.mapping import FieldValueError, Transform, TransformArgsError, register_transform
from renkei.mapping.transforms import TRANSFORMS, _japanese_fast_path, build_transform, identity


def hub(name: str, value: Any, /, **args: Any) -> Any:
    return build_transform(name, args).to_hub(value)


def system(name: str, value: Any, /, **args: Any) -> Any:
    return build_transform(name, args).to_system(value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("trim", "\u3000 山田 太郎 \t", "山田 太郎"),
        ("lower", "Taro@Example.CO.JP", "taro@example.co.jp"),
        ("upper", "abc-123", "ABC-123"),
        ("nfkc", "ＡＢＣ ｶﾀｶﾅ ０３－１２３４", "ABC カタカナ 03-1234"),
        ("kana", "やまだ ﾀﾛｳ ｶﾞｯｺｳ", "ヤマダ タロウ ガッコウ"),
        ("company_name", "(株)サクラ精機", "株式会社サクラ精機"),
        ("company_name", "（株）サクラ精機", "株式会社サクラ精機"),
        ("company_name", "㈱ｻｸﾗ精機", "株式会社サクラ精機"),
        ("company_name", "サクラ精機 ㈱", "サクラ精機株式会社"),
        ("company_name", "(有)山田商店", "有限会社山田商店"),
        ("company_name", "㈲山田商店", "有限会社山田商店"),
        ("company_name", "(同)ミドリ", "合同会社ミドリ"),
        ("company_name", "株式会社　 サクラ精機", "株式会社サクラ精機"),
        ("company_name", "ＡＢＣ  Holdings (株)", "ABC Holdings 株式会社"),
        ("collapse_spaces", " 東京都　 千代田区 ", "東京都 千代田区"),
    ],
)
def test_text_transforms_normalise_inbound_and_are_identity_outbound(
    name: str, value: str, expected: str
) -> None:
    assert hub(name, value) == expected
    assert system(name, expected) == expected


def test_text_transforms_leave_non_text_alone() -> None:
    assert hub("trim", 12) == 12
    assert hub("company_name", ["x"]) == ["x"]


@pytest.mark.parametrize(
    "value", ["03-1234-5678", "０３－１２３４－５６７８", "(03) 1234 5678", "+81 3 1234 5678",
              "0312345678"])
def test_phone_to_e164(value: str) -> None:
    assert hub("phone", value) == "+81312345678"


def test_phone_mobile_and_other_region() -> None:
    assert hub("phone", "090-1234-5678") == "+819012345678"
    assert hub("phone", "(415) 555-2671", region="US") == "+14155552671"


def test_phone_outbound_formats() -> None:
    assert system("phone", "+81312345678") == "+81312345678"
    assert system("phone", "+81312345678", format="national") == "03-1234-5678"
    assert system("phone", "+81312345678", format="international") == "+81 3-1234-5678"


@pytest.mark.parametrize("value", ["電話番号なし", "12", "abc-defg"])
def test_unparseable_phone_is_a_field_error_without_the_value(value: str) -> None:
    with pytest.raises(FieldValueError) as caught:
        hub("phone", value)
    assert value not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("2024/01/02 10:00", "Asia/Tokyo", "2024-01-02T01:00:00Z"),
        ("2024/01/02 10:00 JST", None, "2024-01-02T01:00:00Z"),
        ("2024-01-02T10:00:00+09:00", None, "2024-01-02T01:00:00Z"),
        ("2024-01-02T10:00:00+09:00", "America/New_York", "2024-01-02T01:00:00Z"),
        ("2024-01-02 01:00:00.123456Z", None, "2024-01-02T01:00:00Z"),
        ("2024-01-05T09:30:00.000+0000", None, "2024-01-05T09:30:00Z"),
        ("2024年1月2日 10時00分", "Asia/Tokyo", "2024-01-02T01:00:00Z"),
        ("２０２４／０１／０２　１０：００", "Asia/Tokyo", "2024-01-02T01:00:00Z"),
        ("2024-01-02", "Asia/Tokyo", "2024-01-01T15:00:00Z"),
        (1704157200, None, "2024-01-02T01:00:00Z"),
        (1704157200000, None, "2024-01-02T01:00:00Z"),
        ("1704157200000", None, "2024-01-02T01:00:00Z"),
    ],
)
def test_datetime_to_canonical_utc(value: Any, tz: str | None, expected: str) -> None:
    args = {"tz": tz} if tz else {}
    assert hub("datetime", value, **args) == expected


def test_datetime_outbound() -> None:
    assert system("datetime", "2024-01-02T01:00:00Z") == "2024-01-02T01:00:00Z"
    assert system("datetime", "2024-01-02T01:00:00Z", tz="Asia/Tokyo") == \
        "2024-01-02T10:00:00+09:00"
    assert system("datetime", "2024-01-02T01:00:00Z", tz="Asia/Tokyo",
                  format="%Y/%m/%d %H:%M") == "2024/01/02 10:00"


@pytest.mark.parametrize("value", ["昨日", "2024-13-01 10:00", "2024-02-30", True, [1]])
def test_bad_datetime_is_a_field_error(value: Any) -> None:
    with pytest.raises(FieldValueError):
        hub("datetime", value)


@pytest.mark.parametrize("value", ["2024-01-02", "2024/01/02", "2024/1/2", "2024年1月2日",
                                   "2024-01-02T23:59:59+09:00"])
def test_date(value: str) -> None:
    assert hub("date", value) == "2024-01-02"


def test_date_outbound_format() -> None:
    assert system("date", "2024-01-02") == "2024-01-02"
    assert system("date", "2024-01-02", format="%Y/%m/%d") == "2024/01/02"
    with pytest.raises(FieldValueError):
        hub("date", "来週")


@pytest.mark.parametrize(("value", "expected"), [
    ("12", 12), (12.0, 12), ("1,200", 1200), ("１２００", 1200), (" 7 ", 7), ("12.0", 12), (-3, -3)])
def test_integer(value: Any, expected: int) -> None:
    result = hub("integer", value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", ["abc", 12.5, "12.5", True, [1]])
def test_integer_rejects(value: Any) -> None:
    with pytest.raises(FieldValueError):
        hub("integer", value)


@pytest.mark.parametrize(("value", "expected"), [
    ("12.5", 12.5), ("1,200,000", 1200000), (12.0, 12), ("４５．５", 45.5), (3, 3)])
def test_number(value: Any, expected: float) -> None:
    assert hub("number", value) == expected
    assert type(hub("number", value)) is type(expected)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", False, {}])
def test_number_rejects(value: Any) -> None:
    with pytest.raises(FieldValueError):
        hub("number", value)


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("true", True), ("TRUE", True), (1, True), ("1", True), ("はい", True),
    ("○", True), ("yes", True), (False, False), ("false", False), (0, False), ("0", False),
    ("いいえ", False), ("×", False), ("no", False), ("ｎｏ", False)])
def test_boolean(value: Any, expected: bool) -> None:
    assert hub("boolean", value) is expected


def test_boolean_rejects_and_formats_outbound() -> None:
    with pytest.raises(FieldValueError):
        hub("boolean", "たぶん")
    with pytest.raises(FieldValueError):
        hub("boolean", 2)
    assert system("boolean", True) is True
    assert system("boolean", False, true="はい", false="いいえ") == "いいえ"


def test_split_and_join_are_inverse() -> None:
    assert hub("split", "a@x.jp, b@x.jp,,") == ["a@x.jp", "b@x.jp"]
    assert system("split", ["a@x.jp", "b@x.jp"]) == "a@x.jp,b@x.jp"
    assert hub("split", "製造;小売", separator=";") == ["製造", "小売"]
    assert hub("join", ["製造", "小売"], separator="・") == "製造・小売"
    assert system("join", "製造・小売", separator="・") == ["製造", "小売"]


def test_prefix_and_strip_prefix() -> None:
    assert hub("prefix", "p-1", value="zoom:") == "zoom:p-1"
    assert hub("prefix", 17, value="zoom:") == "zoom:17"
    assert system("prefix", "zoom:p-1", value="zoom:") == "p-1"
    assert hub("strip_prefix", "sf:00Q1", value="sf:") == "00Q1"
    assert system("strip_prefix", "00Q1", value="sf:") == "sf:00Q1"


@pytest.mark.parametrize(("name", "args", "message"), [
    ("trim", {"x": 1}, "transform 'trim' has no argument 'x' (accepts: no arguments)"),
    ("phone", {"region": "XX"}, "transform 'phone': unknown region 'XX'"),
    ("phone", {"region": 81}, "transform 'phone': argument 'region' has the wrong type"),
    ("datetime", {"tz": "Asia"}, "transform 'datetime': unknown time zone 'Asia'"),
    ("datetime", {"tz": "../../etc/passwd"},
     "transform 'datetime': unknown time zone '../../etc/passwd'"),
    ("split", {"separator": ""}, "transform 'split': separator must not be empty"),
    ("prefix", {}, "transform 'prefix' needs a non-empty 'value' argument"),
])
def test_bad_arguments(name: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(TransformArgsError) as caught:
        build_transform(name, args)
    assert str(caught.value) == message


def test_a_partner_can_register_a_transform() -> None:
    def reverse(args: Any) -> Transform:
        return Transform(lambda v: v[::-1], identity)

    register_transform("test_reverse", reverse)
    try:
        assert hub("test_reverse", "abc") == "cba"
    finally:
        del TRANSFORMS["test_reverse"]


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(alphabet="0123456789", min_size=9, max_size=12),
       st.sampled_from(["", "-", " "]), st.integers(1, 5), st.booleans())
def test_japanese_phone_fast_path_agrees_with_phonenumbers(
    digits: str, separator: str, cut: int, international: bool
) -> None:
    text = f"+81{digits[1:]}" if international else \
        "0" + digits[1:cut] + separator + digits[cut:]
    fast = _japanese_fast_path(text)
    if fast is not None:
        assert fast == phonenumbers.format_number(
            phonenumbers.parse(text, "JP"), phonenumbers.PhoneNumberFormat.E164)
        assert phonenumbers.is_possible_number(phonenumbers.parse(text, "JP"))
