"""An image gets the same predictions whatever else is in its batch.

Every family's detection configs (Mask R-CNN, RetinaNet) and segmentation
configs (Semantic FPN, UperNet, SETR-PUP-HLG; whole and slide inference),
with tiny random-weight backbones in eval mode, predict two different images
one at a time and together: boxes, scores, masks and segmentation logits
agree to 1e-4 (masks: at most 1e-4 of their pixels differ). What differs
at all comes from float rounding (oneDNN picks its kernels by batch size:
~1e-6 in the features of HAT-Net and HLG; the clustering backbones evaluate
one image at a time, their features are exact).

The two detection images differ in size, so the data preprocessor pads
them, but both pad to the same tensor (128 x 128 under the configs'
``pad_size_divisor=32``) alone and together. Padding to a *larger* tensor
legitimately changes the features: the padded pixels are part of what the
attention (and the clustering) of every image sees. mmseg stacks test
batches without padding, so its images share a size.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmhvit.analysis.model_zoo import build_from_config
from helpers import ROOT, TINY_DET_HEADS
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT

TOLERANCE = dict(rtol=1e-4, atol=1e-4)
# Boxes are in pixels, regressed from features that a batched convolution
# rounds differently: a thousandth of a pixel (one coordinate of a 0.25-pixel
# corner differed by 2.1e-4 in a single-threaded run, OMP_NUM_THREADS=1)
BOX_TOLERANCE = dict(rtol=1e-4, atol=1e-3)

# family: (tiny arch, its stage widths, detection config, segmentation
# configs)
FAMILIES = {
    'hat_net': (TINY_HAT_NET, [16, 32, 48, 64],
                'hat_net/{}_hat-net-tiny_fpn_1x_coco.py',
                ['hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py']),
    'hlg': (TINY_HLG, [16, 32, 32, 64], 'hlg/{}_hlg-tiny_fpn_1x_coco.py',
            ['hlg/setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py',
             'hlg/upernet_hlg-small_8xb1-40k_cityscapes-768x768.py']),
    'clustr': (TINY_CLUSTR, [16, 32, 48, 64],
               'clustr/{}_clustr-small_fpn_1x_coco.py',
               ['clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py',
                'clustr/upernet_clustr-small_8xb2-160k_ade20k-512x512.py']),
    'hafa': (TINY_PVT, [16, 32, 48, 64],
             'hafa/{}_pvt-tiny-hafa_fpn_1x_coco.py',
             ['hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py']),
}
DETECTORS = [(family, detector) for family in FAMILIES
             for detector in ('mask-rcnn', 'retinanet')
             if osp.exists(osp.join(ROOT, 'configs',
                                    FAMILIES[family][2].format(detector)))]
SEGMENTORS = [(family, path) for family, (*_, paths) in FAMILIES.items()
              for path in paths]

# Heads shrunk to 32 channels; score threshold 0 and few proposals, so that
# an untrained detector yields boxes, and quickly.
DET_HEADS = {
    'mask-rcnn': dict(
        TINY_DET_HEADS['mask-rcnn'],
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50),
                      rcnn=dict(score_thr=0.0, max_per_img=20))),
    'retinanet': dict(
        TINY_DET_HEADS['retinanet'],
        test_cfg=dict(nms_pre=200, score_thr=0.0, max_per_img=20)),
}
# (height, width): both pad to 128 x 128
DET_SIZES = [(100, 120), (112, 128)]
SEG_SIZE = (64, 80)
SLIDE = dict(mode='slide', crop_size=(48, 48), stride=(32, 32))


def load(path):
    return Config.fromfile(osp.join(ROOT, 'configs', path))


def build(cfg, backbone_arch, **model):
    """The model of ``cfg`` with a tiny backbone and ``model`` merged in,
    random weights, eval mode."""
    cfg.merge_from_dict(dict(model=dict(
        backbone=dict(arch=dict(backbone_arch, _delete_=True),
                      drop_path_rate=0.0), **model)))
    torch.manual_seed(0)
    return build_from_config(cfg)[0]


def images(sizes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, *size), generator=generator,
                          dtype=torch.uint8) for size in sizes]


def predict(model, inputs, sample_type):
    samples = []
    for image in inputs:
        shape = tuple(image.shape[1:])
        samples.append(sample_type(metainfo=dict(
            img_shape=shape, ori_shape=shape, scale_factor=(1., 1.))))
    with torch.no_grad():
        return model.test_step(dict(inputs=inputs, data_samples=samples))


def assert_batch_invariant(model, inputs, sample_type, compare):
    together = predict(model, inputs, sample_type)
    for image, joint in zip(inputs, together):
        alone, = predict(model, [image], sample_type)
        compare(alone, joint)


def same_instances(alone, joint):
    a, b = alone.pred_instances, joint.pred_instances
    assert len(a) == len(b) > 0
    torch.testing.assert_close(b.bboxes, a.bboxes, **BOX_TOLERANCE)
    torch.testing.assert_close(b.scores, a.scores, **TOLERANCE)
    assert torch.equal(b.labels, a.labels)
    if 'masks' in a:  # binary: a few pixels at 0.5 may flip
        assert (b.masks != a.masks).float().mean() <= 1e-4


def same_segmentation(alone, joint):
    torch.testing.assert_close(joint.seg_logits.data, alone.seg_logits.data,
                               **TOLERANCE)


@pytest.mark.parametrize('family,detector', DETECTORS)
def test_detections_do_not_depend_on_the_batch(family, detector):
    from mmdet.structures import DetDataSample
    arch, dims, path, _ = FAMILIES[family]
    model = build(load(path.format(detector)), arch,
                  neck=dict(in_channels=dims, out_channels=32),
                  **DET_HEADS[detector])
    assert_batch_invariant(model, images(DET_SIZES), DetDataSample,
                           same_instances)


@pytest.mark.parametrize('family,path', SEGMENTORS,
                         ids=[path for _, path in SEGMENTORS])
def test_segmentation_does_not_depend_on_the_batch(family, path):
    from mmseg.structures import SegDataSample
    arch, dims, *_ = FAMILIES[family]
    cfg = load(path)
    heads = dict(decode_head=dict(in_channels=dims, channels=32))
    if 'neck' in cfg.model:  # Semantic FPN
        heads = dict(neck=dict(in_channels=dims, out_channels=32),
                     decode_head=dict(in_channels=[32] * 4, channels=32))
    elif cfg.model.decode_head.type == 'mmhvit.HLGUPHead':
        heads['decode_head']['num_heads'] = 2
    if 'auxiliary_head' in cfg.model:
        heads['auxiliary_head'] = dict(in_channels=dims[2], channels=16)
    model = build(cfg, arch, **heads)
    inputs = images([SEG_SIZE] * 2)
    for test_cfg in (dict(mode='whole'), SLIDE):
        model.test_cfg = Config(test_cfg)
        assert_batch_invariant(model, inputs, SegDataSample,
                               same_segmentation)
