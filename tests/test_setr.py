"""SETR configs (configs/setr) on tiny encoders, and the official-checkpoint
converter (mmhvit.models.utils.setr_convert, tools/model_converters/
setr2mmhvit.py) against an independent reference forward pass
(tests/reference/setr_reference.py)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmhvit.models.utils.setr_convert import convert_setr
from helpers import ROOT, run_tool
from reference import setr_reference as ref

CONFIGS = {
    'naive': 'setr_vit-l-naive_8xb1-40k_cityscapes-768x768.py',
    'pup': 'setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py',
    'mla': 'setr_vit-l-mla_8xb1-40k_cityscapes-768x768.py',
    'beit-pup': 'setr_beit-l-pup_8xb1-40k_cityscapes-768x768.py',
}
# tiny encoder: 4 layers (all of them outputs), 64 dims, 2 heads, 64x64 crop
DIMS, DEPTH, HEADS, CROP, GRID = 64, 4, 2, 64, 4
CHANNELS, MLA_HEAD_CHANNELS, NUM_CLASSES = 16, 8, 19


def tiny_model(decoder, crop=(CROP, CROP)):
    """The real config of ``decoder`` with a tiny encoder and heads: the
    main head reads layer 4, Naive's auxiliary heads layers 1-3, PUP's 1-4,
    MLA's streams layers 1-4."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/setr', CONFIGS[decoder]))
    model = cfg.model
    model.backbone.pop('init_cfg')
    model.backbone.update(
        img_size=crop,
        embed_dims=DIMS,
        num_layers=DEPTH,
        num_heads=HEADS,
        out_indices=tuple(range(DEPTH)))
    model.data_preprocessor.size = crop
    if 'test_cfg' in model.data_preprocessor:  # BEiT: pad small test images
        model.data_preprocessor.test_cfg.size = crop
    model.test_cfg.update(crop_size=crop, stride=(48, 48))
    if 'neck' in model:
        model.neck.update(in_channels=[DIMS] * 4, out_channels=CHANNELS)
        model.decode_head.update(
            in_channels=(CHANNELS, ) * 4,
            mla_channels=MLA_HEAD_CHANNELS,
            channels=4 * MLA_HEAD_CHANNELS)
        aux = dict(in_channels=CHANNELS, channels=CHANNELS)
    else:
        model.decode_head.update(in_channels=DIMS, channels=CHANNELS)
        aux = dict(in_channels=DIMS, channels=CHANNELS)
    for head in model.auxiliary_head:
        head.update(aux)
    return MODELS.build(model)


def sample(h, w, with_label=False):
    data_sample = SegDataSample(
        metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    if with_label:
        data_sample.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, h, w)))
    return data_sample


@pytest.mark.parametrize('decoder', sorted(CONFIGS))
def test_tiny_setr_trains_and_slides(decoder):
    torch.manual_seed(0)
    model = tiny_model(decoder)
    data = model.data_preprocessor(
        dict(
            inputs=[
                torch.randint(0, 256, (3, CROP, CROP), dtype=torch.uint8)
                for _ in range(2)
            ],
            data_samples=[sample(CROP, CROP, True) for _ in range(2)]), True)
    losses = model(**data, mode='loss')
    num_aux = {'naive': 3, 'mla': 4}.get(decoder, 4)
    assert len([k for k in losses if k.startswith('aux_')]) == 2 * num_aux
    assert all(torch.isfinite(v).all() for v in losses.values())

    model.eval()
    # sliding 64x64 windows over sizes that are no multiple of the patch;
    # smaller than the crop: a smaller window for ViT, padding for BEiT
    for h, w in ((70, 90), (48, 56)):
        image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
        with torch.no_grad():
            out = model.test_step(
                dict(inputs=[image], data_samples=[sample(h, w)]))[0]
        assert out.seg_logits.data.shape == (NUM_CLASSES, h, w)


def test_tta_pipelines_use_the_official_ratios(tmp_path):
    init_default_scope('mmseg')
    cv2.imwrite(
        str(tmp_path / 'img.png'),
        np.random.randint(0, 256, (600, 800, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'seg.png'), np.ones((600, 800), np.uint8))
    for name, short_sides in (
        # the official ADE20K _MS configs: Naive and MLA 0.5-1.0, PUP
        # 0.5-1.75 of the test scale (2048, 512)
        ('setr_vit-l-naive_8xb2-160k_ade20k-512x512.py', (256, 384, 512)),
        ('setr_vit-l-pup_8xb2-160k_ade20k-512x512.py', (256, 384, 512, 640,
                                                        768, 896)),
        ('setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py', (512, 768, 1025,
                                                           1281, 1537, 1793)),
    ):
        cfg = Config.fromfile(osp.join(ROOT, 'configs/setr', name))
        assert cfg.tta_model.type == 'SegTTAModel'
        out = Compose(cfg.tta_pipeline)(
            dict(
                img_path=str(tmp_path / 'img.png'),
                seg_map_path=str(tmp_path / 'seg.png'),
                reduce_zero_label='ade20k' in name,
                seg_fields=[]))
        shapes = [tuple(img.shape[1:]) for img in out['inputs']]
        assert len(shapes) == 2 * len(short_sides)  # each with flip
        assert sorted({min(s) for s in shapes}) == list(short_sides)


@pytest.mark.parametrize('decoder', ['naive', 'pup'])
def test_converted_up_heads_load_strictly_and_match(decoder):
    official = ref.random_official_state_dict(decoder, DIMS, DEPTH, GRID,
                                              NUM_CLASSES, CHANNELS)
    converted = convert_setr(official)
    model = tiny_model(decoder).eval()
    model.load_state_dict(converted, strict=True)

    img = torch.randn(2, 3, CROP, CROP)
    expected = ref.backbone_maps(official, img, HEADS)
    with torch.no_grad():
        maps = model.extract_feat(img)
        for got, want in zip(maps, expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(
            model.decode_head(maps),
            ref.up_head(official, 'decode_head', expected[-1]),
            rtol=1e-4,
            atol=1e-4)
        for i, head in enumerate(model.auxiliary_head):
            torch.testing.assert_close(
                head(maps),
                ref.up_head(official, f'auxiliary_head.{i}', expected[i]),
                rtol=1e-4,
                atol=1e-4)


def test_converted_mla_loads_strictly_and_matches():
    """Neck, whole decode head (3x3 classifier included) and auxiliary heads
    against the official forward pass."""
    official = ref.random_official_state_dict('mla', DIMS, DEPTH, GRID,
                                              NUM_CLASSES, CHANNELS,
                                              MLA_HEAD_CHANNELS)
    converted = convert_setr(official)
    model = tiny_model('mla').eval()
    model.load_state_dict(converted, strict=True)
    assert model.decode_head.conv_seg.kernel_size == (3, 3)

    img = torch.randn(2, 3, CROP, CROP)
    expected = ref.mla_neck(official,
                            ref.backbone_maps(official, img, HEADS, False))
    with torch.no_grad():
        feats = model.extract_feat(img)
        # MLANeck returns the streams deepest first
        for got, want in zip(feats[::-1], expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        for i, head in enumerate(model.auxiliary_head):
            torch.testing.assert_close(
                head(feats),
                ref.mla_aux(official, i, expected[i]),
                rtol=1e-4,
                atol=1e-4)
        # as configured: the streams' x4 with align_corners=False ...
        torch.testing.assert_close(
            model.decode_head(feats),
            ref.mla_head(official, expected, align_corners=False),
            rtol=1e-4,
            atol=1e-4)
        # ... and with the official x4 (align_corners=True) the official
        # logits, which differ from the former
        for up_conv in model.decode_head.up_convs:
            up_conv[2].align_corners = True
        logits = model.decode_head(feats)
    torch.testing.assert_close(
        logits, ref.mla_head(official, expected), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(
        logits,
        ref.mla_head(official, expected, align_corners=False),
        rtol=1e-4,
        atol=1e-4)


def test_mla_head_classifier_kernel():
    init_default_scope('mmseg')
    head = dict(
        in_channels=(CHANNELS, ) * 4,
        in_index=(3, 2, 1, 0),
        channels=4 * MLA_HEAD_CHANNELS,
        mla_channels=MLA_HEAD_CHANNELS,
        num_classes=NUM_CLASSES,
        dropout_ratio=0)
    ours = MODELS.build(dict(head, type='mmhvit.SETRMLAHead'))
    assert ours.conv_seg.weight.shape == (NUM_CLASSES, 4 * MLA_HEAD_CHANNELS,
                                          3, 3)
    assert ours.conv_seg.padding == (1, 1) and ours.conv_seg.bias is not None
    feats = [torch.randn(1, CHANNELS, 5, 7) for _ in range(4)]
    assert ours(feats).shape == (1, NUM_CLASSES, 20, 28)
    # cls_kernel_size=1 is mmseg's head, parameter for parameter
    mmseg_head = MODELS.build(dict(head, type='SETRMLAHead'))
    one = MODELS.build(
        dict(head, type='mmhvit.SETRMLAHead', cls_kernel_size=1))
    assert [(k, v.shape) for k, v in one.state_dict().items()
            ] == [(k, v.shape) for k, v in mmseg_head.state_dict().items()]
    with pytest.raises(ValueError, match='odd'):
        MODELS.build(dict(head, type='mmhvit.SETRMLAHead', cls_kernel_size=2))


def test_converted_block_splits_qkv_like_the_official_attention():
    """One official block (fused qkv Linear, pre-LN, eps 1e-6) against
    mmseg's TransformerEncoderLayer with the converted weights."""
    official = ref.random_official_state_dict('naive', DIMS, DEPTH, GRID)
    model = tiny_model('naive').eval()
    model.load_state_dict(convert_setr(official))
    tokens = torch.randn(2, 1 + GRID * GRID, DIMS)
    with torch.no_grad():
        torch.testing.assert_close(
            model.backbone.layers[0](tokens),
            ref.block(official, 'backbone.blocks.0', tokens, HEADS),
            rtol=1e-5,
            atol=1e-5)


def test_pos_embed_resize_keeps_the_class_token():
    official = ref.random_official_state_dict('pup', DIMS, DEPTH, GRID)
    stored = official['backbone.pos_embed']
    same = convert_setr(official, crop=(CROP, CROP))
    assert torch.equal(same['backbone.pos_embed'], stored)

    resized = convert_setr(official, crop=(96, 64))
    pos_embed = resized['backbone.pos_embed']
    assert pos_embed.shape == (1, 1 + 6 * 4, DIMS)
    assert torch.equal(pos_embed[:, 0], stored[:, 0])
    tiny_model('pup', crop=(96, 64)).load_state_dict(resized, strict=True)
    with pytest.raises(ValueError, match='multiple of the patch size'):
        convert_setr(official, crop=(100, 64))


def test_unknown_official_keys_are_an_error():
    official = ref.random_official_state_dict('naive', DIMS, DEPTH, GRID)
    official['backbone.blocks.0.attn.mystery'] = torch.zeros(1)
    with pytest.raises(KeyError, match='backbone.blocks.0.attn.mystery'):
        convert_setr(official)


@pytest.mark.slow
def test_converter_cli(tmp_path):
    official = ref.random_official_state_dict('mla', DIMS, DEPTH, GRID,
                                              NUM_CLASSES, CHANNELS,
                                              MLA_HEAD_CHANNELS)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth')
    # an mmseg 0.x checkpoint: meta + state_dict
    torch.save(dict(meta=dict(iter=80000), state_dict=official), src)
    result = run_tool('model_converters/setr2mmhvit.py', src, dst, '--crop',
                      96, 64)
    assert 'WARNING' not in result.stdout  # MLA converts completely
    assert dst in result.stdout
    state_dict = torch.load(dst, weights_only=True)['state_dict']
    assert state_dict['backbone.pos_embed'].shape == (1, 1 + 6 * 4, DIMS)
    assert torch.equal(state_dict['decode_head.conv_seg.weight'],
                       official['decode_head.cls.weight'])
    tiny_model('mla', crop=(96, 64)).load_state_dict(state_dict, strict=True)
