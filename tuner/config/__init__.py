"""Schema-checked editing of TF Object Detection API ``pipeline.config`` files.

Load with the OD API's own ``pipeline_pb2``; read and edit through dotted paths checked against
the schema (:mod:`.paths`); make coupled edits in one call (:mod:`.schedules`, :mod:`.edits`);
lint (:mod:`.lint`); diff (:mod:`.diff`); write back deterministically and atomically
(:mod:`.io`). CLI: ``python -m tuner.config``.
"""
from __future__ import annotations

from tuner.config.diff import Change, diff, format_diff
from tuner.config.edits import hyperparams_paths, model_num_classes_path, point_to_dataset, set_l2_weight
from tuner.config.errors import (ConfigError, ConfigFileError, ConfigSyntaxError, ConfigValueError,
                                 PathError)
from tuner.config.io import dumps, load, loads, save
from tuner.config.labelmap import label_map_num_classes, load_label_map, loads_label_map
from tuner.config.lint import Finding, Severity, format_findings, has_errors, lint
from tuner.config.paths import (PathInfo, Segment, add_value, check_path, check_value, get_value,
                                iter_set_fields, parse_path, remove_value, set_value)
from tuner.config.records import count_records, expand_input_paths
from tuner.config.schedules import (SCHEDULE_KINDS, base_learning_rate, learning_rate_at,
                                    learning_rate_message, schedule_path, set_base_learning_rate,
                                    set_num_steps, set_schedule_type)
from tuner.config.values import RANGE_RULES, RangeRule, coerce_value, parse_value

__all__ = [
    "Change", "ConfigError", "ConfigFileError", "ConfigSyntaxError", "ConfigValueError", "Finding",
    "PathError", "PathInfo", "RANGE_RULES", "RangeRule", "SCHEDULE_KINDS", "Segment", "Severity",
    "add_value", "base_learning_rate", "check_path", "check_value", "coerce_value", "count_records",
    "diff", "dumps", "expand_input_paths", "format_diff", "format_findings", "get_value",
    "has_errors", "hyperparams_paths", "iter_set_fields", "label_map_num_classes",
    "learning_rate_at", "learning_rate_message", "lint", "load", "load_label_map", "loads",
    "loads_label_map", "model_num_classes_path", "parse_path", "parse_value", "point_to_dataset",
    "remove_value", "save", "schedule_path", "set_base_learning_rate", "set_l2_weight",
    "set_num_steps", "set_schedule_type", "set_value",
]
