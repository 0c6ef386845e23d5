"""Which checkpoints a study's trials evaluate: only those whose reading decides something.

An evaluation costs a trial tens of seconds of CPU (graph tracing, the COCO pass) that it takes
from the trainer beside it. A reading decides something in two places only: the pruner's rungs
(:mod:`tuner.study.pruning`) and the last step, which is the trial's result (the best checkpoint
of a trial that evaluates once is its last one). So, unless the user asks with ``--eval-every``:

* when the study does not prune, a trial evaluates its last checkpoint only, in its trainer's
  process once training ends (:attr:`tuner.trial.TrialSpec.final_only`: no evaluator process);
* when it prunes, a trial evaluates the rungs the pruner reads and the last step.

Whether the study prunes is decided on a checkpoint grid of at least :data:`DEFAULT_GRID` steps
(the interval every study used before this rule, so ``--pruner auto`` decides as it did on short
studies), coarsened on long ones until the pruner reads at most :data:`MAX_RUNGS` rungs (a
20000-step trial is read at 10 rungs, not at 100). With ``--eval-every K`` every K-th step is
evaluated, as asked. The plan is said at start and kept in the run directory's
``study.json`` (a resumed study evaluates the same steps).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from tuner.study.pruning import PrunerKind, PruningPlan
from tuner.trial.spec import check_steps, every_multiple

#: The finest checkpoint grid the pruning decision is made on when ``--eval-every`` is not given.
DEFAULT_GRID = 100
#: At most this many rungs per trial when the grid is chosen here.
MAX_RUNGS = 10


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """The steps a study's trials evaluate.

    Attributes:
        steps: the study's ``--steps``.
        every: the checkpoint interval the trainer writes (:attr:`tuner.trial.TrialSpec.eval_every`).
        at: the evaluated steps, ascending, ending at ``steps`` (:attr:`TrialSpec.eval_steps`).
        requested: whether ``--eval-every`` was given (every ``every``-th step is then evaluated).
    """

    steps: int
    every: int
    at: tuple[int, ...]
    requested: bool

    @property
    def final_only(self) -> bool:
        return self.at == (self.steps,)

    def describe(self) -> str:
        """One line for the start of the study."""
        if self.requested:
            return f"evaluations: every {self.every} steps ({len(self.at)} per trial, --eval-every {self.every})"
        if self.final_only:
            return (f"evaluations: the last checkpoint only (step {self.steps}), in the trainer's process: with no "
                    "pruning an earlier reading would decide nothing; --eval-every K adds one every K steps")
        return (f"evaluations: at steps {', '.join(map(str, self.at))} (the pruner's rungs and the last step); "
                "--eval-every K evaluates every K steps instead")

    def steps_text(self) -> str:
        """The evaluated steps, short (for the summary)."""
        if self.final_only:
            return f"the last checkpoint only (step {self.steps})"
        return ", ".join(map(str, self.at))


def plan(steps: int, eval_every: int | None, pruning_for: Callable[[int], PruningPlan]) -> tuple[EvalPlan, PruningPlan]:
    """The evaluation and pruning plans of a study of ``steps`` steps; ``eval_every``: the user's
    ``--eval-every`` (``None``: not given); ``pruning_for(grid)``: the pruning plan on a grid.

    Raises:
        tuner.trial.TrialSpecError: ``steps`` is not a positive multiple of ``eval_every``.
        tuner.study.pruning.PruningError: from ``pruning_for``.
    """
    if eval_every is not None:
        check_steps(steps, eval_every)
        pruning = pruning_for(eval_every)
        return EvalPlan(steps, eval_every, every_multiple(steps, eval_every), True), pruning
    check_steps(steps, steps)
    grids = [d for d in range(DEFAULT_GRID, steps + 1) if steps % d == 0] or [steps]
    for grid in grids:  # the finest grid with at most MAX_RUNGS rungs
        pruning = pruning_for(grid)
        if len(pruning.decision_steps) <= MAX_RUNGS:
            break
    if pruning.kind is PrunerKind.NONE or not pruning.decision_steps:
        return EvalPlan(steps, steps, (steps,), False), pruning
    return EvalPlan(steps, grid, (*pruning.decision_steps, steps), False), pruning

