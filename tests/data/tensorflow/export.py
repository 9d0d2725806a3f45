"""How the models in this folder were made (needs TensorFlow; not run by the tests).

    pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx
    python tests/data/tensorflow/export.py

Keras applications (random weights, NHWC inputs with a free batch dim) converted with
tf2onnx at opset 17; floating-point weight payloads are removed (dims and types stay) and
the files gzipped, as for tests/data/torchvision.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import onnx
import tensorflow as tf
import tf2onnx
from tensorflow.keras import applications

HERE = Path(__file__).resolve().parent
MODELS = ["ResNet50", "MobileNetV2", "EfficientNetB0", "InceptionV3", "DenseNet121"]


def main() -> None:
    for name in MODELS:
        model = getattr(applications, name)(weights=None)
        spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input"),)
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
        for tensor in proto.graph.initializer:
            if tensor.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
                tensor.ClearField("raw_data")
                tensor.ClearField("float_data")
        (HERE / f"{name}.tf2onnx.onnx.gz").write_bytes(gzip.compress(proto.SerializeToString(), mtime=0))


if __name__ == "__main__":
    main()
