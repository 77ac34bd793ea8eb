"""The README's commands are true of the code: every flag they give exists, and the Python example runs."""

import argparse
import importlib.util
import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text()


def shell_commands() -> list:
    """Every command in the README's indented and fenced shell blocks, continuation lines joined."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", README, re.S)
    blocks += re.findall(r"((?:\n {4}.+)+)", README)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                part = part.split(" #")[0].strip()
                if part:
                    commands.append(part)
    return commands


def script_calls() -> list:
    """(script path, its arguments) for every README command that runs one of this project's Python scripts."""
    calls = []
    for command in shell_commands():
        words = shlex.split(command)
        scripts = [i for i, w in enumerate(words) if w.endswith(".py")]
        if scripts:
            i = scripts[0]
            calls.append((words[i], words[i + 1:]))
    return calls


class Parsed(Exception):
    pass


def test_the_readme_names_the_project_s_commands():
    scripts = {script for script, _ in script_calls()}
    assert {"app.py", "train/run.py", "train/evaluate.py", "train/push.py", "train/translate.py"} <= scripts
    assert "bash .ci/run" in shell_commands() and (REPO / ".ci" / "run").is_file()


@pytest.mark.parametrize("script, args", script_calls(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_every_readme_command_parses(script, args, monkeypatch):
    """The script's own parser accepts the command as written (stopped right after parsing, nothing runs)."""
    path = REPO / script
    assert path.is_file(), f"the README runs {script}, which does not exist"
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, argv=None, namespace=None):
        raise Parsed(parse(self, argv, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"readme_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # gradio inspects the module of the classes it wraps
    spec.loader.exec_module(module)
    with pytest.raises(Parsed):
        module.main(args)


def test_the_readme_s_python_example_runs(tmp_path):
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    (tmp_path / "weights").symlink_to(REPO / "weights")
    (tmp_path / "face.jpg").symlink_to(REPO / "examples" / "astronaut_face.jpg")
    check = "\nassert fake.size == rec.size == (G_AB.image_size, G_AB.image_size), (fake.size, rec.size)\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", code + check], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
