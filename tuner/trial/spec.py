"""What a trial runs (:class:`TrialSpec`): the data of the runner seam (:mod:`tuner.trial.base`),
which every runner, real or fake, receives. No process, no TensorFlow."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tuner import events

#: The trial directory's layout, which every runner writes and the study reads back.
RESULT_FILE = "result.json"
CONFIG_FILE = "pipeline.config"
MODEL_DIR = "model"
LOG_DIR = "logs"
#: Training seeds are in ``[0, SEED_LIMIT)`` (a non-negative int32, as TensorFlow's seeds).
SEED_LIMIT = 2**31


class TrialSpecError(ValueError):
    """The trial's own parameters are inconsistent (raised before anything starts)."""


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """What to run.

    Attributes:
        config_text: the complete pipeline.config (text format) of this variant.
        trial_dir: directory of this trial (created; must not hold another trial's result).
        steps: training steps; a multiple of ``eval_every``.
        eval_every: checkpoint interval in steps (the trainer writes a checkpoint at every multiple).
        eval_steps: the checkpoint steps to evaluate, ascending, each a multiple of ``eval_every``,
            the last one ``steps``; ``()``: every checkpoint. When it is ``steps`` alone the trial
            evaluates in its trainer's process once training ends (:attr:`final_only`).
        objective: metric tag that defines the best checkpoint.
        device: value for CUDA_VISIBLE_DEVICES (``None``: inherit; ``""``: CPU only).
        threads: CPU threads for each of the trial's two TF processes (trainer and evaluator;
            intra-op threads, ``OMP_NUM_THREADS``); 0: TensorFlow decides.
        timeout: wall-clock budget in seconds (``None``: unlimited).
        seed: training seed, passed to the trainer as ``--seed`` (``None``: unseeded); see
            :mod:`tuner.odapi.seeding` for what it makes reproducible.
        deterministic: also turn on TensorFlow's op determinism in the trainer (needs ``seed``):
            the same seed then gives the same weights, at a cost in speed.
    """

    config_text: str
    trial_dir: Path
    steps: int
    eval_every: int
    objective: str = events.MAP
    device: str | None = None
    threads: int = 0
    timeout: float | None = None
    seed: int | None = None
    deterministic: bool = False
    eval_steps: tuple[int, ...] = ()

    @property
    def evaluated_steps(self) -> tuple[int, ...]:
        """The steps whose checkpoints are evaluated, ascending."""
        return self.eval_steps or every_multiple(self.steps, self.eval_every)

    @property
    def final_only(self) -> bool:
        """Whether only the last checkpoint is evaluated (one process: training, then evaluation)."""
        return self.evaluated_steps == (self.steps,)

    def validate(self) -> None:
        """Raises:
            TrialSpecError: with the offending value and the fix.
        """
        check_steps(self.steps, self.eval_every)
        if self.threads < 0:
            raise TrialSpecError(f"--threads must be >= 0 (got {self.threads})")
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed < SEED_LIMIT):
            raise TrialSpecError(f"--seed must be an integer in [0, 2**31) (got {self.seed!r})")
        if self.eval_steps:
            check_eval_steps(self.steps, self.eval_every, self.eval_steps)
        if self.deterministic and self.seed is None:
            raise TrialSpecError("--deterministic needs --seed: with op determinism on, TensorFlow refuses "
                                 "unseeded random ops; give --seed N")


def check_steps(steps: int, eval_every: int) -> None:
    """A training budget every runner can honour: positive, and ``steps`` a multiple of
    ``eval_every`` (else the last steps would never be evaluated).

    Raises:
        TrialSpecError: with the offending values and the two nearest valid ``--steps``.
    """
    if steps <= 0 or eval_every <= 0:
        raise TrialSpecError(f"--steps and --eval-every must be positive (got {steps}, {eval_every})")
    if steps % eval_every:
        raise TrialSpecError(
            f"--steps {steps} is not a multiple of --eval-every {eval_every}: the last steps would never be "
            f"evaluated; use --steps {steps // eval_every * eval_every or eval_every} or "
            f"{(steps // eval_every + 1) * eval_every}")


def every_multiple(steps: int, every: int) -> tuple[int, ...]:
    """The checkpoint steps of a ``steps``-step run checkpointed every ``every`` steps:
    ``every, 2*every, ..., steps`` (what a trial evaluates when no steps are given)."""
    return tuple(range(every, steps + 1, every))


def check_eval_steps(steps: int, eval_every: int, eval_steps: tuple[int, ...]) -> None:
    """``eval_steps`` ascending, each a positive multiple of ``eval_every``, ending at ``steps``.

    Raises:
        TrialSpecError: naming the offending step.
    """
    if list(eval_steps) != sorted(set(eval_steps)):
        raise TrialSpecError(f"evaluation steps must be ascending and distinct (got {list(eval_steps)})")
    bad = next((s for s in eval_steps if s <= 0 or s > steps or s % eval_every), None)
    if bad is not None:
        raise TrialSpecError(f"evaluation step {bad} is not a checkpoint step (a multiple of {eval_every} up to {steps})")
    if eval_steps[-1] != steps:
        raise TrialSpecError(f"the evaluation steps must end with the last step {steps} (got {list(eval_steps)})")
