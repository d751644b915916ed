"""Timing backbones or whole models: the named backbones of mmhvit and the
upstream peers users compare them with, models of configs and external
models built by a factory in a Python file, one step at a time.

Used by ``tools/analysis_tools/benchmark.py`` (latency side by side, on
any device) and :mod:`mmhvit.analysis.gpu_report` (training and inference
throughput and memory at the papers' training settings).
"""
import contextlib
import importlib.util
import math
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config

from .model_zoo import build_from_config, model_forward

# HAT-Net's grids for dense prediction (configs/hat_net, paper Sec. 4.3)
_HAT_NET_DENSE = dict(grid_sizes=(8, 8, 8, 1), pool_sizes=(16, 8, 4, 1))


def _archs(name, scope, type_, archs, **settings):
    """``{name.format(arch): (scope, backbone config)}`` for each arch."""
    return {
        name.format(arch): (scope, dict(type=type_, arch=arch, **settings))
        for arch in archs
    }


def _vit(embed_dims, num_layers, num_heads, out_indices):
    """mmseg's ``VisionTransformer`` as SETR's encoders use it."""
    return ('mmseg', dict(type='VisionTransformer', img_size=(224, 224),
                          embed_dims=embed_dims, num_layers=num_layers,
                          num_heads=num_heads, out_indices=out_indices))


def _pvt(num_layers, **settings):
    return ('mmdet', dict(type='PyramidVisionTransformer',
                          num_layers=num_layers, **settings))


def _pvtv2(num_layers):
    return ('mmdet', dict(type='PyramidVisionTransformerV2', embed_dims=64,
                          num_layers=num_layers))


# name -> (registry scope, backbone config): every paper arch of mmhvit with
# the dense-task settings of its family (grids / windows of segmentation
# and detection), then the upstream peers.
BACKBONES = {
    **_archs('hat_net-{}', 'mmseg', 'mmhvit.HATNet',
             ('tiny', 'small', 'medium', 'large'), **_HAT_NET_DENSE),
    **_archs('hlg-{}', 'mmseg', 'mmhvit.HLG',
             ('mobile', 'tiny', 'small', 'medium', 'large')),
    **_archs('clustr-{}', 'mmseg', 'mmhvit.ClusTR', ('tiny', 'small', 'base')),
    # clustering within windows of 16 x 16 tokens in stages 1-2: linear in
    # pixels (exact DPC-KNN is quadratic in the token count)
    'clustr-tiny-windowed': ('mmseg', dict(
        type='mmhvit.ClusTR', arch='tiny',
        clustering=dict(method='dpc_knn', k=5,
                        window_sizes=(16, 16, None, None)))),
    **_archs('pvt-{}-hafa', 'mmdet', 'mmhvit.PVTHAFA',
             ('tiny', 'small', 'large')),
    **_archs('pvtv2-{}-hafa', 'mmdet', 'mmhvit.PVTv2HAFA', ('b1', 'b2')),
    **_archs('swin-{}-hafa', 'mmdet', 'mmhvit.SwinHAFA', ('tiny', )),
    # upstream peers
    'pvt-tiny': _pvt([2, 2, 2, 2]),
    'pvt-small': _pvt([3, 4, 6, 3]),
    'pvt-large': _pvt([3, 8, 27, 3]),
    'pvtv2-b1': _pvtv2([2, 2, 2, 2]),
    'pvtv2-b2': _pvtv2([3, 4, 6, 3]),
    'swin-tiny': ('mmpretrain', dict(type='SwinTransformer', arch='tiny',
                                     out_indices=(0, 1, 2, 3))),
    'vit-base': _vit(768, 12, 12, (2, 5, 8, 11)),
    'vit-large': _vit(1024, 24, 16, (9, 14, 19, 23)),
}
PEERS = ('pvt-tiny', 'pvtv2-b1', 'swin-tiny', 'vit-base')


def is_peer(name):
    """Whether ``name`` of :data:`BACKBONES` is an upstream backbone."""
    return not BACKBONES[name][1]['type'].startswith('mmhvit.')


