"""Seed data: リードマスタ holds every fifth person of :func:`sandbox.seed.people`.

Person ``i`` with ``i % 5 == 0`` (``i < size``) becomes a lead record, at most
:data:`MAX_SEEDED` of them: the customers sales already know. The same people are leads of a
Marketo sandbox with the same size and seed (Marketo lead ``i + 1`` is person ``i``), so a
sync has real matches to find. Their 連携ID is empty: renkei has not linked them yet. The
other apps start empty.
"""

from __future__ import annotations

from typing import Any

from sandbox.kintone.schema import LEADS
from sandbox.kintone.store import Domain, StoredRecord
from sandbox.seed import PREFECTURES, Person, people

__all__ = ["MAX_SEEDED", "SHARE", "seed_domain"]

SHARE = 5
MAX_SEEDED = 50_000
_REPS = ("tanaka", "suzuki", "takahashi", "watanabe", "ito", "yamamoto", "nakamura",
         "kobayashi")
_STAGES = ("顧客",) * 8 + ("商談中",) * 4 + ("SQL",) * 3 + ("リサイクル",) * 3 + ("対象外",) * 2
_INDUSTRY = {"製造業": "製造業", "情報通信業": "情報通信業", "小売業": "卸売業・小売業",
             "卸売業": "卸売業・小売業", "金融業": "金融業・保険業", "建設業": "建設業",
             "サービス業": "サービス業", "医療・福祉": "医療・福祉", "教育": "教育・学習支援"}
_EAST = frozenset(PREFECTURES[: PREFECTURES.index("静岡県") + 1])


def _team(industry: str, prefecture: str) -> str:
    if industry == "製造業":
        return "製造業営業"
    if industry == "金融業・保険業":
        return "金融営業"
    return "東日本営業" if prefecture in _EAST else "西日本営業"


def _values(p: Person, n: int, row_id: int | None) -> dict[str, Any]:
    industry = _INDUSTRY.get(p.company.industry, "その他")
    history = [] if row_id is None else [(row_id, {
        "対応日": p.created_at[:10], "対応種別": ("電話", "メール", "訪問", "オンライン商談")[n % 4],
        "対応内容": "初回ヒアリング。導入時期と予算を確認。"})]
    return {
        "連携ID": "", "メールアドレス": p.email, "姓": p.last_name, "名": p.first_name,
        "姓カナ": p.last_name_kana, "名カナ": p.first_name_kana, "会社名": p.company.name,
        "部署": p.department, "役職": p.title, "電話番号": p.phone, "都道府県": p.prefecture,
        "業種": industry, "従業員数": str(p.company.employees), "リードソース": p.lead_source,
        "ステージ": _STAGES[n % len(_STAGES)], "スコア": str(p.lead_score),
        "担当者": [_REPS[n % len(_REPS)]], "担当チーム": _team(industry, p.prefecture),
        "振り分け理由": "", "MQL判定理由": "", "予算": ("あり", "なし", "不明")[n % 3],
        "決裁権": ("あり", "なし", "不明")[n // 3 % 3], "ニーズ": "",
        "導入時期": ("3ヶ月以内", "6ヶ月以内", "1年以内", "未定")[n % 4], "競合": "",
        "対応履歴": history,
    }


def seed_domain(domain: Domain, size: int, seed: int = 42) -> int:
    """Fill リードマスタ of a fresh domain; returns how many records were seeded."""
    store = domain.stores[LEADS.id]
    count = min((size + SHARE - 1) // SHARE, MAX_SEEDED)
    for n in range(count):
        p = next(people(1, seed=seed, offset=n * SHARE))
        row_id = domain.new_row_id() if n % 3 == 0 else None
        stamp = p.created_at[:16] + ":00Z"
        owner = _REPS[n % len(_REPS)]
        store.put(StoredRecord(store.allocate_id(), 1, _values(p, n, row_id), stamp, stamp,
                               owner, owner))
    return count
