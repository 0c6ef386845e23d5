"""tuner.anchors.params.grown: every anchor size times a factor, the shapes' ratios and grid kept."""
from __future__ import annotations

import dataclasses

import pytest

from tuner.anchors.params import MultiscaleAnchorParams, SsdAnchorParams, grown

SSD = SsdAnchorParams(num_layers=6, min_scale=0.171, max_scale=0.614, aspect_ratios=(0.164, 1.012, 2.021))


def test_ssd_scales_grow_and_the_rest_stays() -> None:
    big = grown(SSD, 1.25)
    assert (big.min_scale, big.max_scale) == (0.214, 0.767)  # 0.7675 in binary floating point rounds down
    assert dataclasses.replace(big, min_scale=SSD.min_scale, max_scale=SSD.max_scale) == SSD


def test_ssd_max_scale_is_capped_at_the_image() -> None:
    big = grown(SSD, 2.0)
    assert (big.min_scale, big.max_scale) == (0.342, 1.0)


def test_explicit_ssd_scales_grow_each() -> None:
    explicit = dataclasses.replace(SSD, scales=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6))
    assert grown(explicit, 1.5).scales == (0.15, 0.3, 0.45, 0.6, 0.75, 0.9)


def test_multiscale_anchor_scale_grows() -> None:
    fpn = MultiscaleAnchorParams(3, 7, 4.0, (1.0, 2.0, 0.5), 2)
    assert grown(fpn, 1.25) == dataclasses.replace(fpn, anchor_scale=5.0)


def test_factor_one_changes_nothing_and_a_non_positive_factor_is_refused() -> None:
    assert grown(SSD, 1.0) == SSD
    with pytest.raises(ValueError, match="must be > 0"):
        grown(SSD, 0.0)
