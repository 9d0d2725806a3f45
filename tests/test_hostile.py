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
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from corpus.make_corpus import doubling_functions
from onnx import TensorProto, helper, numpy_helper

from analyzer.limits import MAX_DIM, MAX_FIELD_BYTES, MAX_LIST_VALUES, MAX_NODE_INPUTS, MAX_RANK
from analyzer.lint import check_one as _check_one


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
    assert "did not finish within" in failed["message"]  # 1 + 2 s of CPU time, or 6 s on a busy machine


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


# -- 4. external-data locations are never opened, whatever they are -------------------------------
@pytest.mark.parametrize(("location", "why"), [
    ("weights\0.bin", "which contains a NUL byte"),
    ("loop.bin", "a link loop"),
    ("../outside.bin", "outside the model's folder"),
])
def test_unusable_external_locations_are_u104(tmp_path, location, why):
    (tmp_path / "loop.bin").symlink_to(tmp_path / "loop.bin")
    tensor = TensorProto(name="w", dims=[4, 3, 3, 3], data_type=TensorProto.FLOAT, data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    path = save(tmp_path / "model.onnx", model([helper.make_node("Conv", ["x", "w"], ["y"])], inits=[tensor]))
    done = convlint("analyze", str(path), "-f", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (found,) = report["diagnostics"]
    assert found["code"] == "U104" and why in found["message"] and found["location"] == "/graph/initializer/0"
    assert report["totals"]["params"] == 4 * 3 * 3 * 3


def test_a_data_file_that_links_out_is_one_u104_for_all_its_initializers(tmp_path):
    """A location inside the folder that is a link leading out is named as such, once for every
    initializer stored there (a ViT's 150 initializers made a screen of identical warnings)."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(outside / "weights.bin")
    tensors = []
    for name in ("w", "b", "w2"):
        dims = [4] if name == "b" else [4, 3 if name == "w" else 4, 3, 3]
        tensor = TensorProto(name=name, dims=dims, data_type=TensorProto.FLOAT, data_location=TensorProto.EXTERNAL)
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "weights.bin"
        tensors.append(tensor)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Conv", ["c", "w2"], ["y"])]
    done = convlint("analyze", str(save(folder / "model.onnx", model(nodes, inits=tensors))), "-f", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(d["code"], d["location"], d["message"]) for d in report["diagnostics"]] == [(
        "U104", "/graph/initializer/0",
        "initializer 'w' and 2 more point their external data at 'weights.bin', a link leading outside the "
        "model's folder; convlint never opens external data, and did not open it")]
    assert report["totals"]["params"] == 4 * 3 * 9 + 4 + 4 * 4 * 9


# -- 5, 11, 12. sizes stay linear and memory follows the structure, not the declared sizes --------
def _peak_rss_mib(done_before: int) -> float:
    return (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss - done_before) / 1024


def _node_with_inputs(count: int) -> onnx.ModelProto:
    return model([helper.make_node("Concat", ["x"] * count, ["y"], axis=1)])


@pytest.mark.parametrize(("made", "place", "message"), [
    (lambda: _node_with_inputs(MAX_NODE_INPUTS + 1), f"/graph/node/0/input/{MAX_NODE_INPUTS}",
     f"a node with more than {MAX_NODE_INPUTS:,} inputs and outputs, convlint's limit"),
    (lambda: model([helper.make_node("Relu", ["x"], ["y"], name="n" * (MAX_FIELD_BYTES + 1))]), "/graph/node/0/name",
     f"{MAX_FIELD_BYTES + 1:,} bytes, over convlint's limit of 1 MiB for one name, dims list, attribute or type"),
    (lambda: model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1] * (MAX_LIST_VALUES + 1))]),
     "/graph/node/0/attribute/0", f"more than {MAX_LIST_VALUES:,} values in one attribute, convlint's limit"),
    (lambda: model([helper.make_node("Relu", ["x"], ["y"])],
                   inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1] * 300_000)]),
     "/graph/input/0", "over convlint's limit of 1 MiB for one name, dims list, attribute or type"),
], ids=["inputs", "name", "kernel-values", "rank"])
def test_counts_and_sizes_past_the_limits_are_refused_with_their_place(tmp_path, made, place, message):
    path = save(tmp_path / "big.onnx", made())
    started = time.monotonic()
    line = one_error_line(convlint("analyze", str(path)))
    assert time.monotonic() - started < 10
    assert line.startswith(f"error: {path}: {place}: ") and line.endswith(message)


def test_an_initializer_with_too_many_dims_is_refused(tmp_path):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1] * (MAX_RANK + 1))
    path = save(tmp_path / "rank.onnx", model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[tensor]))
    line = one_error_line(convlint("analyze", str(path)))
    assert line == f"error: {path}: /graph/initializer/0: initializer 'w' has {MAX_RANK + 1} dims, over convlint's limit of {MAX_RANK}"


def test_an_input_dim_past_the_limit_is_refused(tmp_path):
    """A (1, 2**62, 1, 1) input, 100,000 times concatenated, built a product of 100,000 huge
    integers; dims past 2**40 are refused where they are declared."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2**62, 1, 1])]
    path = save(tmp_path / "wide.onnx", model([helper.make_node("Concat", ["x"] * 1000, ["y"], axis=1)], inputs=inputs))
    line = one_error_line(convlint("analyze", str(path)))
    assert line == (f"error: {path}: /graph/input/0: input 'x' has a dim of {2**62:,}, over convlint's limit of "
                    f"2**40 = {MAX_DIM:,}")


def test_a_concat_of_many_inputs_is_linear(tmp_path):
    """99,999 inputs of 2**39 channels: the sum is over the per-dim limit (S111), found in time."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2**39, 1, 1])]
    path = save(tmp_path / "concat.onnx", model([helper.make_node("Concat", ["x"] * 99_999, ["y"], axis=1)], inputs=inputs))
    started = time.monotonic()
    done = convlint("analyze", str(path), "-f", "json")
    assert time.monotonic() - started < 10
    (found,) = findings(done)
    assert found["code"] == "S111" and f"{99_999 * 2**39:,} along axis 1" in found["message"]


def test_a_sparse_unknown_field_is_skipped_not_copied(tmp_path):
    """4 GiB of an unknown top-level field (a hole: 4 KB on disk) used to be copied into the
    slim model and parsed again (6 GiB). The child's peak RSS stays that of a small model."""
    path = tmp_path / "sparse.onnx"
    head = model([helper.make_node("Relu", ["x"], ["y"])]).SerializeToString()
    size = 4 * 2**30
    key = (100 << 3) | 2
    with open(path, "wb") as handle:
        handle.write(head + bytes([key & 0x7F | 0x80, key >> 7]) + _varint(size))
        handle.truncate(handle.tell() + size)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = convlint("analyze", str(path), "-f", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"][0]["outputs"][0]["shape"] == [1, 3, 8, 8]
    assert _peak_rss_mib(before) < 300


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


# -- 6. huge and tiny numbers --------------------------------------------------------------------
def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _layer_spec(layer: str, shape: str = "3,8,8") -> str:
    """A spec written by hand (numbers as the attacker types them, beyond what json.dumps writes)."""
    return '{"inputs":[{"name":"x","shape":[' + shape + ']}],"layers":[' + layer + ']}'


@pytest.mark.parametrize(("text", "message"), [
    (_layer_spec('{"name":"c","op":"conv","out_channels":4,"kernel_size":1' + "0" * 400 + "}"),
     "/layers/0/kernel_size: a 401-digit number: sizes are at most 2**40 = 1,099,511,627,776"),
    (_layer_spec('{"name":"c","op":"relu"}', "3,8," + "9" * 5000),
     "/inputs/0/shape/2: a 5,000-digit number: sizes are at most 2**40 = 1,099,511,627,776"),
    (_layer_spec('{"name":"u","op":"upsample","scale_factor":1e999}'), "invalid JSON: 1e999 is not a finite number"),
    (_layer_spec('{"name":"c","op":"conv","out_channels":' + str(2**40 + 1) + ',"kernel_size":1}'),
     "/layers/0/out_channels: Input should be less than or equal to 1099511627776"),
], ids=["kernel-401-digits", "shape-5000-digits", "infinite-scale", "channels-over-limit"])
def test_spec_numbers_out_of_range_are_refused(tmp_path, text, message):
    path = write_spec(tmp_path / "spec.json", text)
    assert one_error_line(convlint("analyze", str(path))) == f"error: {path}: {message}"


def test_thousands_of_problems_are_counted_past_fifty(tmp_path):
    layers = [{"name": f"c{i}", "op": "conv", "inputs": ["x"], "out_channels": 7, "kernel_size": 1} for i in range(5000)]
    text = json.dumps({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": layers})
    path = write_spec(tmp_path / "spec.json", text.replace('"out_channels": 7', '"out_channels": ' + "9" * 1000))
    done = convlint("analyze", str(path))
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 51
    assert lines[-1] == f"error: {path}: and 4,950 more problems"


@pytest.mark.parametrize("scale", [1e-30, 1e-40, 1e-6])
def test_tiny_resize_scales_empty_the_map_and_the_conv_after_it_says_so(tmp_path, scale):
    """onnxruntime makes a (1, 3, 0, 0) tensor of these (checked here): the conv after it cannot run."""
    import onnxruntime as ort

    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "s")
    resize = helper.make_node("Resize", ["x", "", "s"], ["r"], mode="nearest")
    alone = model([resize], inits=[scales])
    ran = ort.InferenceSession(alone.SerializeToString()).run(None, {"x": np.ones((1, 3, 8, 8), np.float32)})[0]
    assert ran.shape == (1, 3, 0, 0)
    path = save(tmp_path / "tiny.onnx", model([resize, helper.make_node("Conv", ["r", "w"], ["y"])],
                                              inits=[scales, weight("w", 4, 3, 3, 3)]))
    report = json.loads(convlint("analyze", str(path), "-f", "json").stdout)
    assert report["nodes"][0]["outputs"][0]["shape"] == [1, 3, 0, 0]
    assert [d["code"] for d in report["diagnostics"]] == ["R103", "S101"]


def test_sizes_refuses_a_scan_past_its_limit(tmp_path):
    for value in (10**12, 10**30):
        done = convlint("sizes", str(SAMPLES / "seed.json"), "--max", str(value))
        assert done.returncode == 2 and b"1048576" in done.stderr and b"Traceback" not in done.stderr


# -- 7. text encodings ---------------------------------------------------------------------------
def test_invalid_utf8_in_a_dim_param_and_a_name_prints_in_every_format(tmp_path):
    made = model([helper.make_node("Conv", ["x", "w"], ["y"], name="QQ")], inits=[weight("w", 4, 3, 9, 9)],
                 inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["NN", 3, 8, 8])])
    path = save(tmp_path / "utf8.onnx", made.SerializeToString().replace(b"NN", b"\xff\xfe").replace(b"QQ", b"\xc3\x28"))
    for fmt in ("text", "json", "html", "markdown", "sarif", "github"):  # the finding (S101) names the node
        done = convlint("analyze", str(path), "-f", fmt)
        assert done.returncode == 1, (fmt, done.stderr)
        text = done.stdout.decode("utf-8")
        assert "\ufffd" in text or "\\ufffd" in text  # the HTML page's data block is ASCII JSON
    report = json.loads(convlint("analyze", str(path), "-f", "json").stdout)
    assert report["inputs"][0]["shape"][0] == "\ufffd\ufffd" and report["nodes"][0]["name"] == "\ufffd("
    assert report["diagnostics"][0]["node"] == "\ufffd("


def test_a_file_name_that_is_not_utf8_prints_in_every_format(tmp_path):
    path = tmp_path / "bad\udcffname.json"  # the byte 0xff, as Python hands an undecodable name over
    path.write_bytes((SAMPLES / "seed.json").read_bytes())
    for fmt in ("text", "json", "html", "markdown", "sarif", "github"):
        done = convlint("check" if fmt in ("sarif", "github") else "analyze", path.name, "-f", fmt, cwd=tmp_path)
        assert done.returncode == 0, (fmt, done.stderr)
        text = done.stdout.decode("utf-8")  # JSON (also the HTML page's data) escapes the backslash
        expected = {"json": "bad\\\\udcffname.json", "html": "bad\\\\udcffname.json",
                    "sarif": "bad%5Cudcffname.json"}.get(fmt, "bad\\udcffname.json")  # SARIF: a URI reference
        assert expected in text
    json.loads(convlint("analyze", str(path), "-f", "json").stdout)


# -- 8. other commands on odd models -------------------------------------------------------------
@pytest.mark.parametrize(("node", "inits", "message"), [
    (helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 0]), [weight("w", 4, 3, 3, 3)], "strides must be positive, got [0, 0] [S107]"),
    (helper.make_node("Conv", ["x", "w"], ["y"]), [weight("w", 4, 3, 9, 9)],
     "along H, the window (kernel 9, 9 wide) is larger than the padded input (8 + 0 padding) [S101]"),
    (helper.make_node("Conv", ["x", "w"], ["y"]), [numpy_helper.from_array(np.array(1.0, np.float32), "w")],
     "weight () has rank 0, but the input (1, 3, 8, 8) has rank 4 [S106]"),
    (helper.make_node("Concat", ["x", "x"], ["y"], axis=99), [], "axis=99 is outside a rank-4 tensor [S107]"),
])
def test_export_spec_names_the_node_that_cannot_be_a_layer(tmp_path, node, inits, message):
    path = save(tmp_path / "odd.onnx", model([node], inits=inits))
    done = convlint("export-spec", str(path))
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip() == f"error: {path}: {node.op_type}_0: {message}"


