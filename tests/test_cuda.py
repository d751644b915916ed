"""On CUDA: every family's backbones (tiny and full size) against the CPU in
float32 and under float16 / bfloat16 autocast, the attention kernel of every
SDPA call, clustering at 16k tokens, one ``AmpOptimWrapper`` training
iteration of a segmentation, a Mask R-CNN and an ImageNet config per family,
and ``dist_train.sh`` with 2 NCCL processes against 1.

``pytest -m cuda tests/test_cuda.py`` (``tools/misc/gpu_check.sh`` runs it
on a bare CUDA machine). Without CUDA every test is skipped.
"""
import copy
import functools
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmhvit.analysis import measure
from mmhvit.analysis.attention import AttentionRecorder, format_calls
from mmhvit.analysis.benchmark import autocast, build, output_loss
from mmhvit.analysis.gpu_report import mmcv_ops, run_report
from mmhvit.analysis.model_zoo import build_from_config
from mmhvit.models.layers.clustering import (TokenClusterer, dpc_knn, kmeans,
                                             merge_tokens)
from helpers import (ROOT, assert_same_weights, blobs, det_batch,
                     same_partition, seg_batch, train_one_and_two_processes)
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT, TINY_SWIN

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason='needs CUDA (torch.cuda.is_available() is False); on a GPU '
        'machine: pytest -m cuda tests/test_cuda.py, or '
        'tools/misc/gpu_check.sh'),
]
# family -> (tiny backbone, full-size backbone) as (scope, config) pairs or
# names of mmhvit.analysis.benchmark.BACKBONES
FAMILIES = {
    'HAT-Net': (('mmseg', dict(type='mmhvit.HATNet', arch=TINY_HAT_NET)),
                'hat_net-small'),
    'HLG': (('mmseg', dict(type='mmhvit.HLG', arch=TINY_HLG)), 'hlg-small'),
    'SETR-ViT': (('mmseg', dict(type='VisionTransformer', img_size=(64, 64),
                                embed_dims=64, num_layers=2, num_heads=4,
                                out_indices=(0, 1))), 'vit-base'),
    'ClusTR': (('mmseg', dict(type='mmhvit.ClusTR', arch=TINY_CLUSTR)),
               'clustr-small'),
    'PVT-HAFA': (('mmdet', dict(type='mmhvit.PVTHAFA', arch=TINY_PVT)),
                 'pvt-small-hafa'),
    'PVTv2-HAFA': (('mmdet', dict(type='mmhvit.PVTv2HAFA', arch=TINY_PVT)),
                   'pvtv2-b2-hafa'),
    'Swin-HAFA': (('mmdet', dict(type='mmhvit.SwinHAFA', arch=TINY_SWIN)),
                  'swin-tiny-hafa'),
}
# input (H, W) per size: the tiny one pads windows, the full one is 224^2
IMAGE = dict(tiny=(72, 104), full=(224, 224))
CASES = [(family, size) for family in FAMILIES for size in IMAGE]
AMP_DTYPES = (torch.float16, torch.bfloat16)


@functools.lru_cache(maxsize=None)
def cpu_backbone(family, size):
    """The backbone, seeded, on the CPU in eval mode (built once)."""
    torch.manual_seed(0)
    model = build(FAMILIES[family][size == 'full'], 'cpu')[1]
    model.eval()  # mmseg's ViT.train returns None: no chaining
    return model


def cuda_copy(family, size):
    return copy.deepcopy(cpu_backbone(family, size)).cuda()


def images(size, batch=2):
    return torch.rand(batch, 3, *IMAGE[size],
                      generator=torch.Generator().manual_seed(0))


@pytest.fixture
def exact_float32():
    """No TF32 in cuBLAS and cuDNN (cuDNN convolutions use it by default),
    so that float32 is float32 on both devices."""
    flags = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = flags


