"""The study's seeds, one pair per trial: the sampler's (:func:`sampler_seed`: what the trial's
values are drawn with) and the trainer's (:func:`trial_seed`). Both are pure functions of the
study's ``--seed`` and the trial's number, so a study and its resumes are reproducible from the
command line whichever worker, thread or process runs a trial (with ``--jobs 2`` the thread that
is free first takes the next trial: a seed per thread made the draws depend on that timing).
"""
from __future__ import annotations

import hashlib

from tuner.trial.spec import SEED_LIMIT


def sampler_seed(study_seed: int, number: int) -> int:
    """The seed of the sampler that draws trial ``number``'s values in a study started with
    ``--seed study_seed``: a hash of both, in ``[0, 2**32)``. Trials never share one (resumed runs
    and concurrent workers never replay one another's draws); given the same finished trials, a
    trial draws the same values wherever it runs (:class:`tuner.study.sampling.SeededPerTrial`)."""
    digest = hashlib.sha256(f"sample:{study_seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number`` of a study started with ``--seed study_seed``
    (0 without ``--seed``): a hash of both, in ``[0, 2**31)``.

    The same study seed and trial number always give the same training seed, whichever worker,
    thread or resume runs the trial; trials of one study get unrelated seeds (a re-run of an
    interrupted trial is a new trial number, so it gets a new one). It is independent of the
    sampler's seeds (:func:`sampler_seed`), which hash other strings.
    """
    digest = hashlib.sha256(f"train:{study_seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % SEED_LIMIT
