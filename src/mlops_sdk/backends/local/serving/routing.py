"""Traffic maps and weighted routing.

A :class:`RoutingTable` is an immutable snapshot (deployments, live traffic, mirror traffic). The
app swaps the whole table in one assignment, so a request routed under the old table finishes on
the model object it got, and the next request sees the new table: no request is dropped while
traffic moves.

Routing is deterministic *smooth weighted round robin* (the nginx algorithm): with weights
``{blue: 90, green: 10}`` every window of 100 requests sends exactly 90 to blue and 10 to green,
spread evenly, so the observed split matches the weights at any concurrency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_MIRROR_PERCENT", "RoutingTable", "TrafficError", "smooth_schedule", "validate_traffic"]

MAX_MIRROR_PERCENT = 50


class TrafficError(ValueError):
    """A traffic or mirror map is not acceptable; the message names the entry."""


def validate_traffic(
    traffic: Mapping[str, Any], mirror: Mapping[str, Any], deployments: Mapping[str, Any] | set[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Check and normalise a live traffic map and a mirror map, Azure ML's rules.

    Live weights are integers 0..100 summing to 100 (or all 0 / empty); mirror weights are
    integers 0..50 and may only name deployments that receive no live traffic. Every name must be
    a known deployment.

    Raises:
        TrafficError: with the offending entry named.
    """
    known = set(deployments)
    clean: dict[str, int] = {}
    for kind, values, upper in (("traffic", traffic, 100), ("mirror", mirror, MAX_MIRROR_PERCENT)):
        if not isinstance(values, Mapping):
            raise TrafficError(f"{kind} must be an object of deployment names to percentages")
        for name, weight in values.items():
            if name not in known:
                raise TrafficError(
                    f"{kind} names deployment {name!r}, which does not exist; deployments: {sorted(known)}"
                )
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= upper:
                raise TrafficError(f"{kind}[{name!r}] must be an integer from 0 to {upper}, got {weight!r}")
    clean = {str(name): int(weight) for name, weight in traffic.items()}
    mirrored = {str(name): int(weight) for name, weight in mirror.items() if int(weight) > 0}
    total = sum(clean.values())
    if total not in (0, 100):
        raise TrafficError(f"traffic percentages must add up to 100 (or all be 0); they add up to {total}")
    for name in mirrored:
        if clean.get(name, 0) > 0:
            raise TrafficError(f"deployment {name!r} cannot receive both live traffic and mirrored traffic")
    return clean, mirrored


def smooth_schedule(weights: Mapping[str, int]) -> list[str]:
    """One cycle of smooth weighted round robin: ``sum(weights)`` names, each ``weight`` times, interleaved."""
    active = {name: weight for name, weight in sorted(weights.items()) if weight > 0}
    total = sum(active.values())
    current = dict.fromkeys(active, 0)
    schedule: list[str] = []
    for _ in range(total):
        for name, weight in active.items():
            current[name] += weight
        chosen = max(current, key=lambda name: current[name])
        current[chosen] -= total
        schedule.append(chosen)
    return schedule


@dataclass
class RoutingTable:
    """Immutable-by-convention routing snapshot plus its round-robin cursors.

    Attributes:
        deployments: Name -> loaded deployment object.
        traffic: Live percentages.
        mirror: Mirrored percentages (copies whose answers are discarded).
    """

    deployments: Mapping[str, Any]
    traffic: Mapping[str, int]
    mirror: Mapping[str, int] = field(default_factory=dict)
    _schedule: list[str] = field(default_factory=list, init=False, repr=False)
    _cursor: int = field(default=0, init=False, repr=False)
    _mirror_schedule: list[tuple[str, ...]] = field(default_factory=list, init=False, repr=False)
    _mirror_cursor: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._schedule = smooth_schedule(self.traffic)
        # For each of 100 consecutive requests, which mirror deployments get a copy.
        slots: list[list[str]] = [[] for _ in range(100)]
        for name, percent in sorted(self.mirror.items()):
            for index, chosen in enumerate(smooth_schedule({name: percent, "": 100 - percent})):
                if chosen == name:
                    slots[index].append(name)
        self._mirror_schedule = [tuple(slot) for slot in slots]

    def pick(self) -> str | None:
        """The deployment the next unrouted request goes to (``None`` when no live traffic is set)."""
        if not self._schedule:
            return None
        name = self._schedule[self._cursor]
        self._cursor = (self._cursor + 1) % len(self._schedule)
        return name

    def mirrors(self) -> tuple[str, ...]:
        """The deployments that get a copy of the next routed request."""
        if not self.mirror:
            return ()
        chosen = self._mirror_schedule[self._mirror_cursor]
        self._mirror_cursor = (self._mirror_cursor + 1) % 100
        return chosen
