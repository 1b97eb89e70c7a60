"""The README's set-up commands are the ones CI and the CLI really use."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in bash_blocks(setup)]
    assert len(commands) == 2
    main_job, test_cmd = commands
    assert "cwrnn-audio demo" in main_job and "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci
