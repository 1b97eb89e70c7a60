"""Every adversarial case under pytest (``run.py`` prints the same cases as verdicts)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import load_all  # noqa: E402

CASES = load_all()


@pytest.mark.parametrize("label", sorted(CASES))
def test_case(label, tmp_path):
    CASES[label](tmp_path)
