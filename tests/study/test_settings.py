"""Sampler and pruner names are enums: the CLI offers exactly them, prepare() refuses any other."""
from __future__ import annotations

import pytest

from tuner.study import __main__ as cli
from tuner.study import sampling
from tuner.study.inputs import SamplerName, StudyInputError, StudySettings, prepare
from tuner.study.pruning import PrunerKind


@pytest.mark.parametrize("kwargs, message", [
    ({"sampler": "grid"}, "--sampler must be one of tpe, random (got 'grid')"),
    ({"sampler": "TPE"}, "--sampler must be one of tpe, random (got 'TPE')"),
    ({"pruner": "percentile"}, "--pruner must be one of auto, median, hyperband, none (got 'percentile')"),
])
def test_an_unknown_sampler_or_pruner_is_a_one_line_error_before_anything_else(tmp_path, kwargs, message) -> None:
    with pytest.raises(StudyInputError) as caught:
        prepare(StudySettings(base=str(tmp_path / "missing.config"), run_dir=str(tmp_path / "run"), **kwargs))
    assert str(caught.value) == message
    assert not (tmp_path / "run").exists()


def test_the_cli_choices_are_the_enums() -> None:
    actions = {a.dest: a for a in cli.build_parser()._actions}
    assert actions["sampler"].choices == ["tpe", "random"]  # written out: what a user can type, not recomputed
    assert actions["pruner"].choices == ["auto", "median", "hyperband", "none"]
    assert [n.value for n in SamplerName] == actions["sampler"].choices
    assert [k.value for k in PrunerKind] == actions["pruner"].choices
    assert (actions["sampler"].default, actions["pruner"].default) == ("tpe", "auto")


def test_every_sampler_name_builds_its_sampler() -> None:
    assert {name: type(sampling.sampler(name, 1)).__name__ for name in SamplerName} == {
        SamplerName.TPE: "TPESampler", SamplerName.RANDOM: "RandomSampler"}