def test_sizes_json_on_an_input_without_a_shape(tmp_path):
    path = save(tmp_path / "noshape.onnx", model([helper.make_node("Relu", ["x"], ["y"])],
                                                 inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, None)]))
    done = convlint("sizes", str(path), "-f", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inputs"] == [{"name": "x", "shape": None}]


# -- 9. configuration files ----------------------------------------------------------------------
@pytest.mark.parametrize(("toml", "message"), [
    ("[tool]\nconvlint = 5\n", "[tool.convlint]: must be a table, not an integer"),
    ("[tool.convlint]\nfail-on = [1]\n", "[tool.convlint] fail-on: must be error, warning or info, not an array"),
    ("[tool.convlint]\nselect = " + "[" * 100_000 + "]" * 100_000 + "\n", "invalid TOML: nested too deeply"),
    ("[tool.convlint]\nx = " + "{a=" * 100_000 + "}" * 100_000 + "\n", "invalid TOML: nested too deeply"),
    ("[tool.convlint]\nselect = \"S\"\n", "[tool.convlint] select: must be a list of strings, not a string"),
    ("[tool.convlint]\nbatch = true\n", "[tool.convlint] batch: must be a positive integer up to 2**40, not a boolean"),
], ids=["convlint-int", "fail-on-list", "deep-arrays", "deep-tables", "select-string", "batch-bool"])
def test_config_errors_name_the_file_and_key(tmp_path, toml, message):
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    line = one_error_line(convlint("check", "seed.json", cwd=tmp_path))
    assert line == f"error: {tmp_path / 'pyproject.toml'}: {message}"


def test_a_tool_table_that_is_not_a_table_is_not_ours(tmp_path):
    (tmp_path / "pyproject.toml").write_text("tool = 5\n")
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    assert convlint("check", "seed.json", cwd=tmp_path).returncode == 0


def test_a_config_file_that_is_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "convlint.toml")
    (tmp_path / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    line = one_error_line(convlint("check", "seed.json", cwd=tmp_path, timeout=10))
    assert line == f"error: {tmp_path / 'convlint.toml'}: is a FIFO (named pipe), not a regular file"


# -- 10. output injection through names ------------------------------------------------------------
FORGED = "conv\n::error file=README.md,line=1,title=Security::Forged annotation\n"
CLEAR = "\x1b[2J\x1b[H\x1b[32mAll checks passed"
FENCE = "a\n```\n\nApproved by security `x` <img src=https://evil.example/x.png> ![i](https://evil.example/i.png) [l](https://evil.example) @org/team :x: $x$ | |"
MARKUP = "[bold red]rich[/] [link=https://evil.example]x[/link]"
HOSTILE = (FORGED, CLEAR, FENCE, MARKUP, "\u202eevil\u202c", "conv\r::warning::carriage")


def hostile_model(tmp_path: Path) -> Path:
    """Every string a report shows, hostile: node names (each with a finding: a kernel larger
    than its input), the input's name, a dim_param, a custom op's type and domain, the graph's
    name."""
    nodes, inits = [], []
    for i, name in enumerate(HOSTILE):
        nodes.append(helper.make_node("Conv", ["x\n::error::input", f"w{i}"], [f"y{i}"], name=name))
        inits.append(weight(f"w{i}", 4, 3, 9, 9))
    nodes.append(helper.make_node(f"Op{FENCE}", ["x\n::error::input"], ["z"], domain=f"dom{FORGED}", name=CLEAR + "op"))
    made = model(nodes, inputs=[helper.make_tensor_value_info("x\n::error::input", TensorProto.FLOAT,
                                                              [FORGED + "<img src=x onerror=alert(1)>", 3, 8, 8])],
                 inits=inits, extra=[helper.make_opsetid(f"dom{FORGED}", 1)])
    made.graph.name = FENCE
    return save(tmp_path / "hostile.onnx", made)


def _no_controls(text: str) -> None:
    """One line per line: no ESC, CR, bidi override or other control character survives."""
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text[:200])


