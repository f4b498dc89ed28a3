"""Automatic cluster labels: the most distinctive terms of each cluster (class-based TF-IDF).

Terms
-----
English (and any space-separated script): lower-cased words of two letters or more without the
common function words, plus two-word phrases, so "interest rates" can win over "interest".

Chinese (and Japanese kanji/kana): **character n-grams of two to four characters** over each run
of CJK characters, instead of a word segmenter such as ``jieba``. Why:

- No dictionary: jieba loads a 20 MB dictionary (about a second and 50+ MB of memory per
  process) and splits words it does not know — product names, jargon, new terms — which are
  exactly what makes a cluster distinctive. N-grams need nothing and cover Japanese and mixed
  text too.
- Class-based TF-IDF already does the word finding: an n-gram that crosses a word boundary
  (``的时``) is spread over every cluster and scores low; the n-grams of a real word that is
  typical of one cluster score high together.
- Overlaps are merged: when a longer n-gram holds a chosen one and occurs in nearly as many of
  the cluster's documents (``银河`` → ``银河系``), the longer one replaces it, and fragments of a
  chosen term are skipped, so a label reads as words, not as overlapping pairs.
- N-grams that begin or end with a grammatical particle (的, 了, 是, 和 …) are dropped, and so
  are about eighty common words that say nothing about a topic (通常, 应该, 可以 …).

Scoring
-------
For term ``t`` and cluster ``c``: ``(df_c(t) / n_c) * log(1 + A / df(t))``, where ``df_c`` counts
the cluster's documents that contain ``t``, ``n_c`` is the cluster's size, ``df`` counts all
documents that contain it and ``A`` is the average cluster size (BERTopic's c-TF-IDF, on
document presence so one long document cannot carry a label). Terms found in only one document
of a cluster of four or more are not used while better ones exist.

Ranked by the model (when an embedder is given)
-----------------------------------------------
Counting alone cannot tell a topic word from a word that merely happens to recur: on a small
corpus most terms occur once, and c-TF-IDF picks "big", "long" or a fragment such as ``赛中``.
With ``term_embedder`` (the model that embedded the documents), the best
:data:`TERM_CANDIDATES` c-TF-IDF terms of each cluster are embedded and ranked by cosine
similarity to the cluster's mean document vector (the idea of BERTopic's "KeyBERT-inspired"
representation), so "galaxies · 地球 · solar" wins over "big · 地球 · light". Candidates are
single words, or phrases and CJK n-grams found in at least two of the cluster's documents (a
phrase seen once is usually a word and its neighbour). A term whose vector is within
:data:`SYNONYM_COSINE` of a chosen one ("invest" after "investing", "earth" after "地球") is
skipped, so the label says three different things. It costs one batch of short texts per map (8
clusters: about 300 terms, 0.1 s with the offline model). If the embedder fails or returns
vectors of another size, :func:`summarise_clusters` uses the counting labels and says why.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.search import normalize
from core.viz._clusters import NOISE

NOISE_LABEL = "noise"
MAX_LABEL_DOCS = 20_000  # documents read to label a map (a seeded sample beyond that)
MIN_DOCS_PER_CLUSTER = 50  # every cluster keeps at least this many in the sample
TERM_CANDIDATES = 40  # c-TF-IDF terms per cluster the model ranks
SYNONYM_COSINE = 0.8  # a term this close to a chosen one says the same thing: skipped

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A CJK run, or a word of a spaced script (letters, digits, inner ' ’ -; never CJK, so "JR周游券"
# is "jr" and "周游券").
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W\d_{_CJK}](?:[^\W{_CJK}]|['’-](?=[^\W{_CJK}]))*")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# Grammatical particles and pronouns: an n-gram starting or ending with one is not a term.
_CJK_EDGE_STOP = set(
    "的了着过是在和与及或也都就而把被让很更最又还吗呢吧啊呀这那其一个我你他她它们之于以并从到对为将"
)
# Locatives that follow a noun ("比赛中", "城里"): an n-gram ending with one is a fragment.
_CJK_TAIL_STOP = set("中里")
# Common words that say nothing about a topic (adverbs, conjunctions, pronouns, measure words).
_ZH_STOP = frozenset(
    """通常 应该 可以 需要 因为 所以 如果 但是 时候 一个 我们 他们 你们 没有 非常 已经 就是
    还是 这个 那个 这些 那些 什么 怎么 为什么 可能 比较 大约 之后 之前 以后 以前 然后 只是
    不是 一些 一定 能够 其中 而且 或者 还有 开始 觉得 知道 现在 今天 每天 这样 那样 一样
    更好 很多 许多 不要 不会 只要 只有 最好 容易 越来越""".split()  # noqa: SIM905
)
_EN_STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    one two three via per may might must shall us lot lots get gets got make makes made use used
    using like many much every still even way ways well new s t re ve ll d m often usually always
    never sometimes several around across least less almost enough quite rather really later
    four five six seven eight nine ten eleven twelve twenty hundred hundreds thousand thousands
    million millions billion billions first second third""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster of a map, as the legend and the cluster table show it.

    Attributes
    ----------
    cluster : int
        The cluster id (``-1``: noise).
    label : str
        Its top terms joined by " · " (``"noise"`` for noise, ``"cluster 3"`` when no term
        qualifies).
    terms : tuple of str
        The terms, most distinctive first.
    size : int
        Documents in the cluster.
    representatives : tuple of int
        Up to two collection rows nearest the cluster's centre.
    """

    cluster: int
    label: str
    terms: tuple[str, ...]
    size: int
    representatives: tuple[int, ...]


