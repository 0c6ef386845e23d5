"""Label maps (``string_int_label_map.proto`` text format) and the class count they imply."""
from __future__ import annotations

import os

from object_detection.protos import string_int_label_map_pb2

from tuner.config.errors import ConfigValueError
from tuner.config.io import PathLike, parse_text, read_text

LabelMap = string_int_label_map_pb2.StringIntLabelMap


def loads_label_map(text: str, *, source: str = "<string>") -> LabelMap:
    """Parse a text-format label map.

    Raises:
        ConfigSyntaxError: The text is not a valid ``StringIntLabelMap``.
    """
    return parse_text(text, LabelMap(), source=source)


def load_label_map(path: PathLike) -> LabelMap:
    """Load a text-format label map file (``item { id: 1 name: "cat" } ...``).

    Raises:
        ConfigFileError: The file cannot be read.
        ConfigSyntaxError: The file does not parse.
    """
    return loads_label_map(read_text(path, what="label map"), source=os.fspath(path))


def label_map_num_classes(label_map: LabelMap, *, source: str = "label map") -> int:
    """Number of classes a model needs for this label map: the largest id (ids start at 1).

    Raises:
        ConfigValueError: No items, an id < 1 (0 is the implicit background), or duplicate ids.
    """
    ids = [item.id for item in label_map.item]
    if not ids:
        raise ConfigValueError(f"{source} has no items", fix="add items: item { id: 1 name: 'a' }")
    bad = sorted(i for i in ids if i < 1)
    if bad:
        raise ConfigValueError(f"{source} uses id {bad[0]}; ids must be >= 1 (0 is background)",
                               fix="renumber the items starting at 1")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigValueError(f"{source} repeats id {duplicates[0]}",
                               fix="give every item its own id")
    return max(ids)