def agreement(a, b):
    """The smallest fraction, over the images, of tokens that keep their
    cluster from labelling ``a`` (B, N) to ``b``, up to renumbering: each
    cluster of ``a`` maps to the cluster of ``b`` most of its tokens are
    in."""
    fractions = []
    for la, lb in zip(a, b):
        na, nb = int(la.max()) + 1, int(lb.max()) + 1
        counts = torch.bincount(la * nb + lb, minlength=na * nb)
        fractions.append(counts.view(na, nb).amax(1).sum().item() / len(la))
    return min(fractions)


class ReplayedClusters:
    """Records the clusters ``TokenClusterer.cluster`` returns, then, after
    :meth:`replay`, hands the same clusters to the same calls (on any
    device) and keeps the fraction of tokens whose own cluster agreed.

    A token within float32 rounding of a tie (two equidistant centres) may
    join another cluster on another device; replaying makes the rest of the
    network comparable to 1e-4, and :attr:`agreement` shows how rare such
    tokens are."""

    def __init__(self, monkeypatch):
        self.recorded, self.pending, self.agreement = [], None, []
        original = TokenClusterer.cluster

        def cluster(clusterer, groups, counts, mask=None):
            idxs = original(clusterer, groups, counts, mask)
            if self.pending is None:
                self.recorded.append(idxs)
                return idxs
            theirs = self.pending.pop(0)
            self.agreement += [agreement(own.cpu(), other)
                               for own, other in zip(idxs, theirs)]
            return [other.to(groups.device) for other in theirs]

        monkeypatch.setattr(TokenClusterer, 'cluster', cluster)

    def replay(self):
        self.pending = [[i.cpu() for i in idxs] for idxs in self.recorded]


def assert_close_scaled(actual, expected, rtol):
    """Elementwise within ``rtol`` of the output's largest magnitude."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual.float().cpu(), expected, rtol=rtol,
                               atol=rtol * scale)


@pytest.mark.parametrize('family,size', CASES)
def test_float32_on_cuda_equals_the_cpu(family, size, exact_float32,
                                        monkeypatch):
    clusters = ReplayedClusters(monkeypatch)
    with torch.no_grad():
        expected = cpu_backbone(family, size)(images(size))
        clusters.replay()
        actual = cuda_copy(family, size)(images(size).cuda())
    assert len(actual) == len(expected)
    for out, ref in zip(actual, expected):
        assert_close_scaled(out, ref, rtol=1e-4)
    assert all(a >= 0.99 for a in clusters.agreement), clusters.agreement


def cosine(a, b):
    return torch.nn.functional.cosine_similarity(
        a.float().flatten(), b.float().flatten(), dim=0).item()


@pytest.mark.parametrize('family,size', CASES)
def test_autocast_is_finite_close_to_float32_and_trains(family, size):
    """float16 and bfloat16 autocast: finite outputs with a cosine > 0.99 to
    float32's, and finite gradients for (nearly) every parameter."""
    model = cuda_copy(family, size)
    inputs = images(size).cuda()
    with torch.no_grad():
        reference = model(inputs)
    for dtype in AMP_DTYPES:
        with autocast(inputs.device, dtype):
            outs = model(inputs)
        for out, ref in zip(outs, reference):
            assert torch.isfinite(out).all(), (dtype, out.shape)
            assert cosine(out, ref) > 0.99, (dtype, cosine(out, ref))
        output_loss(outs).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert sum(g is not None for g in grads) > 0.9 * len(grads)
        assert all(torch.isfinite(g).all() for g in grads if g is not None)
        model.zero_grad(set_to_none=True)


# HAT-Net and HLG pad windows at COCO's 1333 x 800 (masked keys)
KERNEL_IMAGE = dict(tiny=(72, 104), full=(800, 1333))


@pytest.mark.parametrize('dtype', [torch.float16, torch.float32],
                         ids=['float16', 'float32'])
