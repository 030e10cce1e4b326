"""Sampling tools for the generator: fast uniforms, urns, mixtures, and
fixed-size multi-choice samples with given inclusion probabilities.

Urns (sampling without replacement from a deck that holds each outcome in
proportion to its probability, reshuffled when empty) keep every distribution
within a fraction of a percentage point of its target even in small groups,
which plain independent draws would not; they are still random and seeded.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T", bound=Hashable)

DEFAULT_URN_SIZE = 100


class Uniforms:
    """Uniform floats in [0, 1) from a numpy Generator, drawn in blocks (scalar
    draws from numpy are slow; a list index is not)."""

    def __init__(self, rng: np.random.Generator, block: int = 16384) -> None:
        self.rng = rng
        self._block = block
        self._buffer: list[float] = []
        self._index = 0

    def __call__(self) -> float:
        if self._index >= len(self._buffer):
            self._buffer = self.rng.random(self._block).tolist()
            self._index = 0
        value = self._buffer[self._index]
        self._index += 1
        return value

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return min(int(self() * n), n - 1)

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high] (both included)."""
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        return self() < p


def normalise(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    return [w / total for w in weights]


def largest_remainder(weights: Sequence[float], size: int) -> list[int]:
    """Integer counts summing to ``size``, proportional to ``weights``."""
    shares = [w * size for w in normalise(weights)]
    counts = [int(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in order[: size - sum(counts)]:
        counts[i] += 1
    return counts


class Urn(Generic[T]):
    """Draws outcomes from a shuffled deck holding each in proportion to its weight."""

    def __init__(
        self,
        distribution: Mapping[T, float],
        rng: np.random.Generator,
        size: int = DEFAULT_URN_SIZE,
    ) -> None:
        self.outcomes: list[T] = list(distribution)
        counts = largest_remainder(list(distribution.values()), size)
        self._balls = np.repeat(np.arange(len(self.outcomes)), counts)
        self._rng = rng
        self._deck: list[int] = []

    def draw(self) -> T:
        if not self._deck:
            self._deck = self._rng.permutation(self._balls).tolist()
        return self.outcomes[self._deck.pop()]


class Urns(Generic[T]):
    """One urn per condition (a key), each with its own distribution."""

    def __init__(
        self,
        distributions: Mapping[Hashable, Mapping[T, float]],
        rng: np.random.Generator,
        size: int = DEFAULT_URN_SIZE,
    ) -> None:
        self._urns = {key: Urn(dist, rng, size) for key, dist in distributions.items()}

    def draw(self, key: Hashable) -> T:
        return self._urns[key].draw()


def bernoulli(p: float) -> dict[bool, float]:
    return {True: p, False: 1.0 - p}


def mixture_rest(
    total: Mapping[T, float], parts: Sequence[tuple[float, Mapping[T, float]]]
) -> dict[T, float]:
    """The distribution of the rest of a population, given the distribution of
    the whole (``total``) and of some groups with their population shares, so
    that the mixture reproduces ``total`` exactly."""
    keys = list(total)
    whole = dict(zip(keys, normalise([total[k] for k in keys]), strict=True))
    rest_share = 1.0 - sum(share for share, _ in parts)
    result: dict[T, float] = {}
    for key in keys:
        value = whole[key]
        for share, dist in parts:
            value -= share * dist.get(key, 0.0) / sum(dist.values())
        if value < -1e-9:
            raise ValueError("the groups' distributions cannot be part of the total")
        result[key] = max(value, 0.0) / rest_share
    return result


def inclusion_probabilities(shares: Sequence[float], k: int) -> list[float]:
    """Probabilities of inclusion in a sample of exactly ``k`` distinct items,
    proportional to ``shares`` but never above 1 (capped items are always in)."""
    n = len(shares)
    positive = [i for i in range(n) if shares[i] > 0]
    k = min(k, len(positive))
    capped: set[int] = set()
    while True:
        free = [i for i in positive if i not in capped]
        scale = (k - len(capped)) / sum(shares[i] for i in free)
        newly = {i for i in free if scale * shares[i] >= 1.0}
        if not newly:
            break
        capped |= newly
    probabilities = [0.0] * n
    for i in positive:
        probabilities[i] = 1.0 if i in capped else scale * shares[i]
    return probabilities


def systematic_sample(
    probabilities: Sequence[float], start: float, order: Sequence[int]
) -> list[int]:
    """Systematic πps sampling: exactly ``round(sum(probabilities))`` distinct
    items, each included with its probability when ``start`` is uniform in
    [0, 1). ``order`` is a random order of the items (so that joint inclusions
    are not tied to the list order)."""
    k = round(sum(probabilities))
    chosen: list[int] = []
    cumulative = 0.0
    point = start
    for i in order:
        p = probabilities[i]
        if p <= 0:
            continue
        cumulative += p
        while point < cumulative - 1e-12 and len(chosen) < k:
            if not chosen or chosen[-1] != i:
                chosen.append(i)
            point += 1.0
    return chosen


def calibrate_shares(
    targets: Sequence[float], sizes: Mapping[int, float], iterations: int = 300
) -> list[float]:
    """Shares whose capped inclusion probabilities, averaged over the sample-size
    distribution ``sizes`` ({k: probability}), give the ``targets`` (marginal
    inclusion probabilities; their sum should equal the mean size)."""
    weights = normalise(list(sizes.values()))
    ks = list(sizes)
    shares = normalise(targets)
    for _ in range(iterations):
        achieved = [0.0] * len(shares)
        for k, w in zip(ks, weights, strict=True):
            for i, p in enumerate(inclusion_probabilities(shares, k)):
                achieved[i] += w * p
        shares = normalise(
            [s * (t / a) if a > 0 else s for s, t, a in zip(shares, targets, achieved, strict=True)]
        )
    return shares


class SystematicDecks:
    """Systematic samples drawn in decks: per key, one random item order and
    ``size`` stratified starts, so that over a deck every item is included in
    almost exactly its expected share of the samples."""

    def __init__(self, items: int, rng: np.random.Generator, u: Uniforms, size: int = 20) -> None:
        self._items = items
        self._rng = rng
        self._u = u
        self._size = size
        self._decks: dict[Hashable, tuple[list[int], list[float]]] = {}

    def sample(self, key: Hashable, probabilities: Sequence[float]) -> list[int]:
        deck = self._decks.get(key)
        if deck is None or not deck[1]:
            order = self._rng.permutation(self._items).tolist()
            starts = [(j + self._u()) / self._size for j in range(self._size)]
            deck = self._decks[key] = (
                order,
                [starts[j] for j in self._rng.permutation(self._size).tolist()],
            )
        return systematic_sample(probabilities, deck[1].pop(), deck[0])


class MultiChoice:
    """Draws a set of codes: a size from ``sizes``, then that many distinct codes
    with inclusion probabilities that reproduce ``marginals`` (shares of cases)."""

    def __init__(
        self,
        marginals: Mapping[int, float],
        sizes: Mapping[int, float],
        rng: np.random.Generator,
        u: Uniforms,
        urn_size: int = DEFAULT_URN_SIZE,
    ) -> None:
        self.codes = list(marginals)
        mean_size = sum(k * w for k, w in zip(sizes, normalise(list(sizes.values())), strict=True))
        total = sum(marginals.values())
        targets = [marginals[c] / total * mean_size for c in self.codes]
        self._shares = calibrate_shares(targets, sizes)
        self._tables = {k: inclusion_probabilities(self._shares, k) for k in sizes}
        self._sizes: Urn[int] = Urn(sizes, rng, urn_size)
        self._decks = SystematicDecks(len(self.codes), rng, u)

    def draw(self, size: int | None = None) -> list[int]:
        k = self._sizes.draw() if size is None else size
        if k <= 0:
            return []
        table = self._tables.get(k)
        if table is None:
            table = self._tables[k] = inclusion_probabilities(self._shares, k)
        return sorted(self.codes[i] for i in self._decks.sample(k, table))
