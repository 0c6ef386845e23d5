"""The errors of ``python -m tflite.convert``: each one says what is wrong, where, and how to fix it.

The CLI prints ``error: <message>`` on one line and exits with :data:`EXIT_BAD_INPUT`.
"""
from __future__ import annotations

EXIT_BAD_INPUT = 2


class ConvertError(Exception):
    """Bad input for a conversion; nothing has been written when it is raised.

    Attributes:
        what: what is wrong (``"no completed trial"``).
        where: the study, trial, file or option concerned.
        fix: how to fix it.
    """

    def __init__(self, what: str, where: str, fix: str) -> None:
        self.what, self.where, self.fix = what, where, fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message on one line: ``what: where; fix``."""
        text = f"{self.what}: {self.where}; {self.fix}"
        return " ".join(text.split())


class StudyError(ConvertError):
    """The study, the trial or its checkpoint cannot be found or used."""


class ModelError(ConvertError):
    """The trial's model cannot be exported to TFLite (not SSD, unsupported resizer...)."""


class DataError(ConvertError):
    """Evaluation or representative data is missing or empty."""


class OutputError(ConvertError):
    """The output directory cannot be written."""
