"""Random state dicts in the official SETR key layout and an independent,
functional SETR forward pass on them, for the tests of
tools/model_converters/setr2mmhvit.py.

Written from the facts about the official code (fudan-zvg/SETR, mmseg 0.x:
``VisionTransformer``, ``VIT_MLA``, ``VisionTransformerUpHead``,
``VIT_MLAHead``, ``VIT_MLA_AUXIHead``) in design/model_facts.md §2: timm-style
pre-LN blocks with a fused ``qkv`` Linear and LayerNorm eps 1e-6; BNs here
are in eval mode. Sizes are free (the official hidden widths are 256 / 128).
"""
import torch
import torch.nn.functional as F

LN_EPS = 1e-6


def random_official_state_dict(decoder,
                               dims=64,
                               depth=4,
                               grid=4,
                               num_classes=19,
                               channels=16,
                               mla_head_channels=8,
                               seed=0):
    """Official keys and random tensors of a SETR ``decoder`` ('naive',
    'pup' or 'mla') model with ``depth`` blocks of ``dims`` channels and a
    ``grid`` x ``grid`` position embedding, including the dead ``conv_seg``
    of every head (mmseg 0.x ``BaseDecodeHead``, 512 channels)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}

    def rand(*shape, scale=0.2):
        return torch.randn(*shape, generator=gen) * scale

    def affine(name, c):  # LayerNorm / BN weight and bias
        sd[f'{name}.weight'] = 1 + rand(c)
        sd[f'{name}.bias'] = rand(c)

    def bn(name, c):
        affine(name, c)
        sd[f'{name}.running_mean'] = rand(c)
        sd[f'{name}.running_var'] = 0.5 + torch.rand(c, generator=gen)
        sd[f'{name}.num_batches_tracked'] = torch.tensor(100)

    def conv(name, c_out, c_in, k, bias=True):
        sd[f'{name}.weight'] = rand(
            c_out, c_in, k, k, scale=(c_in * k * k)**-0.5)
        if bias:
            sd[f'{name}.bias'] = rand(c_out)

    def linear(name, c_out, c_in):
        sd[f'{name}.weight'] = rand(c_out, c_in, scale=c_in**-0.5)
        sd[f'{name}.bias'] = rand(c_out)

    conv('backbone.patch_embed.proj', dims, 3, 16)
    sd['backbone.cls_token'] = rand(1, 1, dims)
    sd['backbone.pos_embed'] = rand(1, 1 + grid * grid, dims)
    for i in range(depth):
        p = f'backbone.blocks.{i}'
        affine(f'{p}.norm1', dims)
        linear(f'{p}.attn.qkv', 3 * dims, dims)
        linear(f'{p}.attn.proj', dims, dims)
        affine(f'{p}.norm2', dims)
        linear(f'{p}.mlp.fc1', 4 * dims, dims)
        linear(f'{p}.mlp.fc2', dims, 4 * dims)

    def up_head(p, num_conv, kernel):
        affine(f'{p}.norm', dims)
        conv(f'{p}.conv_seg', num_classes, 512, 1)  # dead
        for j in range(num_conv - 1):
            conv(f'{p}.conv_{j}', channels, channels if j else dims,
                 kernel if j == 0 else 3)
            bn(f'{p}.syncbn_fc_{j}', channels)
        conv(f'{p}.conv_{num_conv - 1}', num_classes, channels, 1)

    if decoder == 'naive':
        up_head('decode_head', 2, 1)
        for i in range(3):
            up_head(f'auxiliary_head.{i}', 2, 1)
    elif decoder == 'pup':
        up_head('decode_head', 5, 3)
        for i in range(4):
            up_head(f'auxiliary_head.{i}', 2, 3)
    else:
        for i in range(4):
            affine(f'backbone.norm_{i}', dims)
        for k in range(2, 6):
            conv(f'backbone.mla.mla_p{k}_1x1.0', channels, dims, 1, False)
            bn(f'backbone.mla.mla_p{k}_1x1.1', channels)
            conv(f'backbone.mla.mla_p{k}.0', channels, channels, 3, False)
            bn(f'backbone.mla.mla_p{k}.1', channels)
            head = f'decode_head.mlahead.head{k}'
            conv(f'{head}.0', mla_head_channels, channels, 3, False)
            bn(f'{head}.1', mla_head_channels)
            conv(f'{head}.3', mla_head_channels, mla_head_channels, 3, False)
            bn(f'{head}.4', mla_head_channels)
        conv('decode_head.cls', num_classes, 4 * mla_head_channels, 3)
        conv('decode_head.conv_seg', num_classes, 512, 1)  # dead
        for i in range(4):
            conv(f'auxiliary_head.{i}.aux', num_classes, channels, 1, False)
            conv(f'auxiliary_head.{i}.conv_seg', num_classes, 512, 1)  # dead
    return sd


def _layer_norm(sd, name, x):
    return F.layer_norm(x, x.shape[-1:], sd[f'{name}.weight'],
                        sd[f'{name}.bias'], LN_EPS)


def _conv(sd, name, x):
    weight = sd[f'{name}.weight']
    return F.conv2d(
        x, weight, sd.get(f'{name}.bias'), padding=weight.shape[-1] // 2)


def _bn_relu(sd, name, x):
    return F.relu(
        F.batch_norm(x, sd[f'{name}.running_mean'], sd[f'{name}.running_var'],
                     sd[f'{name}.weight'], sd[f'{name}.bias']))


def _up(x, factor, align_corners=False):
    return F.interpolate(
        x, scale_factor=factor, mode='bilinear', align_corners=align_corners)


def block(sd, prefix, x, num_heads):
    """One official pre-LN transformer block on tokens ``x`` (B, N, C)."""
    b, n, c = x.shape
    qkv = F.linear(
        _layer_norm(sd, f'{prefix}.norm1', x), sd[f'{prefix}.attn.qkv.weight'],
        sd[f'{prefix}.attn.qkv.bias'])
    q, k, v = qkv.reshape(b, n, 3, num_heads,
                          c // num_heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1) * (c // num_heads)**-0.5).softmax(-1)
    out = (attn @ v).transpose(1, 2).reshape(b, n, c)
    x = x + F.linear(out, sd[f'{prefix}.attn.proj.weight'],
                     sd[f'{prefix}.attn.proj.bias'])
    hidden = F.gelu(
        F.linear(
            _layer_norm(sd, f'{prefix}.norm2', x),
            sd[f'{prefix}.mlp.fc1.weight'], sd[f'{prefix}.mlp.fc1.bias']))
    return x + F.linear(hidden, sd[f'{prefix}.mlp.fc2.weight'],
                        sd[f'{prefix}.mlp.fc2.bias'])


def backbone_maps(sd, img, num_heads, with_cls_token=True):
    """Every block's output of the official backbone as (B, C, h, w) maps
    (class token removed), for an input at the stored position grid."""
    x = F.conv2d(
        img,
        sd['backbone.patch_embed.proj.weight'],
        sd['backbone.patch_embed.proj.bias'],
        stride=16)
    b, c, h, w = x.shape
    x = torch.cat([
        sd['backbone.cls_token'].expand(b, -1, -1),
        x.flatten(2).transpose(1, 2)
    ], 1) + sd['backbone.pos_embed']
    if not with_cls_token:  # VIT_MLA drops it after the position embedding
        x = x[:, 1:]
    maps, i = [], 0
    while f'backbone.blocks.{i}.norm1.weight' in sd:
        x = block(sd, f'backbone.blocks.{i}', x, num_heads)
        tokens = x[:, 1:] if with_cls_token else x
        maps.append(tokens.transpose(1, 2).reshape(b, c, h, w))
        i += 1
    return maps


def up_head(sd, prefix, feat):
    """VisionTransformerUpHead before its final resize to the image size:
    LayerNorm, then conv + BN + ReLU (+ x2 between PUP steps), classifier.
    Naive / PUP-aux heads (two convs) return classifier logits upsampled x4;
    the PUP head (five convs) returns its x16 logits."""
    x = _layer_norm(sd, f'{prefix}.norm', feat.permute(0, 2, 3,
                                                       1)).permute(0, 3, 1, 2)
    if f'{prefix}.conv_4.weight' in sd:
        for j in range(4):
            x = _bn_relu(sd, f'{prefix}.syncbn_fc_{j}',
                         _conv(sd, f'{prefix}.conv_{j}', x))
            x = _up(x, 2) if j < 3 else x
        return _up(_conv(sd, f'{prefix}.conv_4', x), 2)
    x = _bn_relu(sd, f'{prefix}.syncbn_fc_0', _conv(sd, f'{prefix}.conv_0', x))
    # Naive: the official head classifies, then upsamples x16 at once;
    # x4 here (bilinear resizing commutes with a 1x1 conv)
    return _up(_conv(sd, f'{prefix}.conv_1', x), 4)


def mla_neck(sd, maps):
    """VIT_MLA's LayerNorms + Conv_MLA on the four selected block outputs:
    returns (p2, p3, p4, p5)."""
    c2, c3, c4, c5 = [
        _layer_norm(sd, f'backbone.norm_{i}',
                    m.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        for i, m in enumerate(maps)
    ]

    def proj(k, x):
        return _bn_relu(sd, f'backbone.mla.mla_p{k}_1x1.1',
                        _conv(sd, f'backbone.mla.mla_p{k}_1x1.0', x))

    p5 = proj(5, c5)
    p4 = p5 + proj(4, c4)
    p3 = p4 + proj(3, c3)
    p2 = p3 + proj(2, c2)
    return tuple(
        _bn_relu(sd, f'backbone.mla.mla_p{k}.1',
                 _conv(sd, f'backbone.mla.mla_p{k}.0', p))
        for k, p in zip(range(2, 6), (p2, p3, p4, p5)))


def mla_head_streams(sd, ps):
    """VIT_MLAHead's two 3x3 conv + BN + ReLU per stream (before its x4
    upsampling), for (p2, p3, p4, p5)."""
    outs = []
    for k, x in zip(range(2, 6), ps):
        head = f'decode_head.mlahead.head{k}'
        x = _bn_relu(sd, f'{head}.1', _conv(sd, f'{head}.0', x))
        outs.append(_bn_relu(sd, f'{head}.4', _conv(sd, f'{head}.3', x)))
    return outs


def mla_head(sd, ps, align_corners=True):
    """The whole VIT_MLAHead before its final resize to the image size: each
    stream's convs, x4 (official: ``align_corners=True``), concatenation
    (p2..p5 order) and the 3x3 classifier ``cls`` (bias, padding 1)."""
    up = [_up(x, 4, align_corners) for x in mla_head_streams(sd, ps)]
    return _conv(sd, 'decode_head.cls', torch.cat(up, 1))


def mla_aux(sd, index, p):
    """VIT_MLA_AUXIHead ``index`` on its stream, before the resize."""
    return _conv(sd, f'auxiliary_head.{index}.aux', p)
