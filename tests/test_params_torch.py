"""Parameters of PyTorch modules analysed where they live (REFERENCE §5, §8), against torch's
own count, ``sum(p.numel() for p in module.parameters())``: lookup tables read by Gather
(embeddings, relative-position bias tables) and the constants the exporter writes itself."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.swin_transformer import SwinTransformer

from analyzer import api


def torch_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_a_tiny_swin_counts_its_relative_position_bias_tables():
    """torchvision's SwinTransformer reads each relative_position_bias_table only through
    Gather (table[index], then view, permute, and Add to the attention logits)."""
    torch.manual_seed(0)
    module = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                             window_size=[4, 4], num_classes=10)
    report = api.analyze(module, input_shape=(1, 3, 32, 32))
    assert report.totals.params == torch_count(module)
    tables = [p.numel() for name, p in module.named_parameters() if name.endswith("relative_position_bias_table")]
    assert len(tables) == 4 and tables[0] == (2 * 4 - 1) ** 2 * 2  # (2W-1)^2 x heads
    gathered = sorted(n.params for n in report.nodes if n.op == "Gather" and n.params)
    assert gathered == sorted(tables)


class Positions(nn.Module):
    """A learned position embedding looked up by an index buffer (nn.Embedding exports as
    Gather(weight, ids)), then a head tied to the embedding, and a computed table."""

    def __init__(self, tokens: int = 6, dim: int = 8, tied: bool = False, computed: bool = False):
        super().__init__()
        self.pos = nn.Embedding(tokens, dim)
        self.register_buffer("ids", torch.arange(tokens))
        self.head = nn.Linear(dim, tokens, bias=False)
        if tied:
            self.head.weight = self.pos.weight
        self.computed = computed

    def forward(self, x):  # x: (N, tokens, dim)
        x = x + self.pos(self.ids)
        if self.computed:  # a table made in forward: a Constant node, no parameter
            table = torch.tensor([[0.5 * i + 0.25 * j for j in range(x.shape[-1])] for i in range(7)])
            x = x * table[self.ids]
        return self.head(x)


def test_an_embedding_counts_once_even_when_a_head_shares_it():
    torch.manual_seed(0)
    for tied in (False, True):
        module = Positions(tied=tied)
        report = api.analyze(module, input_shape=(2, 6, 8))
        assert report.totals.params == torch_count(module) == (48 if tied else 96)
        (lookup,) = [n for n in report.nodes if n.op == "Gather" and n.params]
        assert lookup.params == module.pos.weight.numel()


def test_a_table_computed_in_forward_is_no_parameter():
    module = Positions(computed=True)
    report = api.analyze(module, input_shape=(1, 6, 8))
    assert report.totals.params == torch_count(module) == 96  # the 7x8 table is not counted


class ScaledStdConv2d(nn.Conv2d):
    """timm's ScaledStdConv2d (NFNets): the weight standardised by F.batch_norm over its own
    fan-in, scaled by a learned gain; ``standardise_only`` is timm's StdConv2d (BiT,
    ResNetV2): no gain, weight=None."""

    def __init__(self, cin: int, cout: int, k: int, standardise_only: bool = False):
        super().__init__(cin, cout, k, padding=k // 2)
        self.gain = None if standardise_only else nn.Parameter(torch.ones(cout, 1, 1, 1))
        self.scale = (cin * k * k) ** -0.5

    def forward(self, x):
        gain = None if self.gain is None else (self.gain * self.scale).view(-1)
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, weight=gain,
                              training=True, momentum=0.0, eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding)


def test_weight_standardising_convs_count_as_pytorch_does():
    """The exporter writes zeros(C) for bias=None and ones(C) for weight=None as the
    BatchNormalization's B and scale: no parameters of the module."""
    torch.manual_seed(0)
    for standardise_only in (False, True):
        module = nn.Sequential(ScaledStdConv2d(3, 16, 3, standardise_only), nn.ReLU(),
                               ScaledStdConv2d(16, 24, 1, standardise_only))
        report = api.analyze(module, input_shape=(1, 3, 12, 12))
        assert report.totals.params == torch_count(module)
        norms = [n for n in report.nodes if n.op == "BatchNormalization"]
        assert [n.params for n in norms] == [0, 0]  # the gains count where they are scaled (Mul)


class FourierPositions(nn.Module):
    """timm's PositionalEncodingFourier (EdgeNeXt): positions divided by dim_t, frequencies
    computed in forward (a Constant node in the export), then a 1x1 projection."""

    def __init__(self, hidden: int = 8, dim: int = 12, temperature: float = 10000.0):
        super().__init__()
        self.token_projection = nn.Conv2d(hidden * 2, dim, kernel_size=1)
        self.hidden, self.temperature = hidden, temperature

    def forward(self, x):  # x: (N, dim, H, W)
        n, _, h, w = x.shape
        mask = torch.zeros(n, h, w, dtype=torch.bool, device=x.device)
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32) / h * 2 * math.pi
        x_embed = not_mask.cumsum(2, dtype=torch.float32) / w * 2 * math.pi
        dim_t = torch.arange(self.hidden, dtype=torch.int64, device=x.device).to(torch.float32)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.hidden)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
        return x + self.token_projection(pos)


def test_fourier_frequencies_computed_in_forward_are_no_parameters():
    module = FourierPositions()
    report = api.analyze(module, input_shape=(1, 12, 5, 6))
    assert report.totals.params == torch_count(module) == 16 * 12 + 12
    divisions = [n for n in report.nodes if n.op == "Div" and n.params == 0]
    assert divisions  # the divisions by dim_t are there, and count nothing


@pytest.mark.parametrize("norm", [
    nn.BatchNorm2d(8, affine=False), nn.InstanceNorm2d(8), nn.LayerNorm(4, elementwise_affine=False),
    nn.GroupNorm(2, 8, affine=False), nn.InstanceNorm2d(8, affine=True), nn.GroupNorm(2, 8),
], ids=lambda m: repr(m))
def test_norms_without_affine_count_no_ones_or_zeros(norm):
    """Without weight and bias the exporter writes Constant ones(C) and zeros(C) as the
    norm's scale and B: PyTorch counts no parameter for them (nor, here, for their stats)."""
    module = nn.Sequential(nn.Conv2d(3, 8, 3), norm)
    report = api.analyze(module, input_shape=(1, 3, 6, 6))
    assert report.totals.params == torch_count(module)
    assert report.totals.buffers == sum(b.numel() for b in module.buffers() if b.is_floating_point())
