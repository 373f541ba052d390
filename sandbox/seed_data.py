"""Reference tables for :mod:`sandbox.seed`: names, company parts, prefectures, weights.

Kept apart from the generator so the data can grow (more names, more cities) without
burying the logic. Every table is plain data; the weighted ones are flattened by
:func:`expand` so that ``table[r % len(table)]`` is a weighted draw.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# -- name data: "kanji:katakana:romaji" -----------------------------------------------------

_SURNAMES = """
佐藤:サトウ:sato 鈴木:スズキ:suzuki 高橋:タカハシ:takahashi 田中:タナカ:tanaka 伊藤:イトウ:ito
渡辺:ワタナベ:watanabe 山本:ヤマモト:yamamoto 中村:ナカムラ:nakamura 小林:コバヤシ:kobayashi
加藤:カトウ:kato 吉田:ヨシダ:yoshida 山田:ヤマダ:yamada 佐々木:ササキ:sasaki 山口:ヤマグチ:yamaguchi
松本:マツモト:matsumoto 井上:イノウエ:inoue 木村:キムラ:kimura 林:ハヤシ:hayashi 斎藤:サイトウ:saito
清水:シミズ:shimizu 山崎:ヤマザキ:yamazaki 森:モリ:mori 阿部:アベ:abe 池田:イケダ:ikeda
橋本:ハシモト:hashimoto 山下:ヤマシタ:yamashita 石川:イシカワ:ishikawa 中島:ナカジマ:nakajima
前田:マエダ:maeda 藤田:フジタ:fujita 小川:オガワ:ogawa 後藤:ゴトウ:goto 岡田:オカダ:okada
長谷川:ハセガワ:hasegawa 村上:ムラカミ:murakami 近藤:コンドウ:kondo 石井:イシイ:ishii
坂本:サカモト:sakamoto 遠藤:エンドウ:endo 青木:アオキ:aoki 藤井:フジイ:fujii 西村:ニシムラ:nishimura
福田:フクダ:fukuda 太田:オオタ:ota 三浦:ミウラ:miura 藤原:フジワラ:fujiwara 岡本:オカモト:okamoto
松田:マツダ:matsuda 中川:ナカガワ:nakagawa 中野:ナカノ:nakano 原田:ハラダ:harada 小野:オノ:ono
田村:タムラ:tamura 竹内:タケウチ:takeuchi 金子:カネコ:kaneko 和田:ワダ:wada 中山:ナカヤマ:nakayama
石田:イシダ:ishida 上田:ウエダ:ueda 森田:モリタ:morita 柴田:シバタ:shibata 酒井:サカイ:sakai
工藤:クドウ:kudo 横山:ヨコヤマ:yokoyama 宮崎:ミヤザキ:miyazaki 宮本:ミヤモト:miyamoto
内田:ウチダ:uchida 高木:タカギ:takagi 安藤:アンドウ:ando 谷口:タニグチ:taniguchi
"""
_GIVEN = """
太郎:タロウ:taro 一郎:イチロウ:ichiro 健太:ケンタ:kenta 翔太:ショウタ:shota 大輔:ダイスケ:daisuke
拓也:タクヤ:takuya 直樹:ナオキ:naoki 健一:ケンイチ:kenichi 誠:マコト:makoto 浩:ヒロシ:hiroshi
隆:タカシ:takashi 剛:ツヨシ:tsuyoshi 学:マナブ:manabu 修:オサム:osamu 和也:カズヤ:kazuya
達也:タツヤ:tatsuya 亮:リョウ:ryo 蓮:レン:ren 大翔:ヒロト:hiroto 悠斗:ユウト:yuto 陽太:ヨウタ:yota
雄一:ユウイチ:yuichi 和彦:カズヒコ:kazuhiko 智也:トモヤ:tomoya 大樹:ダイキ:daiki 翼:ツバサ:tsubasa
慎也:シンヤ:shinya 秀樹:ヒデキ:hideki 博之:ヒロユキ:hiroyuki 花子:ハナコ:hanako 陽子:ヨウコ:yoko
恵子:ケイコ:keiko 裕子:ユウコ:yuko 美穂:ミホ:miho 真由美:マユミ:mayumi 由美子:ユミコ:yumiko
智子:トモコ:tomoko 久美子:クミコ:kumiko 直美:ナオミ:naomi 明美:アケミ:akemi 愛:アイ:ai 彩:アヤ:aya
美咲:ミサキ:misaki さくら:サクラ:sakura 陽菜:ヒナ:hina 結衣:ユイ:yui 葵:アオイ:aoi 奈々:ナナ:nana
麻衣:マイ:mai 里美:サトミ:satomi 千尋:チヒロ:chihiro 由佳:ユカ:yuka 絵美:エミ:emi 沙織:サオリ:saori
香織:カオリ:kaori 理恵:リエ:rie 美香:ミカ:mika 紀子:ノリコ:noriko 順子:ジュンコ:junko
"""

# -- company data ---------------------------------------------------------------------------

_STEMS = """
サクラ:sakura ミドリ:midori アオイ:aoi ヤマト:yamato ヒカリ:hikari アサヒ:asahi ミライ:mirai
ツバサ:tsubasa コスモ:cosmo スバル:subaru カエデ:kaede アケボノ:akebono ハヤテ:hayate イロハ:iroha
ミナト:minato ソラ:sora ホクト:hokuto ワカバ:wakaba ナギサ:nagisa ツクバ:tsukuba 東洋:toyo
大和:daiwa 富士:fuji 三葉:mitsuba 関東:kanto 中央:chuo 東海:tokai 瀬戸内:setouchi 北海:hokkai
九州:kyushu 新光:shinko 太平:taihei 明星:myojo 青葉:aoba 緑川:midorikawa 丸菱:marubishi
ABC:abc NKS:nks KTC:ktc GRC:grc ZETA:zeta
"""
# suffix:romaji:industry
_SUFFIXES = """
精機:seiki:製造業 工業:kogyo:製造業 製作所:seisakusho:製造業 電機:denki:製造業 化学:kagaku:製造業
食品:shokuhin:製造業 商事:shoji:卸売業 物産:bussan:卸売業 通商:tsusho:卸売業
システムズ:systems:情報通信業 ソリューションズ:solutions:情報通信業 テクノロジー:technology:情報通信業
ネットワークス:networks:情報通信業 ソフト:soft:情報通信業 建設:kensetsu:建設業 工務店:komuten:建設業
ハウス:house:不動産業 不動産:fudosan:不動産業 地所:jisho:不動産業 ファイナンス:finance:金融業
証券:shoken:金融業 リース:lease:金融業 ストア:store:小売業 百貨店:hyakkaten:小売業 ドラッグ:drug:小売業
コンサルティング:consulting:サービス業 サービス:service:サービス業 物流:butsuryu:運輸業 運輸:unyu:運輸業
メディカル:medical:医療・福祉 ケアサービス:careservice:医療・福祉 エデュケーション:education:教育
ラーニング:learning:教育
"""
#: Legal forms and their abbreviations.
FORMS = {"株式会社": ("(株)", "㈱", "（株）"), "有限会社": ("(有)", "㈲"), "合同会社": ("(同)",)}
#: (min, max, weight) head-count buckets.
SIZE_BUCKETS = (
    (10, 49, 20),
    (50, 99, 20),
    (100, 299, 25),
    (300, 999, 18),
    (1000, 4999, 12),
    (5000, 30000, 5),
)

# -- geography: name|weight|postal range|city:area code,... --------------------------------

_PREFS = """
北海道|18|040-099|札幌市中央区:011,札幌市北区:011,旭川市:0166 青森県|2|030-039|青森市:017
岩手県|2|020-029|盛岡市:019 宮城県|10|980-989|仙台市青葉区:022,仙台市宮城野区:022 秋田県|2|010-019|秋田市:018
山形県|2|990-999|山形市:023 福島県|3|960-979|福島市:024,郡山市:024 茨城県|7|300-319|水戸市:029,つくば市:029
栃木県|5|320-329|宇都宮市:028 群馬県|5|370-379|前橋市:027,高崎市:027 埼玉県|25|330-369|さいたま市大宮区:048,川口市:048
千葉県|20|260-299|千葉市中央区:043,船橋市:047,柏市:04 東京都|220|100-208|千代田区:03,中央区:03,港区:03,新宿区:03,渋谷区:03,品川区:03,立川市:042
神奈川県|50|210-259|横浜市西区:045,横浜市港北区:045,川崎市中原区:044,相模原市:042 新潟県|6|940-959|新潟市中央区:025
富山県|3|930-939|富山市:076 石川県|3|920-929|金沢市:076 福井県|2|910-919|福井市:0776 山梨県|2|400-409|甲府市:055
長野県|5|380-399|長野市:026,松本市:0263 岐阜県|5|500-509|岐阜市:058 静岡県|12|410-439|静岡市葵区:054,浜松市中央区:053
愛知県|55|440-499|名古屋市中区:052,名古屋市中村区:052,豊田市:0565 三重県|4|510-519|津市:059,四日市市:059
滋賀県|3|520-529|大津市:077 京都府|14|600-629|京都市下京区:075,京都市中京区:075 大阪府|70|530-599|大阪市北区:06,大阪市中央区:06,大阪市淀川区:06,堺市堺区:072
兵庫県|20|650-679|神戸市中央区:078,姫路市:079 奈良県|3|630-639|奈良市:0742 和歌山県|2|640-649|和歌山市:073
鳥取県|1|680-689|鳥取市:0857 島根県|1|690-699|松江市:0852 岡山県|5|700-719|岡山市北区:086 広島県|11|720-739|広島市中区:082,福山市:084
山口県|3|740-759|山口市:083 徳島県|1|770-779|徳島市:088 香川県|2|760-769|高松市:087 愛媛県|3|790-799|松山市:089
高知県|1|780-789|高知市:088 福岡県|30|800-839|福岡市博多区:092,福岡市中央区:092,北九州市小倉北区:093 佐賀県|1|840-849|佐賀市:0952
長崎県|3|850-859|長崎市:095 熊本県|4|860-869|熊本市中央区:096 大分県|2|870-879|大分市:097 宮崎県|2|880-889|宮崎市:0985
鹿児島県|3|890-899|鹿児島市:099 沖縄県|3|900-909|那覇市:098
"""

# value:weight lists for the person's role and history
_DEPARTMENTS = (
    ("営業部", 30),
    ("マーケティング部", 14),
    ("情報システム部", 14),
    ("経営企画部", 8),
    ("総務部", 8),
    ("人事部", 6),
    ("経理部", 5),
    ("製造部", 5),
    ("開発部", 8),
    ("購買部", 4),
    ("カスタマーサクセス部", 3),
)
_TITLES = (
    ("担当", 34),
    ("主任", 14),
    ("係長", 8),
    ("課長", 16),
    ("次長", 4),
    ("部長", 13),
    ("本部長", 3),
    ("執行役員", 2),
    ("取締役", 3),
    ("代表取締役", 3),
)
_LEAD_SOURCES = (
    ("セミナー", 18),
    ("展示会", 20),
    ("資料請求", 22),
    ("問い合わせ", 12),
    ("トライアル", 8),
    ("ウェビナー", 14),
    ("紹介", 6),
)
_MOBILE = (("090", 5), ("080", 4), ("070", 1))  # ten entries: indexed by a digit
EXECUTIVES = frozenset({"代表取締役", "取締役", "執行役員"})
#: One address convention per company: given/family name order and separator.
EMAIL_STYLES = ("{g}.{f}", "{f}.{g}", "{g}_{f}", "{f}-{g}")


def _rows(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(item.split(":")) for item in text.split())


def _names(text: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((kanji, kana, romaji) for kanji, kana, romaji in _rows(text))


#: (kanji, katakana, romaji) of common family and given names.
SURNAMES = _names(_SURNAMES)
GIVEN_NAMES = _names(_GIVEN)
#: (stem, romaji) and (suffix, romaji, industry) from which company names are built.
STEMS: tuple[tuple[str, str], ...] = tuple((stem, romaji) for stem, romaji in _rows(_STEMS))
SUFFIXES: tuple[tuple[str, str, str], ...] = tuple((x, r, i) for x, r, i in _rows(_SUFFIXES))
# romaji must be unique: it is what keeps email addresses (and domains) unique
for _table, _column in ((SURNAMES, 2), (GIVEN_NAMES, 2), (STEMS, 1), (SUFFIXES, 1)):
    if len({row[_column] for row in _table}) != len(_table):
        raise AssertionError("seed data: duplicate romaji")


@dataclass(frozen=True)
class Prefecture:
    """A prefecture: lead weight, postal-code range (first three digits), cities with area codes."""

    name: str
    weight: int
    postal: tuple[int, int]
    cities: tuple[tuple[str, str], ...]


def _prefectures() -> tuple[Prefecture, ...]:
    out = []
    for item in _PREFS.split():
        name, weight, postal, cities = item.split("|")
        low, high = postal.split("-")
        out.append(
            Prefecture(
                name,
                int(weight),
                (int(low), int(high)),
                tuple((city, area) for city, area in (c.split(":") for c in cities.split(","))),
            )
        )
    return tuple(out)


PREFECTURE_DATA = _prefectures()
PREFECTURES: tuple[str, ...] = tuple(p.name for p in PREFECTURE_DATA)
if len(PREFECTURES) != 47:
    raise AssertionError("seed data: Japan has 47 prefectures")


def expand(pairs: Iterable[tuple[T, int]]) -> tuple[T, ...]:
    """A weighted list as a flat table: ``table[r % len(table)]`` is a weighted draw."""
    return tuple(value for value, weight in pairs for _ in range(weight))


PREFECTURE_TABLE = expand((p, p.weight) for p in PREFECTURE_DATA)
DEPARTMENT_TABLE = expand(_DEPARTMENTS)
TITLE_TABLE = expand(_TITLES)
SOURCE_TABLE = expand(_LEAD_SOURCES)
MOBILE_TABLE = expand(_MOBILE)
# Japanese business hours dominate lead creation; hours are JST.
HOURS_JST_TABLE = expand((h, 10 if 9 <= h <= 18 else 3 if 7 <= h <= 22 else 1) for h in range(24))

# -- width conversion -----------------------------------------------------------------------


def _halfwidth_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF61, 0xFFA0):
        half = chr(code)
        full = unicodedata.normalize("NFKC", half)
        if len(full) == 1 and full not in table:
            table[full] = half
        for mark in ("ﾞ", "ﾟ"):
            voiced = unicodedata.normalize("NFKC", half + mark)
            if len(voiced) == 1:
                table.setdefault(voiced, half + mark)
    return table


_HALF_KANA = str.maketrans(_halfwidth_table())
_FULL_ALNUM = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def to_halfwidth_kana(text: str) -> str:
    """Full-width katakana to half-width (``サクラ`` → ``ｻｸﾗ``); other characters unchanged."""
    return text.translate(_HALF_KANA)


def to_fullwidth_alnum(text: str) -> str:
    """ASCII letters, digits and symbols to full-width (``ABC`` → ``ＡＢＣ``)."""
    return text.translate(_FULL_ALNUM)


# Leading exchange digits in use per area code (numbering plan, as phonenumbers validates it).
EXCHANGE_LEAD = {
    "011": "235678",
    "017": "2345678",
    "018": "2345678",
    "04": "234578",
    "073": "456789",
    "084": "56789",
    "088": "3456789",
}
