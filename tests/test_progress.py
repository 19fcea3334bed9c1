"""Progress a person can trust: each phase's bar ends at 100 % when the phase ends, and none lingers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memvid_base import Memory
from tests.core_fixtures import hash_embed, pydoc_chunks


def final_states(stderr: str) -> dict[str, str]:
    """Each bar's last drawn state (tqdm redraws a line with carriage returns)."""
    states: dict[str, str] = {}
    for piece in re.split(r"[\r\n]", stderr):
        match = re.match(r"\s*([A-Z][\w ]+?):\s+(\d+)%", piece)
        if match:
            states[match.group(1)] = match.group(2)
    return states


def test_each_build_phase_ends_at_100_percent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Memory.build(tmp_path / "kb.mp4", None, pydoc_chunks(limit=40), embedding_model=hash_embed, codec="h264",
                 show_progress=True).close()
    states = final_states(capsys.readouterr().err)
    assert "Verifying frames" in states and "Encoding frames" in states
    assert set(states.values()) == {"100"}, states
