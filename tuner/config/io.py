"""Reading and writing text-format ``pipeline.config`` files.

Parsing uses the OD API's own generated ``pipeline_pb2`` and ``google.protobuf.text_format``,
so a file that loads here has exactly the schema the trainer reads. Output is deterministic
(``text_format.MessageToString``), so ``loads(dumps(cfg)) == cfg`` for every config.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import TypeVar

from google.protobuf import descriptor_pool, text_format
from google.protobuf.message import Message
from object_detection.protos import pipeline_pb2

from tuner import atomic
from tuner.config.errors import ConfigFileError, ConfigSyntaxError
from tuner.config.remote import PathLike, url_scheme
M = TypeVar("M", bound=Message)

_LOCATION = re.compile(r"^(\d+):(\d+) : ")
_QUOTED_LINE = re.compile(r"^'.*?': ")
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')
_NO_ENUM = re.compile(r'Enum type "([\w.]+)" has no value named (\w+)')
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[\w.+-]+|\S')


def _token_at(text: str, line: int, column: int, detail: str) -> str:
    """The token at line:column; '' when the parser ran off the end of the input.

    At end of input the parser reports the position of the last token it read, so an
    "Expected ..." error whose token is the last thing in the text is reported as end of input.
    """
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        return ""
    start = sum(len(chunk) for chunk in lines[:line - 1]) + max(column - 1, 0)
    rest = text[start:].lstrip()
    match = _TOKEN.match(rest)
    if not match:
        return ""
    if detail.startswith("Expected") and not rest[match.end():].strip():
        return ""
    return match.group(0)


#: Fields the OD API's schema no longer has that old configs (the zoo's TF1 samples) still carry.
REMOVED_FIELDS = {"batch_norm_trainable": "TF1 sample configs still carry it; batch norm training follows "
                                          "freeze_batchnorm now"}
#: Extensions some zoo configs use that only Google's internal build registers.
_INTERNAL_EXTENSION = re.compile(r'Extension "([\w.]+)" not registered')


def _hint(detail: str) -> str:
    """Return a fix hint for a parse error message, with a closest-name suggestion if possible."""
    internal = _INTERNAL_EXTENSION.search(detail)
    if internal:
        return (f"{internal.group(1).rsplit('.', 1)[-1]} is a Google-internal extension (some zoo configs carry it "
                "in external_input_reader); the public OD API cannot read it: replace that input reader's "
                "external_input_reader { ... } block with tf_record_input_reader { input_path: \"RECORDS\" }")
    if detail.startswith("Expected string"):
        return 'string values are quoted: write it as "VALUE" (e.g. fine_tune_checkpoint: "PATH_TO_BE_CONFIGURED")'
    pool = descriptor_pool.Default()
    match = _NO_FIELD.search(detail)
    if match and match.group(2) in REMOVED_FIELDS:
        return f"{match.group(2)} was removed from the OD API ({REMOVED_FIELDS[match.group(2)]}): delete that line"
    if match:
        try:
            desc = pool.FindMessageTypeByName(match.group(1))
        except KeyError:
            return "check the field name against the OD API protos"
        names = sorted(desc.fields_by_name)
        close = difflib.get_close_matches(match.group(2), names, n=1)
        did = f"did you mean '{close[0]}'? " if close else ""
        return f"{did}valid fields of {desc.name}: {', '.join(names)}"
    match = _NO_ENUM.search(detail)
    if match:
        try:
            enum = pool.FindEnumTypeByName(match.group(1))
        except KeyError:
            return "check the enum value name"
        names = [v.name for v in enum.values]
        close = difflib.get_close_matches(match.group(2), names, n=1)
        did = f"did you mean {close[0]}? " if close else ""
        return f"{did}valid values: {', '.join(names)}"
    return "fix the text-format syntax at that position (fields are 'name: value' or 'name { ... }')"


def parse_text(text: str, message: M, *, source: str = "<string>") -> M:
    """Parse text-format ``text`` into ``message`` (cleared first).

    Args:
        text: Text-format protobuf.
        message: Message instance to fill.
        source: File name used in error messages.

    Returns:
        ``message``, filled.

    Raises:
        ConfigSyntaxError: The text is not valid for the message's schema; the error carries
            file:line:column and the offending token.
    """
    message.Clear()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raw = str(exc)
        line = exc.GetLine() if hasattr(exc, "GetLine") else None
        column = exc.GetColumn() if hasattr(exc, "GetColumn") else None
        detail = _QUOTED_LINE.sub("", _LOCATION.sub("", raw)).strip()
        internal = _INTERNAL_EXTENSION.search(detail)
        if internal:  # protobuf's text goes on about _pb2 imports, which the user cannot act on
            detail = f'Extension "{internal.group(1)}" not registered: it is not part of the public OD API'
        token = _token_at(text, line, column, detail) if line is not None and column is not None else ""
        raise ConfigSyntaxError(detail, source=source, line=line, column=column, token=token,
                                fix=_hint(detail)) from None
    return message


def loads(text: str, *, source: str = "<string>") -> pipeline_pb2.TrainEvalPipelineConfig:
    """Parse a text-format pipeline config.

    Args:
        text: Contents of a ``pipeline.config`` (TF1 or TF2 style; a single line is fine).
        source: File name used in error messages.

    Returns:
        The parsed ``TrainEvalPipelineConfig``.

    Raises:
        ConfigSyntaxError: Syntax error or unknown field/enum value.
    """
    return parse_text(text, pipeline_pb2.TrainEvalPipelineConfig(), source=source)


def read_text(path: PathLike, *, what: str = "config") -> str:
    """Read a UTF-8 text file, turning OS errors into :class:`ConfigFileError`.

    Raises:
        ConfigFileError: The file is missing, unreadable or not UTF-8, or ``path`` is remote
            (``gs://...``: only local files are read, see :mod:`tuner.config.remote`).
    """
    scheme = url_scheme(path)
    if scheme is not None:
        raise ConfigFileError(f"{what} file {os.fspath(path)} is remote ({scheme}://): odapi-tuner reads "
                              "local files only", fix="copy it to a local file and give that path")
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{what} file not found: {os.fspath(path)}",
                              fix="check the path (relative paths are relative to the "
                                  "current directory)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {what} file {os.fspath(path)}: {exc}",
                              fix="make sure it is a readable UTF-8 text file") from None


def load(path: PathLike) -> pipeline_pb2.TrainEvalPipelineConfig:
    """Load a text-format ``pipeline.config`` file.

    Args:
        path: File to read.

    Returns:
        The parsed ``TrainEvalPipelineConfig``.

    Raises:
        ConfigFileError: The file cannot be read.
        ConfigSyntaxError: The file does not parse; message has file:line:column and token.
    """
    return loads(read_text(path), source=os.fspath(path))


def dumps(cfg: Message) -> str:
    """Serialize a config deterministically to text format.

    Args:
        cfg: Any message (normally a ``TrainEvalPipelineConfig``).

    Returns:
        Text-format string; ``loads(dumps(cfg)) == cfg``.
    """
    return text_format.MessageToString(cfg)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`tuner.atomic.write_text`).

    Raises:
        ConfigFileError: The file cannot be written.
    """
    try:
        atomic.write_text(path, text)
    except FileNotFoundError as exc:
        raise ConfigFileError(f"cannot write {os.fspath(path)}: {exc}",
                              fix="check that the directory exists and is writable") from None
    except OSError as exc:
        raise ConfigFileError(f"cannot write {os.fspath(path)}: {exc}",
                              fix="check that the path is a writable file location") from None


def save(cfg: Message, path: PathLike) -> None:
    """Write a config to ``path`` atomically in deterministic text format.

    Args:
        cfg: The config to write.
        path: Destination; replaced atomically if it exists.

    Raises:
        ConfigFileError: The file cannot be written.
    """
    write_text_atomic(path, dumps(cfg))