def terms_of(text: str) -> set[str]:
    """The distinct candidate terms of one text (see the module docstring).

    >>> sorted(terms_of("Black holes bend light"))
    ['bend', 'bend light', 'black', 'black holes', 'holes', 'holes bend', 'light']
    """
    out: set[str] = set()
    text = str(text)
    previous: str | None = None
    end = 0
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        # A phrase never spans punctuation ("investing, build" is not a term).
        if text[end : match.start()].strip():
            previous = None
        end = match.end()
        if _CJK_RUN.match(token):
            previous = None
            out.update(_cjk_ngrams(token))
            continue
        word = token.lower()
        if len(word) < 2 or word in _EN_STOP:
            previous = None
            continue
        out.add(word)
        if previous is not None:
            out.add(f"{previous} {word}")
        previous = word
    return out


def _cjk_ngrams(run: str) -> list[str]:
    grams = []
    for size in (2, 3, 4):
        for i in range(len(run) - size + 1):
            gram = run[i : i + size]
            if (
                gram[0] in _CJK_EDGE_STOP
                or gram[-1] in _CJK_EDGE_STOP
                or gram[-1] in _CJK_TAIL_STOP
                or gram in _ZH_STOP
            ):
                continue
            grams.append(gram)
    return grams


def _contains(big: str, small: str) -> bool:
    """Whether term ``small`` is part of term ``big`` (whole words for spaced scripts)."""
    if big == small:
        return True
    if " " in big or " " in small or not (_CJK_RUN.match(big) and _CJK_RUN.match(small)):
        return f" {small} " in f" {big} "
    return small in big


