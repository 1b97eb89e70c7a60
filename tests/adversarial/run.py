"""Re-run the adversarial cases and print each one's verdict.

python tests/adversarial/run.py [SUBSTRING ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import load_all  # noqa: E402


def main(argv: list[str]) -> int:
    cases = load_all()
    chosen = {k: v for k, v in cases.items() if not argv or any(a in k for a in argv)}
    failed = 0
    for label, fn in chosen.items():
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                fn(Path(tmp))
                verdict = "held"
            except AssertionError as exc:
                verdict, failed = (
                    f"FAILED: {str(exc).splitlines()[0] if str(exc) else 'assertion'}",
                    failed + 1,
                )
            except Exception:
                verdict, failed = "ERROR: " + traceback.format_exc().splitlines()[-1], failed + 1
        print(f"{label:<72} {verdict} ({time.perf_counter() - t:.1f} s)", flush=True)
    print(f"{len(chosen) - failed} of {len(chosen)} cases held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
