"""Search parameters, once parsed (`app.fhir.search`), read as the services ask them: the one
record a reference names, a window of time from date comparisons, a set of codes from token
values. Every parameter is checked (a bad one is a 400) even when another already leaves
nothing to match (an id no record has, a window that closes before it opens): the search is
then `matches_nothing`, answered with an empty Bundle, asked of no database."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TypeVar

from app.fhir.search import InvalidSearch, Moment, Ref, SearchQuery, Token

T = TypeVar("T")


class Criteria:
    """What a search asks, read one parameter at a time."""

    def __init__(self, query: SearchQuery) -> None:
        self.query = query
        self.matches_nothing = False

    def one_record(self, name: str) -> uuid.UUID | None:
        """The record a reference parameter names (None: not asked, or none of ours). One
        record a search: several alternatives (`patient=a,b`) are refused; repeated, it must
        name the same record each time."""
        chosen: set[uuid.UUID | None] = set()
        for alternatives in self.query.all(name):
            if len(alternatives) != 1:
                raise InvalidSearch(f"`{name}` names one record a search, not several.")
            [value] = alternatives
            assert isinstance(value, Ref)
            chosen.add(value.id)
        if len(chosen) > 1 or None in chosen:
            self.matches_nothing = True  # an id no record of ours has, or two records
            return None
        return next(iter(chosen), None)

    def time_window(self, name: str) -> tuple[datetime | None, datetime | None]:
        """The window [from, before) a date parameter's comparisons leave (None: that end
        open). A value names a span of time, as FHIR's dates do (a day, a minute, a second):
        `eq` is within it, `ge` from its start, `gt` after its end, `le` up to its end, `lt`
        before its start. Repeated, the comparisons all hold."""
        lows: list[datetime] = []
        highs: list[datetime] = []
        for alternatives in self.query.all(name):
            if len(alternatives) != 1:
                raise InvalidSearch(
                    f"`{name}` takes one value at a time: repeat it to bound both ends."
                )
            [value] = alternatives
            assert isinstance(value, Moment)
            if value.prefix in ("eq", "ge"):
                lows.append(value.at)
            if value.prefix == "gt":
                lows.append(value.until)
            if value.prefix in ("eq", "le"):
                highs.append(value.until)
            if value.prefix == "lt":
                highs.append(value.at)
        start, end = max(lows, default=None), min(highs, default=None)
        if start is not None and end is not None and start >= end:
            self.matches_nothing = True
        return start, end

    def codes(
        self, name: str, known: Mapping[str, T], others: Collection[str]
    ) -> frozenset[T] | None:
        """What a token parameter asks: the values its codes stand for (None: not asked).
        Each occurrence's codes are alternatives; repeated, all must hold. `others`: codes of
        the FHIR value set that no record here has (they match nothing); any other code, or a
        code with a system, is a 400."""
        chosen: frozenset[T] | None = None
        for alternatives in self.query.all(name):
            these: set[T] = set()
            for value in alternatives:
                assert isinstance(value, Token)
                if value.system is not None or value.code not in {*known, *others}:
                    takes = ", ".join(sorted({*known, *others}))
                    raise InvalidSearch(f"`{name}` is a code alone, one of: {takes}.")
                if value.code in known:
                    these.add(known[value.code])
            chosen = frozenset(these) if chosen is None else chosen & these
        if chosen is not None and not chosen:
            self.matches_nothing = True
        return chosen
