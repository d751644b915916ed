"""What every mmhvit pyramid backbone promises a dense-prediction config,
checked once for all of them: four contiguous maps at strides 4-32 for any
input size (at least 32 x 32 for the PVT family, as mmdet's PVT), the same
maps for an image whatever else is in its batch,
``out_indices``, ``frozen_stages`` + ``norm_eval``, ``with_cp`` and
building from the upstream registries. A new backbone adds a row to
``BACKBONES``; its own test file keeps what is particular to it."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope
from torch import nn

from mmhvit.models import HLG, PVTHAFA, ClusTR, HATNet, PVTv2HAFA, SwinHAFA
from tiny_archs import TINY_CLUSTR, TINY_PVT, TINY_SWIN

# The smallest paper archs, and tiny clustering models (exact clustering is
# quadratic in the tokens). HAFA without mmdet's default stochastic depth
# (0.1), which the with_cp test would draw differently in its two models.
BACKBONES = {
    # HAT-Net with the dense-prediction grids (configs/hat_net), BN so that
    # norm_eval has something to act on.
    'HATNet': (HATNet, dict(arch='tiny', grid_sizes=(8, 8, 8, 1),
                            pool_sizes=(16, 8, 4, 1),
                            norm_cfg=dict(type='BN'))),
    'HLG': (HLG, dict(arch='mobile')),
    'ClusTR': (ClusTR, dict(arch=TINY_CLUSTR)),
    'PVTHAFA': (PVTHAFA, dict(arch=TINY_PVT, drop_path_rate=0.)),
    'PVTv2HAFA': (PVTv2HAFA, dict(arch=TINY_PVT, drop_path_rate=0.)),
    'SwinHAFA': (SwinHAFA, dict(arch=TINY_SWIN, drop_path_rate=0.)),
}
# Extra sizes: COCO's 800 x 1344 for HAT-Net (its pooled global attention at
# detection size), a classifier's 224 for HLG and PVT-HAFA, an 8 x 8 image
# for ClusTR and Swin-HAFA (fewer tokens than some cluster counts), the
# smallest input of PVTv2-HAFA.
EXTRA_SIZES = dict(HATNet=(800, 1344), HLG=(224, 224), ClusTR=(8, 8),
                   PVTHAFA=(224, 224), PVTv2HAFA=(32, 32), SwinHAFA=(8, 8))
# PVT v1's 4x4 stride-4 patch embedding has no padding: it drops the last
# rows and columns that do not fill a patch
STEM_ROUNDING = dict(PVTHAFA=math.floor)


def build(name, **options):
    cls, settings = BACKBONES[name]
    return cls(**{**settings, **options})


@pytest.mark.parametrize('name', list(BACKBONES))
@pytest.mark.parametrize('size', [(64, 64), (97, 131), (33, 47), 'extra'])
def test_four_maps_at_strides_4_to_32_for_any_size(name, size):
    size = EXTRA_SIZES[name] if size == 'extra' else size
    model = build(name).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, *size))
    rounding = STEM_ROUNDING.get(name, math.ceil)
    h, w = rounding(size[0] / 4), rounding(size[1] / 4)
    assert len(outs) == 4
    for out, channels in zip(outs, model.embed_dims):
        assert out.shape == (2, channels, h, w)
        assert torch.isfinite(out).all()
        # mmcv's ops (RoIAlign) read the memory as NCHW
        assert out.is_contiguous()
        h, w = math.ceil(h / 2), math.ceil(w / 2)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_an_image_gets_the_same_maps_whatever_its_batch(name):
    """In eval mode, beside another image, as a detector batches them (the
    first zero-padded): equal up to the rounding of batched kernels, which
    token clustering would turn into other clusters at near ties."""
    torch.manual_seed(0)
    model = build(name).eval()
    images = torch.rand(2, 3, 96, 128)
    images[0, :, 70:] = images[0, :, :, 100:] = 0
    with torch.no_grad():
        batched, alone = model(images), model(images[:1])
    for joint, single in zip(batched, alone):
        torch.testing.assert_close(joint[:1], single, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name', ['ClusTR', 'PVTHAFA', 'SwinHAFA'])
@pytest.mark.parametrize('eval_per_image', [True, False])
def test_clustering_backbones_evaluate_one_image_at_a_time_unless_told(
        name, eval_per_image):
    """In eval mode the images of a batch go through a clustering backbone
    one at a time, each computed exactly as alone, or at once with
    ``eval_per_image=False``; training always runs the batch."""
    torch.manual_seed(0)
    model = build(name, eval_per_image=eval_per_image)
    batches = []
    stem = model.frozen_modules()[0]
    stem.register_forward_pre_hook(
        lambda module, args: batches.append(args[0].shape[0]))
    images = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        outs = model.eval()(images)
        alone = model(images[1:])
        model.train()(images)  # (updates batch-norm statistics)
    assert batches == ([1, 1, 1, 2] if eval_per_image else [2, 1, 2])
    if eval_per_image:
        assert all(torch.equal(out[1:], single)
                   for out, single in zip(outs, alone))


@pytest.mark.parametrize('name', list(BACKBONES))
def test_channels_last_inputs_give_the_same_contiguous_maps(name):
    """An input in channels-last memory (``model.to(memory_format=...)``,
    a common GPU speed-up) gives the maps of the NCHW input, still NCHW in
    memory for mmcv's ops (convolutions pass the input's format on)."""
    torch.manual_seed(0)
    model = build(name).eval()
    images = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        plain = model(images)
        outs = model(images.contiguous(memory_format=torch.channels_last))
    for out, reference in zip(outs, plain):
        assert out.is_contiguous()
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_out_indices_select_and_are_checked(name):
    model = build(name, out_indices=(1, -1)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    dims = model.embed_dims
    assert [o.shape[1] for o in outs] == [dims[1], dims[3]]
    with pytest.raises(ValueError, match='out_indices'):
        build(name, out_indices=(4, ))
    with pytest.raises(ValueError, match=f"Unknown {name} arch 'huge'"):
        build(name, arch='huge')
    with pytest.raises(ValueError, match='frozen_stages'):
        build(name, frozen_stages=5)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_frozen_stages_and_norm_eval(name):
    model = build(name, frozen_stages=1, norm_eval=True).train()
    frozen = model.frozen_modules()  # stem (may be empty), stage 1, ...
    for module in frozen[:2]:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    for module in frozen[2:]:
        assert all(p.requires_grad for p in module.parameters())
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert all(not norm.training for norm in norms)


@pytest.mark.parametrize('name', list(BACKBONES))
def test_with_cp_gives_the_same_gradients(name):
    torch.manual_seed(0)
    plain, checkpointed = build(name), build(name, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    image = torch.rand(2, 3, 64, 64)
    grads = []
    for model in (plain, checkpointed):
        sum(o.square().mean() for o in model.train()(image)).backward()
        grads.append([p.grad for p in model.parameters()])
    assert all(g is not None for g in grads[1])
    for plain_grad, cp_grad in zip(*grads):
        torch.testing.assert_close(cp_grad, plain_grad)


@pytest.mark.parametrize('name', list(BACKBONES))
@pytest.mark.parametrize('scope', ['mmseg', 'mmdet', 'mmpretrain'])
def test_builds_from_upstream_registries(name, scope):
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    cls, settings = BACKBONES[name]
    assert isinstance(registry.build(dict(type=f'mmhvit.{name}', **settings)),
                      cls)
