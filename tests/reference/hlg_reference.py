"""Independent, deliberately naive pieces of HLG for the tests.

``local_global_reference`` computes one local-global attention (HLG paper
Eqs. 4-9) token by token in Python: each window is the list of its *real*
tokens (no padding, no masks), position biases are evaluated by calling the
bias MLP on each offset, the window embedding is the mean of its members and
a window's position is the centroid of its members. ``official_hlg_shapes``
lists the keys of the official HLG state dict (fudan-zvg/SETR,
``mmseg/models/backbones/hlg.py``) with their shapes, written from that
file's module structure.
"""
import math

import torch
import torch.nn.functional as F


def _bias(mlp, dy, dx):
    """The bias MLP at one offset: ``(heads,)``."""
    offset = torch.tensor([float(dy), float(dx)],
                          dtype=mlp.pos_proj.weight.dtype)
    return mlp.pos3(mlp.pos2(mlp.pos1(mlp.pos_proj(offset))))


def windows_of(height, width, size, dilated):
    """Members ``(i, j, p, s)`` of each window: map position and position
    inside the ``R x R`` window, real tokens only."""
    gh, gw = -(-height // size), -(-width // size)
    windows = []
    for a in range(gh):
        for b in range(gw):
            members = []
            for p in range(size):
                for s in range(size):
                    if dilated:
                        i, j = a + p * gh, b + s * gw
                    else:
                        i, j = a * size + p, b * size + s
                    if i < height and j < width:
                        members.append((i, j, p, s))
            windows.append(members)
    return windows


def _attend(query, keys, values, biases):
    logits = torch.stack([
        query @ key / math.sqrt(query.numel()) + bias
        for key, bias in zip(keys, biases)
    ])
    weights = torch.softmax(logits, 0)
    return sum(w * v for w, v in zip(weights, values))


def local_global_reference(attn, x):
    """``attn``: a ``LocalGlobalAttention``; ``x``: ``(H, W, C)``.

    Returns ``Z_L`` and the global update, both ``(H, W, C)``.
    """
    height, width, channels = x.shape
    heads, size = attn.num_heads, attn.window_size
    d = channels // heads
    normed = attn.norm(x)
    q, k, v = attn.q(normed), attn.k(normed), attn.v(normed)
    windows = windows_of(height, width, size, attn.dilated)

    local = torch.zeros_like(x)
    for members in windows:
        for i, j, p, s in members:
            biases = [_bias(attn.local_bias, p - p2, s - s2)
                      for _, _, p2, s2 in members]
            for h in range(heads):
                sl = slice(h * d, (h + 1) * d)
                local[i, j, sl] = _attend(
                    q[i, j, sl], [k[i2, j2, sl] for i2, j2, _, _ in members],
                    [v[i2, j2, sl] for i2, j2, _, _ in members],
                    [b[h] for b in biases])
    z_local = x + local

    embeddings = attn.window_norm(torch.stack([
        torch.stack([z_local[i, j] for i, j, _, _ in m]).mean(0)
        for m in windows
    ]))
    centres = [(sum(i for i, *_ in m) / len(m), sum(j for _, j, *_ in m) /
                len(m)) for m in windows]
    k_g, v_g = attn.k(embeddings), attn.v(embeddings)
    conv = attn.query_conv
    q_global = q + F.conv2d(v.permute(2, 0, 1)[None], conv.weight, conv.bias,
                            padding=1, groups=channels)[0].permute(1, 2, 0)
    out = torch.zeros_like(x)
    for i in range(height):
        for j in range(width):
            biases = [_bias(attn.global_bias, i - cy, j - cx)
                      for cy, cx in centres]
            for h in range(heads):
                sl = slice(h * d, (h + 1) * d)
                out[i, j, sl] = _attend(q_global[i, j, sl], k_g[:, sl],
                                        v_g[:, sl], [b[h] for b in biases])
    return z_local, attn.proj(out)


def official_hlg_shapes(dims, heads, depths, num_classes=None):
    """Keys and shapes of an official HLG state dict (dense layout with
    ``norm_out_*``; with ``num_classes``, the classification head too)."""
    shapes = {}

    def norm(name, c, batch=False):
        shapes[f'{name}.weight'] = shapes[f'{name}.bias'] = (c, )
        if batch:
            shapes[f'{name}.running_mean'] = shapes[f'{name}.running_var'] = (
                c, )
            shapes[f'{name}.num_batches_tracked'] = ()

    def conv(name, c_out, c_in, k, bias=True):
        shapes[f'{name}.weight'] = (c_out, c_in, k, k)
        if bias:
            shapes[f'{name}.bias'] = (c_out, )

    def linear(name, c_out, c_in):
        shapes[f'{name}.weight'] = (c_out, c_in)
        shapes[f'{name}.bias'] = (c_out, )

    def dpb(name, c, h):
        pos = c // 16
        linear(f'{name}.pos_proj', pos, 2)
        for i in (1, 2):
            norm(f'{name}.pos{i}.0', pos)
            linear(f'{name}.pos{i}.2', pos, pos)
        norm(f'{name}.pos3.0', pos)
        linear(f'{name}.pos3.2', h, pos)

    c1 = dims[0]
    conv('s0_conv.0.0', c1, 3, 3, bias=False)
    norm('s0_conv.0.1', c1, batch=True)
    conv('s0_conv.1.0', c1, c1, 3, bias=False)
    norm('s0_conv.1.1', c1, batch=True)
    for s, (c, h, depth) in enumerate(zip(dims, heads, depths)):
        for i in range(depth):
            cin = (dims[s - 1] if s else c1) if i == 0 else c
            hidden = 4 * cin
            p = f'block{s + 1}.{i}'
            if i == 0:
                conv(f'{p}.down_proj.proj.0', c, 1, 3)
                norm(f'{p}.down_proj.proj.1', c, batch=True)
            conv(f'{p}.mlp.fc1', hidden, cin, 1)
            norm(f'{p}.mlp.norm1', hidden, batch=True)
            conv(f'{p}.mlp.fc2', hidden, 1, 3)
            norm(f'{p}.mlp.norm2', hidden, batch=True)
            conv(f'{p}.mlp.fc3', c, hidden, 1)
            for name in ('q', 'k', 'v', 'global_attn.proj'):
                linear(f'{p}.{name}', c, c)
            dpb(f'{p}.pos_global', c, h)
            norm(f'{p}.norm1', c)
            norm(f'{p}.norm2', c)
            if s < 3:
                conv(f'{p}.aux_q', c, 1, 3)
                norm(f'{p}.norm0', c)
                norm(f'{p}.h0_norm', c)
                dpb(f'{p}.pos_local', c, h)
                conv(f'{p}.spatial_smooth.0.0', c // 4, c, 1)
                norm(f'{p}.spatial_smooth.0.1', c // 4, batch=True)
                conv(f'{p}.spatial_smooth.0.3', c // 4, c // 4, 3)
                norm(f'{p}.spatial_smooth.0.4', c // 4, batch=True)
                conv(f'{p}.spatial_smooth.0.6', c, c // 4, 1)
                norm(f'{p}.spatial_smooth.0.7', c, batch=True)
    norm('norm', dims[3])
    for s in range(3):
        norm(f'norm_out_{s}', dims[s])
    if num_classes:
        linear('head', num_classes, dims[3])
    return shapes
