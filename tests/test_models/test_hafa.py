"""HAFA: LAA starts as the plain patch embedding and learns offsets, SIA
merges into the downsampled map's size and maps back, the PVT / PVTv2
backbones with every aggregation choice run at odd sizes, and their
attention on SDPA gives mmdet's outputs without keeping attention maps."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.backbones import PyramidVisionTransformerV2

from mmhvit.analysis.attention import AttentionRecorder
from mmhvit.analysis.training_memory import saved_bytes
from mmhvit.models import PVTHAFA, PVTv2HAFA, SwinHAFA
from mmhvit.models.backbones.hafa import (LocalAdaptiveAggregation,
                                          SemanticInformationAggregation,
                                          TokenState, deform_conv2d)
from mmhvit.models.backbones.hafa.attention import \
    SDPASpatialReductionAttention
from mmhvit.models.layers import TokenClusterer, swap_classes
from helpers import assert_same_outputs_and_grads
from tiny_archs import TINY_PVT, TINY_SWIN


@pytest.mark.parametrize('kernel', [2, 3])
def test_laa_with_zero_offsets_is_the_plain_strided_conv(kernel):
    laa = LocalAdaptiveAggregation(8, 16, kernel_size=kernel)
    x = torch.randn(2, 8, 11, 14)
    tokens, hw = laa(x)
    plain = F.conv2d(x, laa.conv.weight, laa.conv.bias, stride=2,
                     padding=(kernel - 1) // 2)
    assert hw == tuple(plain.shape[-2:])
    torch.testing.assert_close(
        tokens, laa.norm(plain.flatten(2).transpose(1, 2)), rtol=1e-5,
        atol=1e-5)


def test_laa_offsets_learn_and_move_the_samples():
    laa = LocalAdaptiveAggregation(4, 4)
    x = torch.randn(1, 4, 10, 10)
    laa(x)[0].square().sum().backward()
    assert laa.offset.weight.grad.abs().sum() > 0
    before = laa(x)[0]
    with torch.no_grad():
        laa.offset.bias.fill_(0.5)  # shift every sample by half a pixel
    assert not torch.allclose(laa(x)[0], before)


def test_zero_offset_laa_equals_pvtv2_patch_embedding():
    hafa = PVTv2HAFA(arch='b0', aggregations=('laa', 'laa', 'laa')).eval()
    plain = PyramidVisionTransformerV2(
        embed_dims=32, num_layers=[2, 2, 2, 2]).eval()
    state = {k: v for k, v in plain.state_dict().items()}
    for i in (1, 2, 3):  # PVTv2's 3x3 patch embeddings -> LAA convs
        for name in ('weight', 'bias'):
            state[f'layers.{i}.0.conv.{name}'] = state.pop(
                f'layers.{i}.0.projection.{name}')
    missing = hafa.load_state_dict(state, strict=False).missing_keys
    assert all('.offset.' in key for key in missing)
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(hafa(x), plain(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_sia_merges_into_the_downsampled_map_and_back():
    sia = SemanticInformationAggregation(
        8, 16, TokenClusterer())
    grid = TokenState.from_grid(torch.randn(2, 14 * 10, 8), (14, 10))
    queries, source = sia(grid)
    assert queries.x.shape == (2, 7 * 5, 16) and queries.map_size == (7, 5)
    assert source.x.shape == (2, 35, 16) and source.map_size == (7, 5)
    # every 1/16 cell points at its cluster; the map is their mean per pixel
    assert queries.tokens.idx_token.shape == (2, 140)
    assert queries.to_map().shape == (2, 16, 7, 5)
    sia.score.weight.data.normal_()
    queries.x.sum().backward()
    assert sia.score.weight.grad.abs().sum() > 0  # importance is learned


@pytest.mark.parametrize('cls,arch,dims', [
    (PVTHAFA, 'tiny', [64, 128, 320, 512]),
    (PVTv2HAFA, 'b1', [64, 128, 320, 512]),
    (SwinHAFA, 'tiny', [96, 192, 384, 768]),
])
@pytest.mark.parametrize('aggregations', [('laa', 'laa', 'sia'),
                                          ('sia', 'sia', 'sia'),
                                          ('conv', 'laa', 'sia')])
def test_backbones_at_odd_sizes(cls, arch, dims, aggregations):
    model = cls(arch=arch, aggregations=aggregations)
    model.init_weights()
    outs = model(torch.rand(2, 3, 97, 131))
    assert [o.shape[1] for o in outs] == dims
    h, w = outs[0].shape[-2:]
    for out in outs[1:]:
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        assert out.shape[-2:] == (h, w)
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize('cls', [PVTHAFA, SwinHAFA])
@pytest.mark.parametrize('options', [
    dict(sia_clustering='qkv'),
    dict(clustering=dict(method='kmeans', num_iters=10)),
    dict(num_clusters=36),
])
def test_ablation_options_run(cls, options):
    model = cls(arch='tiny', **options)
    model.eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224))[-1].shape[-2:] == (7, 7)


def test_errors_are_named():
    with pytest.raises(ValueError, match="Unknown aggregation 'pool'"):
        PVTHAFA(aggregations=('laa', 'pool', 'sia'))
    with pytest.raises(ValueError, match='aggregations needs one value'):
        PVTHAFA(aggregations=('laa', 'sia'))
    with pytest.raises(ValueError, match="sia_clustering must be 'q' or"):
        SwinHAFA(sia_clustering='kv')
    with pytest.raises(ValueError, match="Unknown PVTHAFA arch 'huge'"):
        PVTHAFA(arch='huge')
    with pytest.raises(ValueError, match='out_indices'):
        PVTv2HAFA(out_indices=(5, ))


def test_plain_pvt_weights_load_where_they_fit(tmp_path):
    """85 % of PVT-HAFA-T is plain PVT-T, loaded below the default floor
    of 90 % only with an explicit min_loaded_ratio. The encoder layers of
    the stage after SIA, which has no position embedding, take the plain
    stage's layers in order."""
    from mmdet.models.backbones import PyramidVisionTransformer
    plain = PyramidVisionTransformer(num_layers=[2, 2, 2, 2])
    plain.init_weights()
    path = str(tmp_path / 'pvt_tiny_mmdet.pth')
    torch.save(plain.state_dict(), path)
    hafa = PVTHAFA(arch='tiny', init_cfg=dict(
        type='Pretrained', checkpoint=path, min_loaded_ratio=0.8))
    hafa.init_weights()
    stage3_block = 'layers.2.1.1.attn.attn.in_proj_weight'
    torch.testing.assert_close(hafa.state_dict()[stage3_block],
                               plain.state_dict()[stage3_block])
    for block in (0, 1):  # plain: after the position embedding
        torch.testing.assert_close(
            hafa.state_dict()[f'layers.3.1.{block}.ffn.layers.0.weight'],
            plain.state_dict()[f'layers.3.1.{block + 1}.ffn.layers.0.weight'])
    assert (hafa.layers[1][0].offset.weight == 0).all()  # LAA starts plain


