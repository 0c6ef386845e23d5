"""Schema-checked editing of TF Object Detection API ``pipeline.config`` files.

Load with the OD API's own ``pipeline_pb2``; read and edit through dotted paths checked against
the schema (:mod:`.paths`); make coupled edits in one call (:mod:`.schedules`, :mod:`.edits`,
several in order: :mod:`.plan`); lint (:mod:`.lint`) and apply its mechanical fixes
(:mod:`.autofix`); diff (:mod:`.diff`); write back deterministically and atomically (:mod:`.io`),
or onto the user's own text, changing only the edited lines (:mod:`.textedit`). Map fields take a
key (``name[key]``); a path that would switch a oneof away from the member the config holds is
refused (:class:`OneofSwitchError`) unless asked for (``switch=True``).
Remote (``gs://`` ...) paths are recognised, never read (:mod:`.remote`). CLI:
``python -m tuner.config``.
"""
from __future__ import annotations

from tuner.config.autofix import FixResult, apply_fixes
from tuner.config.diff import Change, diff, format_diff, short_labels
from tuner.config.edits import (dataset_files, hyperparams_paths, model_num_classes_path, point_to_dataset,
                                set_l2_weight)
from tuner.config.errors import (ConfigError, ConfigFileError, ConfigSyntaxError, ConfigValueError,
                                 OneofSwitchError, PathError)
from tuner.config.io import dumps, load, loads, save
from tuner.config.labelmap import label_map_num_classes, load_label_map, loads_label_map
from tuner.config.findings import Repair
from tuner.config.lint import Finding, Severity, format_findings, has_errors, lint
from tuner.config.paths import (PathInfo, Segment, add_value, check_path, check_value, get_value,
                                iter_set_fields, parse_path, remove_value, set_value)
from tuner.config.plan import Dataset, EditPlan, apply_plan
from tuner.config.records import count_records, expand_input_paths
from tuner.config.remote import is_remote, url_scheme
from tuner.config.textedit import render_edit
from tuner.config.schedules import (SCHEDULE_KINDS, base_learning_rate, learning_rate_at,
                                    learning_rate_message, schedule_path, set_base_learning_rate,
                                    set_num_steps, set_schedule_type, set_warmup_fraction)
from tuner.config.values import RANGE_RULES, RangeRule, coerce_value, parse_value

__all__ = [
    "Change", "ConfigError", "ConfigFileError", "ConfigSyntaxError", "ConfigValueError", "Dataset", "EditPlan",
    "Finding", "FixResult", "OneofSwitchError", "PathError", "PathInfo", "RANGE_RULES", "RangeRule", "Repair", "SCHEDULE_KINDS",
    "Segment", "Severity", "add_value", "apply_fixes", "apply_plan", "base_learning_rate", "check_path",
    "check_value", "coerce_value", "count_records", "dataset_files", "diff", "dumps", "expand_input_paths",
    "format_diff", "format_findings", "get_value", "has_errors", "hyperparams_paths", "is_remote",
    "iter_set_fields", "label_map_num_classes", "learning_rate_at", "learning_rate_message", "lint", "load",
    "load_label_map", "loads", "loads_label_map", "model_num_classes_path", "parse_path", "parse_value",
    "point_to_dataset", "remove_value", "render_edit", "save", "schedule_path", "set_base_learning_rate", "set_l2_weight",
    "set_num_steps", "set_schedule_type", "set_value", "set_warmup_fraction", "short_labels", "url_scheme",
]