@pytest.mark.parametrize('family,size', CASES)
def test_mmhvit_attention_never_takes_the_math_path(family, size, dtype):
    """Every SDPA call of mmhvit's own code, with its real masks and shapes,
    runs a fused kernel (flash / memory-efficient / cuDNN) forward and
    backward, and the memory-efficient kernel accepts every one (what the
    masks need). Upstream attention (mmseg's ViT and mmdet's PVT through
    ``nn.MultiheadAttention`` with ``need_weights=True``, mmdet's Swin
    windows) is explicit; it is recorded, not asserted (docs/gpu.md)."""
    model = cuda_copy(family, size)
    model.train()
    inputs = torch.rand(1, 3, *KERNEL_IMAGE[size], device='cuda')
    with AttentionRecorder(probe=True) as recorder, autocast(inputs.device,
                                                             dtype):
        outs = model(inputs)
    output_loss(outs).backward()
    table = format_calls(recorder.summary())
    ours = [c for c in recorder.calls
            if c.kind == 'sdpa' and c.site.startswith('mmhvit/')]
    assert all(c.kernel != 'math' for c in ours), table
    assert not any('efficient_attention:' in c.refused for c in ours), table
    if family in ('HAT-Net', 'HLG', 'ClusTR'):
        assert ours, table


def test_clustering_on_cuda_gives_the_cpu_clusters_in_little_memory():
    """DPC-KNN (its tie-breaking noise is drawn on the CPU for every
    device), K-means and merging at N = 16 384 tokens (a 512 x 512 image at
    stride 4) on CUDA equal the CPU's, each within 0.5 GiB of extra
    memory. The tokens are 256 tight, far-apart blobs: one cluster each,
    with margins far above float32 rounding."""
    x, _ = blobs(batch=1, per_blob=64, num_blobs=256, channels=64,
                 shuffle=False)
    cuda_x = x.cuda()
    runs = dict(dpc_knn=(lambda t: dpc_knn(t, 256)),
                kmeans=(lambda t: kmeans(t, 256)))
    for name, fn in runs.items():
        run = measure(lambda: fn(cuda_x), 'cuda')
        # the same clusters (DPC-KNN numbers them by the rank of their
        # centre's score, which float32 rounding may swap)
        assert same_partition(run.result.cpu(), fn(x)), name
        assert run.peak_bytes < 2**29, (name, run.peak_bytes / 2**30)
        weight = torch.rand(1, x.shape[1], 1)
        merged = merge_tokens(x, run.result.cpu(), 256, weight)[0]
        on_cuda = measure(lambda: merge_tokens(
            cuda_x, run.result, 256, weight.cuda())[0], 'cuda')
        torch.testing.assert_close(on_cuda.result.cpu(), merged, rtol=1e-5,
                                   atol=1e-5)
        assert on_cuda.peak_bytes < 2**29


def test_gpu_report_measures_on_cuda():
    """The GPU report's CUDA path at tiny sizes: every cell measured, the
    peak counts at least the weights, HLG's attention on a fused kernel."""
    report = run_report(dict(hlg=('mmseg', dict(type='mmhvit.HLG',
                                                arch=TINY_HLG)),
                             vit='vit-base'), ['ade20k'],
                        ['float16', 'float32'], 'cuda', tiny_sizes=True,
                        warmup=1, repeat=2, log=lambda _: None)
    for cell in report['cells']:
        assert cell.get('status') in (None, 'n/a'), cell
        if cell['mode'] != 'kernels':
            assert cell['images_per_s'] > 0
            weights = report['params'][cell['model']] * 2  # float16 at least
            assert cell['peak_bytes'] > weights, cell
    kernels = {c['model']: c['attention'] for c in report['cells']
               if c['mode'] == 'kernels'}
    assert {a['kernel'] for a in kernels['hlg']} <= {
        'flash', 'memory-efficient', 'cuDNN'}, kernels['hlg']


