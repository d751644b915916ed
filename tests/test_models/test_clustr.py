"""ClusTR: shapes at any size, the attention's clustering and its variants,
training signal to the importance predictors, and the backbone options."""
import pytest
import torch

from mmhvit.models import ClusTR
from mmhvit.models.backbones.clustr import ClusterAttention, knn_attention
from mmhvit.models.layers import TokenClusterer, dpc_knn, merge_tokens
from tiny_archs import TINY_CLUSTR


def test_attention_equals_attention_over_merged_clusters():
    """Eq. 5 by hand: queries of every token against keys and values of
    the importance-weighted cluster means, on the same clusters."""
    torch.manual_seed(0)
    attn = ClusterAttention(8, 2, (4, ), TokenClusterer())
    x, hw = torch.randn(1, 36, 8), (6, 6)
    (idx, num), = TokenClusterer()(x, hw, [4])
    assert num == 9
    merged, _ = merge_tokens(x, idx, num, attn.score[0](x).exp())
    k, v = attn.kv[0](merged).chunk(2, dim=-1)
    q = attn.q(x)
    out = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        weights = torch.softmax(q[0, :, sl] @ k[0, :, sl].T / 2, dim=-1)
        out.append(weights @ v[0, :, sl])
    expected = attn.proj(torch.cat(out, dim=-1))[None]
    torch.testing.assert_close(attn(x, hw), expected, rtol=1e-5, atol=1e-5)


def test_clusters_are_dpc_knn_of_the_normalised_input():
    x = torch.randn(2, 64, 8)
    (idx, num), = TokenClusterer()(x, (8, 8), [16])
    expected = dpc_knn(x, 4)
    assert num == 4 and torch.equal(idx, expected)


def test_importance_predictors_and_all_projections_learn():
    """Every parameter gets a gradient. The loss weighs the outputs at
    random: their plain mean is constant under a fresh output norm (unit
    scale), which left the last stage a gradient of rounding noise, exactly
    zero for some draws."""
    torch.manual_seed(0)
    model = ClusTR(arch=TINY_CLUSTR)
    model.init_weights()
    outs = model(torch.rand(2, 3, 64, 64))
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert any('attn.score' in name for name, _ in model.named_parameters())


@pytest.mark.parametrize('options', [
    dict(scale_fusion='sum'),
    dict(kv_aggregation='grid', reduction_ratios=((64, ), (16, ), (4, ),
                                                  (1, ))),
    dict(clustering=dict(method='kmeans', num_iters=3)),
    dict(clustering=dict(method='dpc_knn', window_sizes=(5, 5, None, None))),
    dict(kv_aggregation='grid', knn_ratio=0.5),
])
def test_variants_run(options):
    model = ClusTR(arch=TINY_CLUSTR, **options).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 72, 88))
    assert [o.shape[1] for o in outs] == [16, 32, 48, 64]


def test_clustering_repeats_exactly():
    """Whatever torch's random state (the tie-breaking noise is fixed)."""
    model = ClusTR(arch=TINY_CLUSTR, clustering=dict(method='dpc_knn'))
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        first = model(x)
        torch.manual_seed(1)
        second = model(x)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_options_and_errors():
    with pytest.raises(ValueError, match='square ratios'):
        ClusTR(arch=TINY_CLUSTR, kv_aggregation='grid',
               reduction_ratios=((8, ), (4, ), (2, ), (1, )))
    with pytest.raises(ValueError, match='scale_fusion'):
        ClusTR(arch=TINY_CLUSTR, scale_fusion='max')
    with pytest.raises(ValueError, match="Unknown clustering method"):
        ClusTR(arch=TINY_CLUSTR, clustering=dict(method='spectral'))


def test_knn_attention_keeps_the_top_scoring_keys():
    """Tab. 8's k-NN attention: each query's softmax over its ceil(ratio *
    M) best-scoring keys only; all keys (ratio 1) is plain attention."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), \
        torch.randn(2, 3, 7, 8)
    torch.testing.assert_close(
        knn_attention(q, k, v, 1.),
        torch.nn.functional.scaled_dot_product_attention(q, k, v))
    scores = q @ k.transpose(-2, -1) / 8**0.5
    top = scores.topk(4, dim=-1).indices  # ceil(0.5 * 7) = 4 keys
    expected = torch.zeros_like(scores).scatter(
        -1, top, scores.gather(-1, top).softmax(-1)) @ v
    torch.testing.assert_close(knn_attention(q, k, v, 0.5), expected)
    with pytest.raises(ValueError, match='knn_ratio'):
        ClusTR(arch=TINY_CLUSTR, knn_ratio=0.)
