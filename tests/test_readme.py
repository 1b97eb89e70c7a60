"""The README's set-up commands are the ones CI and the CLI really use."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_both_readme_setup_commands_verbatim_in_order_in_a_fresh_venv():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in bash_blocks(setup)]
    (main_job,) = [c for c in commands if "cwrnn-audio demo" in c]
    (test_cmd,) = [c for c in commands if "pytest" in c]
    assert commands.index(main_job) < commands.index(test_cmd)
    assert main_job.startswith("pip install . ") and test_cmd.startswith("pip install -e ")
    assert "-m venv" in commands[0]  # the environment comes first
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert main_job in ci and test_cmd in ci, "each README command must be one line of .ci/run, verbatim"
    venv = next(i for i, line in enumerate(ci) if "-m venv" in line)
    activate = next(i for i, line in enumerate(ci) if "bin/activate" in line)
    torch = next(i for i, line in enumerate(ci) if "pip install" in line and "torch==" in line)
    assert venv < activate < torch < ci.index(main_job) < ci.index(test_cmd)
    assert "set -euo pipefail" in ci
