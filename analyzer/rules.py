"""Diagnostic rules: stable codes, default severities and their documentation, as data.

Codes are grouped by family, like ruff's: ``S`` shapes, ``C`` channels, ``F`` floor drops
(input the network never sees), ``R`` receptive fields, ``U`` what convlint cannot model or
know. A code never changes meaning once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    example: str
    fix: str
    default: bool = True
    """Reported unless deselected; rules off by default are opted into with ``select``."""
    spec_severity: Severity | None = None
    """The severity in JSON specs when it differs: a spec describes a PyTorch model, so what
    PyTorch refuses to run is an error there."""

    def severity_in(self, source_format: str) -> Severity:
        """The severity of this rule's findings in a model of ``source_format`` (spec, onnx)."""
        return self.spec_severity if source_format == "spec" and self.spec_severity else self.severity


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    node: str | None
    message: str
    location: str | None = None


RULES: dict[str, Rule] = {}

FAMILIES: dict[str, str] = {
    "S": "Shapes",
    "C": "Channels",
    "F": "Floor drops and skipped input",
    "D": "Suspicious design",
    "R": "Receptive fields",
    "U": "Unmodelled ops and unknown dims",
}


def _rule(code: str, name: str, severity: Severity, summary: str, why: str, example: str,
          fix: str, default: bool = True, spec_severity: Severity | None = None) -> Rule:
    rule = Rule(code, name, severity, summary, why, example, fix, default, spec_severity)
    RULES[code] = rule
    return rule


