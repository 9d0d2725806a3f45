"""Hostile files, as an attacker writes them into a pull request: no crash, hang, internal error,
memory by declared size, or injection into the formats CI shows. Every case runs convlint as
a user does (a process of its own), under a time limit.

The truths checked: the exit code and the one line convlint promises (README, "Errors and exit
codes"), the limits of analyzer.limits, and for escaping, what each format's reader would do
with the output (a line starting with ``::`` is a GitHub workflow command; a Markdown code
fence ends at a line starting with three backticks; a terminal obeys ESC sequences).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper


def convlint(*args: str, cwd: Path | None = None, timeout: float = 30,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m analyzer ARGS`` as a user runs it; fails the test on a hang."""
    return subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=cwd, capture_output=True,
                          timeout=timeout, check=False, env=env)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of an unreadable input (exit code 2, nothing on stdout)."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    return lines[0]


def model(nodes, inputs=None, inits=(), opset=17, extra=(), functions=()) -> onnx.ModelProto:
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    outputs = [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra], functions=list(functions))
    made.ir_version = 10
    return made


def save(path: Path, made: onnx.ModelProto | bytes) -> Path:
    path.write_bytes(made if isinstance(made, bytes) else made.SerializeToString())
    return path


def weight(name: str, *dims: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(dims, np.float32), name)


def findings(done: subprocess.CompletedProcess) -> list[dict]:
    return json.loads(done.stdout)["diagnostics"]


# -- 1. native code never runs on the model in convlint's process ---------------------------------
def segfaulting_model() -> onnx.ModelProto:
    """onnx's C++ shape inference dereferences the missing input of RegexFullMatch (opset 20+)."""
    return model([helper.make_node("RegexFullMatch", [""], ["r"], pattern="a"),
                  helper.make_node("Warp", ["x"], ["y"], domain="com.acme")],
                 opset=22, extra=[helper.make_opsetid("com.acme", 1)])


def doubling_functions(levels: int) -> onnx.ModelProto:
    """Model-local functions F_i = F_{i-1} . F_{i-1}: expanding F_{levels-1} takes 2**levels steps."""
    functions = []
    for i in range(levels):
        body = ([helper.make_node("Relu", ["a"], ["b"])] if i == 0 else
                [helper.make_node(f"F{i - 1}", ["a"], ["t"], domain="local"),
                 helper.make_node(f"F{i - 1}", ["t"], ["b"], domain="local")])
        functions.append(helper.make_function("local", f"F{i}", ["a"], ["b"], body,
                                              [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]))
    return model([helper.make_node(f"F{levels - 1}", ["x"], ["y"], domain="local")],
                 extra=[helper.make_opsetid("local", 1)], functions=functions)


def test_the_segfault_really_happens_in_onnx(tmp_path):
    """The reproduction is real: onnx's shape inference dies by SIGSEGV on it in a process."""
    path = save(tmp_path / "crash.onnx", segfaulting_model())
    code = "import onnx, sys; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]), strict_mode=False)"
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=60, check=False)
    assert done.returncode == -11


def test_a_crash_in_onnx_shape_inference_is_a_finding(tmp_path):
    path = save(tmp_path / "crash.onnx", segfaulting_model())
    done = convlint("analyze", str(path), "-f", "json")
    assert done.returncode == 0, done.stderr
    found = findings(done)
    assert [d["code"] for d in found] == ["U105", "U101", "U101"]
    assert "crashed (SIGSEGV)" in found[0]["message"] and found[0]["node"] == "RegexFullMatch_0"


def test_endless_function_expansion_is_stopped(tmp_path):
    path = save(tmp_path / "functions.onnx", doubling_functions(39))
    started = time.monotonic()
    done = convlint("analyze", str(path), "-f", "json")
    assert time.monotonic() - started < 10
    assert done.returncode == 0, done.stderr
    (failed,) = [d for d in findings(done) if d["code"] == "U105"]
    assert "did not finish within 5 s" in failed["message"]


def test_shape_inference_in_the_child_still_gives_shapes(tmp_path):
    """A model-local function two levels deep is expanded by onnx in the child: its shape is used."""
    path = save(tmp_path / "shallow.onnx", doubling_functions(2))
    report = json.loads(convlint("analyze", str(path), "-f", "json").stdout)
    assert [d["code"] for d in report["diagnostics"]] == ["U101", "U103"]
    assert report["nodes"][0]["outputs"][0]["shape"] == [1, 3, 8, 8]


