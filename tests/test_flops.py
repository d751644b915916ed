"""MAC counting: hand counts of attention layers, the kernels PyTorch's own
counter misses on the CPU, and the get_flops tool."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from mmhvit.analysis.flops import count_macs
from mmhvit.models.backbones.hlg import GlobalSelfAttention
from helpers import run_tool


@pytest.mark.hlg
def test_global_attention_layer_matches_hand_count():
    height, width, channels, heads = 5, 6, 32, 2
    attn = GlobalSelfAttention(channels, heads, norm_cfg=dict(type='LN'))
    x = torch.rand(1, height, width, channels)
    n = height * width
    hidden = channels // 16
    offsets = (2 * height - 1) * (2 * width - 1)  # distinct (dy, dx)
    expected = (
        4 * n * channels**2  # q, k, v and output projections
        + 2 * n * n * channels  # QK^T and AV over all heads
        + offsets * (2 * hidden + 2 * hidden**2 + hidden * heads))  # bias MLP
    assert count_macs(lambda: attn(x)).total == expected


def test_cpu_attention_kernels_are_counted():
    q = torch.rand(2, 3, 49, 16)
    expected = 2 * 2 * 3 * 49 * 49 * 16
    # without a mask the CPU uses a flash kernel that PyTorch does not count
    assert count_macs(lambda: F.scaled_dot_product_attention(q, q, q)
                      ).total == expected
    mask = torch.zeros(49, 49)
    assert count_macs(lambda: F.scaled_dot_product_attention(
        q, q, q, attn_mask=mask)).total == expected


def test_deformable_conv_and_cdist_are_counted():
    x, weight = torch.rand(1, 4, 8, 8), torch.rand(6, 4, 3, 3)
    offset = torch.zeros(1, 18, 8, 8)
    conv, sampling = 6 * 4 * 9 * 64, 4 * 4 * 9 * 64
    assert count_macs(lambda: torchvision.ops.deform_conv2d(
        x, offset, weight, padding=1)).total == conv + sampling
    assert count_macs(lambda: torch.cdist(torch.rand(2, 10, 8), torch.rand(
        2, 12, 8))).total == 2 * 10 * 12 * 8


@pytest.mark.slow
def test_get_flops_tool_reports_params_and_macs():
    result = run_tool('analysis_tools/get_flops.py',
                      'configs/hlg/hlg-mobile_8xb128_in1k.py', '--shape',
                      112, 112)
    assert 'Input: 1x3x112x112' in result.stdout
    assert '4.339 M parameters' in result.stdout
    assert 'G MACs' in result.stdout and 'G FLOPs' in result.stdout
