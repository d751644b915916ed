"""HAT-Net: shapes, parameter counts vs the paper, equivalence with an
independent reference on official-layout weights, and the backbone options."""
import math

import pytest
import torch
from torch import nn

from mmhvit.models import HATNet
from mmhvit.models.backbones.hat_net import window_attention
from mmhvit.models.utils import convert_hat_net
from reference.hat_net_reference import (ARCHS, official_shapes,
                                         random_official_state_dict,
                                         reference_forward)

CLS_GRIDS = dict(grid_sizes=(8, 7, 7, 1), pool_sizes=(8, 4, 2, 1))
DENSE_GRIDS = dict(grid_sizes=(8, 8, 8, 1), pool_sizes=(16, 8, 4, 1))
# Tab. 2 of the paper (ImageNet classifiers)
PAPER_CLS_PARAMS_M = dict(tiny=12.7, small=25.7, medium=42.9, large=63.1)
# Parameters of the official implementation, counted by running it
OFFICIAL_CLS_PARAMS_M = dict(
    tiny=12.656, small=25.748, medium=42.942, large=63.132)


def count(module):
    return sum(p.numel() for p in module.parameters())


def unused_proj_norm_params(arch):
    """The official ``attn.proj_norm`` GroupNorms, never used in forward."""
    return sum(2 * c * d for c, d in zip(arch['dims'], arch['depths']))


@pytest.mark.parametrize('name', list(ARCHS))
def test_param_counts_match_official_and_paper(name):
    backbone = HATNet(arch=name)
    classifier = count(backbone) + count(nn.Linear(backbone.embed_dims[-1],
                                                   1000))
    official = sum(
        math.prod(shape) for shape in official_shapes(ARCHS[name]).values())
    assert abs(official / 1e6 - OFFICIAL_CLS_PARAMS_M[name]) < 5e-4
    assert classifier == official - unused_proj_norm_params(ARCHS[name])
    assert abs(classifier / 1e6 / PAPER_CLS_PARAMS_M[name] - 1) < 0.005


@pytest.mark.parametrize('name,grids,size', [
    ('tiny', CLS_GRIDS, (64, 64)),
    ('tiny', DENSE_GRIDS, (72, 88)),  # maps not divisible by the grids
    ('medium', DENSE_GRIDS, (40, 56)),  # 5x5 DW kernels, tiny maps
])
def test_equivalent_to_reference_on_official_weights(name, grids, size):
    arch = ARCHS[name]
    official = random_official_state_dict(arch, seed=1)
    converted = convert_hat_net(official)
    model = HATNet(arch=name, **grids).double().eval()
    backbone_state = {
        k[len('backbone.'):]: v.double()
        for k, v in converted.items() if k.startswith('backbone.')
    }
    model.load_state_dict(backbone_state, strict=True)
    image = torch.rand(1, 3, *size, dtype=torch.float64)
    with torch.no_grad():
        outs = model(image)
        ref_outs, ref_logits = reference_forward(
            {k: v.double() for k, v in official.items()}, image, arch,
            grids['grid_sizes'], grids['pool_sizes'])
        logits = nn.functional.linear(outs[-1].mean(dim=(2, 3)),
                                      converted['head.fc.weight'].double(),
                                      converted['head.fc.bias'].double())
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-9, atol=1e-9)


def test_arch_and_grid_errors():
    with pytest.raises(ValueError, match='misses keys'):
        HATNet(arch=dict(embed_dims=(8, 16, 24, 32)))
    with pytest.raises(ValueError, match='grid_sizes'):
        HATNet(arch='tiny', grid_sizes=(8, 8, 8))


def test_drop_path_rises_linearly():
    model = HATNet(arch='tiny', drop_path_rate=0.2)
    rates = [b.drop_path.drop_prob for s in model.stages for b in s.blocks]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.2)
    assert rates == sorted(rates)


def test_ablation_options():
    """Sec. 4.4 ablations: ``window_only`` stages attend within windows
    only (Tab. 5 designs 1-3: the global step's q / kv / norms gone, the
    output the projected window attention); ``ffn_dwconv=False`` (the pure
    transformer variant) has no depth-wise conv left."""
    torch.manual_seed(0)
    design1 = HATNet(arch='tiny', window_only=(True, True, True, False))
    full = HATNet(arch='tiny')
    attn = design1.stages[0].blocks[0].attn
    assert not hasattr(attn, 'kv')
    global_step = sum(
        count(getattr(block.attn, name)) for stage in full.stages[:3]
        for block in stage.blocks
        for name in ('q', 'kv', 'grid_norm', 'pool_norm'))
    assert count(full) - count(design1) == global_step
    x = torch.rand(1, 48, 13, 19)
    with torch.no_grad():
        expected = attn.proj(window_attention(attn.norm(x), attn.qkv,
                                              attn.num_heads, 8))
        torch.testing.assert_close(attn.eval()(x), expected)
    with pytest.raises(ValueError, match='window_only'):
        HATNet(arch='tiny', window_only=(False, False, False, True))
    pure = HATNet(arch='tiny', ffn_dwconv=False)
    assert not any(isinstance(m, nn.Conv2d) and m.groups > 1
                   for m in pure.modules())
    assert count(full) - count(pure) == sum(
        b.ffn.dwconv.weight.numel() for stage in full.stages
        for b in stage.blocks)
    outs = pure(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [48, 96, 240, 384]
