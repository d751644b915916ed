"""An independent, deliberately naive HAT-Net forward pass for the tests.

It reads the paper (Sec. 3.2-3.3, Tab. 1) plus the official code's facts
that the paper omits (GroupNorm(1) everywhere, GN on ``X + A1``), works on a
state dict in the *official* key layout, and loops over windows and heads in
Python. Windows and pooling cells at the border of a map that is not
divisible are simply clipped, which is what padding with masked keys and
``ceil_mode`` pooling must reproduce.
"""
import math

import torch
import torch.nn.functional as F

ARCHS = {
    'tiny': dict(dims=(48, 96, 240, 384), depths=(2, 2, 6, 3), head_dim=48,
                 ratios=(8, 8, 4, 4), kernels=(3, 3, 3, 3)),
    'small': dict(dims=(64, 128, 320, 512), depths=(2, 3, 8, 3), head_dim=64,
                  ratios=(8, 8, 4, 4), kernels=(3, 3, 3, 3)),
    'medium': dict(dims=(64, 128, 320, 512), depths=(3, 6, 18, 3),
                   head_dim=64, ratios=(8, 8, 4, 4), kernels=(5, 3, 5, 3)),
    'large': dict(dims=(64, 128, 320, 640), depths=(3, 8, 27, 3), head_dim=64,
                  ratios=(8, 8, 4, 4), kernels=(3, 3, 3, 3)),
}


def official_shapes(arch, grid_sizes=(8, 7, 7, 1), num_classes=1000):
    """Keys and shapes of an official ``HAT_Net`` state dict."""
    dims, shapes = arch['dims'], {}

    def norm(name, c):
        shapes[f'{name}.weight'] = (c, )
        shapes[f'{name}.bias'] = (c, )

    shapes['patch_embed.0.weight'] = (16, 3, 3, 3)
    shapes['patch_embed.0.bias'] = (16, )
    norm('patch_embed.1', 16)
    shapes['patch_embed.3.weight'] = (dims[0], 16, 3, 3)
    shapes['patch_embed.3.bias'] = (dims[0], )
    for s, (c, depth) in enumerate(zip(dims, arch['depths'])):
        hidden, k = c * arch['ratios'][s], arch['kernels'][s]
        for i in range(depth):
            p = f'blocks.{s}.{i}'
            norm(f'{p}.attn.norm', c)
            norm(f'{p}.attn.proj_norm', c)
            for name, out in (('qkv', 3 * c), ('proj', c)) + (
                    (('q', c), ('kv', 2 * c)) if grid_sizes[s] > 1 else ()):
                shapes[f'{p}.attn.{name}.weight'] = (out, c, 1, 1)
                shapes[f'{p}.attn.{name}.bias'] = (out, )
            if grid_sizes[s] > 1:
                norm(f'{p}.attn.grid_norm', c)
                norm(f'{p}.attn.ds_norm', c)
            norm(f'{p}.conv.conv1.0', c)
            shapes[f'{p}.conv.conv1.1.weight'] = (hidden, c, 1, 1)
            shapes[f'{p}.conv.conv2.0.weight'] = (hidden, 1, k, k)
            shapes[f'{p}.conv.conv3.0.weight'] = (c, hidden, 1, 1)
            norm(f'{p}.conv.conv3.1', c)
        if s:
            shapes[f'ds{s + 1}.conv.weight'] = (c, dims[s - 1], 3, 3)
            shapes[f'ds{s + 1}.conv.bias'] = (c, )
            norm(f'ds{s + 1}.norm', c)
    shapes['classifier.1.weight'] = (num_classes, dims[-1])
    shapes['classifier.1.bias'] = (num_classes, )
    return shapes


