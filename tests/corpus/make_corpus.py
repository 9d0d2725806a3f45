"""Writes the ONNX files of the bad-input corpus (python tests/corpus/make_corpus.py).

Each is small and hostile in one way; tests/corpus/expected.json says what convlint must
answer. The JSON files of the corpus are written by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "samples" / "tiny_resnet.onnx"


def model(nodes, inputs=None, inits=(), opset=17, extra_opsets=(), outputs=None) -> onnx.ModelProto:
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    outputs = outputs or [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "corpus", inputs, outputs, list(inits))
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra_opsets])
    made.ir_version = 8
    return made


def external(name: str, dims: list[int], location: str) -> TensorProto:
    tensor = TensorProto(name=name, dims=dims, data_type=TensorProto.FLOAT, data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def weight(name: str, *dims: int) -> TensorProto:
    return numpy_helper.from_array(np.ones(dims, np.float32), name)


def branch(op: str) -> onnx.GraphProto:
    return helper.make_graph([helper.make_node("Identity", ["x"], [f"{op}_out"])], f"{op}_body", [],
                             [helper.make_tensor_value_info(f"{op}_out", TensorProto.FLOAT, None)])


FILES = {
    "random_bytes.onnx": lambda: bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)),
    "truncated.onnx": lambda: SAMPLE.read_bytes()[: len(SAMPLE.read_bytes()) // 3],
    "negative_stride.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"], strides=[-1, 1])],
                                          inits=[weight("w", 4, 3, 3, 3)]),
    "control_flow.onnx": lambda: model([
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("ReduceMax", ["r"], ["m"], keepdims=0),
        helper.make_node("Cast", ["m"], ["cond"], to=TensorProto.BOOL),
        helper.make_node("If", ["cond"], ["y"], then_branch=branch("then"), else_branch=branch("else")),
    ]),
    "custom_domain.onnx": lambda: model([helper.make_node("Warp", ["x"], ["y"], domain="com.acme")],
                                        extra_opsets=[helper.make_opsetid("com.acme", 1)]),
    "sequence_input.onnx": lambda: model(
        [helper.make_node("SequenceAt", ["seq", "zero"], ["y"])],
        inputs=[helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None)],
        inits=[numpy_helper.from_array(np.array(0, np.int64), "zero")]),
    "missing_external_data.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                                inits=[external("w", [4, 3, 3, 3], "weights.bin")]),
    "external_data_escape.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                               inits=[external("w", [4, 3, 3, 3], "../../etc/passwd")]),
    "external_data_absolute.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                                 inits=[external("w", [4, 3, 3, 3], "/etc/passwd")]),
    "billion_element_constant.onnx": lambda: model([
        helper.make_node("ConstantOfShape", ["dims"], ["big"], value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("MatMul", ["flat", "big"], ["y"]),
    ], inputs=[helper.make_tensor_value_info("flat", TensorProto.FLOAT, [1, 31623])],
        inits=[numpy_helper.from_array(np.array([31623, 31623], np.int64), "dims")]),
    "absurd_dims.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
                                       helper.make_node("GlobalAveragePool", ["c"], ["y"])],
                                      inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10**12, 10**12])],
                                      inits=[weight("w", 4, 3, 3, 3)]),
    "huge_kernel.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[10**9, 1],
                                                        pads=[10**9, 0, 10**9, 0])],
                                      inits=[external("w", [4, 3, 10**9, 1], "weights.bin")]),
    "negative_dims.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                        inits=[TensorProto(name="w", dims=[4, -3, 3, 3], data_type=TensorProto.FLOAT)]),
    "undefined_input.onnx": lambda: model([helper.make_node("Relu", ["ghost"], ["y"])]),
    "kernel_larger_than_input.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                                   inits=[weight("w", 4, 3, 9, 9)]),
}


def doubling_functions(levels: int) -> onnx.ModelProto:
    """F_i = F_{i-1} . F_{i-1}: onnx's shape inference expands F_{levels-1} 2**levels times."""
    functions = []
    for i in range(levels):
        body = ([helper.make_node("Relu", ["a"], ["b"])] if i == 0 else
                [helper.make_node(f"F{i - 1}", ["a"], ["t"], domain="local"),
                 helper.make_node(f"F{i - 1}", ["t"], ["b"], domain="local")])
        functions.append(helper.make_function("local", f"F{i}", ["a"], ["b"], body,
                                              [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]))
    made = model([helper.make_node(f"F{levels - 1}", ["x"], ["y"], domain="local")],
                 extra_opsets=[helper.make_opsetid("local", 1)])
    made.functions.extend(functions)
    return made


def renamed(made: onnx.ModelProto, old: bytes, new: bytes) -> bytes:
    """The model's bytes with a placeholder string replaced (invalid UTF-8 has no helper)."""
    return made.SerializeToString().replace(old, new)


FILES |= {
    # issue 13: native code, injection, encodings, sizes, numbers
    "onnx_segfault.onnx": lambda: model([helper.make_node("RegexFullMatch", [""], ["r"], pattern="a"),
                                         helper.make_node("Warp", ["x"], ["y"], domain="com.acme")],
                                        opset=22, extra_opsets=[helper.make_opsetid("com.acme", 1)]),
    "function_expansion.onnx": lambda: doubling_functions(39),
    "external_data_nul.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"])],
                                            inits=[external("w", [4, 3, 3, 3], "weights\0.bin")]),
    "markup_dim_param.onnx": lambda: model([helper.make_node("Relu", ["x"], ["y"])], inputs=[
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "<img src=x onerror=alert(1)>", 8])]),
    "forged_annotation.onnx": lambda: model([helper.make_node(
        "Conv", ["x", "w"], ["y"], name="conv\n::error file=README.md,line=1::Forged\n")], inits=[weight("w", 4, 3, 9, 9)]),
    "invalid_utf8.onnx": lambda: renamed(model([helper.make_node("Relu", ["x"], ["y"], name="QQ")], inputs=[
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["NN", 3, 8, 8])]), b"NN", b"\xff\xfe"),
    "pads_out_of_range.onnx": lambda: model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2**62, 0, 2**62, 0])],
                                            inits=[weight("w", 4, 3, 3, 3)]),
    "input_dim_out_of_range.onnx": lambda: model([helper.make_node("Relu", ["x"], ["y"])], inputs=[
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2**62, 1, 1])]),
    "resize_to_nothing.onnx": lambda: model([helper.make_node("Resize", ["x", "", "s"], ["r"], mode="nearest"),
                                             helper.make_node("Conv", ["r", "w"], ["y"])],
                                            inits=[numpy_helper.from_array(np.array([1, 1, 1e-30, 1e-30], np.float32), "s"),
                                                   weight("w", 4, 3, 3, 3)]),
    "concat_axis_out_of_range.onnx": lambda: model([helper.make_node("Concat", ["x", "x"], ["y"], axis=99)]),
}


def main() -> None:
    for name, make in FILES.items():
        made = make()
        (HERE / name).write_bytes(made if isinstance(made, bytes) else made.SerializeToString())
        print(f"wrote tests/corpus/{name}")


if __name__ == "__main__":
    main()
