"""The demo apps of the kintone sandbox: field codes, types, options, users.

Field codes, types and options are fixed by the contract (notes/kintone-apps.md). Every app
also has kintone's system fields; :func:`form_properties` renders an app the way
``GET /k/v1/app/form/fields.json`` does (properties keyed by field code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.seed import PREFECTURES

__all__ = [
    "APPS",
    "ENTITY_TYPES",
    "SYSTEM_TYPES",
    "USERS",
    "AppDef",
    "FieldDef",
    "form_properties",
]

#: Field types whose value is a list of ``{"code", "name"}`` (USER_SELECT and the system users).
ENTITY_TYPES = frozenset({"USER_SELECT", "CREATOR", "MODIFIER"})
#: Field types kintone maintains itself; values sent for them are ignored.
SYSTEM_TYPES = frozenset(
    {"__ID__", "__REVISION__", "RECORD_NUMBER", "CREATED_TIME", "UPDATED_TIME", "CREATOR",
     "MODIFIER", "CATEGORY", "STATUS", "STATUS_ASSIGNEE"}
)

#: Users of the domain (code → display name).
USERS: dict[str, str] = {
    "tanaka": "田中 一郎",
    "suzuki": "鈴木 花子",
    "takahashi": "高橋 健",
    "watanabe": "渡辺 美咲",
    "ito": "伊藤 大輔",
    "yamamoto": "山本 由美",
    "nakamura": "中村 翔",
    "kobayashi": "小林 直子",
    "kato": "加藤 誠",
    "queue": "未割当キュー",
    "renkei": "renkei 連携",
    "Administrator": "Administrator",
}


@dataclass(frozen=True)
class FieldDef:
    """One field of an app.

    Attributes:
        code: Field code (what the API uses).
        type: kintone field type, e.g. ``"SINGLE_LINE_TEXT"``.
        label: Display label.
        options: Choices of a DROP_DOWN, in order.
        unique: "Prohibit duplicate values".
        required: "Required field".
        fields: Columns of a SUBTABLE, by code.
    """

    code: str
    type: str
    label: str = ""
    options: tuple[str, ...] = ()
    unique: bool = False
    required: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)


@dataclass(frozen=True)
class AppDef:
    """One kintone app: id, name and fields by code (system fields included)."""

    id: int
    name: str
    fields: dict[str, FieldDef]

    def field(self, code: str) -> FieldDef | None:
        """The field with this code; ``$id`` and ``$revision`` included."""
        return self.fields.get(code)

    def subtable_of(self, code: str) -> FieldDef | None:
        """The SUBTABLE holding column ``code``, if it is a subtable column."""
        for f in self.fields.values():
            if f.type == "SUBTABLE" and code in f.fields:
                return f
        return None


def _f(code: str, type_: str, *, options: tuple[str, ...] = (), unique: bool = False,
       fields: dict[str, FieldDef] | None = None) -> FieldDef:
    return FieldDef(code, type_, code, options, unique, False, fields or {})


_SYSTEM = (
    FieldDef("$id", "__ID__", "$id"),
    FieldDef("$revision", "__REVISION__", "$revision"),
    FieldDef("レコード番号", "RECORD_NUMBER", "レコード番号"),
    FieldDef("作成日時", "CREATED_TIME", "作成日時"),
    FieldDef("更新日時", "UPDATED_TIME", "更新日時"),
    FieldDef("作成者", "CREATOR", "作成者"),
    FieldDef("更新者", "MODIFIER", "更新者"),
)


def _app(app_id: int, name: str, *user_fields: FieldDef) -> AppDef:
    fields = {f.code: f for f in _SYSTEM}
    fields.update({f.code: f for f in user_fields})
    return AppDef(app_id, name, fields)


_TEXT, _MULTI, _NUM, _DROP = "SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "NUMBER", "DROP_DOWN"
_ABC = ("あり", "なし", "不明")

LEADS = _app(
    1, "リードマスタ",
    _f("連携ID", _TEXT, unique=True),
    _f("メールアドレス", _TEXT, unique=True),
    *(_f(c, _TEXT) for c in ("姓", "名", "姓カナ", "名カナ", "会社名", "部署", "役職", "電話番号")),
    _f("都道府県", _DROP, options=tuple(PREFECTURES)),
    _f("業種", _DROP, options=("製造業", "情報通信業", "卸売業・小売業", "金融業・保険業", "建設業",
                               "サービス業", "医療・福祉", "教育・学習支援", "官公庁・自治体",
                               "その他")),
    _f("従業員数", _NUM),
    _f("リードソース", _DROP, options=("セミナー", "展示会", "ウェビナー", "オンデマンドセミナー",
                                       "トライアル", "問い合わせ", "資料請求", "紹介", "Web",
                                       "その他")),
    _f("ステージ", _DROP, options=("購読者", "リード", "MQL", "SQL", "商談中", "顧客", "リサイクル",
                                   "対象外")),
    _f("スコア", _NUM),
    _f("担当者", "USER_SELECT"),
    _f("担当チーム", _DROP, options=("東日本営業", "西日本営業", "製造業営業", "金融営業",
                                     "インサイドセールス", "既存顧客営業", "未割当キュー")),
    _f("振り分け理由", _MULTI),
    _f("MQL判定理由", _MULTI),
    _f("予算", _DROP, options=_ABC),
    _f("決裁権", _DROP, options=_ABC),
    _f("ニーズ", _MULTI),
    _f("導入時期", _DROP, options=("3ヶ月以内", "6ヶ月以内", "1年以内", "未定")),
    _f("競合", _TEXT),
    _f("対応履歴", "SUBTABLE", fields={
        "対応日": _f("対応日", "DATE"),
        "対応種別": _f("対応種別", _DROP, options=("電話", "メール", "訪問", "オンライン商談")),
        "対応内容": _f("対応内容", _MULTI),
    }),
)

ALERTS = _app(
    2, "アラート",
    _f("連携ID", _TEXT, unique=True),
    _f("担当者", "USER_SELECT"),
    _f("種別", _DROP, options=("行動アラート", "放置アラート", "商談アラート", "その他")),
    _f("件名", _TEXT),
    _f("次のアクション", _MULTI),
    _f("対象メール", _TEXT),
    _f("優先度", _DROP, options=("高", "中", "低")),
    _f("期限", "DATE"),
    _f("対応状況", _DROP, options=("未対応", "対応中", "完了")),
    _f("発生日時", "DATETIME"),
)

DEALS = _app(
    3, "商談",
    _f("連携ID", _TEXT, unique=True),
    _f("商談名", _TEXT),
    _f("会社名", _TEXT),
    _f("担当者", "USER_SELECT"),
    _f("フェーズ", _DROP, options=("アプローチ", "ヒアリング", "提案", "見積提出", "交渉", "受注",
                                   "失注", "保留")),
    _f("金額", _NUM),
    _f("受注予定日", "DATE"),
    _f("失注理由", _DROP, options=("価格", "機能不足", "競合採用", "時期尚早", "予算なし", "その他")),
    _f("顧客メール", _TEXT),
    _f("リサイクルコンテンツ", _DROP, options=("事例紹介", "製品アップデート", "セミナー案内",
                                               "業界レポート")),
    _f("配信頻度", _DROP, options=("毎週", "隔週", "毎月", "四半期")),
    _f("配信先メール", _TEXT),
    _f("フェーズ更新日", "DATE"),
)

ACTIVITIES = _app(
    4, "活動履歴",
    _f("連携ID", _TEXT, unique=True),
    _f("メールアドレス", _TEXT),
    _f("活動種別", _DROP, options=("Web訪問", "メール開封", "メールクリック", "フォーム送信",
                                   "ウェビナー申込", "ウェビナー参加", "動画視聴", "電話", "商談")),
    _f("日時", "DATETIME"),
    _f("件名", _TEXT),
    _f("視聴率", _NUM),
    _f("参加時間", _NUM),
    _f("詳細", _MULTI),
)

#: The demo apps by id.
APPS: dict[int, AppDef] = {a.id: a for a in (LEADS, ALERTS, DEALS, ACTIVITIES)}


def _property(f: FieldDef) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": f.type, "code": f.code, "label": f.label, "noLabel": False}
    if f.type in ("SINGLE_LINE_TEXT", "NUMBER"):
        prop.update(required=f.required, unique=f.unique, defaultValue="", minValue="",
                    maxValue="")
        if f.type == "SINGLE_LINE_TEXT":
            prop.update(minLength="", maxLength="", expression="", hideExpression=False)
            del prop["minValue"], prop["maxValue"]
        else:
            prop.update(digit=False, displayScale="", unit="", unitPosition="BEFORE")
    elif f.type == "MULTI_LINE_TEXT":
        prop.update(required=f.required, defaultValue="")
    elif f.type == "DROP_DOWN":
        prop.update(required=f.required, defaultValue="", options={
            o: {"label": o, "index": str(i)} for i, o in enumerate(f.options)})
    elif f.type in ("DATE", "DATETIME"):
        prop.update(required=f.required, unique=f.unique, defaultValue="", defaultNowValue=False)
    elif f.type == "USER_SELECT":
        prop.update(required=f.required, defaultValue=[], entities=[])
    elif f.type == "SUBTABLE":
        del prop["label"]
        prop["fields"] = {c: _property(sub) for c, sub in f.fields.items()}
    return prop


def form_properties(app: AppDef) -> dict[str, Any]:
    """``properties`` of Get Form Fields: every field but ``$id``/``$revision``, plus the
    process-management fields kintone always lists (disabled in these apps)."""
    props = {c: _property(f) for c, f in app.fields.items() if not c.startswith("$")}
    props["カテゴリー"] = {"type": "CATEGORY", "code": "カテゴリー", "label": "カテゴリー",
                          "enabled": False}
    props["ステータス"] = {"type": "STATUS", "code": "ステータス", "label": "ステータス",
                          "enabled": False}
    props["作業者"] = {"type": "STATUS_ASSIGNEE", "code": "作業者", "label": "作業者",
                      "enabled": False}
    return props
