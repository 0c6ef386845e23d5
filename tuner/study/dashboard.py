"""What optuna-dashboard shows of a study: the story in notes, each trial's config as an artifact.

optuna-dashboard is where the mission sends users to inspect a study, and by itself it shows
Optuna's view: a "Best Trial" badge on the single highest run, parameter tables, attributes. This
module writes what our study knows into the places the dashboard renders:

* a **trial note** (Markdown, optuna-dashboard's notes) for every trial as it starts: its role
  (baseline, fitted anchors, sampled, repeat of trial N, re-run of trial N) and its config
  changes against the base as ``path: old -> new`` lines; when the study ends, the pick's note
  says it is the pick, with the verdict;
* a **study note**: the summary table, the pick and its verdict with the interval, the pooled
  noise, the test split's result, and the commands to convert and report;
* each trial's ``pipeline.config`` as a trial **artifact** (``optuna.artifacts.upload_artifact``
  into a ``FileSystemArtifactStore`` at ``<run dir>/artifacts``, the store ``tuner.report`` uses),
  uploaded while the trial runs; the dashboard shows it when started with ``--artifact-dir``.

A finished trial's note is a study system attribute (``dashboard:{trial_id}:note_ver`` and the
text chunks), written with optuna-dashboard's ``_note.save_note_with_version`` (private API, pinned
with optuna-dashboard in requirements/constraints.txt; a test reads the notes back through the
dashboard's HTTP API).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import optuna
from optuna.trial import FrozenTrial

from tuner.config.diff import Change, MessageText, show_value
from tuner.report.artifacts import ARTIFACTS_DIR  # noqa: F401 - one store per run directory, re-exported
from tuner.runinfo import Attr

#: Config changes listed in a trial note before "... and N more".
NOTE_CHANGES = 60


def role(trial: FrozenTrial | optuna.Trial, baseline: bool | None = None) -> str:
    """The trial's role in the study, in words."""
    attrs = trial.user_attrs
    if attrs.get(Attr.REPEAT_OF) is not None:
        return f"repeat of trial {attrs[Attr.REPEAT_OF]} (the confirmation: the same config, another training seed)"
    if attrs.get(Attr.RETRY_OF) is not None:
        return f"re-run of trial {attrs[Attr.RETRY_OF]} (interrupted there)"
    if baseline if baseline is not None else attrs.get(Attr.BASELINE):
        return "baseline (the base config, unchanged)"
    if attrs.get(Attr.FITTED_ANCHORS):
        return "fitted anchors (the base config with anchors fitted to the training boxes)"
    return "sampled (drawn by the sampler from the search space)"


def trial_note(number: int, role_text: str, changes: Sequence[Change], pick: str = "") -> str:
    """A trial's note: its role, the pick's verdict when it is the pick, its config changes."""
    lines = [f"## Trial {number}: {role_text.split(' (')[0]}", "", f"**Role:** {role_text}", ""]
    if pick:
        lines += [f"**The pick.** {pick}", ""]
    if changes:
        lines += [f"**Config changes against the base** ({len(changes)}, `path: old -> new`):", ""]
        lines += [f"- `{c.path}`: {show_value(c.old)} -> {show_value(c.new)}" for c in changes[:NOTE_CHANGES]]
        if len(changes) > NOTE_CHANGES:
            lines.append(f"- ... and {len(changes) - NOTE_CHANGES} more (the trial's pipeline.config artifact has them all)")
    else:
        lines.append("**Config changes against the base:** none (the base config)")
    return "\n".join(lines) + "\n"


def _save(storage: Any, study_id: int, trial_id: int | None, body: str) -> None:
    from optuna_dashboard._note import note_ver_key, save_note_with_version

    version = storage.get_study_system_attrs(study_id).get(note_ver_key(trial_id), 0) + 1
    save_note_with_version(storage, study_id, trial_id, version, body)


def note_running(trial: optuna.Trial, body: str) -> None:
    """Write the note of a running trial."""
    from optuna_dashboard import save_note

    save_note(trial, body)


def note_finished(study: optuna.Study, trial: FrozenTrial, body: str) -> None:
    """Write (a new version of) the note of any trial, finished or not."""
    _save(study._storage, study._study_id, trial._trial_id, body)  # noqa: SLF001 (what save_note reads too)


def note_study(study: optuna.Study, body: str) -> None:
    """Write (a new version of) the study's note."""
    from optuna_dashboard import save_note

    save_note(study, body)


def upload_config(trial: optuna.Trial, artifact_dir: Path, text: str) -> None:
    """Attach ``text`` to the running ``trial`` as its ``pipeline.config`` artifact."""
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    artifact_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline.config"
        path.write_text(text)
        upload_artifact(artifact_store=FileSystemArtifactStore(str(artifact_dir)), file_path=str(path),
                        study_or_trial=trial, mimetype="text/plain")


def study_note(name: str, summary: str, *, pick_line: str = "", noise_line: str = "", test_lines: Sequence[str] = (),
               run_dir: str = "", dashboard: str = "") -> str:
    """The study's note: the pick and its verdict first, then the noise, the test split, the
    summary table and the commands that come next."""
    lines = [f"# Study {name}", ""]
    if pick_line:
        lines += ["## The pick", "", pick_line, ""]
    if noise_line:
        lines += ["## Noise", "", noise_line, ""]
    if test_lines:
        lines += ["## Held-out test split", "", "```", *test_lines, "```", ""]
    lines += ["## Summary", "", "```", summary.rstrip(), "```", ""]
    if run_dir:
        lines += ["## Next", "", f"- the pick as measured TFLite files: `python -m tflite.convert --study {run_dir}`",
                  f"- its per-class verdict (AP, PR curves, operating points): `python -m tuner.report --study {run_dir}`"]
        if dashboard:
            lines.append(f"- this dashboard with the trials' artifacts: `{dashboard}`")
    return "\n".join(lines) + "\n"


class Recorder:
    """Writes each trial's note and config artifact as the trial starts (the objective calls
    :meth:`started`). A failure to write is kept on the trial (``dashboard_error``), never fatal
    to it: the training matters more than its note."""

    def __init__(self, artifact_dir: Path | None) -> None:
        self.artifact_dir = artifact_dir

    def started(self, trial: optuna.Trial, baseline: bool, config_text: str, changes: Sequence[Change]) -> None:
        try:
            note_running(trial, trial_note(trial.number, role(trial, baseline), changes))
            if self.artifact_dir is not None:
                upload_config(trial, self.artifact_dir, config_text)
        except Exception as exc:  # noqa: BLE001 - the note is not worth a trial
            trial.set_user_attr(DASHBOARD_ERROR, f"{type(exc).__name__}: {exc}"[:500])


DASHBOARD_ERROR = "dashboard_error"


def changes_of(trial: FrozenTrial) -> list[Change]:
    """A finished trial's config changes, from its ``diff`` attribute (a message stored as its
    one-line text, ``{ ... }``, is shown as such, not as a quoted string)."""
    def value(v: Any) -> Any:
        return MessageText(v) if isinstance(v, str) and v.startswith("{") and v.endswith("}") else v

    return [Change(path, value(old), value(new)) for path, old, new in trial.user_attrs.get(Attr.DIFF) or []]
