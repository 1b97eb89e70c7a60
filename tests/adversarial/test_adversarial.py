"""The adversarial runner works and its cases are well formed.

Each case repeats a unit test that CI runs anyway (every defect has one beside its code), so the
whole list runs as a script, ``python tests/adversarial/run.py`` (about 3.5 minutes on 2 cores),
not under pytest; here one cheap case proves the runner prints verdicts.
"""

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import load_all  # noqa: E402

CASES = load_all()


def test_every_case_names_its_defect():
    assert len(CASES) >= 50
    for label in CASES:
        assert re.match(r"^(D\d+|I25\.\w+) \S", label), label


def test_the_runner_prints_a_verdict_per_case():
    r = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "D20 ", "D10 64 modules"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in r.stdout.splitlines() if line.startswith("D")]
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(lines) == 2 and all(" held (" in line for line in lines), r.stdout
    assert r.stdout.strip().endswith("2 of 2 cases held")
