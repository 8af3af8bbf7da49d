"""Thread and fair-share sizing follow a container's CPU quota, not the host's core count.

The quota files are written to a temporary folder: this machine's own cgroup has no quota
(``cpu.cfs_quota_us`` is -1), so the parser is given the files a limited container sees."""

from __future__ import annotations

import os
from pathlib import Path

from signify_graph._cores import SHARE_VARIABLE, core_share, cpu_cores
from signify_graph.service.settings import load_settings

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


def test_a_worker_counts_only_its_share_of_the_cores(tmp_path: Path, monkeypatch):
    _write(tmp_path, "cpu.max", f"{4 * 100000} 100000\n")
    monkeypatch.setenv(SHARE_VARIABLE, "1")
    assert cpu_cores(tmp_path) == 1
    monkeypatch.setenv(SHARE_VARIABLE, str(HOST + 8))  # a share never adds cores
    assert cpu_cores(tmp_path) == min(HOST, 4)


def test_each_worker_gets_at_least_one_core():
    assert core_share(4, 2) == 2
    assert core_share(2, 4) == 1
    assert core_share(3, 0) == 3


def test_the_default_process_count_is_the_cores_and_one_stays_one(monkeypatch):
    monkeypatch.delenv(SHARE_VARIABLE, raising=False)
    assert load_settings({}).process_count == cpu_cores()
    assert load_settings({"SIGNIFY_PROCESSES": "1"}).process_count == 1
    assert load_settings({"SIGNIFY_PROCESSES": "3"}, processes=2).process_count == 2