def needs_mmcv_cuda_ops():
    ops = mmcv_ops()
    if not ops.startswith('CUDA'):
        pytest.skip(f'mmcv was built without CUDA ops ({ops}): RoIAlign and '
                    'NMS of the detectors cannot run on CUDA tensors')


# one segmentation (Semantic FPN; HLG and SETR: SETR-PUP), Mask R-CNN and
# ImageNet config per family; AMP configs where they exist
TRAIN_CONFIGS = [
    'hat_net/fpn_hat-net-tiny_8xb2-amp-40k_ade20k-512x512.py',
    'hat_net/mask-rcnn_hat-net-tiny_fpn_amp-1x_coco.py',
    'hat_net/hat-net-tiny_8xb128_in1k.py',
    'hlg/setr-pup_hlg-small_8xb2-amp-160k_ade20k-512x512.py',
    'hlg/mask-rcnn_hlg-tiny_fpn_1x_coco.py',
    'hlg/hlg-tiny_8xb128_in1k.py',
    'setr/setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py',
    'clustr/fpn_clustr-small_8xb2-amp-80k_ade20k-512x512.py',
    'clustr/mask-rcnn_clustr-small_fpn_1x_coco.py',
    'clustr/clustr-tiny_8xb128_in1k.py',
    'hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py',
    'hafa/mask-rcnn_pvt-tiny-hafa_fpn_amp-1x_coco.py',
    'hafa/pvt-tiny-hafa_8xb128_in1k.py',
    'hafa/swin-tiny-hafa_8xb128_in1k.py',
]


def cls_batch(size=224, batch=2, num_classes=1000):
    from mmpretrain.structures import DataSample
    return dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
                for _ in range(batch)],
        data_samples=[DataSample().set_gt_label(i % num_classes)
                      for i in range(batch)])


def training_batch(cfg):
    """A batch of the config's task at its training size."""
    if cfg.default_scope == 'mmdet':
        return det_batch(size=512)
    if cfg.default_scope == 'mmpretrain':
        return cls_batch()
    return seg_batch(size=cfg.crop_size[0],
                     num_classes=cfg.model.decode_head.num_classes)


@pytest.mark.parametrize('config', TRAIN_CONFIGS)
def test_one_amp_training_iteration(config):
    """``model.train_step`` with ``AmpOptimWrapper`` (the config's dtype,
    else float16): finite losses, finite weights that moved (or a float16
    step the loss scaler skipped for overflowing gradients)."""
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', config))
    if cfg.default_scope == 'mmdet':
        needs_mmcv_cuda_ops()
    cfg.optim_wrapper.type = 'AmpOptimWrapper'  # dtype: the config's
    if cfg.get('data_preprocessor'):  # as mmengine's Runner does
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(0)
    model, cfg = build_from_config(cfg)
    model = model.cuda()
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.backbone.parameters()]
    scale = wrapper.loss_scaler.get_scale() if hasattr(
        wrapper, 'loss_scaler') else None
    log_vars = model.train_step(training_batch(cfg), wrapper)
    assert all(torch.isfinite(torch.as_tensor(v)).all()
               for v in log_vars.values()), log_vars
    after = list(model.backbone.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    moved = any(not torch.equal(a, b) for a, b in zip(after, before))
    skipped = scale is not None and wrapper.loss_scaler.get_scale() < scale
    assert moved or skipped


@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason=f'needs 2 CUDA devices, found '
                    f'{torch.cuda.device_count()}')
def test_two_nccl_processes_match_one(tmp_path):
    """``dist_train.sh`` with 2 GPU processes x batch 2 (NCCL) reaches the
    weights of 1 process x batch 4, as the CPU / gloo test in test_e2e.py;
    the tolerance allows the TF32 convolutions of cuDNN's default."""
    train_one_and_two_processes(tmp_path, 'env_cfg.dist_cfg.backend=nccl')
    assert_same_weights(tmp_path / 'one' / 'iter_3.pth',
                        tmp_path / 'two' / 'iter_3.pth', rtol=1e-3,
                        atol=1e-5)