KERNEL_EXCEEDS_INPUT = _rule(
    "S101", "kernel-exceeds-input", "error",
    "A sliding window (kernel times dilation) is larger than its padded input along an axis.",
    "PyTorch and onnxruntime refuse such a layer at run time ('Kernel size can't be greater "
    "than actual input size'); the network only works for larger inputs.",
    "(64, 4, 4) -> conv kernel_size=5, padding=0",
    "Use a larger input, pad the input, or use a smaller kernel or dilation.",
)
BROADCAST_MISMATCH = _rule(
    "S102", "broadcast-mismatch", "error",
    "The operands of an element-wise op (add, mul, ...) have shapes that do not broadcast.",
    "Element-wise ops need equal dims or dims of 1 (numpy broadcasting); a residual add of a "
    "(64, 56, 56) and a (128, 28, 28) tensor fails at run time.",
    "add of conv3 (128, 28, 28) and the block input (64, 56, 56) without a projection",
    "Project the shortcut (1x1 conv with the right stride and channels) or fix the branch.",
)
CONCAT_MISMATCH = _rule(
    "S103", "concat-mismatch", "error",
    "Tensors joined by concat differ in a dim other than the concat axis.",
    "Concat needs every other dim equal; U-Net skips break this when the input size is not a "
    "multiple of 2**depth, because pooling floors and upsampling doubles.",
    "concat of (64, 25, 25) (upsampled) and (64, 50, 50) along channels",
    "Use input sizes the network accepts (`convlint sizes`), or crop/pad the skip tensor.",
)
INNER_DIM_MISMATCH = _rule(
    "S104", "inner-dim-mismatch", "error",
    "A matrix product (linear, Gemm, MatMul) gets an input whose feature count is not the "
    "weight's.",
    "The classic error after a flatten: the first fully connected layer was sized for another "
    "input resolution ('mat1 and mat2 shapes cannot be multiplied').",
    "flatten -> (8192,) -> linear in_features=4096",
    "Set in_features to the flattened size convlint reports, or add global pooling.",
)
RESHAPE_MISMATCH = _rule(
    "S105", "reshape-mismatch", "error",
    "A reshape target does not hold the same number of elements as its input.",
    "Reshape cannot change the element count; such a model fails at run time.",
    "(512, 7, 7) reshaped to (-1, 4096)",
    "Fix the target shape (often a hard-coded size that assumed another input resolution).",
)
RANK_MISMATCH = _rule(
    "S106", "rank-mismatch", "error",
    "An op gets a tensor of a rank it cannot take, or a per-axis attribute whose length does "
    "not match the tensor's spatial rank.",
    "A 2-D convolution on a 1-D signal, or kernel_size=[3, 3] on (C, L) data, cannot run.",
    "kernel_size [3, 3] for a (C, L) input",
    "Give one value per spatial axis, or use the op for the data's dimensionality.",
)
INVALID_ATTRIBUTE = _rule(
    "S107", "invalid-attribute", "error",
    "An attribute value is out of range: zero or negative kernel, stride or dilation, an axis "
    "outside the tensor, negative padding beyond the input.",
    "Frameworks reject these values; no output shape exists.",
    "stride=0",
    "Use positive kernels, strides and dilations and axes within the tensor's rank.",
)
MISSING_INPUT = _rule(
    "S108", "wrong-input-count", "error",
    "An op lacks an input its semantics require (absent, or named \"\" as if optional), or "
    "is given more inputs than it takes.",
    "ONNX runtimes refuse the node: a Conv without its weight, a Gemm without B, a Relu with "
    "two inputs. Exporters and hand edits that drop or add an input produce such files.",
    "Conv(inputs=[x])",
    "Give the node the inputs its op takes (the weight of a Conv, both operands of a MatMul), and no more.",
)
FIXED_SIZE_DEPENDENCY = _rule(
    "S109", "fixed-size-dependency", "warning",
    "At input sizes other than the declared ones (--input-shape, --batch), a reshape target or "
    "resize size that is a constant of the model does not follow the new size.",
    "Exporters fold sizes computed at the export size into constants: a Reshape to "
    "(-1, 25088) = 512x7x7 in a model exported at 224, a Resize to a fixed 56x56. At another "
    "size the model then fails, or silently changes the batch or the resolution.",
    "Reshape to (-1, 25088) in a model exported at 1x3x224x224, analysed at 1x3x448x448: the "
    "input (1, 512, 14, 14) becomes (4, 25088), a batch of 4",
    "Export with dynamic axes and compute sizes from the input (x.flatten(1), "
    "F.interpolate(scale_factor=...)), or use the model only at its export size.",
)
MODULE_CANNOT_RUN = _rule(
    "S110", "module-cannot-run", "error",
    "A PyTorch module raises an error when run at the input shape it is analysed at.",
    "convlint runs a PyTorch module once to export its graph; a module that fails at this shape "
    "(a concatenation of mismatched feature maps, a linear layer sized for another resolution) "
    "fails in training too. The finding names the innermost module that was running.",
    "a U-Net at 1x3x100x100: up3 concatenates 24x24 and 25x25 feature maps",
    "Use an input size the module accepts, or fix the module; `convlint sizes` on an ONNX export "
    "of it (at a size that works) lists the sizes it accepts.",
)
SIZE_OUT_OF_RANGE = _rule(
    "S111", "size-out-of-range", "error",
    "An output would be larger than convlint computes with: a dim over 2**40 or a rank over 64.",
    "No runtime can allocate or index such a tensor; the sizes come from a hostile or broken "
    "file (a padding of 2**62, a kernel of 10**18) rather than from a network that can run. "
    "convlint stops there instead of building figures of thousands of digits.",
    "Conv with pads=[2**62, 0, 2**62, 0] on an 8x8 input",
    "Fix the attribute or input size that makes the output this large.",
)
CONV_CHANNEL_MISMATCH = _rule(
    "C101", "conv-channel-mismatch", "error",
    "A convolution's weight expects a different number of input channels than it gets.",
    "Every filter spans all input channels (per group): the weight's channel dim times groups "
    "must equal the input's channel count ('expected input to have 64 channels, but got 32').",
    "(32, 56, 56) -> conv in_channels=64",
    "Make in_channels (the weight's dim 1 times groups) equal the producer's out_channels.",
)
GROUPS_MISMATCH = _rule(
    "C102", "groups-mismatch", "error",
    "Input or output channels of a grouped convolution are not divisible by groups.",
    "Grouped convolutions split channels evenly; PyTorch rejects such a layer.",
    "conv out_channels=30, groups=4",
    "Choose channel counts that are multiples of groups.",
)
NORM_SIZE_MISMATCH = _rule(
    "C103", "norm-size-mismatch", "error",
    "A normalisation's scale, bias or statistics do not match the channels (or normalised "
    "shape) of its input.",
    "BatchNorm keeps one value per channel; a mismatch fails at run time ('running_mean should "
    "contain 64 elements not 128').",
    "(64, 28, 28) -> batch_norm num_features=128",
    "Set num_features to the channel count of the input.",
)
TRAILING_INPUT_DROPPED = _rule(
    "F101", "trailing-input-dropped", "warning",
    "Floor rounding makes a sliding window skip the last rows or columns of its input.",
    "out = floor((in + pads - kernel) / stride) + 1 rounds down: when the division is not "
    "exact, the trailing input is never seen by this layer, nor by any other reader of the "
    "same tensor. (3, 6, 6) through a 3x3 stride-2 conv gives (64, 2, 2) and ignores the last "
    "row and column.",
    "(3, 6, 6) -> conv kernel_size=3, stride=2, padding=0",
    "Pad so that (in + pads - kernel) is a multiple of the stride, or change the input size.",
)
INPUT_SKIPPED_BY_STRIDE = _rule(
    "F102", "input-skipped-by-stride", "warning",
    "Rows inside the windows' reach are never read: the stride is larger than the (dilated) "
    "kernel, or dilation leaves gaps between taps that no window fills.",
    "Input that no tap reads cannot influence the output; unless another reader of the same "
    "tensor reads it, the information is thrown away. A pool with kernel 3, stride 2 and "
    "dilation 2 only ever reads every other row: its taps and its strides are all even.",
    "conv kernel_size=1, stride=2 as the only reader of a tensor",
    "Use a kernel at least as large as the stride, or pool before subsampling.",
)
STRIDE_EXCEEDS_WINDOW = _rule(
    "D101", "stride-exceeds-window", "info",
    "A convolution or pool has a stride larger than its (dilated) kernel.",
    "Rows between windows are skipped by this layer. That is often deliberate (a ResNet 1x1 "
    "stride-2 shortcut beside a 3x3 stride-2 convolution); F102 reports it only when no other "
    "reader of the tensor covers the skipped rows. Select this rule to see every occurrence.",
    "conv kernel_size=1, stride=2",
    "Use a kernel at least as large as the stride where the skipped input matters.",
    default=False,
)
PADDING_EXCEEDS_WINDOW = _rule(
    "D102", "padding-exceeds-window", "warning",
    "Padding on one side is at least as large as the (dilated) kernel.",
    "The windows at that border then see only padding: their outputs carry no information "
    "about the input, and the output grows with rows of constants.",
    "conv kernel_size=3, padding=3",
    "Use padding = (kernel - 1) / 2 for 'same' output, or less.",
)
POOL_PADDING = _rule(
    "D103", "pool-padding-over-half-window", "warning",
    "A pool is padded by more than half its (dilated) window.",
    "PyTorch rejects such pools ('pad should be at most half of effective kernel size'); "
    "border windows of a max pool would see mostly padding. In a JSON spec, which describes a "
    "PyTorch model, it is an error: the model cannot run.",
    "max_pool kernel_size=3, padding=2",
    "Pad pools by at most floor(kernel / 2).",
    spec_severity="error",
)
CLASSIFIER_FIELD = _rule(
    "D104", "global-pool-field-smaller-than-input", "warning",
    "Global pooling averages features whose receptive field is smaller than the input, and "
    "only the pooled result flows on (a classifier head).",
    "Each pooled feature saw only a window of the image: the classifier cannot combine "
    "evidence from parts of the input farther apart than the receptive field, whatever the "
    "pooling does. A pool whose result gates or joins a path that keeps its positions "
    "(squeeze-and-excitation, image pooling in ASPP) is global context, not a head: no finding.",
    "a 5-layer net with a 47x47 receptive field, global average pooled on 64x64 inputs",
    "Add depth, strides or dilation before pooling, or accept the local evidence by design.",
)
MIXED_STRIDES = _rule(
    "R101", "mixed-strides", "warning",
    "Branches joined by one node have different strides relative to the input.",
    "Units of the joined tensor then do not line up with one grid of input pixels: the "
    "branches subsample the input differently, usually by mistake. A branch resized to an "
    "explicit size that is the joined size (FPN, U-Net and DeepLab decoders resize to the "
    "skip's shape) is aligned on purpose: no finding.",
    "add of a stride-16 and a stride-32 feature map after broadcasting",
    "Resample one branch so both have the same stride before joining them.",
)
FIELD_EXCEEDS_INPUT = _rule(
    "R102", "receptive-field-exceeds-input", "info",
    "From this node on, the receptive field is larger than the whole input along an axis.",
    "Units then see every input pixel plus padding; beyond about twice the input size they "
    "see mostly padding, and deeper layers add context the input cannot provide.",
    "ResNet-50 on a 224x224 input: the field reaches 427 pixels in the last stage",
    "Nothing to fix if intended; otherwise use larger inputs or a shallower network.",
)
FIELD_UNKNOWN = _rule(
    "R103", "receptive-field-unknown", "info",
    "From this node on, the receptive field cannot be proven and is reported as unknown.",
    "convlint never reports a field it cannot prove: where an op mixes positions in a way the "
    "graph does not pin down (attention within windows, a reshape that splits a spatial axis "
    "unevenly, a gather of single positions), later fields are unknown rather than wrong.",
    "Swin-style attention: tokens regrouped into windows by a reshape, then mixed by a "
    "softmax within each window",
    "Nothing to fix; the figures before this node are exact.",
)
NOT_MODELLED = _rule(
    "U101", "op-not-modelled", "warning",
    "convlint has no semantics for this op; its outputs are unknown unless ONNX shape "
    "inference knows them.",
    "convlint never guesses: figures that depend on this op are reported as unknown.",
    "a custom-domain op, or control flow (If, Loop, Scan)",
    "Open an issue with the op, or replace it by standard ops before export.",
)
UNKNOWN_DIM = _rule(
    "U102", "unknown-dim", "info",
    "A dim cannot be known statically at this node.",
    "Symbolic input sizes (e.g. a free height) make later sizes unknown; convlint reports them "
    "as unknown rather than guessing.",
    "an ONNX input of shape (N, 3, H, W) into a stride-2 convolution",
    "Fix the input size with --input-shape, or ignore if the model is size-agnostic.",
)
SHAPE_FROM_ONNX = _rule(
    "U103", "shape-from-onnx-inference", "info",
    "The output shape of an op convlint does not model was taken from onnx.shape_inference.",
    "The shape is ONNX's, not convlint's own; parameters and receptive fields through the op "
    "stay unknown.",
    "a custom op with a registered shape function",
    "Nothing to fix; noted so that the source of the figure is clear.",
)
EXTERNAL_DATA_OUTSIDE = _rule(
    "U104", "external-data-outside-model-folder", "warning",
    "An initializer's external data location is absolute or leaves the model's folder.",
    "ONNX external data is meant to sit beside the model. A location such as "
    "'../../etc/passwd' makes tools that load weights read arbitrary files; convlint never "
    "opens external data, and says so.",
    "external_data location = '../../etc/passwd'",
    "Keep external data files in the model's folder, with relative locations.",
)
INFERENCE_FAILED = _rule(
    "U105", "shape-inference-failed", "warning",
    "onnx shape inference, run for the ops convlint does not model, crashed, ran out of time or "
    "memory, or refused the model.",
    "convlint asks onnx's shape inference for the output shapes of ops it does not model, in a "
    "separate process with a time and memory limit: that native code has crashed and looped "
    "for ever on crafted models. When it fails, those shapes (and what depends on them) stay "
    "unknown, and the model itself is probably malformed.",
    "a model-local function that calls another twice, 39 levels deep (2**39 expansions)",
    "Check the model with `onnx.checker.check_model(model, full_check=True)`; replace the "
    "unmodelled op or give its output a value_info with a shape.",
)
ANALYSIS_FAILED = _rule(
    "U199", "analysis-failed", "error",
    "convlint failed while modelling this node (a bug in convlint).",
    "The node's figures are unknown; the rest of the graph is still analysed.",
    "-",
    "Run with --debug and report the traceback.",
)