def _no_forged_commands(text: str, allowed: int = 0) -> None:
    """GitHub Actions runs every line that starts with ``::`` as a workflow command."""
    assert sum(1 for line in text.splitlines() if line.lstrip().startswith("::")) == allowed


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    return hostile_model(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("command", [
    ("analyze", "-f", "text"), ("check",), ("check", "-f", "text"), ("diff",), ("sizes",), ("export-spec",),
    ("analyze", "-f", "markdown"),
], ids=lambda c: "-".join(c))
def test_text_outputs_keep_names_on_their_line(hostile, command):
    args = [command[0], str(hostile), *([str(hostile)] if command[0] == "diff" else []), *command[1:]]
    done = convlint(*args)
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    for stream in (done.stdout.decode(), done.stderr.decode()):
        _no_controls(stream)
        _no_forged_commands(stream)
        assert not any(line.startswith("All checks passed") for line in stream.splitlines())  # a fake verdict


def test_github_annotations_are_one_command_per_finding(hostile):
    done = convlint("check", str(hostile), "-f", "github")
    text = done.stdout.decode()
    _no_controls(text)
    lines = text.splitlines()
    report = json.loads(convlint("analyze", str(hostile), "-f", "json").stdout)
    assert len(lines) == len(report["diagnostics"]) and all(re.match(r"::(error|warning|notice) file=", line) for line in lines)
    codes = [d["code"] for d in report["diagnostics"]]
    for line, code in zip(lines, codes):  # the properties end at the first "::"; the message follows
        properties, _, _ = line[2:].partition("::")
        assert re.fullmatch(rf"(error|warning|notice) file=[^,:]+(,line=\d+,col=\d+)?,title={code} [a-z-]+", properties)


def test_markdown_stays_in_its_cells_code_spans_and_diagram(hostile):
    text = convlint("check", str(hostile), "-f", "markdown").stdout.decode()
    _no_controls(text)
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert fences == ["```mermaid", "```"]  # one diagram, and nothing else opens or closes a fence
    mermaid = text[text.index("```mermaid"):text.index("```", text.index("```mermaid") + 3)]
    label = r'"[^"<>`]*(<br/>[^"<>`]*)*"'
    forms = [r"```mermaid", r"graph TD", rf"  n\d+\[{label}\]", r"  class n\d+ (error|warning|info)",
             rf"  n\d+ -->\|{label}\| n\d+", r"  classDef \w+ [^\s]+"]
    for line in mermaid.strip().splitlines():  # every line of the diagram is one the formatter writes
        assert any(re.fullmatch(form, line) for form in forms), line
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text.replace(mermaid, ""))  # code spans hold text, not markup
    assert not re.search(r"(?<!\\)<(?!/?(details|summary|br/?)>)", prose), "an HTML tag from a name"
    assert not re.search(r"(?<!\\)!(?<!\\)\[|(?<!\\)\]\(", prose), "an image or link from a name"
    assert not re.search(r"(?<!\\)@org", prose), "a mention from a name"
    table = [line for line in text.splitlines() if line.startswith("| :x: |")]
    assert table and all(len(re.split(r"(?<!\\)\|", line)) == 7 for line in table), "a cell split by a name"


