"""The study's seeds: one per sampler thread (:func:`worker_seed`), one per trial's training
(:func:`trial_seed`). Both are pure functions of the study's ``--seed`` and counters the
storage holds, so a study and its resumes are reproducible from the command line.
"""
from __future__ import annotations

import hashlib

from tuner.trial.runner import SEED_LIMIT


def worker_seed(seed: int, *, trials_before: int, worker: int, process: int = 0) -> int:
    """The sampler seed of one worker thread.

    ``seed`` itself for the first thread of the process that created the study (so a fresh
    single-process run is reproducible from ``--seed``); otherwise a hash of ``seed``, the
    number of trials the study held when this process started (``trials_before``: differs
    after every resume that ran trials), the thread's index and ``process`` (the PID of a
    process that joined an existing study, 0 for its creator), so resumed runs and concurrent
    workers never replay one another's draws.
    """
    if trials_before == 0 and worker == 0 and process == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{trials_before}:{worker}:{process}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number`` of a study started with ``--seed study_seed``
    (0 without ``--seed``): a hash of both, in ``[0, 2**31)``.

    The same study seed and trial number always give the same training seed, whichever worker,
    thread or resume runs the trial; trials of one study get unrelated seeds (a re-run of an
    interrupted trial is a new trial number, so it gets a new one). It is independent of the
    sampler's seeds (:func:`worker_seed`), which hash other strings.
    """
    digest = hashlib.sha256(f"train:{study_seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % SEED_LIMIT
