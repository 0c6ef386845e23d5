"""The conversion report: one row per measured model, saved as ``report.json`` and ``report.md``.

``report.json`` is the contract read by ``notebooks/study_report.ipynb``::

    {"study": ..., "trial": N, "checkpoint": "ckpt-N", "eval_images": 16, "threads": 2,
     "input": {...}, "notes": [...],
     "rows": [{"variant": "checkpoint", "map": ..., "map50": ..., "map_drop": 0.0,
               "size_bytes": null, "latency_median_ms": null, "latency_p90_ms": null, ...},
              {"variant": "int8", ..., "input_dtype": "uint8", "input_scale": 0.00784,
               "input_zero_point": 127, "output_dtypes": {"boxes": "float32", ...},
               "output_names": {"boxes": "StatefulPartitionedCall:3", ...}}, ...]}

``map_drop`` is the checkpoint's mAP minus the row's (positive: the variant lost accuracy).
The I/O fields are read from the converted ``.tflite`` file itself, not from the options asked.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CHECKPOINT_ROW = "checkpoint"


@dataclasses.dataclass(frozen=True)
class Row:
    """One measured model.

    Attributes:
        variant: ``checkpoint`` (the TF model, for reference) or a TFLite variant name.
        file: the ``.tflite`` file name (``None`` for the checkpoint).
        map: COCO mAP@[.5:.95] on the eval images.
        map50: COCO mAP@.50.
        map_drop: reference mAP minus this mAP.
        size_bytes: file size (``None`` for the checkpoint).
        latency_median_ms, latency_p90_ms: per-image ``invoke`` time (``None`` for the checkpoint).
        threads: interpreter threads the latency was measured with.
        note: how the row was produced (e.g. uint8 input).
        input_dtype: the model's actual input dtype (``None`` for the checkpoint).
        input_scale, input_zero_point: quantization of an integer input (``None`` for float).
        output_dtypes: role (boxes, classes, scores, num) -> actual output dtype.
        output_names: role -> output tensor name in the ``.tflite`` file.
    """

    variant: str
    file: str | None
    map: float
    map50: float
    map_drop: float
    size_bytes: int | None = None
    latency_median_ms: float | None = None
    latency_p90_ms: float | None = None
    threads: int | None = None
    note: str = ""
    input_dtype: str | None = None
    input_scale: float | None = None
    input_zero_point: int | None = None
    output_dtypes: dict[str, str] | None = None
    output_names: dict[str, str] | None = None

    def io_text(self) -> str:
        """``"uint8 -> float32"``: input and output dtypes (``-`` for the checkpoint)."""
        if self.input_dtype is None:
            return "-"
        outputs = sorted(set((self.output_dtypes or {}).values())) or ["?"]
        return f"{self.input_dtype} -> {'/'.join(outputs)}"


@dataclasses.dataclass(frozen=True)
class Report:
    """Everything ``python -m tflite.convert`` measured."""

    study: str
    trial: int
    checkpoint: str
    eval_images: int
    threads: int
    latency_runs: int
    rows: tuple[Row, ...]
    input: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def row(self, variant: str) -> Row:
        """Raises:
            KeyError: no row for ``variant``.
        """
        for r in self.rows:
            if r.variant == variant:
                return r
        raise KeyError(variant)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["rows"] = tuple(Row(**r) for r in data["rows"])
        values["notes"] = tuple(data.get("notes", ()))
        return cls(**values)

    def to_markdown(self) -> str:
        """The table (plus its context and notes) as GitHub markdown."""
        head = (f"TFLite report: study `{self.study}`, trial {self.trial}, checkpoint `{self.checkpoint}`; "
                f"COCO metrics on {self.eval_images} eval images; latency over {self.latency_runs} runs "
                f"with {self.threads} interpreter thread(s).\n\n")
        lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
        lines += ["| " + " | ".join(_cells(r)) + " |" for r in self.rows]
        notes = "".join(f"\n- {n}" for n in self.notes)
        return head + "\n".join(lines) + "\n" + (f"\nNotes:{notes}\n" if notes else "")

    def to_text(self) -> str:
        """The table as aligned plain text (for the terminal)."""
        table = [list(_HEADERS)] + [_cells(r) for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(_HEADERS))]
        out = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        out.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(out)

    def write(self, directory: str | Path) -> None:
        directory = Path(directory)
        (directory / REPORT_JSON).write_text(json.dumps(self.to_json(), indent=2) + "\n")
        (directory / REPORT_MD).write_text(self.to_markdown())


def load(path: str | Path) -> Report:
    """Read a ``report.json`` (or the directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    return Report.from_json(json.loads(path.read_text()))


_HEADERS = ("variant", "mAP", "mAP@.50", "mAP drop", "size", "latency median", "latency p90", "threads", "I/O")


def _num(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def _cells(r: Row) -> list[str]:
    return [r.variant, _num(r.map, ".4f"), _num(r.map50, ".4f"), _num(r.map_drop, "+.4f"), _size(r.size_bytes),
            _num(r.latency_median_ms, ".2f") + (" ms" if r.latency_median_ms is not None else ""),
            _num(r.latency_p90_ms, ".2f") + (" ms" if r.latency_p90_ms is not None else ""),
            str(r.threads) if r.threads is not None else "-", r.io_text()]
