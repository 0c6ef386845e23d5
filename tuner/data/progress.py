"""A progress bar on stderr: tqdm when it is installed, else a plain line now and then."""
from __future__ import annotations

import sys
import time
from typing import Callable, Protocol, TextIO


class ProgressBar(Protocol):
    """What the converter calls: ``update`` after each image, ``close`` at the end."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


#: Makes a bar for a known total (images).
ProgressFactory = Callable[[int], ProgressBar]


class LineProgress:
    """``convert: 120/500 images`` on ``stream``, at most every ``every`` seconds, and at the end."""

    def __init__(self, total: int, stream: TextIO | None = None, every: float = 2.0, label: str = "convert") -> None:
        self.total, self.done, self.every, self.label = total, 0, every, label
        self.stream = stream if stream is not None else sys.stderr
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self._print()

    def _print(self) -> None:
        self.stream.write(f"{self.label}: {self.done}/{self.total} images\n")
        self.stream.flush()

    def close(self) -> None:
        self._print()


def stderr_progress(label: str = "convert") -> ProgressFactory:
    """A factory of tqdm bars on stderr when it is a terminal and tqdm is installed, else of
    plain :class:`LineProgress` lines (readable in logs)."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is None or not sys.stderr.isatty():
        return lambda total: LineProgress(total, label=label)
    return lambda total: tqdm(total=total, desc=label, unit="img", file=sys.stderr, mininterval=0.5, leave=False)