@pytest.mark.parametrize("command", [("analyze", "-f", "json"), ("check", "-f", "json"), ("check", "-f", "sarif")],
                         ids=lambda c: "-".join(c))
def test_json_formats_carry_names_exactly(hostile, command):
    document = json.loads(convlint(command[0], str(hostile), *command[1:]).stdout)
    text = json.dumps(document)
    for name in HOSTILE:
        assert json.dumps(name)[1:-1] in text  # as JSON strings, unchanged


def test_spec_names_with_control_characters_are_refused(tmp_path):
    path = write_spec(tmp_path / "spec.json", json.dumps(
        {"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": FORGED.strip(), "op": "relu"}]}))
    line = one_error_line(convlint("analyze", str(path)))
    assert line.endswith("/layers/0/name: must be a name: no '/', no control characters, no space at either end")
    _no_forged_commands(line)


def test_error_lines_escape_paths_and_names(tmp_path):
    path = tmp_path / "model\n::error::forged.json"
    path.write_text(json.dumps({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [
        {"name": "a", "op": "relu", "inputs": ["b"]}, {"name": "b", "op": "relu", "inputs": ["a"]}]}))
    done = convlint("analyze", str(path))
    text = done.stderr.decode()
    assert done.returncode == 2 and "the graph has a cycle" in text
    _no_controls(text)
    _no_forged_commands(text)


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