def random_official_state_dict(arch, seed=0, **kwargs):
    """Random weights with norms around 1, so every tensor matters."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_shapes(arch, **kwargs).items():
        value = torch.randn(shape, generator=gen)
        if len(shape) > 1:  # conv / linear weight, scaled by fan-in
            value = value / math.sqrt(value[0].numel())
        elif key.endswith('.weight'):  # norm scale
            value = 1 + 0.1 * value
        else:  # bias
            value = 0.1 * value
        state[key] = value
    return state


def _gn(x, p, name):
    return F.group_norm(x, 1, p[f'{name}.weight'], p[f'{name}.bias'], 1e-6)


def _conv(x, p, name, **kwargs):
    return F.conv2d(x, p[f'{name}.weight'], p.get(f'{name}.bias'), **kwargs)


def _attend(q, k, v, num_heads):
    """q (N, C), k/v (M, C): softmax(q k^T / sqrt(d)) v, head by head."""
    out = []
    for qh, kh, vh in zip(q.chunk(num_heads, 1), k.chunk(num_heads, 1),
                          v.chunk(num_heads, 1)):
        weights = torch.softmax(qh @ kh.T / math.sqrt(qh.shape[1]), dim=-1)
        out.append(weights @ vh)
    return torch.cat(out, dim=1)


def _tokens(x):
    """(C, h, w) -> (h*w, C)."""
    return x.flatten(1).T


def _local_attention(qkv, num_heads, grid):
    """Attention inside each (border-clipped) G x G window of one image."""
    q, k, v = qkv.chunk(3, dim=0)
    out = torch.zeros_like(q)
    _, h, w = q.shape
    for y in range(0, h, grid):
        for x in range(0, w, grid):
            win = (slice(None), slice(y, y + grid), slice(x, x + grid))
            res = _attend(_tokens(q[win]), _tokens(k[win]), _tokens(v[win]),
                          num_heads)
            out[win] = res.T.reshape(out[win].shape)
    return out


def _avg_pool_clipped(x, size):
    """Mean of every (border-clipped) size x size cell of a (C, h, w) map."""
    _, h, w = x.shape
    rows = []
    for y in range(0, h, size):
        rows.append(torch.stack([
            x[:, y:y + size, xx:xx + size].mean(dim=(1, 2))
            for xx in range(0, w, size)
        ], dim=-1))
    return torch.stack(rows, dim=-2)


def _hmhsa(x, p, name, num_heads, grid, pool):
    qkv = _conv(_gn(x, p, f'{name}.norm'), p, f'{name}.qkv')
    if grid == 1:
        q, k, v = (_tokens(t) for t in qkv[0].chunk(3, dim=0))
        out = _attend(q, k, v, num_heads).T.reshape(x.shape)
    else:
        local = _local_attention(qkv[0], num_heads, grid)[None]
        a1 = _gn(x + local, p, f'{name}.grid_norm')  # Eq. 9 (+ GN)
        pooled = _avg_pool_clipped(a1[0], pool)[None]  # Eq. 10
        kv = _conv(_gn(pooled, p, f'{name}.ds_norm'), p, f'{name}.kv')[0]
        k, v = (_tokens(t) for t in kv.chunk(2, dim=0))
        q = _tokens(_conv(a1, p, f'{name}.q')[0])
        a2 = _attend(q, k, v, num_heads).T.reshape(x.shape)  # Eqs. 12-13
        out = a1 + a2
    return _conv(out, p, f'{name}.proj')  # Eq. 14 without the residual


def _mlp(x, p, name, kernel):
    h = F.silu(_conv(_gn(x, p, f'{name}.conv1.0'), p, f'{name}.conv1.1'))
    h = F.silu(_conv(h, p, f'{name}.conv2.0', padding=kernel // 2,
                     groups=h.shape[1]))
    return _gn(_conv(h, p, f'{name}.conv3.0'), p, f'{name}.conv3.1')


def reference_forward(p, image, arch, grid_sizes, pool_sizes):
    """One image ``(1, 3, H, W)`` -> (stage outputs, logits)."""
    x = _conv(image, p, 'patch_embed.0', stride=2, padding=1)
    x = F.silu(_gn(x, p, 'patch_embed.1'))
    x = _conv(x, p, 'patch_embed.3', stride=2, padding=1)
    outs = []
    for s, depth in enumerate(arch['depths']):
        if s:
            x = _gn(_conv(x, p, f'ds{s + 1}.conv', stride=2, padding=1), p,
                    f'ds{s + 1}.norm')
        heads = arch['dims'][s] // arch['head_dim']
        for i in range(depth):
            name = f'blocks.{s}.{i}'
            x = x + _hmhsa(x, p, f'{name}.attn', heads, grid_sizes[s],
                           pool_sizes[s])
            x = x + _mlp(x, p, f'{name}.conv', arch['kernels'][s])
        outs.append(x)
    logits = F.linear(x.mean(dim=(2, 3)), p['classifier.1.weight'],
                      p['classifier.1.bias'])
    return outs, logits
