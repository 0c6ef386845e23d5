"""Attach the verdict's files to the chosen trial as Optuna artifacts, so optuna-dashboard shows them.

The files are stored in an Optuna ``FileSystemArtifactStore`` (default ``RUN_DIR/artifacts``);
start the dashboard on the same directory to see them on the trial's page::

    optuna-dashboard sqlite:///RUN_DIR/study.db --artifact-dir RUN_DIR/artifacts

Why not ``optuna.artifacts.upload_artifact(..., study_or_trial=trial)``: it records the
artifact as a *trial* system attribute, and Optuna's storages refuse to change a finished trial
(``UpdateFinishedTrialError``; checked with Optuna 5.0.0, and tested so an Optuna that allows it
is noticed). The chosen trial is always finished. So each file is written to the store through
the store's own ``write`` and its metadata (the same ``{artifact_id, filename, mimetype,
encoding}`` record ``upload_artifact`` writes) is linked to the trial through the *study*
system attribute ``dashboard:artifacts:<trial_id>:<artifact_id>``, the key optuna-dashboard
reads trial artifacts from besides the trial's own attributes (``list_trial_artifacts`` and
``get_trial_artifact_meta`` in ``optuna_dashboard/artifact/_backend.py``, 0.21.0). The
dashboard lists them under the trial and serves them at
``/artifacts/<study_id>/<trial_id>/<artifact_id>``; its own "delete" works on them too.
``optuna.artifacts.get_all_artifact_meta(trial)`` does not see them: use :func:`trial_artifacts`.

Re-running the report (``--overwrite``) withdraws the previous run's artifacts, recorded in its
``artifacts.json`` (:class:`Manifest`), the way the dashboard deletes one: the stored file is
removed and its metadata set to ``null``.
"""
from __future__ import annotations

import dataclasses
import json
import mimetypes
import uuid
from pathlib import Path
from typing import Any, Sequence

from tflite.errors import OutputError, StudyError

ARTIFACTS_DIR = "artifacts"
MANIFEST = "artifacts.json"
DASHBOARD_PREFIX = "dashboard:artifacts:"
DEFAULT_MIME_TYPE = "application/octet-stream"


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One stored file, as Optuna and optuna-dashboard describe it."""

    artifact_id: str
    filename: str
    mimetype: str
    encoding: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What one report run uploaded (``artifacts.json`` in the report directory)."""

    storage: str
    study: str
    trial: int
    trial_id: int
    artifact_dir: str
    artifacts: tuple[Artifact, ...]

    def save(self, directory: Path) -> None:
        from tuner import atomic

        atomic.write_json(directory / MANIFEST, {**dataclasses.asdict(self),
                                                 "artifacts": [a.to_json() for a in self.artifacts]})

    @classmethod
    def load(cls, directory: Path) -> Manifest | None:
        """The manifest in ``directory``, or ``None`` when there is none or it is unreadable."""
        try:
            data = json.loads((directory / MANIFEST).read_text())
            return cls(**{**data, "artifacts": tuple(Artifact(**a) for a in data["artifacts"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None


def _key(trial_id: int, artifact_id: str) -> str:
    return f"{DASHBOARD_PREFIX}{trial_id}:{artifact_id}"


class _Trial:
    """The storage, study id and trial id of one trial (Optuna's public storage API)."""

    def __init__(self, storage_url: str, study: str, number: int) -> None:
        import optuna

        from tuner.study.storage import redact

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        where = f"trial {number} of study {study!r} ({redact(storage_url)})"
        try:
            self.storage = optuna.storages.get_storage(storage_url)
            self.study_id = self.storage.get_study_id_from_name(study)
            self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        except KeyError as exc:
            raise StudyError("the study or trial to attach the report to does not exist", where,
                             "pass the --study (and --trial) the report was made for") from exc
        except Exception as exc:
            raise StudyError(f"cannot open the study storage ({type(exc).__name__}: {exc})", where,
                             "check --study/--storage") from exc


def _store(artifact_dir: Path) -> Any:
    from optuna.artifacts import FileSystemArtifactStore

    try:
        artifact_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"the artifact directory cannot be created ({exc.strerror or exc})", str(artifact_dir),
                          "pass a writable --artifact-dir") from exc
    return FileSystemArtifactStore(artifact_dir)


def upload(storage_url: str, study: str, number: int, files: Sequence[Path], artifact_dir: Path) -> Manifest:
    """Store ``files`` in ``artifact_dir`` and link each to trial ``number`` (see the module docstring).

    File names must be unique: the dashboard shows artifacts by file name.

    Raises:
        StudyError: the study or trial cannot be found.
        OutputError: the artifact directory cannot be written.
        ValueError: two files share a name.
    """
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ValueError(f"artifact file names must be unique: {sorted(names)}")
    trial = _Trial(storage_url, study, number)
    store = _store(artifact_dir)
    done = []
    for path in files:
        mimetype, encoding = mimetypes.guess_type(path.name)
        artifact = Artifact(str(uuid.uuid4()), path.name, mimetype or DEFAULT_MIME_TYPE, encoding)
        try:
            with open(path, "rb") as f:
                store.write(artifact.artifact_id, f)
        except OSError as exc:
            raise OutputError(f"cannot store an artifact ({exc.strerror or exc})", str(artifact_dir),
                              "pass a writable --artifact-dir") from exc
        trial.storage.set_study_system_attr(trial.study_id, _key(trial.trial_id, artifact.artifact_id),
                                            json.dumps(artifact.to_json()))
        done.append(artifact)
    return Manifest(storage_url, study, number, trial.trial_id, str(artifact_dir.resolve()), tuple(done))


def withdraw(manifest: Manifest) -> int:
    """Remove the artifacts of an earlier upload (stored file and trial link); return how many were live.

    Already removed ones (e.g. deleted in the dashboard) are skipped.

    Raises:
        StudyError: the study or trial no longer exists.
    """
    from optuna.artifacts.exceptions import ArtifactNotFound

    trial = _Trial(manifest.storage, manifest.study, manifest.trial)
    store = _store(Path(manifest.artifact_dir))
    attrs = trial.storage.get_study_system_attrs(trial.study_id)
    live = 0
    for artifact in manifest.artifacts:
        key = _key(trial.trial_id, artifact.artifact_id)
        if attrs.get(key) not in (None, json.dumps(None)):
            live += 1
            trial.storage.set_study_system_attr(trial.study_id, key, json.dumps(None))
        try:
            store.remove(artifact.artifact_id)
        except ArtifactNotFound:
            pass
    return live


def trial_artifacts(storage_url: str, study: str, number: int) -> list[Artifact]:
    """The artifacts the dashboard shows on trial ``number``: linked here, or uploaded with Optuna's API.

    Raises:
        StudyError: the study or trial cannot be found.
    """
    trial = _Trial(storage_url, study, number)
    found = []
    prefix = f"{DASHBOARD_PREFIX}{trial.trial_id}:"
    for key, value in trial.storage.get_study_system_attrs(trial.study_id).items():
        meta = json.loads(value) if key.startswith(prefix) and isinstance(value, str) else None
        if meta:
            found.append(Artifact(**meta))
    for key, value in trial.storage.get_trial_system_attrs(trial.trial_id).items():
        meta = json.loads(value) if key.startswith("artifacts:") and isinstance(value, str) else None
        if meta:
            found.append(Artifact(**meta))
    return found
