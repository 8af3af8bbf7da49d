"""The motion evidence for J and Z reads the real runs and tells a traced letter from a held one."""

from __future__ import annotations

from training.data import load
from training.motion import movement, table, tip_path


def test_boris_traced_z_moves_far_more_than_his_still_d() -> None:
    boris = load("boris")
    z = movement(tip_path(boris, "Z", 8))
    d = movement(tip_path(boris, "D", 8))
    assert z["frames"] > 300 and d["frames"] > 300
    assert z["step_p50"] > 5 * d["step_p50"]
    assert z["extent"] > 3 * d["extent"]


def test_table_lists_every_run_source_with_both_letters_of_each_pair() -> None:
    rows = table().splitlines()[2:]
    for source in ("boris", "lm_AnnuMaryMahesh", "lm_Rhys12-Tran"):
        letters = {row.split("|")[2].strip() for row in rows if f"`{source}`" in row}
        assert letters == {"J", "I", "Z", "D"}
