"""PyTorch modules: exported in memory and analysed like ONNX files. The truth is PyTorch:
parameter counts from ``module.parameters()``, output shapes of every module from running
it (forward hooks), MACs of every convolution and linear layer from the shapes it produced,
and onnxruntime running ONNX exports of the same module at other sizes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import warnings
from math import prod

import onnx
import pytest
import torch
import torchvision
from conftest import ROOT
from onnx_utils import run_all_values, with_input_dims
from torch import nn

from analyzer import api
from analyzer.errors import InputError

LEAVES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.ReLU,
          nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid, nn.AvgPool2d)


def run(module: nn.Module, shape) -> tuple[dict[str, tuple], int, torch.Tensor]:
    """Per leaf module the output shape of its first call, the MACs of its convolutions and
    linear layers (output elements x inputs each one sums), and the module's output."""
    shapes: dict[str, tuple] = {}
    macs = 0

    def hook(name):
        def record(layer, args, output):
            nonlocal macs
            shapes.setdefault(name, tuple(output.shape))
            if isinstance(layer, nn.Conv2d):
                macs += output.numel() * layer.in_channels // layer.groups * prod(layer.kernel_size)
            elif isinstance(layer, nn.ConvTranspose2d):  # each input element feeds out/groups x kernel
                macs += args[0].numel() * layer.out_channels // layer.groups * prod(layer.kernel_size)
            elif isinstance(layer, nn.Linear):
                macs += output.numel() * layer.in_features
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_modules() if isinstance(m, LEAVES)]
    module.eval()
    with torch.no_grad():
        output = module(torch.randn(shape))
    for handle in handles:
        handle.remove()
    return shapes, macs, output


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), (1, 3, 224, 224)),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(), (2, 3, 160, 160)),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), (1, 3, 192, 192)),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(), (1, 3, 224, 224)),
    "fcn_resnet50": (lambda: torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                                                          aux_loss=False), (1, 3, 128, 128)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_models_against_pytorch(name):
    build, shape = MODELS[name]
    torch.manual_seed(0)
    module = build()
    report = api.analyze(module, input_shape=shape)
    assert module.training  # the caller's module is left in the mode it was in
    layer_shapes, macs, output = run(module, shape)
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.totals.per_batch.macs == macs and report.totals.macs * shape[0] == macs
    assert [d for d in report.findings if d.severity == "error"] == []
    final = report.nodes[-1].outputs[0].shape
    expected = output["out"] if isinstance(output, dict) else output
    assert final == list(expected.shape)
    by_name = {n.name: n for n in report.nodes}
    for layer, produced in layer_shapes.items():  # every module that ran is named: its node, or name/Op for each of
        made = [n for n in report.nodes if n.name == layer or n.name.startswith(layer + "/")]  # several (SiLU)
        assert made and made[-1].outputs[0].shape == list(produced), layer
    batch_norms = [n for n, m in module.named_modules() if isinstance(m, nn.BatchNorm2d) and n in layer_shapes]
    assert all(by_name[n].op == "BatchNormalization" for n in batch_norms)  # kept, not folded into the convs
    assert len(batch_norms) == sum(n.op == "BatchNormalization" for n in report.nodes)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.block = Block(2 * cout, cout)

    def forward(self, x, skip):
        return self.block(torch.cat([self.up(x), skip], 1))


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.ModuleList([Block(3, 16), Block(16, 32), Block(32, 64)])
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleDict({"2": Up(64, 32), "1": Up(32, 16)})
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        e1 = self.down[0](x)
        e2 = self.down[1](self.pool(e1))
        e3 = self.down[2](self.pool(e2))
        return self.head(self.ups["1"](self.ups["2"](e3, e2), e1))


def test_a_unet_of_containers_keeps_module_names():
    module = UNet()
    report = api.analyze(module, input_shape=(1, 3, 64, 64))
    layer_shapes, macs, output = run(module, (1, 3, 64, 64))
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.totals.macs == macs
    names = {n.name for n in report.nodes}
    assert set(layer_shapes) <= names  # down.0.conv, ups.2.up, ups.2.block.bn...
    assert {"down.0.conv", "ups.2.up", "ups.1.block.bn", "ups.2/Concat"} <= names
    assert report.node("head").outputs[0].shape == list(output.shape)


def test_a_size_the_module_cannot_run_at_is_a_finding_naming_the_module():
    module = UNet()
    report = api.analyze(module, input_shape=(1, 3, 66, 66))
    with pytest.raises(RuntimeError) as truth:
        run(module, (1, 3, 66, 66))
    (finding,) = report.findings
    assert finding.code == "S110" and finding.severity == "error" and finding.node == "ups.2"
    assert finding.message == f"Up.forward fails at input 1x3x66x66: RuntimeError: {str(truth.value).splitlines()[0]}"
    assert report.nodes == [] and report.totals.params is None and report.totals.macs is None
    classifier = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(8 * 16 * 16, 10))
    (finding,) = api.analyze(classifier, input_shape=(1, 3, 40, 40)).findings
    assert finding.node == "2" and finding.message.startswith("Linear.forward fails at input 1x3x40x40: RuntimeError: mat1")