@pytest.mark.parametrize('size,stride', [((9, 11), 2), ((8, 8), 2),
                                         ((7, 10), 1), ((1, 1), 2)])
def test_deformable_conv_matches_torchvision(size, stride):
    """LAA's grid_sample deformable convolution == torchvision's, values and
    gradients, with offsets reaching past the border."""
    import torchvision
    torch.manual_seed(0)
    x = torch.rand(2, 4, *size, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(6, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.rand(6, dtype=torch.float64)
    out_size = [(s + 2 - 3) // stride + 1 for s in size]
    offset = (torch.randn(2, 18, *out_size, dtype=torch.float64) * 2 +
              0.37).requires_grad_()  # off the integer grid: differentiable
    ours = deform_conv2d(x, offset, weight, bias, stride, 1)
    theirs = torchvision.ops.deform_conv2d(x, offset, weight, bias,
                                           stride=stride, padding=1)
    torch.testing.assert_close(ours, theirs)
    grads = [torch.autograd.grad(out.square().sum(), (x, weight, offset))
             for out in (ours, theirs)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_official_swin_checkpoint_is_converted_while_loading(tmp_path):
    """A checkpoint in the layout of github.com/microsoft/Swin-Transformer
    goes through mmdet's converter, as official PVT ones do."""
    from mmdet.models.backbones import SwinTransformer
    plain = SwinTransformer(**TINY_SWIN)
    official = {}
    for key, value in plain.state_dict().items():
        for ours, theirs in (('stages.', 'layers.'), ('w_msa.', ''),
                             ('ffn.layers.0.0.', 'mlp.fc1.'),
                             ('ffn.layers.1.', 'mlp.fc2.'),
                             ('patch_embed.projection.', 'patch_embed.proj.')):
            key = key.replace(ours, theirs)
        if 'downsample' not in key:  # replaced by LAA and SIA
            official[key] = value
    path = str(tmp_path / 'swin_official.pth')
    torch.save({'model': official}, path)
    hafa = SwinHAFA(arch=TINY_SWIN, init_cfg=dict(
        type='Pretrained', checkpoint=path, min_loaded_ratio=0.5))
    hafa.init_weights()
    key = 'stages.1.blocks.0.attn.w_msa.qkv.weight'
    torch.testing.assert_close(hafa.state_dict()[key],
                               plain.state_dict()[key])


def _with_mmdet_attention(model):
    """A copy of ``model`` whose PVT attention is mmdet's own (the class
    swapped back): same weights."""
    from mmdet.models.backbones.pvt import SpatialReductionAttention
    plain = copy.deepcopy(model)
    swap_classes(plain, {
        SDPASpatialReductionAttention: SpatialReductionAttention})
    return plain


@pytest.mark.parametrize('cls,aggregations', [
    (PVTHAFA, ('laa', 'laa', 'sia')),
    (PVTv2HAFA, ('sia', 'sia', 'sia')),  # clustered stages with sr 4, 2, 1
    (PVTHAFA, dict(aggregations=('laa', 'sia', 'conv'),
                   sia_clustering='qkv')),
])
@pytest.mark.parametrize('train', [True, False])
def test_sdpa_attention_matches_mmdet(cls, aggregations, train):
    """The PVT attention on SDPA gives mmdet's outputs and gradients to
    1e-5 (same weights, dropout 0, as the configs), with mmdet's state-dict
    keys; the plain and the clustered stages attend through fused SDPA
    kernels only."""
    options = aggregations if isinstance(aggregations, dict) else dict(
        aggregations=aggregations)
    torch.manual_seed(0)
    ours = cls(arch=TINY_PVT, drop_path_rate=0., **options)
    ours.init_weights()
    theirs = _with_mmdet_attention(ours)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    images = torch.rand(2, 3, 64, 96)
    results = []
    for model in (theirs, ours):
        model.train(train)
        with AttentionRecorder() as recorder:
            outs = model(images)
        # a mean loss, as training's: gradients of order 1
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).mean()
            for o in outs).backward()
        results.append((outs, {n: p.grad for n, p in model.named_parameters()
                               }, {c.kernel for c in recorder.calls}))
    (their_outs, their_grads, _), (our_outs, our_grads, kernels) = results
    assert kernels == {'flash (CPU)'}
    assert_same_outputs_and_grads(their_outs, their_grads, our_outs,
                                  our_grads)


def test_sdpa_attention_keeps_no_attention_map():
    """PVT-T-HAFA's training forward keeps at least the attention maps of
    stages 1-3 fewer bytes than with mmdet's attention (stage 4 is
    clustered: its maps depend on the cluster count)."""
    torch.manual_seed(0)
    ours = PVTHAFA(arch='tiny')
    theirs = _with_mmdet_attention(ours)
    images = torch.rand(1, 3, 128, 128)
    _, our_bytes = saved_bytes(lambda: ours(images))
    _, their_bytes = saved_bytes(lambda: theirs(images))
    # queries x keys x heads x layers per stage: 32^2 x 4^2 x 1 x 2, ...
    maps = sum(2 * heads * (128 // s)**2 * (128 // s // r)**2
               for s, r, heads in ((4, 8, 1), (8, 4, 2), (16, 2, 5)))
    assert their_bytes - our_bytes >= maps * 4, (their_bytes, our_bytes)
