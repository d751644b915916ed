"""Every config loads and builds its model, with the parameter count of its
paper row."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmhvit.utils.model_zoo import (build_from_config, count_params,
                                    metafile_models)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path)

# Parameters (M) in the papers, by config: HAT-Net Tabs. 2-4, ClusTR Tabs.
# 2-5, 7 and 9, HAFA Tabs. 1-3 and 6. Within 0.5 % unless a tolerance is
# given: the HAFA paper's own figures disagree with each other (its dense
# models gain 1.6-1.7 M from HAFA, its classifiers 1.3-1.4 M with the same
# backbone; PVTv2-B1 gains 0.6 M for the same modules), so its HAFA rows are
# checked loosely and our consistent +1.26 M is reported in the README.
PAPER_PARAMS_M = {
    'hat_net/hat-net-tiny_8xb128_in1k.py': 12.7,
    'hat_net/hat-net-small_8xb128_in1k.py': 25.7,
    'hat_net/hat-net-medium_8xb128_in1k.py': 42.9,
    'hat_net/hat-net-large_8xb128_in1k.py': 63.1,
    'hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py': 15.9,
    'hat_net/fpn_hat-net-small_8xb2-40k_ade20k-512x512.py': 29.5,
    'hat_net/fpn_hat-net-medium_8xb2-40k_ade20k-512x512.py': 46.7,
    'hat_net/fpn_hat-net-large_8xb2-40k_ade20k-512x512.py': 66.8,
    'hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py': 21.6,
    'hat_net/retinanet_hat-net-small_fpn_1x_coco.py': 35.5,
    'hat_net/retinanet_hat-net-medium_fpn_1x_coco.py': 52.7,
    'hat_net/retinanet_hat-net-large_fpn_1x_coco.py': 73.1,
    'hat_net/mask-rcnn_hat-net-tiny_fpn_1x_coco.py': 31.8,
    'hat_net/mask-rcnn_hat-net-small_fpn_1x_coco.py': 45.4,
    'hat_net/mask-rcnn_hat-net-medium_fpn_1x_coco.py': 62.6,
    'hat_net/mask-rcnn_hat-net-large_fpn_1x_coco.py': 82.7,
    'clustr/clustr-tiny_8xb128_in1k.py': 11.7,
    'clustr/clustr-small_8xb128_in1k.py': 22.7,
    'clustr/clustr-base_8xb128_in1k.py': 40.2,
    'clustr/clustr-tiny_8xb128-100e_in1k.py': 11.7,
    'clustr/clustr-tiny-single-64_8xb128-100e_in1k.py': 10.8,
    'clustr/clustr-tiny-single-16_8xb128-100e_in1k.py': 10.8,
    'clustr/clustr-tiny-grid_8xb128-100e_in1k.py': 13.2,
    'clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py': 26.4,
    'clustr/upernet_clustr-small_8xb2-160k_ade20k-512x512.py': 52.5,
    'clustr/retinanet_clustr-small_fpn_1x_coco.py': 32.4,
    'clustr/mask-rcnn_clustr-small_fpn_1x_coco.py': 42.3,
    'hafa/pvt-tiny_8xb128_in1k.py': 13.2,
    'hafa/pvt-small_8xb128_in1k.py': 24.5,
    'hafa/pvt-large_8xb128_in1k.py': 61.4,
    'hafa/pvt-tiny-hafa_8xb128_in1k.py': (14.6, 0.01),
    'hafa/pvt-small-hafa_8xb128_in1k.py': (25.8, 0.01),
    'hafa/pvt-large-hafa_8xb128_in1k.py': (62.7, 0.01),
    'hafa/pvtv2-b1_8xb128_in1k.py': 14.0,
    'hafa/pvtv2-b2_8xb128_in1k.py': 25.4,
    'hafa/pvtv2-b1-hafa_8xb128_in1k.py': (14.6, 0.03),
    'hafa/pvtv2-b2-hafa_8xb128_in1k.py': (26.0, 0.03),
    # Tab. 6 lists Swin-T at 30.8 M (Swin's paper: 28.3 M, as built here)
    # and Swin-T(HAFA) at 29.1 M, below that baseline: not reconcilable.
    'hafa/swin-tiny_8xb128_in1k.py': 28.3,
    'hafa/swin-tiny-hafa_8xb128_in1k.py': (29.1, 0.06),
    'hafa/fpn_pvt-tiny_8xb2-40k_ade20k-512x512.py': 17.0,
    'hafa/fpn_pvt-small_8xb2-40k_ade20k-512x512.py': 28.2,
    'hafa/fpn_pvt-large_8xb2-40k_ade20k-512x512.py': 65.1,
    'hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py': (18.7, 0.03),
    'hafa/fpn_pvt-small-hafa_8xb2-40k_ade20k-512x512.py': (29.9, 0.03),
    'hafa/fpn_pvt-large-hafa_8xb2-40k_ade20k-512x512.py': (66.8, 0.03),
    'hafa/mask-rcnn_pvt-tiny_fpn_1x_coco.py': 32.9,
    'hafa/mask-rcnn_pvt-small_fpn_1x_coco.py': 44.1,
    'hafa/mask-rcnn_pvt-large_fpn_1x_coco.py': 81.0,
    'hafa/mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py': (34.5, 0.03),
    'hafa/mask-rcnn_pvt-small-hafa_fpn_1x_coco.py': (45.8, 0.03),
    'hafa/mask-rcnn_pvt-large-hafa_fpn_1x_coco.py': (82.7, 0.03),
    # HLG (SETR/HLG paper Tabs. 5-7, 10-11). Medium's classifier uses Tab.
    # 1's depths (2, 2, 14, 2): 39.9 M, and no depth gives the paper's 43.7
    # M (16 gives 43.9 M; its dense models fit 18, which they use). Mobile's
    # 4.339 M is within the rounding of the paper's 4.3 M.
    'hlg/hlg-mobile_8xb128_in1k.py': (4.3, 0.012),
    'hlg/hlg-tiny_8xb128_in1k.py': 11.0,
    'hlg/hlg-small_8xb128_in1k.py': 24.2,
    'hlg/hlg-medium_8xb128_in1k.py': (43.7, 0.09),
    'hlg/hlg-large_8xb128_in1k.py': 84.2,
    'hlg/retinanet_hlg-tiny_fpn_1x_coco.py': 20.7,
    'hlg/retinanet_hlg-small_fpn_1x_coco.py': 34.4,
    'hlg/retinanet_hlg-medium_fpn_1x_coco.py': 57.9,
    'hlg/retinanet_hlg-large_fpn_1x_coco.py': 94.8,
    'hlg/mask-rcnn_hlg-tiny_fpn_1x_coco.py': 30.6,
    'hlg/mask-rcnn_hlg-small_fpn_1x_coco.py': 43.7,
    'hlg/mask-rcnn_hlg-medium_fpn_1x_coco.py': 67.3,
    'hlg/mask-rcnn_hlg-large_fpn_1x_coco.py': 103.6,
    # counted without the FCN auxiliary head (see INFERENCE_PARAMS); the
    # paper's whole-number figures: S and M fit that, L (99.1 M) fits only
    # with the auxiliary head (100.3 M), hence 1 % for these rows.
    'hlg/setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py': (37.0, 0.01),
    'hlg/setr-pup_hlg-medium_8xb2-160k_ade20k-512x512.py': (61.0, 0.01),
    'hlg/setr-pup_hlg-large_8xb2-160k_ade20k-512x512.py': (100.0, 0.01),
    'hlg/setr-pup_hlg-small_8xb2-80k_cityscapes-768x768.py': (37.0, 0.01),
    'hlg/setr-pup_hlg-medium_8xb2-80k_cityscapes-768x768.py': (61.0, 0.01),
    'hlg/setr-pup_hlg-large_8xb2-80k_cityscapes-768x768.py': (100.0, 0.01),
    # SETR (SETR/HLG paper Tabs. 3, 5 and 6), auxiliary heads included: one
    # count per model, repeated for ADE20K. Ours lack the official dead
    # `conv_seg` of every head (77 k each at 150 classes); MLA's classifier
    # is the official 3x3 (mmhvit.SETRMLAHead). At the 512 crop the position
    # embedding is 1.31 M (T-L) / 0.98 M (T-B) smaller than at 768. The 80k
    # Cityscapes configs build the 40k models; the paper gives no Pascal
    # Context counts.
    'setr/setr_vit-l-naive_8xb1-40k_cityscapes-768x768.py': 306,
    'setr/setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py': 318,
    'setr/setr_vit-l-mla_8xb1-40k_cityscapes-768x768.py': 311,
    'setr/setr_vit-b-naive_8xb1-40k_cityscapes-768x768.py': 88,
    'setr/setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py': 98,
    'setr/setr_vit-b-deit-naive_8xb1-40k_cityscapes-768x768.py': 88,
    'setr/setr_vit-b-deit-pup_8xb1-40k_cityscapes-768x768.py': 98,
    # the official T-Base MLA model has 92.50 M (-0.54 %; ours: 92.45 M,
    # -0.59 %, less its dead `conv_seg`s): the paper's 93 M is 0.5 M more
    # than the code it was trained with. 0.65 % still fails a 1x1 classifier
    # (92.37 M).
    'setr/setr_vit-b-mla_8xb1-40k_cityscapes-768x768.py': (93, 0.0065),
    'setr/setr_vit-b-deit-mla_8xb1-40k_cityscapes-768x768.py': (93, 0.0065),
    # mmseg's BEiT-L has per-layer relative position bias tables, 3.47 M at
    # the 768 crop, instead of ViT-L's 2.36 M position embedding (the paper
    # repeats the ViT-L counts for its BEiT rows)
    'setr/setr_beit-l-pup_8xb1-40k_cityscapes-768x768.py': (318, 0.01),
    'setr/setr_beit-l-mla_8xb1-40k_cityscapes-768x768.py': 311,
    'setr/setr_vit-l-naive_8xb2-160k_ade20k-512x512.py': 306,
    'setr/setr_vit-l-pup_8xb2-160k_ade20k-512x512.py': 318,
    'setr/setr_vit-l-mla_8xb2-160k_ade20k-512x512.py': 311,
    'setr/setr_beit-l-pup_8xb2-160k_ade20k-512x512.py': 318,
    'setr/setr_beit-l-mla_8xb2-160k_ade20k-512x512.py': 311,
    # the official models have 97.64 M / 92.59 M here (see above; ours
    # 92.21 M, -0.85 %: the official MLA's five dead `conv_seg`s are 0.38 M
    # at 150 classes)
    'setr/setr_vit-b-deit-pup_8xb2-160k_ade20k-512x512.py': (98, 0.01),
    'setr/setr_vit-b-deit-mla_8xb2-160k_ade20k-512x512.py': (93, 0.01),
}
# Rows whose paper counts leave out the auxiliary heads used only in training
# (metafile entries with "Auxiliary Heads Counted: false").
INFERENCE_PARAMS = {
    osp.relpath(entry['Config'], osp.join(ROOT, 'configs'))
    for entry in metafile_models(ROOT)
    if entry['Metadata'].get('Auxiliary Heads Counted') is False
}
# The HAT-Net paper lists every Tiny dense model ~0.57M below what the
# official Tiny backbone (12.27M without classifier) plus the standard heads
# give; these are checked for that offset instead.
TINY_DENSE_EXCESS_M = (0.50, 0.65)


def build_model(path):
    return build_from_config(path)[0]  # no weights: nothing downloaded


def rel(path):
    return osp.relpath(path, ROOT)


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_config_builds(path):
    model = build_model(path)
    assert sum(p.numel() for p in model.parameters()) > 0


CLASSIFIERS = [
    path for path in CONFIGS
    if Config.fromfile(path).get('default_scope') == 'mmpretrain'
]


@pytest.mark.parametrize('path', CLASSIFIERS, ids=rel)
def test_classifier_runs_forward(path):
    """The backbone's outputs reach the head (mmdet backbones return lists,
    which mmpretrain's own pooling neck rejects)."""
    model = build_model(path).eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 1000)


@pytest.mark.parametrize('name', sorted(PAPER_PARAMS_M))
def test_param_counts_match_paper(name):
    path = osp.join(ROOT, 'configs', name)
    skip = ('auxiliary_head', ) if name in INFERENCE_PARAMS else ()
    params = count_params(build_model(path), skip) / 1e6
    paper, tolerance = PAPER_PARAMS_M[name], 0.005
    if isinstance(paper, tuple):
        paper, tolerance = paper
    if 'hat-net-tiny' in name and '_in1k' not in name:
        low, high = TINY_DENSE_EXCESS_M
        assert low <= params - paper <= high, (params, paper)
    else:
        assert abs(params / paper - 1) <= tolerance, (params, paper)
