"""Issue 13, the red team's second round on sizes: diffs of large graphs, large graphs in
`check` and JSON, configuration files with many patterns or many bytes, and several models
whose onnx shape inference each takes its full time. Each finishes in linear time or is
refused with a stated limit; the wall-clock guards stand where the alternative is a hang."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections import defaultdict

import onnx
from onnx import TensorProto, helper
from test_hostile import convlint

from analyzer.diff import _align


def chain(n: int, op: str = "Relu", generated: bool = True) -> onnx.ModelProto:
    """``n`` nodes of ``op`` one after the other, named as an exporter numbers them or by layer."""
    nodes = [helper.make_node(op, [f"t{i - 1}" if i else "x"], [f"t{i}"], name=f"{op}_{i}" if generated else f"layer{i}")
             for i in range(n)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(f"t{n - 1}", TensorProto.FLOAT, None)])
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 9
    return made


def timed(*args: str, cwd) -> tuple[float, object]:
    started = time.monotonic()
    done = convlint(*args, cwd=cwd, timeout=120)
    return time.monotonic() - started, done


def test_diffs_of_large_graphs_are_linear(tmp_path):
    """Matching 16,000 numbered Relus by position (difflib alone weighs 256 million pairs) and
    40,000 named nodes (a list search per pair) took minutes."""
    for name, made in (("generated.onnx", chain(16_000)), ("named.onnx", chain(40_000, generated=False))):
        (tmp_path / name).write_bytes(made.SerializeToString())
        seconds, done = timed("diff", name, name, "-f", "json", cwd=tmp_path)
        assert seconds < 30 and done.returncode == 0, done.stderr
        nodes = json.loads(done.stdout)["nodes"]
        assert (nodes["added"], nodes["removed"], nodes["changed"]) == ([], [], [])


def test_a_large_spec_diff_is_linear(tmp_path):
    spec = {"inputs": [{"name": "x", "shape": [3, 8, 8]}],
            "layers": [{"name": f"l{k}", "op": "relu"} for k in range(100_000)]}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    seconds, done = timed("diff", "s.json", "s.json", "-f", "markdown", cwd=tmp_path)
    assert seconds < 30 and done.returncode == 0, done.stderr


def brute_force_pairs(old: list[str], new: list[str]) -> list[tuple[int, int]]:
    """The k-th node of each op in one sequence with the k-th of that op in the other."""
    where: dict[str, list[int]] = defaultdict(list)
    for j, op in enumerate(new):
        where[op].append(j)
    seen: dict[str, int] = defaultdict(int)
    pairs = []
    for i, op in enumerate(old):
        if seen[op] < len(where[op]):
            pairs.append((i, where[op][seen[op]]))
        seen[op] += 1
    return pairs


def test_alignment_keeps_common_ends_and_pairs_by_op_order_past_its_budget(monkeypatch):
    import analyzer.diff as diff

    head, tail = ["Conv", "Relu"], ["Add", "Relu"]
    old = [*head, "Conv", "Relu", "Relu", "MaxPool", *tail]
    new = [*head, "Relu", "MaxPool", "Relu", "Conv", "Relu", *tail]
    monkeypatch.setattr(diff, "ALIGN_BUDGET", 0)
    middle = brute_force_pairs(old[2:-2], new[2:-2])
    assert _align(old, new) == [(0, 0), (1, 1), *((i + 2, j + 2) for i, j in middle), (6, 7), (7, 8)]
    assert middle == [(0, 3), (1, 0), (2, 2), (3, 1)]
    # within the budget, difflib aligns the middle: runs in order, never crossing
    monkeypatch.setattr(diff, "ALIGN_BUDGET", 10**6)
    pairs = _align(old, new)
    assert pairs[:2] == [(0, 0), (1, 1)] and pairs[-2:] == [(6, 7), (7, 8)]
    assert all(old[i] == new[j] for i, j in pairs) and pairs == sorted(pairs)
    assert sorted(j for _, j in pairs) == [j for _, j in pairs]


# -- configuration files: patterns compiled once, lists and sizes bounded ------------------------------
def fan(n: int) -> onnx.ModelProto:
    """``n`` strided convolutions of one input, each with findings of its own."""
    nodes = [helper.make_node("Conv", ["x", "w"], [f"t{i}"], name=f"conv{i}", strides=[2, 2]) for i in range(n)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
                              [helper.make_tensor_value_info(f"t{i}", TensorProto.FLOAT, None) for i in range(n)],
                              [helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], [0.0] * 9)])
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 9
    return made


def test_a_thousand_per_node_ignores_over_two_thousand_nodes(tmp_path):
    """Every finding was matched against every pattern in turn (32,000 x 2,000 hung); now each
    list of codes is one regex. What is ignored is what fnmatch says the patterns match."""
    import fnmatch

    (tmp_path / "m.onnx").write_bytes(fan(2000).SerializeToString())
    seconds, done = timed("check", "m.onnx", "--select", "ALL", "-f", "json", "--isolated", cwd=tmp_path)
    every = json.loads(done.stdout)["files"][0]["diagnostics"]
    assert len({d["node"] for d in every}) == 2000
    patterns = {f"zz{i}*": ["F1"] for i in range(997)} | {"conv1?": ["ALL"], "conv2*": ["S", "F"], "conv3[05]": ["C"]}
    (tmp_path / "convlint.toml").write_text("[per-node-ignores]\n" + "".join(
        f'"{pattern}" = {json.dumps(codes)}\n' for pattern, codes in patterns.items()))
    seconds, done = timed("check", "m.onnx", "--select", "ALL", "-f", "json", cwd=tmp_path)
    assert seconds < 30
    kept = json.loads(done.stdout)["files"][0]["diagnostics"]

    def ignored(d: dict) -> bool:
        return any(fnmatch.fnmatchcase(d["node"], p) and any(c == "ALL" or d["code"].startswith(c) for c in codes)
                   for p, codes in patterns.items())

    assert kept == [d for d in every if not ignored(d)] and len(kept) < len(every)
    patterns["zz-one-too-many"] = ["F1"]
    (tmp_path / "convlint.toml").write_text("[per-node-ignores]\n" + "".join(
        f'"{pattern}" = {json.dumps(codes)}\n' for pattern, codes in patterns.items()))
    done = convlint("check", "m.onnx", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.decode().splitlines() == [
        f"error: {tmp_path / 'convlint.toml'}: top level per-node-ignores: 1,001 patterns; at most 1,000"]


def test_a_thousand_exclusions_over_thousands_of_folders(tmp_path):
    for a in range(5):
        for b in range(1000):
            (tmp_path / f"a{a}" / f"b{b}").mkdir(parents=True)
    (tmp_path / "a3" / "b7" / "m.onnx").write_bytes(chain(1).SerializeToString())
    (tmp_path / "a3" / "b8" / "m.onnx").write_bytes(chain(1).SerializeToString())
    patterns = [f"zz{i}*q" for i in range(998)] + ["b8", "a4/*"]
    (tmp_path / "convlint.toml").write_text(f"exclude = {json.dumps(patterns)}\n")
    seconds, done = timed("check", ".", "-f", "json", cwd=tmp_path)
    assert seconds < 30 and done.returncode == 0, done.stderr
    assert [f["model"]["path"] for f in json.loads(done.stdout)["files"]] == ["./a3/b7/m.onnx"]


def test_a_configuration_file_past_its_size_limit_is_refused(tmp_path):
    """tomllib reads about 4 MiB a second, and every selector was tried against every rule and
    every finding: a selection repeated is kept once; a file over 1 MiB is refused."""
    (tmp_path / "m.onnx").write_bytes(fan(200).SerializeToString())
    repeated = "select = [" + ", ".join(['"C1"'] * 150_000) + ', "D"]\n'
    assert len(repeated) < 2**20
    (tmp_path / "convlint.toml").write_text(repeated)
    seconds, done = timed("check", "m.onnx", "-f", "json", cwd=tmp_path)
    assert seconds < 30 and done.returncode in (0, 1), done.stderr
    codes = {d["code"][0] for d in json.loads(done.stdout)["files"][0]["diagnostics"]}
    assert codes == {"D"}  # the fan's findings are D101 and F102
    (tmp_path / "convlint.toml").write_text("select = [" + ", ".join(['"C1"'] * 300_000) + "]\n")
    done = convlint("check", "m.onnx", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.decode().splitlines() == [
        f"error: {tmp_path / 'convlint.toml'}: a configuration file larger than 1 MiB, convlint's limit"]


# -- onnx shape inference: a reserve per run, not 5 s per model ------------------------------------
def test_slow_shape_inferences_share_one_reserve_per_run(tmp_path):
    """Each model's inference may take CHILD_SECONDS of CPU time, plus what is left of a reserve
    per run: two models that each take for ever (2**45 function expansions) cost 1 + 2 and 1 s
    (it was 5 s each), and a usual model after them is inferred all the same."""
    from corpus.make_corpus import doubling_functions

    from analyzer.limits import CHILD_RESERVE, CHILD_SECONDS

    for name in ("a_slow.onnx", "b_slow.onnx"):
        (tmp_path / name).write_bytes(doubling_functions(45).SerializeToString())
    (tmp_path / "c_usual.onnx").write_bytes(doubling_functions(2).SerializeToString())
    seconds, done = timed("check", ".", "-j", "1", "-f", "json", "--select", "U105", cwd=tmp_path)
    assert seconds < CHILD_SECONDS * 3 + CHILD_RESERVE + 15, seconds
    report = json.loads(done.stdout)
    messages = {f["model"]["path"]: [d["message"] for d in f["diagnostics"]] for f in report["files"]}
    first, second = messages["./a_slow.onnx"][0], messages["./b_slow.onnx"][0]
    assert f"did not finish within {CHILD_SECONDS + CHILD_RESERVE} s of CPU time (stopped)" in first
    assert f"did not finish within {CHILD_SECONDS} s of CPU time (stopped)" in second
    assert messages["./c_usual.onnx"] == []
    usual = next(f for f in report["files"] if f["model"]["path"] == "./c_usual.onnx")
    assert usual["nodes"][0]["outputs"][0]["shape"] == [1, 3, 8, 8]  # Relu twice, inferred by onnx
    two = convlint("diff", "a_slow.onnx", "b_slow.onnx", cwd=tmp_path, timeout=CHILD_SECONDS * 2 + CHILD_RESERVE + 20)
    assert two.returncode == 0, two.stderr


# -- nodes: a limit that fits in 1 GiB ----------------------------------------------------------------
def identity_chain(n: int) -> bytes:
    graph = onnx.GraphProto(name="g")
    graph.input.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]))
    for i in range(n):
        node = graph.node.add()
        node.op_type, node.name = "Identity", f"Identity_{i}"
        node.input.append(f"t{i - 1}" if i else "x")
        node.output.append(f"t{i}")
    graph.output.append(helper.make_tensor_value_info(f"t{n - 1}", TensorProto.FLOAT, None))
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 9
    return made.SerializeToString()


def test_a_graph_at_the_node_limit_fits_in_one_gib_and_one_past_it_is_refused(tmp_path):
    """A 1,000,000-node chain ran out of 1 GiB of address space in `check` and `-f json`:
    graphs are refused past MAX_NODES, and one of MAX_NODES nodes is analysed within 1 GiB."""
    from analyzer.limits import MAX_NODES

    def capped(*args: str) -> subprocess.CompletedProcess:
        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

        return subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=tmp_path, capture_output=True,
                              timeout=120, check=False, preexec_fn=cap)

    (tmp_path / "past.onnx").write_bytes(identity_chain(MAX_NODES + 1))
    done = capped("analyze", "past.onnx")
    assert done.returncode == 2 and done.stderr.decode().splitlines() == [
        f"error: past.onnx: /graph/node/{MAX_NODES}: the graph has more than {MAX_NODES:,} nodes, convlint's limit"]
    (tmp_path / "at.onnx").write_bytes(identity_chain(MAX_NODES))
    done = capped("check", "at.onnx")
    assert done.returncode == 0 and done.stderr == b"", done.stderr[-2000:]
    done = capped("analyze", "at.onnx", "-f", "json", "-o", "at.json")
    assert done.returncode == 0 and done.stderr == b"", done.stderr[-2000:]
    report = json.loads((tmp_path / "at.json").read_text())
    assert len(report["nodes"]) == MAX_NODES and report["nodes"][-1]["outputs"][0]["shape"] == [1, 3, 8, 8]


def test_a_spec_past_the_node_limit_is_refused_before_validation(tmp_path):
    """A 35 MB spec of 1,000,000 layers ran out of 1 GiB in validation; the count is checked first."""
    from test_hostile import one_error_line

    from analyzer.limits import MAX_NODES

    layers = [{"name": f"l{k}", "op": "relu"} for k in range(MAX_NODES + 1)]
    (tmp_path / "s.json").write_text(json.dumps({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": layers}))
    assert one_error_line(convlint("analyze", "s.json", cwd=tmp_path, timeout=60)) == \
        f"error: s.json: /layers: {MAX_NODES + 1:,} layers: more than {MAX_NODES:,}, convlint's limit"
