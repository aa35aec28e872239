"""``benchmarks/ship_policy.py``: what a shipped policy's entry says about the machine that trained it."""

from __future__ import annotations

from scripts import benchmark_script

from unmask_gym.bench import machine_description

ship_policy = benchmark_script("ship_policy")


def test_the_machine_note_reads_the_commands_threads_and_whether_it_ran_alone():
    alone = ship_policy.machine_note("unmask-gym train --task sudoku --threads 2 --out runs/x", alone=True)
    assert alone == f"{machine_description()} threads=2, alone on the machine"
    shared = ship_policy.machine_note("unmask-gym train --task sudoku --out runs/x", alone=False)
    assert shared == f"{machine_description()} threads=1, sharing the 2 cores with another training run"