def distinctive_terms(
    texts: Sequence[str],
    clusters: np.ndarray,
    *,
    n_terms: int = 3,
    term_embedder=None,
    embeddings: np.ndarray | None = None,
) -> dict[int, list[str]]:
    """The ``n_terms`` most distinctive terms of every cluster (noise excluded).

    Parameters
    ----------
    texts : sequence of str, length n
    clusters : array_like of int, shape (n,)
        Cluster id per text; ``-1`` (noise) takes part in the background counts only.
    n_terms : int
    term_embedder : LangChain ``Embeddings``, optional
        The model that embedded the documents: candidates are ranked by similarity to each
        cluster's mean vector (module docstring). Errors from it propagate; see
        :func:`summarise_clusters` for the fallback.
    embeddings : array_like of shape (n, dim), optional
        The documents' vectors; required with ``term_embedder``.

    Returns
    -------
    dict
        cluster id -> terms, most distinctive first (possibly fewer than ``n_terms``).
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    if clusters.shape != (len(texts),):
        raise InvalidInputError(f"{clusters.shape[0]} cluster ids for {len(texts)} texts")
    _check_n_terms(n_terms)
    if term_embedder is not None and embeddings is None:
        raise InvalidInputError("term_embedder needs the documents' embeddings to rank terms")
    scored = _scored_terms(texts, clusters)
    if term_embedder is None:
        return _counted(scored, n_terms)
    return _ranked_by_model(scored, clusters, embeddings, term_embedder, n_terms)


def _counted(
    scored: dict[int, tuple[int, list[tuple[float, int, str]]]], n_terms: int
) -> dict[int, list[str]]:
    """The labels by counts alone: the best-scored terms, preferring those in several docs."""
    out = {}
    for c, (n_c, ranked) in scored.items():
        preferred = [s for s in ranked if s[1] >= _floor(n_c)]
        out[c] = _pick(preferred or ranked, n_terms)
    return out


def _check_n_terms(n_terms: int) -> None:
    if n_terms < 1:
        raise InvalidInputError(f"n_terms must be at least 1, got {n_terms}")


def _floor(n_c: int) -> int:
    """Documents of its cluster a term should occur in to be preferred."""
    return 2 if n_c >= 4 else 1


def _scored_terms(
    texts: Sequence[str], clusters: np.ndarray
) -> dict[int, tuple[int, list[tuple[float, int, str]]]]:
    """cluster id -> (size, [(c-TF-IDF score, df in cluster, term)], best first)."""
    doc_terms = [terms_of(t) for t in texts]
    df_all: Counter[str] = Counter()
    for terms in doc_terms:
        df_all.update(terms)
    ids = sorted({int(c) for c in clusters if c != NOISE})
    if not ids:
        return {}
    average = float(np.mean([np.count_nonzero(clusters == c) for c in ids]))
    out = {}
    for c in ids:
        members = np.flatnonzero(clusters == c)
        df_c: Counter[str] = Counter()
        for i in members:
            df_c.update(doc_terms[i])
        n_c = len(members)
        out[c] = (
            n_c,
            sorted(
                ((df / n_c * math.log(1.0 + average / df_all[t]), df, t) for t, df in df_c.items()),
                key=lambda item: (-item[0], -item[1], -len(item[2]), item[2]),
            ),
        )
    return out


def _is_word(term: str) -> bool:
    """One word of a spaced script (not a phrase, not a CJK n-gram)."""
    return " " not in term and not _CJK_RUN.match(term)


def _ranked_by_model(
    scored: dict[int, tuple[int, list[tuple[float, int, str]]]],
    clusters: np.ndarray,
    embeddings: np.ndarray,
    term_embedder,
    n_terms: int,
) -> dict[int, list[str]]:
    candidates: dict[int, list[str]] = {}
    for c, (n_c, ranked) in scored.items():
        floor = _floor(n_c)
        qualified = [t for _, df, t in ranked if df >= floor or _is_word(t)]
        # A cluster of CJK texts sharing no n-gram still gets a label: from all its terms.
        candidates[c] = (qualified or [t for _, _, t in ranked])[:TERM_CANDIDATES]
    vocabulary = sorted({t for terms in candidates.values() for t in terms})
    if not vocabulary:
        return {c: [] for c in scored}
    vectors = np.asarray(term_embedder.embed_documents(vocabulary), dtype=np.float32)
    docs = np.asarray(embeddings, dtype=np.float32)
    if vectors.shape != (len(vocabulary), docs.shape[1]):
        raise InvalidInputError(
            f"the term model returned vectors of shape {vectors.shape} for {len(vocabulary)} "
            f"terms; the documents' vectors are {docs.shape[1]}-d"
        )
    vectors = normalize(vectors)
    row_of = {t: i for i, t in enumerate(vocabulary)}
    out: dict[int, list[str]] = {}
    for c, terms in candidates.items():
        centre = normalize(docs[clusters == c]).mean(axis=0)
        term_vectors = vectors[[row_of[t] for t in terms]]
        closeness = term_vectors @ centre
        chosen: list[int] = []
        for i in sorted(range(len(terms)), key=lambda i: (-closeness[i], i)):
            if any(
                _contains(terms[j], terms[i])
                or _contains(terms[i], terms[j])
                or float(term_vectors[i] @ term_vectors[j]) > SYNONYM_COSINE
                for j in chosen
            ):
                continue
            chosen.append(i)
            if len(chosen) == n_terms:
                break
        out[c] = [terms[i] for i in chosen]
    return out


def _pick(scored: list[tuple[float, int, str]], n_terms: int) -> list[str]:
    """Best terms without overlaps: a longer term nearly as frequent replaces a part of it."""
    chosen: list[tuple[int, str]] = []  # (df in cluster, term)
    for _, df, term in scored[:300]:
        overlap = [i for i, (_, t) in enumerate(chosen) if _contains(t, term) or _contains(term, t)]
        if not overlap:
            if len(chosen) < n_terms:
                chosen.append((df, term))
            continue
        held_df, held = chosen[overlap[0]]
        if len(overlap) == 1 and _contains(term, held) and df >= 0.7 * held_df:
            chosen[overlap[0]] = (df, term)
    return [t for _, t in chosen]


def summarise_clusters(
    texts: Sequence[str],
    clusters: np.ndarray,
    *,
    embeddings: np.ndarray | None = None,
    xy: np.ndarray | None = None,
    n_terms: int = 3,
    max_docs: int = MAX_LABEL_DOCS,
    seed: int = 0,
    term_embedder=None,
    on_fallback: Callable[[str], None] | None = None,
) -> list[ClusterSummary]:
    """Label, size and two representative documents of every cluster (noise last).

    Parameters
    ----------
    texts : sequence of str, length n
    clusters : array_like of int, shape (n,)
    embeddings : array_like of shape (n, dim), optional
        Representatives are the members most similar (cosine) to the cluster's mean vector;
        without embeddings, the members nearest the cluster's centre on the map (``xy``).
    xy : array_like of shape (n, 2), optional
    n_terms : int
    max_docs : int
        Read at most this many texts for the terms (a seeded sample; every cluster keeps at
        least :data:`MIN_DOCS_PER_CLUSTER` or all its members).
    seed : int
    term_embedder : LangChain ``Embeddings``, optional
        Rank each cluster's candidate terms by the model (needs ``embeddings``; see the module
        docstring). When it fails, the counting labels are used.
    on_fallback : callable(str), optional
        Told why, when ``term_embedder`` failed and the counting labels were used.

    Returns
    -------
    list of ClusterSummary
        By cluster id (0 is the largest), then noise.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    n = clusters.shape[0]
    if len(texts) != n:
        raise InvalidInputError(f"{n} cluster ids for {len(texts)} texts")
    rows = _label_sample(clusters, max_docs, seed)
    _check_n_terms(n_terms)
    sampled = clusters[rows]
    scored = _scored_terms([texts[i] for i in rows], sampled)  # tokenised once, for either way
    terms = None
    if term_embedder is not None and embeddings is not None:
        try:
            terms = _ranked_by_model(
                scored, sampled, np.asarray(embeddings[rows]), term_embedder, n_terms
            )
        except Exception as exc:  # any fault of the model: the map keeps its counting labels
            if on_fallback is not None:
                on_fallback(
                    f"Cluster labels are by word counts only: the model could not rank them "
                    f"({type(exc).__name__}: {exc})."
                )
    if terms is None:
        terms = _counted(scored, n_terms)
    summaries = []
    for c in sorted({int(c) for c in clusters}, key=lambda c: (c == NOISE, c)):
        members = np.flatnonzero(clusters == c)
        words = tuple(terms.get(c, ()))
        label = " · ".join(words) if words else f"cluster {c}"
        label = NOISE_LABEL if c == NOISE else label
        summaries.append(
            ClusterSummary(
                cluster=c,
                label=label,
                terms=words if c != NOISE else (),
                size=len(members),
                representatives=_representatives(members, embeddings, xy),
            )
        )
    return summaries


def _label_sample(clusters: np.ndarray, max_docs: int, seed: int) -> np.ndarray:
    n = clusters.shape[0]
    if n <= max_docs:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(n, size=max_docs, replace=False)]
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        take = min(len(members), MIN_DOCS_PER_CLUSTER)
        picked.append(rng.choice(members, size=take, replace=False))
    return np.unique(np.concatenate(picked))


def _representatives(
    members: np.ndarray, embeddings: np.ndarray | None, xy: np.ndarray | None, count: int = 2
) -> tuple[int, ...]:
    if len(members) == 0:
        return ()
    probe = members if len(members) <= 20_000 else members[:: len(members) // 20_000 + 1]
    if embeddings is not None:
        unit = normalize(np.asarray(embeddings[probe], dtype=np.float32))
        centre = unit.mean(axis=0)
        closeness = unit @ centre
    elif xy is not None:
        points = np.asarray(xy, dtype=np.float64)[probe]
        closeness = -np.linalg.norm(points - points.mean(axis=0), axis=1)
    else:
        return tuple(int(i) for i in probe[:count])
    order = np.lexsort((probe, -closeness))[:count]
    return tuple(int(probe[i]) for i in order)
