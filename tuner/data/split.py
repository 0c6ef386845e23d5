"""Split fractions (``train=0.8,eval=0.1,test=0.1``) and the seeded assignment of images to splits.

The converter shuffles the image entries with the seed, then hands each image it keeps to
:meth:`Splitter.assign`, which gives it to the split furthest behind its share (ties: the
first split named). After any number of images every split holds its fraction of them to
within one image, an image is assigned exactly once, and equal seeds and sources give equal
splits. Images skipped while reading do not shift the shares of the others.
"""
from __future__ import annotations

import dataclasses
import math
import re

from tuner.data.issues import DatasetError

DEFAULT_SPLIT = "train=0.8,eval=0.1,test=0.1"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """Split names and fractions, in the order given; fractions > 0 summing to 1."""

    fractions: tuple[tuple[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fractions)

    @classmethod
    def parse(cls, text: str) -> SplitSpec:
        """``name=fraction,...`` (names lower-case, each once; fractions > 0, summing to 1).

        Raises:
            DatasetError: naming the part that is wrong and the expected form.
        """
        fix = f"write --split as name=fraction pairs summing to 1, e.g. {DEFAULT_SPLIT}"
        parts: list[tuple[str, float]] = []
        for part in (p.strip() for p in text.split(",")):
            name, _, value = part.partition("=")
            name = name.strip()
            try:
                fraction = float(value)
            except ValueError:
                fraction = math.nan
            if not _NAME.fullmatch(name) or not math.isfinite(fraction):
                raise DatasetError(f"--split part {part!r} is not name=fraction (name: a-z, 0-9, _); {fix}")
            if not 0 < fraction <= 1:
                raise DatasetError(f"--split fraction of {name} is {value.strip()}, not in (0, 1]; leave out a split "
                                   f"that should be empty; {fix}")
            if name in (n for n, _ in parts):
                raise DatasetError(f"--split names {name} twice; {fix}")
            parts.append((name, fraction))
        total = sum(f for _, f in parts)
        if abs(total - 1) > 1e-6:
            raise DatasetError(f"--split fractions sum to {total:g}, not 1; {fix}")
        return cls(tuple(parts))

    def to_json(self) -> dict[str, float]:
        return dict(self.fractions)


class Splitter:
    """Assigns images to splits in proportion to their fractions (see the module docstring)."""

    def __init__(self, spec: SplitSpec) -> None:
        self.spec = spec
        self.counts = dict.fromkeys(spec.names, 0)
        self._total = 0

    def assign(self) -> str:
        """The split of the next image (counted as assigned)."""
        self._total += 1
        name = max(self.spec.fractions, key=lambda nf: nf[1] * self._total - self.counts[nf[0]])[0]
        self.counts[name] += 1
        return name