def load_callable(spec):
    """``NAME=FILE:FUNCTION`` -> (NAME, ``FUNCTION`` of that Python
    file)."""
    name, sep, target = spec.partition('=')
    path, _, function = target.rpartition(':')
    if not (sep and path and function and osp.isfile(path)):
        raise SystemExit(f'--external {spec!r}: expected NAME=FILE:FUNCTION '
                         'with an existing Python FILE.')
    module_spec = importlib.util.spec_from_file_location(
        f'external_{name.replace("-", "_")}', path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, osp.dirname(osp.abspath(path)))
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, function, None)):
        raise SystemExit(f'--external {spec!r}: {path} has no callable '
                         f'{function!r}.')
    return name, getattr(module, function)


def load_external(spec):
    """``NAME=FILE:FACTORY`` -> (NAME, the module ``FACTORY()`` builds)."""
    name, factory = load_callable(spec)
    return name, factory()


def check_names(names):
    """Stop with a message unless every name is a config file or one of
    :data:`BACKBONES`."""
    for name in names:
        if name not in BACKBONES and not osp.isfile(name):
            raise SystemExit(f'{name!r} is neither a config file nor one of '
                             f'{sorted(BACKBONES)}.')


def build(model, device, whole=False, **backbone_options):
    """A callable ``fn(inputs)`` running the model, and its ``nn.Module``.

    Args:
        model: A name of :data:`BACKBONES`, a ``(scope, backbone config)``
            pair as its values are, a config file or an ``nn.Module``
            (used as it is).
        device: Where the model goes.
        whole (bool): The whole network of a config, not its backbone.
        **backbone_options: Backbone arguments on top of the named or
            configured ones, e.g. ``with_cp=True``.
    """
    if isinstance(model, torch.nn.Module):
        if backbone_options:
            raise TypeError('a model that is already built takes no '
                            f'{", ".join(backbone_options)}')
        return model.to(device), model
    if isinstance(model, str) and model in BACKBONES:
        model = BACKBONES[model]
    if isinstance(model, tuple):
        scope, cfg = model
        registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
        module = registry.MODELS.build(
            dict(cfg, _scope_=scope, **backbone_options))
        return module.to(device), module
    cfg = Config.fromfile(model)
    cfg.model.backbone.update(backbone_options)
    network, cfg = build_from_config(cfg)
    network = network.to(device)
    if whole:
        return (lambda x: model_forward(network, cfg.default_scope, x),
                network)
    return network.backbone, network.backbone


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device, dtype=None):
    """``torch.autocast`` to ``dtype`` on ``device``; no autocast for None
    or float32."""
    if dtype in (None, torch.float32):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def output_loss(outs):
    """A scalar depending on every output tensor: the sum of their means,
    in float32."""
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return sum(o.float().mean() for o in outs if torch.is_tensor(o))


def step(fn, module, inputs, mode, dtype=None):
    """One forward (no gradients) or one training step's forward and
    backward, under autocast to ``dtype`` (None: float32)."""
    with autocast(inputs.device, dtype):
        if mode == 'forward':
            with torch.no_grad():
                return fn(inputs)
        loss = output_loss(fn(inputs))
    loss.backward()
    module.zero_grad(set_to_none=True)


def timed(fn, device):
    """Seconds ``fn()`` takes, the device synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def latencies(models, inputs, mode, warmup, repeat, dtype=None):
    """Median seconds of a step per ``(fn, module)`` model, taking turns
    round by round so that machine load affects all alike."""
    for fn, module in models:
        module.train(mode == 'train')
        for _ in range(warmup):
            step(fn, module, inputs, mode, dtype)
    times = [[] for _ in models]
    for _ in range(repeat):
        for (fn, module), record in zip(models, times):
            record.append(timed(lambda: step(fn, module, inputs, mode, dtype),
                                inputs.device))
    return [statistics.median(t) for t in times]


def matmul_rate(device, size=2048, repeat=10):
    """MACs per second of a plain square matmul on ``device``."""
    a = torch.rand(size, size, device=device)
    a @ a
    seconds = timed(lambda: [a @ a for _ in range(repeat)], device)
    return repeat * size**3 / seconds


def fit_exponent(pixels, seconds):
    """Least-squares slope of log(seconds) against log(pixels)."""
    xs, ys = [math.log(p) for p in pixels], [math.log(s) for s in seconds]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum(
        (x - mx)**2 for x in xs)