def test_input_shapes_name_forward_arguments():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(1, 4, 3)

        def forward(self, image, mask):
            return self.a(image) + self.b(mask)

    report = api.analyze(Pair(), input_shapes={"image": (1, 3, 8, 8), "mask": "1x1x8x8"}, batch=3)
    assert [i.name for i in report.inputs] == ["image", "mask"]
    assert report.nodes[-1].outputs[0].shape == [3, 4, 6, 6]
    with pytest.raises(InputError, match="add --input-shape mask=1x3x224x224"):
        api.analyze(Pair(), input_shapes={"image": (1, 3, 8, 8)})
    with pytest.raises(InputError, match="--input-shape names pixels, but forward takes image, mask"):
        api.analyze(Pair(), input_shapes={"pixels": (1, 3, 8, 8)})


class VGGStyle(nn.Module):
    """A classifier whose flatten writes its size, as old code does: x.view(-1, 16 * 7 * 7)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4))
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(self.features(x).view(-1, 16 * 7 * 7))


def export(module: nn.Module, shape) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(shape),), buffer, dynamo=False, input_names=["x"])
    return onnx.load_from_string(buffer.getvalue())


def test_an_export_checked_at_another_size_is_the_export_made_at_that_size():
    module = torchvision.models.resnet18()
    made_at_224, made_at_320 = export(module, (1, 3, 224, 224)), export(module, (1, 3, 320, 320))
    moved = api.analyze(made_at_224, input_shape=(1, 3, 320, 320), override_shape=True)
    exported = api.analyze(made_at_320)
    assert [(n.name, n.outputs) for n in moved.nodes] == [(n.name, n.outputs) for n in exported.nodes]
    assert moved.totals == exported.totals and moved.findings == exported.findings


def test_a_size_baked_in_at_export_is_reported_where_onnxruntime_changes_the_batch():
    made_at_224 = export(VGGStyle(), (1, 3, 28, 28))
    report = api.analyze(made_at_224, input_shape=(1, 3, 56, 56), override_shape=True)
    truth = run_all_values(with_input_dims(made_at_224, (1, 3, 56, 56)))
    output = made_at_224.graph.output[0].name
    assert truth[output].shape == (4, 10)  # one image in, four rows of logits out
    assert report.node("/fc/Gemm").outputs[0].shape == [4, 10]
    (finding,) = report.findings
    assert finding.code == "S109" and finding.node == "/Reshape"
    assert "its dim 1 (784) holds axes 1-3 of the input, 16x7x7 = 784 at the declared input size" in finding.message


PACKAGE = '''
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.head = nn.Linear(8, 10)

        def forward(self, x):
            return self.head(self.stem(x).mean((2, 3)))


    def build_net():
        return Net()


    net = Net()
'''


def convlint(*arguments: str, cwd=None, block_torch: bool = False) -> subprocess.CompletedProcess:
    prelude = "import sys; sys.modules['torch'] = None; " if block_torch else "import sys; "
    code = prelude + "from analyzer.cli import main; sys.argv = ['convlint', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("reference", ["mypkg.models:build_net", "mypkg.models:Net", "mypkg.models:net"])
def test_the_command_line_takes_a_module_reference(tmp_path, reference):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(textwrap.dedent(PACKAGE))
    result = convlint("analyze", reference, "--input-shape", "2x3x32x32", "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    sys.path.insert(0, str(tmp_path))
    try:
        from mypkg.models import Net  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    module = Net()
    assert report["model"] == {"path": reference, "format": "onnx", "name": "Net"}
    assert report["totals"]["params"] == sum(p.numel() for p in module.parameters())
    assert report["nodes"][-1]["outputs"][0]["shape"] == list(module(torch.zeros(2, 3, 32, 32)).shape)
    assert [n["name"] for n in report["nodes"]][:3] == ["stem.0", "stem.1", "stem.2"]
    missing = convlint("analyze", reference, cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == (f"error: {reference}: a PyTorch module is analysed at the input shape it is given: "
                              "add --input-shape x=1x3x224x224 (every dim, the batch included)\n")


def test_without_torch_the_command_says_what_to_install(tmp_path):
    result = convlint("analyze", "mypkg.models:build_net", "--input-shape", "1x3x32x32", cwd=tmp_path, block_torch=True)
    assert result.returncode == 2
    assert result.stderr == "error: mypkg.models:build_net: analysing a PyTorch module needs torch: pip install 'convlint[torch]'\n"
    plain = convlint("analyze", str(ROOT / "samples" / "seed.json"), block_torch=True)
    assert plain.returncode == 0 and "conv1" in plain.stdout


@pytest.mark.parametrize("arguments", [["analyze", "samples/seed.json"], ["analyze", "samples/tiny_resnet.onnx", "-f", "json"],
                                       ["check", "samples"], ["sizes", "samples/unet.json"]])
def test_torch_is_never_imported_for_files(arguments):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "analyzer", *arguments], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "analyzer.cli" in imported and not [m for m in imported if m.split(".")[0] in ("torch", "torchvision")]


def test_attention_exports_without_the_fused_kernel():
    """In eval mode without gradients nn.MultiheadAttention runs a fused kernel that the
    exporter cannot write: a ViT is analysed all the same, and the caller's setting is kept."""
    torch.manual_seed(0)
    module = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                  hidden_dim=16, mlp_dim=32, num_classes=10)
    report = api.analyze(module, input_shape=(2, 3, 32, 32))
    assert torch.backends.mha.get_fastpath_enabled()
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.nodes[-1].outputs[0].shape == list(run(module, (2, 3, 32, 32))[2].shape) == [2, 10]
    attention = [n for n in report.nodes if n.name.startswith("encoder.layers.encoder_layer_0.self_attention")]
    assert attention and [d for d in report.findings if d.severity == "error"] == []
