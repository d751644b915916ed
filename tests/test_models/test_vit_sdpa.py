"""SDPAVisionTransformer: mmseg's ViT with the attention of
scaled_dot_product_attention and its LayerNorms and GELU recomputed in
backward. Same parameters, state dict and outputs as mmseg's (float32,
train and eval mode, dropout and drop path on), no N x N attention and no
norm or activation output kept for backward (the SETR configs using it:
tests/test_configs.py)."""
import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from mmhvit.analysis.attention import AttentionRecorder
from mmhvit.analysis.training_memory import saved_bytes
from mmhvit.models import SDPAVisionTransformer
from helpers import assert_same_outputs_and_grads

pytestmark = pytest.mark.setr  # the ViT / DeiT encoder of SETR's configs

TINY = dict(img_size=(64, 48), patch_size=8, embed_dims=32, num_layers=3,
            num_heads=4, out_indices=(0, 2), final_norm=True)


def pair(**options):
    """mmseg's ViT and ours, built from the same seed."""
    models = []
    for cls in (VisionTransformer, SDPAVisionTransformer):
        torch.manual_seed(0)
        models.append(cls(**TINY, **options))
    return models


def test_same_parameters_names_and_initialisation():
    theirs, ours = pair(patch_bias=True)
    for model in (theirs, ours):
        torch.manual_seed(1)
        model.init_weights()
    theirs_state, ours_state = theirs.state_dict(), ours.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert torch.equal(ours_state[key], value), key


@pytest.mark.parametrize('train', [True, False])
@pytest.mark.parametrize('with_cls_token', [True, False])
def test_outputs_and_gradients_match_mmseg(train, with_cls_token):
    """Loaded with mmseg's weights (strictly), the same outputs and
    gradients to 1e-5; another input size than the position embeddings'
    (resized), dropout 0 for the comparison."""
    theirs, ours = pair(with_cls_token=with_cls_token)
    theirs.init_weights()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    images = torch.randn(2, 3, 56, 72)
    results = []
    for model in (theirs, ours):
        model.train(train)
        outs = model(images)
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum()
            for o in outs).backward()
        results.append((outs, {n: p.grad for n, p in model.named_parameters()
                               }))
    (their_outs, their_grads), (our_outs, our_grads) = results
    assert_same_outputs_and_grads(their_outs, their_grads, our_outs,
                                  our_grads)


def gradients_of(model, images, seed=None):
    """Outputs and parameter gradients of a weighted sum of ``model``'s
    outputs (training mode; RNG seeded first where ``seed`` is given)."""
    model.train()
    if seed is not None:
        torch.manual_seed(seed)
    outs = model(images)
    sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum()
        for o in outs).backward()
    return outs, {n: p.grad for n, p in model.named_parameters()}


def test_dropout_and_drop_path_match_mmseg():
    """With dropout after the projections and in the FFN, and drop path,
    the same random draws in the same order as mmseg's: the same outputs
    and gradients from the same seed (the FFN then keeps its activation
    output, as the dropout after it needs). Batch 1: mmcv's attention
    draws its projection dropout in (N, B, C) memory order."""
    theirs, ours = pair(drop_rate=0.2, drop_path_rate=0.3)
    ours.load_state_dict(theirs.state_dict())
    images = torch.randn(1, 3, 64, 48)
    assert_same_outputs_and_grads(*gradients_of(theirs, images, seed=3),
                                  *gradients_of(ours, images, seed=3))


def test_a_layer_keeps_ten_channels_and_a_log_sum_exp_per_token():
    """For backward, a layer keeps per token: its input and the residual
    after the attention (the LayerNorms' inputs, their outputs being
    recomputed), queries, keys, values and the attention output (3 C +
    C), one log-sum-exp per head and fc1's output (4 C, the GELU's output
    being recomputed): 10 C + heads floats; mmseg's keeps 16 C + heads x N
    + 4 (the N x N attention, the LayerNorms' means and deviations)."""
    theirs, ours = pair()
    tokens, channels = 50, TINY['embed_dims']
    x = torch.randn(1, tokens, channels, requires_grad=True)
    counts = [saved_bytes(lambda: model.layers[0](x),
                          tuple(model.parameters()))[1] // 4
              for model in (theirs, ours)]
    heads = TINY['num_heads']
    assert counts == [tokens * (16 * channels + heads * tokens + 4),
                      tokens * (10 * channels + heads)]


def test_autocast_gradients_match_mmseg():
    """Under CPU autocast to bfloat16 the recomputation runs in the
    forward's dtypes: gradients as mmseg's to bfloat16 rounding (2 % of
    each gradient's largest value; mmseg's explicit softmax and SDPA round
    differently)."""
    theirs, ours = pair()
    ours.load_state_dict(theirs.state_dict())
    images = torch.randn(1, 3, 64, 48)
    results = []
    for model in (theirs, ours):
        with torch.autocast('cpu', torch.bfloat16):
            results.append(gradients_of(model, images))
    (_, their_grads), (_, our_grads) = results
    for name, grad in their_grads.items():
        torch.testing.assert_close(our_grads[name], grad, rtol=0,
                                   atol=2e-2 * grad.abs().max(), msg=name)


def test_no_attention_map_is_kept_for_backward():
    """Every attention call runs a fused SDPA kernel, and a training
    forward keeps the layers x heads x N x N float32 attention maps less
    than mmseg's, less one log-sum-exp per row that SDPA keeps instead."""
    theirs, ours = pair()
    images = torch.randn(1, 3, 128, 128)  # 16 x 16 + 1 tokens
    with AttentionRecorder() as recorder:
        _, our_bytes = saved_bytes(lambda: ours(images))
    assert {(c.kind, c.kernel) for c in recorder.calls} == {
        ('sdpa', 'flash (CPU)')}
    _, their_bytes = saved_bytes(lambda: theirs(images))
    tokens = 16 * 16 + 1
    maps = TINY['num_layers'] * TINY['num_heads'] * tokens * (tokens - 1) * 4
    assert their_bytes - our_bytes >= maps, (their_bytes, our_bytes)


def test_with_cp_gives_the_same_gradients():
    _, ours = pair(with_cp=True)
    _, plain = pair()
    plain.load_state_dict(ours.state_dict())
    images = torch.randn(1, 3, 64, 48)
    grads = []
    for model in (ours, plain):
        model.train()
        sum(o.sum() for o in model(images)).backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
