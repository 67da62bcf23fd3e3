"""Work items and how they are grouped into requests."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WorkItem:
    """One unit of provider work: usually one input, sometimes a part of one.

    ``index`` is the input's position in the caller's list; several items may share it
    (e.g. the windows of a long video), and their vectors are concatenated in order.
    ``payload`` is the provider's prepared request part. Items batch together only when
    their ``group`` is equal (e.g. the same per-call title); ``weight`` counts toward a
    per-request size budget (e.g. inline bytes); ``tokens`` is the estimated input tokens a
    quota counts.
    """

    index: int
    payload: Any
    cache_key: str | None = None
    group: Hashable = None
    weight: int = 0
    tokens: int = 0
    #: The part of ``tokens`` that is media (priced apart by some models).
    media_tokens: int = 0
    #: Other items with the same cache key in this call: embedded once, answered together.
    duplicates: list[WorkItem] = field(default_factory=list, repr=False)
    #: Whether the input is still what ``cache_key`` was computed from (e.g. its files were
    #: not rewritten since); asked before the vector is cached. None: always.
    unchanged: Callable[[], bool] | None = field(default=None, repr=False, compare=False)


def plan_batches(
    items: Sequence[WorkItem],
    max_items: int,
    max_weight: int | None = None,
    max_tokens: int | None = None,
) -> list[list[WorkItem]]:
    """Split items into request-sized batches, in input order, one group per batch.

    A batch closes when it reaches ``max_items`` or when the next item would push its
    weight over ``max_weight`` or its tokens over ``max_tokens`` (an item over a budget
    goes alone).
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    open_batches: dict[Hashable, _Batch] = {}
    closed: list[_Batch] = []
    for position, item in enumerate(items):
        current = open_batches.get(item.group)
        if current is not None and current.is_full(item, max_items, max_weight, max_tokens):
            closed.append(current)
            current = None
        if current is None:
            current = open_batches[item.group] = _Batch(position)
        current.add(item)
    closed.extend(open_batches.values())
    closed.sort(key=lambda b: b.first_position)
    return [b.items for b in closed]


@dataclass
class _Batch:
    first_position: int
    items: list[WorkItem] = field(default_factory=list)
    weight: int = 0
    tokens: int = 0

    def is_full(
        self, item: WorkItem, max_items: int, max_weight: int | None, max_tokens: int | None
    ) -> bool:
        over_weight = max_weight is not None and self.weight + item.weight > max_weight
        over_tokens = max_tokens is not None and self.tokens + item.tokens > max_tokens
        return len(self.items) >= max_items or (bool(self.items) and (over_weight or over_tokens))

    def add(self, item: WorkItem) -> None:
        self.items.append(item)
        self.weight += item.weight
        self.tokens += item.tokens


def split(batch: Sequence[WorkItem]) -> Iterator[list[WorkItem]]:
    """Halve a batch (used to isolate the item a service rejects)."""
    middle = len(batch) // 2
    yield list(batch[:middle])
    yield list(batch[middle:])
