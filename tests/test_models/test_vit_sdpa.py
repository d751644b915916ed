"""SDPAVisionTransformer: mmseg's ViT with the attention of
scaled_dot_product_attention. Same parameters, state dict and outputs as
mmseg's (float32, train and eval mode), no N x N attention kept for
backward (the SETR configs using it: tests/test_configs.py)."""
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