def test_a_file_name_starting_with_a_workflow_command_is_not_one(tmp_path):
    """`check` text lines start with the file's path; a file named ``::error::...`` in a pull
    request would begin a workflow command."""
    (tmp_path / "::error::forged.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    for args in (["check", "."], ["check", "::error::forged.json"], ["sizes", "::error::forged.json"]):
        done = convlint(*args, cwd=tmp_path)
        text = done.stdout.decode()
        assert "forged.json" in text
        _no_forged_commands(text)


def test_file_names_in_markdown_and_sarif(tmp_path):
    """A file name is part of a pull request too: in a Markdown comment it stays text (no
    markup, no terminal escapes); in SARIF it is a percent-encoded URI reference."""
    name = "a b<img src=x>\x1b[31m#.json"
    (tmp_path / name).write_bytes((SAMPLES / "broken_channels.json").read_bytes())
    markdown = convlint("check", ".", "-f", "markdown", cwd=tmp_path).stdout.decode()
    assert "a b" in markdown and "\x1b" not in markdown
    assert "<img" not in re.sub(r"`[^`\n]*`", "", markdown)  # markup only inside code spans, where it is text
    assert "<summary>a b&lt;img src=x&gt;" in markdown
    sarif = json.loads(convlint("check", ".", "-f", "sarif", cwd=tmp_path).stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"a%20b%3Cimg%20src%3Dx%3E%1B%5B31m%23.json"}


def test_an_op_type_at_the_start_of_a_text_line_forges_no_workflow_command(tmp_path):
    """In a narrow text table names get lines of their own and each figures row starts with
    the op: an op type ``::error::x`` from the model must not begin a workflow command."""
    node = helper.make_node("::error::x", ["x"], ["y"], domain="evil", name="a_rather_long_node_name_here")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil", 1)]),
              path)
    for width in ("40", "80"):
        done = convlint("analyze", str(path), "--width", width, "--color", "never")
        text = done.stdout.decode()
        assert "\\x3a:" in text, text
        _no_forged_commands(text)
