"""Thread and fair-share sizing follow a container's CPU quota, not the host's core count.

The quota files are written to a temporary folder: this machine's own cgroup has no quota
(``cpu.cfs_quota_us`` is -1), so the parser is given the files a limited container sees."""

from __future__ import annotations

import os
from pathlib import Path

from signify_graph._cores import cpu_cores

HOST = len(os.sched_getaffinity(0))


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_cgroup_v2_quota_caps_the_cores(tmp_path: Path):
    _write(tmp_path, "cpu.max", "100000 100000\n")
    assert cpu_cores(tmp_path) == 1


def test_a_fractional_quota_rounds_up_and_never_exceeds_the_cpu_set(tmp_path: Path):
    _write(tmp_path, "cpu.max", "50000 100000\n")
    assert cpu_cores(tmp_path) == 1
    _write(tmp_path, "cpu.max", f"{(HOST + 8) * 100000} 100000\n")
    assert cpu_cores(tmp_path) == HOST


def test_no_quota_means_the_cpu_set(tmp_path: Path):
    _write(tmp_path, "cpu.max", "max 100000\n")
    assert cpu_cores(tmp_path) == HOST
    assert cpu_cores(tmp_path / "missing") == HOST


def test_a_cgroup_v1_quota_is_read_too(tmp_path: Path):
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "50000\n")
    _write(tmp_path, "cpu/cpu.cfs_period_us", "100000\n")
    assert cpu_cores(tmp_path) == 1
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "-1\n")
    assert cpu_cores(tmp_path) == HOST
