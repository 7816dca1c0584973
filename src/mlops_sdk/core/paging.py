"""``ItemPaged[T]``: what every ``list_*`` method returns, after the Azure SDK's pageable iterator.

Iterate it (``for run in client.training.list_runs()``) or walk it page by page (``.by_page()``).
The first page is fetched when the ``list_*`` method is called, so a bad target or a refused request
fails at the call as before; later pages are fetched only when iteration reaches them. It is also a
read-only sequence (``len``, indexing, slicing, ``==`` with a list), so code written against the
plain lists earlier versions returned keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar, overload

__all__ = ["ItemPaged", "PageFetcher"]

T = TypeVar("T")

PageFetcher = Callable[[str | None], tuple[Sequence[T], str | None]]
"""Fetch the page a continuation token names (``None``: the first) -> ``(items, next token or None)``."""


class ItemPaged(Sequence[T]):
    """A lazily paged, iterable result of a ``list_*`` method.

    Args:
        fetch: Returns one page and the continuation token of the next (``None`` after the last).
    """

    def __init__(self, fetch: PageFetcher[T]) -> None:
        self._fetch = fetch
        first, token = fetch(None)
        self._pages: list[list[T]] = [list(first)]
        self._tokens: list[str | None] = [None, token]

    @classmethod
    def of(cls, items: Iterable[T]) -> ItemPaged[T]:
        """One page holding ``items`` (a service that returns everything at once)."""
        page = list(items)
        return cls(lambda token: (page, None))

    def by_page(self) -> Iterator[list[T]]:
        """The pages, in order; each is fetched when reached."""
        index = 0
        while True:
            if index < len(self._pages):
                yield list(self._pages[index])
                index += 1
                continue
            token = self._tokens[index]
            if token is None:
                return
            items, following = self._fetch(token)
            self._pages.append(list(items))
            self._tokens.append(following)

    def __iter__(self) -> Iterator[T]:
        for page in self.by_page():
            yield from page

    def _all(self) -> list[T]:
        return [item for page in self.by_page() for item in page]

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        # x[0] and x[:20] fetch only the pages they need (a CLI shows 20 of thousands of runs)
        if isinstance(index, slice):
            start, stop, step = index.start, index.stop, index.step
            bounded = stop is not None and stop >= 0 and (start is None or start >= 0) and (step is None or step > 0)
            return self._first(stop)[index] if bounded else self._all()[index]
        if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
            items = self._first(index + 1)
            if index < len(items):
                return items[index]
            raise IndexError("ItemPaged index out of range")
        return self._all()[index]

    def _first(self, count: int) -> list[T]:
        """At least the first ``count`` items (fewer when there are fewer), fetching no page beyond them."""
        items: list[T] = []
        for page in self.by_page():
            items.extend(page)
            if len(items) >= count:
                break
        return items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ItemPaged, list, tuple)):
            return self._all() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"ItemPaged({self._all()!r})"

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def to_list(self) -> list[T]:
        """Every item of every page."""
        return self._all()
