"""The seed data: deterministic, streaming, unique, and spelled like real Japanese data."""

from __future__ import annotations

import itertools
import re
import time
import unicodedata
from collections import Counter

import phonenumbers
import pytest

from sandbox.seed import (
    GIVEN_NAMES,
    PREFECTURES,
    SURNAMES,
    Company,
    companies,
    demo_split,
    people,
    to_fullwidth_alnum,
    to_halfwidth_kana,
)

KATAKANA = re.compile(r"^[\u30A0-\u30FF]+$")


def _normalise_company(name: str) -> str:
    """What a hub's company matching is expected to do (NFKC, legal form removed)."""
    text = unicodedata.normalize("NFKC", name).replace(" ", "")
    for form in ("株式会社", "(株)", "有限会社", "(有)", "合同会社", "(同)"):
        text = text.replace(form, "")
    return text


def test_companies_are_deterministic_and_unique() -> None:
    first, again, other = companies(), companies(42), companies(7)
    assert first == again and first != other
    assert 200 <= len(first) <= 500
    assert len({c.name for c in first}) == len({c.domain for c in first}) == len(first)
    assert all(re.fullmatch(r"[a-z0-9-]+\.(co\.)?jp", c.domain) for c in first)
    assert {
        "製造業",
        "情報通信業",
        "卸売業",
        "小売業",
        "金融業",
        "不動産業",
        "サービス業",
        "建設業",
    } <= {c.industry for c in first}
    assert all(
        c.prefecture in PREFECTURES and c.employees > 0 and c.annual_revenue > 0 for c in first
    )


def test_company_variants_cover_the_usual_spellings() -> None:
    by_name = {c.name: c for c in companies()}
    variants = [v for c in by_name.values() for v in c.name_variants]
    assert any(v.startswith("(株)") for v in variants) and any(v.startswith("㈱") for v in variants)
    assert any(v.endswith("株式会社") for v in variants)
    assert any(re.search("[\uff66-\uff9f]", v) for v in variants)  # half-width katakana
    assert any(re.search("[\uff21-\uff3a]", v) for v in variants)  # full-width Latin letters
    for company in by_name.values():
        assert company.name not in company.name_variants
        assert {_normalise_company(v) for v in company.name_variants} == {
            _normalise_company(company.name)
        }


def test_width_helpers() -> None:
    assert to_halfwidth_kana("サクラ精機") == "ｻｸﾗ精機"
    assert to_halfwidth_kana("ガンダム・ピース") == "ｶﾞﾝﾀﾞﾑ･ﾋﾟｰｽ"
    assert to_fullwidth_alnum("ABC商事1") == "ＡＢＣ商事１"
    assert unicodedata.normalize("NFKC", to_halfwidth_kana("ヴァイオリン")) == "ヴァイオリン"


def test_name_lists_are_large_and_read_in_katakana() -> None:
    assert len(SURNAMES) >= 50 and len(GIVEN_NAMES) >= 50
    for kanji, kana, romaji in (*SURNAMES, *GIVEN_NAMES):
        assert KATAKANA.match(kana) and re.fullmatch("[a-z]+", romaji) and kanji
    assert ("佐藤", "サトウ", "sato") in SURNAMES


def test_people_are_deterministic_and_stream_by_offset() -> None:
    fifteen = list(people(15))
    assert list(people(10, offset=5)) == fifteen[5:]
    assert list(people(15, seed=42)) == fifteen
    assert list(people(15, seed=43)) != fifteen
    assert [p.index for p in fifteen] == list(range(15))
    far = next(people(1, offset=999_999))
    assert far == next(people(1, offset=999_999)) and far.index == 999_999


def test_people_is_a_lazy_generator() -> None:
    stream = people(1_000_000)
    assert len(list(itertools.islice(stream, 3))) == 3  # nothing forces the other 999,997


def test_people_fields_look_japanese_and_valid() -> None:
    sample = list(people(3000, offset=123_456))
    for p in sample:
        assert KATAKANA.match(p.last_name_kana) and KATAKANA.match(p.first_name_kana)
        assert re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+", p.email) and p.email.endswith(
            "@" + p.company.domain
        )
        assert re.fullmatch(r"\d{3}-\d{4}", p.postal_code)
        assert (
            re.fullmatch(r"0\d{1,3}-\d{2,4}-\d{4}", p.phone) and len(p.phone.replace("-", "")) == 10
        )
        assert re.fullmatch(r"0[789]0-\d{4}-\d{4}", p.mobile)
        for number in (p.phone, p.mobile):
            assert phonenumbers.is_valid_number(phonenumbers.parse(number, "JP")), number
        assert p.prefecture in PREFECTURES and p.city
        assert p.lead_source in {
            "セミナー",
            "展示会",
            "資料請求",
            "問い合わせ",
            "トライアル",
            "ウェビナー",
            "紹介",
        }
        assert 0 <= p.lead_score <= 200
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p.created_at)
        assert "2025-10-31" <= p.created_at < "2026-11-01"
    prefectures = Counter(p.prefecture for p in sample)
    assert [name for name, _ in prefectures.most_common(1)] == ["東京都"]
    assert prefectures["大阪府"] > prefectures["鳥取県"]
    assert 0.7 < sum(p.consent for p in sample) / len(sample) < 0.95
    assert len({p.title for p in sample}) >= 8 and len({p.department for p in sample}) >= 8
    assert len({p.created_at[:7] for p in sample}) >= 12  # spread over the year


def test_emails_are_unique_in_100k_and_fast() -> None:
    # CPU time of this thread: neither other processes nor other tests' server threads count
    started = time.thread_time()
    emails = [p.email for p in people(100_000)]
    elapsed = time.thread_time() - started
    assert len(set(emails)) == len(emails)
    assert 100_000 / elapsed >= 50_000, f"{100_000 / elapsed:,.0f} people/s"


def test_emails_stay_unique_where_names_repeat() -> None:
    # deep into a million, companies wrap around the name space and number the addresses
    emails = [p.email for p in people(30_000, offset=970_000)]
    assert len(set(emails)) == len(emails)
    assert any(re.search(r"\d@", e) for e in emails)


def test_demo_split_shares_people_with_variant_spellings() -> None:
    marketo, salesforce = demo_split()
    assert (len(marketo), len(salesforce)) == (2000, 500)
    assert demo_split() == (marketo, salesforce)
    by_index = {p.index: p for p in marketo}
    shared = [p for p in salesforce if p.index in by_index]
    assert len(shared) == 200
    renamed = [p for p in shared if p.company.name != by_index[p.index].company.name]
    assert 50 <= len(renamed) <= 80
    for p in renamed:
        original: Company = by_index[p.index].company
        assert p.company.name in original.name_variants and p.company.domain == original.domain
        assert _normalise_company(p.company.name) == _normalise_company(original.name)
    messy = [p for p in shared if p.email != by_index[p.index].email]
    assert 10 <= len(messy) <= 30
    assert all(p.email.strip().lower() == by_index[p.index].email for p in messy)
    assert any(p.email != p.email.strip() for p in messy) and any(
        p.email.strip() != p.email.strip().lower() for p in messy
    )
    untouched = [p for p in shared if p not in renamed and p not in messy]
    assert all(p == by_index[p.index] for p in untouched)
    assert salesforce[:200] != shared  # shared people are mixed in, not stacked at the front


def test_demo_split_validates() -> None:
    with pytest.raises(ValueError):
        demo_split(marketo=100, salesforce=50, shared=60)
    ma, sf = demo_split(300, 120, 0, seed=1)
    assert not {p.index for p in ma} & {p.index for p in sf}
