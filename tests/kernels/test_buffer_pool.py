"""The fused kernels' buffer pool keeps memory flat when shapes vary, and gives it back:
it grew by 0.7 GB over 300 steps with T varying, and never returned any."""

from __future__ import annotations

import random

import torch

import grukit
from grukit.kernels import release_buffers
from grukit.kernels.cpu.build import load_extension


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 1e6


def test_varying_shapes_keep_memory_flat_and_release_gives_it_back():
    # Batch 128, 8 inputs, 32 units: the pool sees the buffers of batch 32, 32 inputs and
    # 128 units (every large one is (T, B, k I) or (T, B, k H)), for a quarter of the work.
    layer = grukit.GRU(8, 32, backend="fused")
    generator = random.Random(0)
    resident = {}
    for step in range(120):
        x = torch.randn(generator.randint(50, 250), 128, 8)
        output, h_n = layer(x)
        (output.sum() + h_n.sum()).backward()
        if step in (20, 119):
            resident[step] = resident_mb()
    assert resident[119] - resident[20] < 100, resident
    extension = load_extension()
    cached = extension.cached_buffer_bytes()
    assert 0 < cached <= 1 << 30
    assert release_buffers() == cached  # what it kept is what it frees
    assert extension.cached_buffer_bytes() == 0
