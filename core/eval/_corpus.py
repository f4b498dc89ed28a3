"""The documents an evaluation ranks, with the three ways a label can point at one of them.

A document is found by its **id** (a column the user names, e.g. ``id``), by its **source and
place** (``faq.csv#row 3``, ``notes.txt#12``, ``manual.pdf#page 2``) or by its **exact text**.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.errors import InvalidInputError

__all__ = ["EvalCorpus"]

_NUMBER = re.compile(r"(\d+)")


@dataclass
class EvalCorpus:
    """Documents to rank: texts plus what labels may refer to them by.

    Attributes
    ----------
    texts : list of str
        ``n_docs`` document texts.
    ids : list of str or None
        The document id of each text (from the id column), or None when the documents have none.
    sources, locations : list of str
        File name and place (``"row 3"``, ``"line 12"``, ``"page 2"``) of each text; empty
        strings when unknown.
    name : str
        What the corpus is, for display ("the sample corpus", file names).
    """

    texts: list[str]
    ids: list[str] | None = None
    sources: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    name: str = "documents"

    def __post_init__(self) -> None:
        n = len(self.texts)
        if n == 0:
            raise InvalidInputError(f"{self.name}: no documents to evaluate on")
        self.sources = list(self.sources) or [""] * n
        self.locations = list(self.locations) or [""] * n
        for what, values in (("ids", self.ids), ("sources", self.sources)):
            if values is not None and len(values) != n:
                raise InvalidInputError(f"{len(values)} {what} for {n} documents")
        self._by_id: dict[str, list[int]] = defaultdict(list)
        for i, doc_id in enumerate(self.ids or []):
            self._by_id[str(doc_id)].append(i)
        self._by_text: dict[str, list[int]] = defaultdict(list)
        for i, text in enumerate(self.texts):
            self._by_text[text].append(i)
        self._by_place: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (source, location) in enumerate(zip(self.sources, self.locations, strict=True)):
            if source:
                self._by_place[(source, location)].append(i)
                number = _NUMBER.search(location)
                if number:
                    self._by_place[(source, number.group(1))].append(i)

    def __len__(self) -> int:
        return len(self.texts)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls, texts: Sequence[str], metadata: pd.DataFrame, *, id_column: str | None, name: str
    ) -> EvalCorpus:
        """From texts and the metadata of parsed files or a collection (``source``, ``location``
        and the other columns); ``id_column`` names the column holding document ids.

        Raises
        ------
        InvalidInputError
            ``id_column`` is not a column (the message lists the columns).
        """
        ids = None
        if id_column:
            # Parsing renames a CSV column that clashes with its own (``source`` -> ``source_``).
            column = next((c for c in (id_column, f"{id_column}_") if c in metadata.columns), None)
            if column is None:
                extra = [c for c in metadata.columns if c not in ("source", "location", "chunk")]
                raise InvalidInputError(
                    f"{name}: no id column {id_column!r}; columns besides the text: "
                    f"{', '.join(map(str, extra)) or 'none'}"
                )
            ids = ["" if pd.isna(v) else str(v) for v in metadata[column]]
        sources = [str(s) for s in metadata["source"]] if "source" in metadata.columns else []
        locations = [str(s) for s in metadata["location"]] if "location" in metadata else []
        return cls(list(texts), ids, sources, locations, name)

    @classmethod
    def sample(cls) -> EvalCorpus:
        """The built-in bilingual sample corpus (ids like ``"music-03"``)."""
        from core.data._sample import SAMPLE_DOCUMENTS

        return cls(
            [d.text for d in SAMPLE_DOCUMENTS],
            [d.id for d in SAMPLE_DOCUMENTS],
            ["sample corpus"] * len(SAMPLE_DOCUMENTS),
            [f"row {i}" for i in range(1, len(SAMPLE_DOCUMENTS) + 1)],
            name="the sample corpus",
        )

    # -- lookup ------------------------------------------------------------------------------
    def label(self, i: int) -> str:
        """How document ``i`` is named in results: its id, else ``source#location``, else
        ``#i``."""
        if self.ids is not None and self.ids[i]:
            return self.ids[i]
        if self.sources[i]:
            return f"{self.sources[i]}#{self.locations[i]}"
        return f"#{i}"

    def find(self, reference: str) -> list[int]:
        """Documents a reference names: an id, else ``source#place``; empty when none."""
        found = self._by_id.get(reference)
        if found:
            return list(found)
        source, sep, place = reference.rpartition("#")
        if sep:
            return list(self._by_place.get((source.strip(), place.strip()), []))
        return []

    def find_text(self, text: str) -> list[int]:
        """Documents whose text is exactly ``text``."""
        return list(self._by_text.get(text, []))

    def explain_miss(self, reference: str) -> str:
        """Why ``reference`` matched nothing, and what the valid references look like."""
        source, sep, place = reference.rpartition("#")
        known_sources = list(dict.fromkeys(s for s in self.sources if s))
        if sep and source.strip() in known_sources:
            places = [
                loc for s, loc in zip(self.sources, self.locations, strict=True) if s == source
            ]
            span = f"it has {places[0]} to {places[-1]}" if places[0] else "its places are unknown"
            return (
                f"{reference!r} matches no document: {source.strip()} has no {place.strip()!r} "
                f"({span})"
            )
        parts = []
        if self.ids is not None:
            examples = ", ".join(repr(i) for i in list(dict.fromkeys(self.ids))[:2])
            parts.append(f"no document has the id {reference!r} (ids look like {examples})")
        else:
            parts.append("the documents have no id column")
        if known_sources:
            shown = ", ".join(known_sources[:3]) + (", …" if len(known_sources) > 3 else "")
            parts.append(f"nor is it SOURCE#ROW of a file given ({shown})")
        return f"{reference!r} matches no document: " + "; ".join(parts)
