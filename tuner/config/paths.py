"""Dotted paths into a pipeline config, resolved against the OD API protobuf descriptors.

Path forms (segments separated by ``.``)::

    train_config.num_steps                                   nested scalar field
    model.ssd.image_resizer.fixed_shape_resizer.height       oneof member (selects it on set)
    model.ssd.image_resizer.image_resizer_oneof              the oneof itself: which member is set
    train_config.data_augmentation_options[0]                repeated message by index (-1 = last)
    train_config.data_augmentation_options[random_adjust_brightness].max_delta
                                                             repeated message by its oneof member
    model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios      repeated scalar, as a list
    model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios[0]   one element
    eval_config.super_categories[person]                     map entry by key (quoted if needed:
                                                             keypoint_label_to_std["left eye"])

Unknown names raise :class:`PathError` naming the failing segment, the valid names at that level
and the closest match. :func:`check_path` validates a path against the schema alone (no config
needed), so a search space can be checked before anything runs.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Iterator

from google.protobuf.descriptor import FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

from tuner.config._resolve import (Key, Segment, Target, _index, _member, _named_index, _not_set,
                                   _resolve, format_key, guard_oneof, is_map, parse_path)
from tuner.config.errors import ConfigValueError, PathError
from tuner.config.values import coerce_value, parse_value, to_python, type_name

__all__ = ["PathInfo", "Segment", "add_value", "check_path", "check_value", "get_value",
           "iter_set_fields", "parse_path", "remove_value", "set_value"]


@dataclasses.dataclass(frozen=True)
class PathInfo:
    """What a path names in the schema (result of :func:`check_path`).

    Attributes:
        path: The path as given.
        field: The field the last segment names (None for a oneof segment).
        oneof: The oneof the last segment names (None for a field).
        key: The last segment's key (index, member name or None).
        type_name: Human-readable type of a value stored at the path.
    """

    path: str
    field: FieldDescriptor | None
    oneof: OneofDescriptor | None
    key: Key
    type_name: str

    @property
    def element(self) -> bool:
        """True when the path names one element of a repeated field (or a named entry)."""
        return self.key is not None


def check_path(target: Target, path: str) -> PathInfo:
    """Validate ``path`` against the schema only (the config's contents are not consulted).

    Args:
        target: A config message or a message ``Descriptor`` (e.g.
            ``pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR``).
        path: Dotted path.

    Returns:
        What the path names.

    Raises:
        PathError: Malformed path or unknown segment.
    """
    desc = target.DESCRIPTOR if isinstance(target, Message) else target
    _, item, last = _resolve(desc, path)
    if isinstance(item, OneofDescriptor):
        return PathInfo(path, None, item, None, "oneof member name")
    if is_map(item):
        value_field = item.message_type.fields_by_name["value"]
        if last.key is None:
            return PathInfo(path, item, None, None, f"map of {type_name(value_field)}")
        return PathInfo(path, item, None, last.key, type_name(value_field))
    if isinstance(last.key, str):
        member = item.message_type.fields_by_name[last.key]
        return PathInfo(path, item, None, last.key, type_name(member))
    repeated = item.label == FieldDescriptor.LABEL_REPEATED and last.key is None
    name = type_name(item)
    return PathInfo(path, item, None, last.key, f"list of {name}" if repeated else name)


def check_value(target: Target, path: str, value: Any) -> Any:
    """Validate ``path`` and check that ``value`` could be set there (schema only).

    Returns:
        The coerced value.

    Raises:
        PathError: Bad path.
        ConfigValueError: Wrong type or out of range.
    """
    info = check_path(target, path)
    if info.oneof is not None:
        return _oneof_member(info.oneof, value, path).name
    assert info.field is not None  # internal invariant: a path names a field or a oneof
    if is_map(info.field):
        return _map_value(info.field, value, path, info.key)
    if isinstance(info.key, str):
        return _typed(info.field.message_type.fields_by_name[info.key], value, path, single=True)
    return _typed(info.field, value, path, single=info.key is not None)


def _typed(field: FieldDescriptor, value: Any, path: str, *, single: bool) -> Any:
    repeated = field.label == FieldDescriptor.LABEL_REPEATED and not single
    if isinstance(value, str) and field.type != FieldDescriptor.TYPE_MESSAGE:
        parsed = parse_value(value, field, path=path)
        if repeated and not isinstance(parsed, list):
            raise ConfigValueError(f"{path} is a repeated {type_name(field)}, got the single value "
                                   f"{value!r}", path=path,
                                   fix=f"give a list such as [{value}], or use add / {path}[i]")
        if single and isinstance(parsed, list):
            raise ConfigValueError(f"{path} holds one {type_name(field)}, got the list {value!r}",
                                   path=path, fix="give one value")
        return parsed
    return coerce_value(field, value, path=path, single=single)


def _map_value(field: FieldDescriptor, value: Any, path: str, key: Key) -> Any:
    """The typed value for ``map[key]`` (``key`` None: a whole map, given as a dict).

    Raises:
        ConfigValueError: Not a dict for a whole map, or a value of the wrong type.
    """
    value_field = field.message_type.fields_by_name["value"]
    if key is not None:
        return _typed(value_field, value, path, single=True)
    if not isinstance(value, dict):
        raise ConfigValueError(f"{path} is a map; set one entry at a time", path=path,
                               fix=f"set {path}[KEY]=VALUE (remove {path}[KEY] drops one)")
    key_field = field.message_type.fields_by_name["key"]
    return {_typed(key_field, k, path, single=True): _typed(value_field, v, f"{path}[{format_key(k)}]", single=True)
            for k, v in value.items()}


def _set_map(msg: Message, field: FieldDescriptor, key: Key, value: Any, path: str) -> None:
    container = getattr(msg, field.name)
    value_field = field.message_type.fields_by_name["value"]
    typed = _map_value(field, value, path, key)
    entries = {key: typed} if key is not None else typed
    if key is None:
        container.clear()
    for k, v in entries.items():
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            container[k].CopyFrom(v)
        else:
            container[k] = _store(value_field, v)


def _oneof_member(oneof: OneofDescriptor, value: Any, path: str) -> FieldDescriptor:
    names = [f.name for f in oneof.fields]
    if not isinstance(value, str) or value.strip() not in names:
        close = difflib.get_close_matches(str(value), names, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigValueError(f"{path} is the oneof '{oneof.name}' and expects a member name, got "
                               f"{value!r}", path=path, fix=f"{guess}use one of {', '.join(names)}")
    member = oneof.containing_type.fields_by_name[value.strip()]
    if member.type != FieldDescriptor.TYPE_MESSAGE:
        raise ConfigValueError(f"{path}: member '{member.name}' is {type_name(member)}, not a "
                               "message", path=path, fix=f"set it directly: {path.rsplit('.', 1)[0]}."
                                                         f"{member.name}=VALUE")
    return member


def _store(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, list):
            return [field.enum_type.values_by_name[v].number for v in value]
        return field.enum_type.values_by_name[value].number
    return value


def _assign_message(target: Message, value: Message) -> None:
    target.CopyFrom(value)
    target.SetInParent()


def _existing_entry(container: Any, item: FieldDescriptor, last: Segment, path: str) -> tuple[FieldDescriptor, int]:
    """The oneof member and index of the named entry ``last`` (e.g. ``[random_adjust_hue]``).

    Raises:
        PathError: No entry with that member in ``container``.
    """
    member = _member(item, last, path)
    index = _named_index(container, item, member, path, last)
    if index is None:
        raise PathError(f"no {member.name} entry in {item.name} (path '{path}')", path=path,
                        segment=str(last), fix=f"add it first: add {path}")
    return member, index


def get_value(cfg: Message, path: str) -> Any:
    """Read the value at ``path``.

    Unset scalar fields return their schema default (what the trainer uses). Scalars come back
    as Python values (enums by name, float32 as the shortest decimal); repeated scalars as lists;
    messages as the live message; a oneof segment as the name of its selected member (or None).

    Raises:
        PathError: Unknown path, index out of range, or an unset message on the way.
    """
    msg, item, last = _resolve(cfg, path)
    assert msg is not None  # internal invariant: resolving from a message yields a message
    if isinstance(item, OneofDescriptor):
        return msg.WhichOneof(item.name)
    container = getattr(msg, item.name)
    if is_map(item):
        value_field = item.message_type.fields_by_name["value"]
        if last.key is None:
            return {k: to_python(value_field, container[k], single=True) for k in container}
        if last.key not in container:
            raise PathError(f"no key {format_key(last.key)} in map {item.name} (path '{path}')", path=path,
                            segment=str(last), fix=f"keys here: {', '.join(format_key(k) for k in container) or 'none'}")
        return to_python(value_field, container[last.key], single=True)
    if isinstance(last.key, int):
        return to_python(item, container[_index(container, last, path)], single=True)
    if isinstance(last.key, str):
        member, index = _existing_entry(container, item, last, path)
        return getattr(container[index], member.name)
    if item.type == FieldDescriptor.TYPE_MESSAGE and item.label != FieldDescriptor.LABEL_REPEATED \
            and not msg.HasField(item.name):
        raise _not_set(msg, item, path, path)
    return to_python(item, container)


def set_value(cfg: Message, path: str, value: Any, *, switch: bool = False) -> None:
    """Set the value at ``path``, creating intermediate messages.

    A path through a oneof member other than the one the config holds (``model.ssd...`` on a
    ``faster_rcnn`` model, ``ssd_anchor_generator`` on a ``multiscale_anchor_generator``) would
    make protobuf drop the held member silently: it is refused unless ``switch``. Naming the
    oneof itself (``...image_resizer_oneof=fixed_shape_resizer``) is an explicit switch.

    Args:
        cfg: Config to edit in place.
        path: Dotted path.
        value: A Python value or a literal string (see :func:`tuner.config.values.parse_value`).
            Repeated fields take a list (or ``"[a,b]"``); message fields take a message, a dict
            or text format; a oneof segment takes the name of the member to select; a map
            entry (``name[key]``) its value, a whole map a dict.
        switch: Allow the path to switch oneofs (``set --switch``).

    Raises:
        OneofSwitchError: The path would switch a oneof and ``switch`` is false (nothing changed).
        PathError: Unknown path, index out of range, missing named entry.
        ConfigValueError: Wrong type or out of range.
    """
    msg, item, last = _resolve(cfg, path, create=True, switch=switch)
    assert msg is not None  # internal invariant
    if isinstance(item, FieldDescriptor):
        guard_oneof(msg, item, path, path, switch=switch)
    if isinstance(item, OneofDescriptor):
        member = _oneof_member(item, value, path)
        if msg.WhichOneof(item.name) != member.name:
            getattr(msg, member.name).SetInParent()
        return
    if is_map(item):
        _set_map(msg, item, last.key, value, path)
        return
    container = getattr(msg, item.name)
    if isinstance(last.key, str):
        member, index = _existing_entry(container, item, last, path)
        _assign_message(getattr(container[index], member.name), _typed(member, value, path, single=True))
        return
    typed = _typed(item, value, path, single=last.key is not None)
    if isinstance(last.key, int):
        index = _index(container, last, path)
        if item.type == FieldDescriptor.TYPE_MESSAGE:
            _assign_message(container[index], typed)
        else:
            container[index] = _store(item, typed)
    elif item.label == FieldDescriptor.LABEL_REPEATED:
        del container[:]
        if item.type == FieldDescriptor.TYPE_MESSAGE:
            for entry in typed:
                container.add().CopyFrom(entry)
        else:
            container.extend(_store(item, typed))
    elif item.type == FieldDescriptor.TYPE_MESSAGE:
        _assign_message(container, typed)
    else:
        setattr(msg, item.name, _store(item, typed))


def add_value(cfg: Message, path: str, value: Any = None, *, switch: bool = False) -> None:
    """Append to a repeated field.

    ``add X.aspect_ratios 1.0`` appends a scalar (a list extends); ``add X.repeated_msg [value]``
    appends a message (empty if no value); ``add train_config.data_augmentation_options[name]``
    appends an entry with that oneof member set (fields from ``value`` if given).

    A path through another member of a oneof than the one held is refused unless ``switch``
    (as in :func:`set_value`).

    Raises:
        OneofSwitchError: The path would switch a oneof and ``switch`` is false (nothing changed).
        PathError: Unknown path, a non-repeated field, or an index (add always appends).
        ConfigValueError: Wrong value, missing value, or a named entry that already exists.
    """
    msg, item, last = _resolve(cfg, path, create=True, switch=switch)
    assert msg is not None  # internal invariant
    if isinstance(item, OneofDescriptor) or item.label != FieldDescriptor.LABEL_REPEATED:
        raise PathError(f"'{last.name}' is not a repeated field; add only appends to lists "
                        f"(path '{path}')", path=path, segment=last.name, fix=f"use set {path}=VALUE")
    if is_map(item):
        raise PathError(f"'{last.name}' is a map, not a list; add does not apply (path '{path}')", path=path,
                        segment=str(last), fix=f"set {last.name}[KEY]=VALUE")
    if isinstance(last.key, int):
        raise PathError(f"add appends and takes no index (path '{path}')", path=path,
                        segment=str(last), fix=f"drop the [{last.key}] or use set")
    container = getattr(msg, item.name)
    if isinstance(last.key, str):
        member = _member(item, last, path)
        if _named_index(container, item, member, path, last) is not None:
            raise ConfigValueError(f"{item.name} already has a {member.name} entry (path '{path}')",
                                   path=path, fix=f"set its fields instead: set {path}.FIELD=VALUE")
        typed = _typed(member, value if value is not None else "", path, single=True)
        _assign_message(getattr(container.add(), member.name), typed)
        return
    if item.type == FieldDescriptor.TYPE_MESSAGE:
        container.add().CopyFrom(_typed(item, value if value is not None else "", path, single=True))
        return
    if value is None:
        raise ConfigValueError(f"add {path} needs a value", path=path, fix=f"add {path}=VALUE")
    if isinstance(value, (list, tuple)) or (isinstance(value, str) and value.strip().startswith("[")):
        container.extend(_store(item, _typed(item, value, path, single=False)))
    else:
        container.append(_store(item, _typed(item, value, path, single=True)))


def remove_value(cfg: Message, path: str) -> None:
    """Remove what ``path`` names: an element (``[i]`` or ``[name]``), or clear a field/oneof.

    Raises:
        PathError: Unknown path, index out of range, missing named entry or unset parent.
    """
    msg, item, last = _resolve(cfg, path)
    assert msg is not None  # internal invariant
    if isinstance(item, OneofDescriptor):
        msg.ClearField(item.name)
        return
    container = getattr(msg, item.name)
    if last.key is None:
        msg.ClearField(item.name)
    elif is_map(item):
        if last.key not in container:
            raise PathError(f"no key {format_key(last.key)} in map {item.name} to remove (path '{path}')",
                            path=path, segment=str(last), fix="check the key; nothing to remove")
        del container[last.key]
    elif isinstance(last.key, int):
        del container[_index(container, last, path)]
    else:
        member = _member(item, last, path)
        index = _named_index(container, item, member, path, last)
        if index is None:
            raise PathError(f"no {member.name} entry in {item.name} to remove (path '{path}')",
                            path=path, segment=str(last), fix="check the name; nothing to remove")
        del container[index]


def iter_set_fields(msg: Message, prefix: str = "") -> Iterator[tuple[str, FieldDescriptor, Any]]:
    """Yield ``(path, field, value)`` for every set field, depth first, in text-format order.

    Messages are yielded before their contents; repeated messages once per element
    (``name[i]``); repeated scalars once, as the whole list; a map once per key (``name[key]``,
    with the map's value field and the entry's value, a message followed by its contents).
    """
    for field, value in msg.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for key in sorted(value):
                where = f"{path}[{format_key(key)}]"
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    yield where, value_field, value[key]
                    yield from iter_set_fields(value[key], where)
                else:
                    yield where, value_field, to_python(value_field, value[key], single=True)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.label == FieldDescriptor.LABEL_REPEATED:
                for i, entry in enumerate(value):
                    yield f"{path}[{i}]", field, entry
                    yield from iter_set_fields(entry, f"{path}[{i}]")
            else:
                yield path, field, value
                yield from iter_set_fields(value, path)
        else:
            yield path, field, to_python(field, value)
