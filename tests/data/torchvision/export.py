"""How the models in this folder were made (needs torch; not run by the tests).

    pip install torch==2.14.1 torchvision==0.29.1 onnx onnxscript
    python tests/data/torchvision/export.py [NAME...]

Each torchvision model (random weights) is exported to ONNX with the TorchScript exporter
(opset 17, free batch dim) and, for some, with the dynamo exporter (opset 18); then every
floating-point weight payload is removed (dims and types stay) and the file is gzipped.
The tests fill the weights with zeros, run the model in onnxruntime with every intermediate
tensor exposed, and compare each shape with convlint's.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import onnx
import torch
from torchvision import models
from torchvision.models import segmentation
from torchvision.models.vision_transformer import VisionTransformer

HERE = Path(__file__).resolve().parent
CLASSIFICATION = [
    "resnet50", "mobilenet_v3_large", "efficientnet_b0", "densenet121", "googlenet", "inception_v3",
    "shufflenet_v2_x1_0", "squeezenet1_1", "regnet_y_400mf", "convnext_tiny", "mnasnet1_0", "vgg11_bn",
]
SEGMENTATION = ["deeplabv3_mobilenet_v3_large", "fcn_resnet50", "lraspp_mobilenet_v3_large"]
DYNAMO = ["resnet50", "mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "vit_tiny"]
VIT = ["vit_tiny"]
"""torchvision's VisionTransformer in small (32x32 images, 8x8 patches, two layers): the
class-token and attention pattern of vit_b_16 in a file of a few kB."""


def strip_weights(model: onnx.ModelProto) -> None:
    for tensor in model.graph.initializer:
        if tensor.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
            tensor.ClearField("double_data")


def export(name: str, dynamo: bool) -> None:
    if name in SEGMENTATION:
        model, size = getattr(segmentation, name)(weights=None, weights_backbone=None), 256
    elif name in VIT:
        model, size = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                        mlp_dim=64, num_classes=10), 32
    else:
        model, size = getattr(models, name)(weights=None), 299 if name == "inception_v3" else 224
    model.eval()
    x = torch.randn(1, 3, size, size)
    path = HERE / f"{name}.{'dynamo' if dynamo else 'ts'}.onnx"
    if dynamo:
        torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18, external_data=False)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}})
    proto = onnx.load(path)
    strip_weights(proto)
    path.unlink()
    Path(f"{path}.gz").write_bytes(gzip.compress(proto.SerializeToString(), mtime=0))


def main(names: list[str]) -> None:
    """Every model, or those named on the command line."""
    for name in CLASSIFICATION + SEGMENTATION + VIT:
        if not names or name in names:
            export(name, dynamo=False)
    for name in DYNAMO:
        if not names or name in names:
            export(name, dynamo=True)


if __name__ == "__main__":
    main(sys.argv[1:])
