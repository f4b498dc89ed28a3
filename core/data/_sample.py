"""A small bilingual (Chinese + English) sample corpus with queries whose best answer is known.

72 short documents, nine on each of eight topics, written for this project. Each topic mixes
languages, and most queries are cross-lingual (a Chinese question whose answer is in English, or
the reverse), which shows what a multilingual model does and an English-only one cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TOPICS = ("cooking", "astronomy", "finance", "sports", "health", "programming", "travel", "music")


@dataclass(frozen=True)
class SampleDocument:
    """One sample document: ``id`` like ``"music-03"``, ``lang`` ``"en"`` or ``"zh"``."""

    id: str
    lang: str
    topic: str
    text: str


@dataclass(frozen=True)
class SampleQuery:
    """A query and the id of the document that answers it best."""

    text: str
    lang: str
    expected_id: str


# Per topic, in order; odd positions are English, even positions Chinese.
_TEXTS: dict[str, tuple[str, ...]] = {
    "cooking": (
        "To bake a crusty loaf of bread, mix flour, water, salt and yeast, let the dough rise "
        "overnight, and bake it in a very hot oven.",
        "做红烧肉时，先把五花肉焯水，再加冰糖、酱油和料酒，用小火慢炖一个小时。",
        "Fresh pasta needs only eggs and flour: knead the dough until smooth, rest it for thirty "
        "minutes, then roll it thin.",
        "包饺子的时候，把猪肉白菜馅放在面皮中间，对折后把边缘捏紧。",
        "A good curry starts by slowly frying onions, garlic and ginger before adding the spices "
        "and coconut milk.",
        "炒青菜要用大火快炒，油热后先放蒜末，最后加一点盐就可以出锅。",
        "Sharpen your kitchen knife regularly; a dull blade slips on vegetables and is more "
        "dangerous than a sharp one.",
        "煮米饭时，米和水的比例大约是一比一点二，煮好后再焖十分钟口感更好。",
        "Chocolate chip cookies stay chewy when you use brown sugar and take them out of the "
        "oven while the centres are still soft.",
    ),
    "astronomy": (
        "A total solar eclipse happens when the Moon passes directly between the Sun and Earth "
        "and blocks the sunlight for a few minutes.",
        "黑洞的引力非常强，连光都无法逃脱，所以我们只能通过周围物质的运动来发现它。",
        "Mars looks red because its surface is covered with iron oxide dust, which is "
        "essentially rust.",
        "银河系是一个棒旋星系，包含数千亿颗恒星，太阳只是其中很普通的一颗。",
        "Saturn's rings are made of countless pieces of ice and rock, from tiny grains to "
        "chunks as big as houses.",
        "流星雨发生在地球穿过彗星留下的尘埃带时，尘埃冲进大气层燃烧发光。",
        "The James Webb Space Telescope observes infrared light, which lets it see the first "
        "galaxies that formed after the Big Bang.",
        "月球总是以同一面朝向地球，因为它的自转周期和绕地球公转的周期相同。",
        "A light-year is a unit of distance: how far light travels in one year, about 9.46 "
        "trillion kilometres.",
    ),
    "finance": (
        "An index fund buys every stock in a market index, which keeps fees low and spreads "
        "risk across many companies.",
        "央行加息的目的是抑制通货膨胀，但也会让房贷和企业贷款变得更贵。",
        "Compound interest means you earn interest on your interest, so savings grow faster "
        "the longer you leave them invested.",
        "信用卡如果每个月只还最低还款额，剩下的欠款会产生很高的利息。",
        "Before investing, build an emergency fund that covers three to six months of living "
        "expenses.",
        "股票的市盈率是股价除以每股收益，常用来判断一只股票是贵还是便宜。",
        "Bonds pay a fixed coupon, and their prices usually fall when market interest rates rise.",
        "做预算时，可以把收入分成必要开支、储蓄和自由支配三部分。",
        "Cryptocurrency prices can swing wildly in a single day, so only invest money you can "
        "afford to lose.",
    ),
    "sports": (
        "In basketball, a shot made from behind the three-point line is worth three points.",
        "马拉松全程是四十二点一九五公里，业余跑者通常需要四到五个小时才能跑完。",
        "The FIFA World Cup is held every four years, and more than a billion people watch the "
        "final.",
        "乒乓球在中国被称为国球，中国队多年来在世界大赛中一直保持领先。",
        "Competitive swimmers race in four strokes: butterfly, backstroke, breaststroke and "
        "freestyle.",
        "网球比赛中，一盘通常要先赢六局，并且至少领先对手两局。",
        "Warming up for ten minutes before a match raises your heart rate and helps prevent "
        "pulled muscles.",
        "围棋棋盘有十九乘十九条线，黑白双方轮流落子，围住更多地盘的一方获胜。",
        "The Tour de France bicycle race covers about 3,500 kilometres in three weeks, "
        "including brutal mountain stages.",
    ),
    "health": (
        "Adults should aim for seven to nine hours of sleep each night; too little sleep weakens "
        "the immune system.",
        "每天多喝水有助于身体代谢，成年人一般建议每天喝一点五到两升水。",
        "Washing your hands with soap for twenty seconds removes most germs and stops them "
        "from spreading.",
        "长时间看手机会让眼睛干涩疲劳，每隔二十分钟应该看看远处，让眼睛休息一下。",
        "Regular aerobic exercise such as brisk walking lowers blood pressure and strengthens "
        "the heart.",
        "感冒发烧时要多休息，如果高烧超过三天还不退，应该及时去医院看病。",
        "Eating plenty of vegetables, fruit and whole grains gives your digestive system the "
        "fibre it needs.",
        "长期的压力和焦虑会影响睡眠，冥想和深呼吸可以帮助人放松下来。",
        "Sunscreen with SPF 30 or higher protects your skin from the ultraviolet rays that "
        "cause sunburn and skin cancer.",
    ),
    "programming": (
        "In Python, a list comprehension builds a new list from an iterable in one readable line.",
        "Git 可以记录代码的每一次修改，出错时能够回退到之前的版本。",
        "A database index speeds up SQL queries on large tables, but makes inserts and updates "
        "a little slower.",
        "递归函数会调用自己，必须有终止条件，否则会导致栈溢出。",
        "Unit tests check small pieces of code in isolation, so bugs are caught before they "
        "reach production.",
        "JavaScript 是网页开发中最常用的语言，可以让页面响应用户的点击。",
        "A hash map stores key-value pairs and finds the value for a key in constant time on "
        "average.",
        "多线程程序如果不加锁，多个线程同时修改共享变量就会出现竞争条件。",
        "Docker packages an application and its dependencies into a container that runs the "
        "same way on any machine.",
    ),
    "travel": (
        "The Great Wall of China stretches for thousands of kilometres across the mountains and "
        "deserts of northern China.",
        "去日本旅游时，可以买一张JR周游券，乘坐新干线在各个城市之间往返。",
        "Pack light for a backpacking trip: a rain jacket, comfortable shoes and a reusable "
        "water bottle go a long way.",
        "巴黎的埃菲尔铁塔每天晚上整点都会闪烁灯光，吸引很多游客拍照。",
        "Check whether your destination requires a visa several weeks before you fly, and make "
        "sure your passport is still valid.",
        "桂林的山水风景如画，乘船游览漓江是最受欢迎的行程。",
        "Jet lag is easier to handle if you shift your sleep schedule a few days before a long "
        "flight.",
        "出国旅行前最好购买旅行保险，以防行李丢失或者在国外生病住院。",
        "Venice has no cars; visitors get around on foot or by water bus along the canals.",
    ),
    "music": (
        "A piano has 88 keys, and middle C sits roughly in the centre of the keyboard.",
        "古筝是中国传统的弹拨乐器，一般有二十一根弦，音色清脆悠扬。",
        "Beethoven kept composing after he went deaf, and wrote his famous Ninth Symphony "
        "without hearing it.",
        "学吉他的初学者通常先练习C、G、D这几个基本和弦。",
        "Jazz musicians often improvise, inventing new melodies on the spot over a chord "
        "progression.",
        "交响乐团一般由弦乐、木管、铜管和打击乐四个声部组成，由指挥统一协调。",
        "Noise-cancelling headphones use microphones to pick up outside sound and play the "
        "opposite wave to cancel it.",
        "流行歌曲通常采用主歌和副歌反复的结构，副歌的旋律最容易让人记住。",
        "Practising scales slowly with a metronome is the quickest way to build clean technique "
        "on any instrument.",
    ),
}

SAMPLE_DOCUMENTS: tuple[SampleDocument, ...] = tuple(
    SampleDocument(f"{topic}-{i:02d}", "en" if i % 2 else "zh", topic, text)
    for topic in TOPICS
    for i, text in enumerate(_TEXTS[topic], 1)
)

SAMPLE_QUERIES: tuple[SampleQuery, ...] = (
    SampleQuery("月亮挡住太阳时发生的日全食", "zh", "astronomy-01"),
    SampleQuery("How do you wrap dumplings with a pork and cabbage filling?", "en", "cooking-04"),
    SampleQuery("为什么月球总是同一面对着地球？", "zh", "astronomy-08"),
    SampleQuery("Why does Mars look red?", "en", "astronomy-03"),
    SampleQuery("How long is a marathon?", "en", "sports-02"),
    SampleQuery("用肥皂洗手能去除细菌吗？", "zh", "health-03"),
    SampleQuery("Which data structure stores key-value pairs?", "en", "programming-07"),
    SampleQuery("信用卡只还最低还款额会怎么样？", "zh", "finance-04"),
    SampleQuery("Should I buy travel insurance before going abroad?", "en", "travel-08"),
    SampleQuery("贝多芬耳聋以后还继续作曲吗？", "zh", "music-03"),
    SampleQuery("Which chords should a beginner guitarist learn first?", "en", "music-04"),
    SampleQuery("什么是复利？", "zh", "finance-03"),
)

# More labelled queries for evaluating models (``core.eval``): the twelve above plus twenty,
# mostly cross-lingual, so that a comparison of a multilingual and an English-only model has
# enough queries to tell them apart.
_EVAL_ONLY_QUERIES: tuple[SampleQuery, ...] = (
    SampleQuery("怎样烤出外皮酥脆的面包？", "zh", "cooking-01"),
    SampleQuery("做新鲜意大利面需要什么材料？", "zh", "cooking-03"),
    SampleQuery("土星的光环是由什么组成的？", "zh", "astronomy-05"),
    SampleQuery("光年是距离单位还是时间单位？", "zh", "astronomy-09"),
    SampleQuery("指数基金为什么费用低？", "zh", "finance-01"),
    SampleQuery("篮球比赛中三分球怎么算分？", "zh", "sports-01"),
    SampleQuery("成年人每天晚上应该睡几个小时？", "zh", "health-01"),
    SampleQuery("怎样让程序在任何电脑上都以同样的方式运行？", "zh", "programming-09"),
    SampleQuery("威尼斯没有汽车，游客怎么出行？", "zh", "travel-09"),
    SampleQuery("钢琴一共有多少个琴键？", "zh", "music-01"),
    SampleQuery(
        "How do I cook braised pork belly with rock sugar and soy sauce?", "en", "cooking-02"
    ),
    SampleQuery("Why can't light escape from a black hole?", "en", "astronomy-02"),
    SampleQuery("Why do central banks raise interest rates?", "en", "finance-02"),
    SampleQuery("How many lines does a Go board have?", "en", "sports-08"),
    SampleQuery("How much water should an adult drink every day?", "en", "health-02"),
    SampleQuery(
        "What happens when threads change a shared variable without a lock?", "en", "programming-08"
    ),
    SampleQuery(
        "Which rail pass lets tourists ride the bullet train around Japan?", "en", "travel-02"
    ),
    SampleQuery("How many strings does a traditional Chinese zither have?", "en", "music-02"),
    SampleQuery("What does a database index make faster?", "en", "programming-03"),
    SampleQuery("发烧几天不退就应该去医院？", "zh", "health-06"),
)

#: Every labelled sample query (``SAMPLE_QUERIES`` first), for retrieval evaluation.
SAMPLE_EVAL_QUERIES: tuple[SampleQuery, ...] = SAMPLE_QUERIES + _EVAL_ONLY_QUERIES


def sample_texts() -> list[str]:
    """The sample documents' texts, in ``SAMPLE_DOCUMENTS`` order."""
    return [doc.text for doc in SAMPLE_DOCUMENTS]


def sample_metadata() -> pd.DataFrame:
    """One row per sample document with columns ``id``, ``lang``, ``topic``."""
    return pd.DataFrame(
        {
            "id": [d.id for d in SAMPLE_DOCUMENTS],
            "lang": [d.lang for d in SAMPLE_DOCUMENTS],
            "topic": [d.topic for d in SAMPLE_DOCUMENTS],
        }
    )


def document_index(doc_id: str) -> int:
    """Row of the sample document ``doc_id``.

    Raises
    ------
    KeyError
        For an unknown id.
    """
    for i, doc in enumerate(SAMPLE_DOCUMENTS):
        if doc.id == doc_id:
            return i
    raise KeyError(f"no sample document {doc_id!r}; ids look like 'music-03'")