def test_check_goes_on_past_a_model_that_crashes_onnx(tmp_path):
    save(tmp_path / "a_crash.onnx", segfaulting_model())
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    done = convlint("check", str(tmp_path), "-j", "2", "-f", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(Path(f["model"]["path"]).name for f in report["files"]) == ["a_crash.onnx", "seed.json"]
    assert report["errors"] == []


# -- 3. only regular files are read ---------------------------------------------------------------
def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    assert one_error_line(convlint("analyze", str(fifo), timeout=10)).endswith("is a FIFO (named pipe), not a regular file")


def test_a_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "spec.json"
    link.symlink_to("/dev/zero")
    assert one_error_line(convlint("analyze", str(link), timeout=10)).endswith("is a character device, not a regular file")


def test_a_spec_larger_than_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.write(b'{"inputs": [], "layers": [], "pad": "')
        handle.truncate(65 * 2**20)  # a sparse file: 65 MiB of NULs after the opening
    assert one_error_line(convlint("analyze", str(path))).endswith("the spec is larger than 64 MiB, convlint's limit")


def test_an_empty_path_names_no_file():
    assert one_error_line(convlint("analyze", "")) == 'error: "": the path is empty: name a model file'


def test_check_skips_links_leaving_the_folder_and_special_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    outside = tmp_path / "outside.json"
    outside.write_bytes((SAMPLES / "broken_channels.json").read_bytes())
    (repo / "passwd.onnx").symlink_to("/etc/passwd")
    (repo / "spec.json").symlink_to(outside)
    (repo / "inside.json").symlink_to(repo / "real.json")
    (repo / "real.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    os.mkfifo(repo / "pipe.onnx")
    done = convlint("check", str(repo), "-f", "json", timeout=20)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(Path(f["model"]["path"]).name for f in report["files"]) == ["inside.json", "real.json"]
    skipped = {Path(s["path"]).name: s["message"] for s in report["skipped"]}
    assert skipped == {
        "passwd.onnx": f"a link to a file outside {repo}: not followed",
        "spec.json": f"a link to a file outside {repo}: not followed",
        "pipe.onnx": "is a FIFO (named pipe), not a regular file: not read",
    }
    text = convlint("check", str(repo), timeout=20).stdout.decode()
    assert f"skipped: {repo / 'passwd.onnx'}: a link to a file outside {repo}: not followed" in text


def test_a_folder_that_cannot_be_searched_is_named(tmp_path, monkeypatch):
    """os.walk would skip the folder in silence; `check` names it. (Root reads every folder, so
    the refusal the kernel gives other users is played by os.scandir.)"""
    from analyzer.lint import expand

    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    scandir = os.scandir

    def refusing(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    found = expand([str(tmp_path)])
    assert found.files == [str(tmp_path / "seed.json")]
    assert [(e.path, e.message) for e in found.errors] == [(str(locked), f"{locked}: cannot search this folder: Permission denied")]


from analyzer.lint import check_one as _check_one  # noqa: E402


def _dies_on(path: str, settings):
    """check_one, but the worker process dies on one file (as a crash in native code would)."""
    if path.endswith("die.json"):
        os._exit(3)
    return _check_one(path, settings)


def test_check_names_the_file_whose_worker_died(tmp_path, monkeypatch):
    """Worker processes are forked: the patched function is what they run."""
    import analyzer.lint as lint
    from analyzer.settings import Settings

    for name in ("a.json", "die.json", "z.json"):
        (tmp_path / name).write_bytes((SAMPLES / "seed.json").read_bytes())
    monkeypatch.setattr(lint, "check_one", _dies_on)
    run = lint.check_paths([str(tmp_path)], Settings(), jobs=2)
    assert sorted(Path(r.model.path).name for r in run.files) == ["a.json", "z.json"]
    assert [(Path(e.path).name, e.message.split(": ", 1)[1]) for e in run.errors] == [
        ("die.json", "the process analysing this file died (killed, or a crash in native code): "
                     "a bug in convlint or its dependencies; please report it")]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('exclude = "legacy"', "[tool.convlint] exclude: must be a list of strings, not a string"),
        ("extend-exclude = [1]", "[tool.convlint] extend-exclude: must be a list of strings, not an array with other values"),
        ('force-exclude = "yes"', "[tool.convlint] force-exclude: must be true or false, not a string"),
        ("exclude = [" + ", ".join(['"x"'] * 1001) + "]", "[tool.convlint] exclude: 1,001 patterns; at most 1,000"),
        ('exlude = ["x"]', "[tool.convlint]: unknown key 'exlude' (did you mean 'exclude'?); known: select"),
    ],
)
def test_exclusion_settings_from_a_hostile_config(tmp_path, setting, message):
    """A pull request can change pyproject.toml: the exclusion keys are typed and bounded
    (each file a folder search meets is matched against every pattern)."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.convlint]\n{setting}\n")
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    done = subprocess.run([sys.executable, "-m", "analyzer", "check", "."], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'pyproject.toml'}: {message}"), line


def test_suggestions_are_worded_only_for_the_problems_shown(monkeypatch):
    """A spec with 100,000 misspelt fields: every problem is counted, and only the 50 shown
    get a "did you mean" (each costs string comparisons: 100,000 would take seconds)."""
    import analyzer.strings
    from analyzer.errors import InputError
    from analyzer.frontends.spec import validate
    from analyzer.limits import MAX_PROBLEMS

    calls = []
    closest = analyzer.strings.closest
    monkeypatch.setattr(analyzer.strings, "closest", lambda *a: calls.append(a) or closest(*a))
    layer = {"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 3} | {f"out_chanels_{i}": 1 for i in range(100_000)}
    with pytest.raises(InputError) as raised:
        validate("many.json", {"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [layer]})
    lines = raised.value.lines()
    assert len(lines) == MAX_PROBLEMS + 1 and lines[-1] == "many.json: and 99,950 more problems"
    assert lines[0] == "many.json: /layers/0/out_chanels_0: unknown field of this conv layer (did you mean 'out_channels'?)"
    assert len(calls) == MAX_PROBLEMS
