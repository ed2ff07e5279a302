"""The training loop's parts: augmentation, learning-rate rewinding, and fine-tuning with masks held."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from pruneaudit.sweep.config import Training
from pruneaudit.sweep.train import schedule, translate


def test_translate_moves_the_image_and_fills_with_zero():
    raw = np.arange(1, 2 * 4 * 5 + 1, dtype=np.uint8).reshape(2, 4, 5)
    out = translate(raw, 1, -2, channels_first=True)
    want = np.zeros_like(raw)
    want[:, 0:3, 2:5] = raw[:, 1:4, 0:3]  # pixel (i, j) shows (i + 1, j - 2)
    np.testing.assert_array_equal(out, want)
    rgb = np.stack([raw, raw + 100, raw + 200], axis=1)  # (N, C, H, W)
    np.testing.assert_array_equal(
        translate(rgb, 1, -2, channels_first=True)[:, 1], translate(raw + 100, 1, -2, channels_first=True)
    )
    last = np.moveaxis(rgb, 1, -1)  # (N, H, W, C)
    np.testing.assert_array_equal(
        np.moveaxis(translate(last, 1, -2, channels_first=False), -1, 1), translate(rgb, 1, -2, channels_first=True)
    )
    np.testing.assert_array_equal(translate(raw, 0, 0, channels_first=True), raw)


def _rates(opt, sched, steps: int) -> list[float]:
    rates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    return rates


@pytest.mark.parametrize("kind", ["onecycle", "cosine"])
def test_rewinding_replays_the_last_epochs_of_the_dense_schedule(kind):
    dense = Training(epochs=10, optimizer="sgd", lr=0.1, schedule=kind, batch_size=32)
    p = torch.nn.Parameter(torch.zeros(1))
    full_opt = torch.optim.SGD([p], lr=dense.lr, momentum=0.9)
    full = _rates(full_opt, schedule(full_opt, dense, per_epoch=7, rewind_from=None), 70)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=dense.lr, momentum=0.9)
    tail = _rates(opt, schedule(opt, replace(dense, epochs=3), per_epoch=7, rewind_from=dense), 21)
    assert tail == pytest.approx(full[-21:], rel=1e-12)
    assert tail[0] != pytest.approx(full[0])  # not the schedule started over
