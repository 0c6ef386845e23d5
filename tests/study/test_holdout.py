"""--test-data checks and the held-out block of the summary (no training)."""
from __future__ import annotations

import pytest

from tuner.study import holdout
from tuner.study.verdict import Interval
from tuner.study.holdout import HoldoutError, HeldOutResult


def test_test_data_must_exist_and_differ_from_the_selection_data(tmp_path) -> None:
    train, evald, test = (tmp_path / f"{n}.record" for n in ("train", "eval", "test"))
    for path in (train, evald, test):
        path.write_bytes(b"")
    assert holdout.check_test_data(str(test), str(train), str(evald)) == [str(test)]
    with pytest.raises(HoldoutError, match=r"is also the study's training or eval data"):
        holdout.check_test_data(str(tmp_path / "t*.record"), str(train), str(evald))
    with pytest.raises(HoldoutError, match=r"is also the study's training or eval data"):
        holdout.check_test_data(str(evald), str(train), str(evald))
    with pytest.raises(HoldoutError, match=r"--test-data .*missing.record: no such file"):
        holdout.check_test_data(str(tmp_path / "missing.record"), str(train), str(evald))


def test_lines_show_eval_and_test_side_by_side() -> None:
    text = holdout.lines([HeldOutResult(3, "pick", 0.40, 0.31, 0.6, 16), HeldOutResult(0, "baseline", 0.30, 0.29, 0.5, 16)])
    assert text[0] == "held-out test split (never used for selection): mAP on eval (what selected it) vs on test"
    assert text[1] == "  trial 3 (pick): eval 0.4000, test 0.3100 (test mAP@.50 0.6000, 16 images)"
    assert text[-1] == "  lift on test: +2.0 pts (no interval: the detections were not kept; on eval: +10.0 pts)"
    assert holdout.lines([]) == []
    lift = Interval(0.02, -0.01, 0.05, 0.9, "paired bootstrap", 16, 16)
    with_interval = holdout.lines([HeldOutResult(3, "pick", 0.40, 0.31, 0.6, 16),
                                   HeldOutResult(0, "baseline", 0.30, 0.29, 0.5, 16)], lift)
    assert with_interval[-1] == ("  lift on test: +2.0 pts (90 % interval -1.0 to +5.0; 16 test images, paired "
                                 "bootstrap): not established (the selecting eval runs read +10.0 pts)")
