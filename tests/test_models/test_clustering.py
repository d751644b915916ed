"""Token clustering: DPC-KNN and K-means against a plain reference and on
well-separated blobs, chunking, masks, merging and the token <-> map
dictionary."""
import os

import pytest
import torch

from mmhvit.analysis import measure
from mmhvit.models.layers.clustering import (TokenClusterer, TokenDict,
                                             dpc_knn, dpc_scores, kmeans,
                                             map2token, merge_tokens,
                                             token2map)
from helpers import blobs, same_partition
from reference.dpc_knn_reference import dpc_knn_reference


def test_dpc_knn_equals_plain_reference():
    x = torch.randn(3, 150, 16, generator=torch.Generator().manual_seed(0))
    ours = dpc_knn(x, 20, k=5, generator=torch.Generator().manual_seed(7))
    ref = dpc_knn_reference(x, 20, k=5,
                            generator=torch.Generator().manual_seed(7))
    assert torch.equal(ours, ref)


def test_block_search_and_recomputed_rows_equal_the_reference():
    """Large enough for the block search of the nearest tokens (a short
    last block: 1500 = 46 x 32 + 28), several chunks of rows, tokens
    whose nearest denser token or centre is not among their neighbours
    (computed again), and ties (a quarter of the tokens identical)."""
    x = torch.randn(2, 1500, 16, generator=torch.Generator().manual_seed(2))
    x[:, -375:] = 0.
    ours = dpc_knn(x, 375, generator=torch.Generator().manual_seed(7),
                   chunk_elements=1500 * 400)
    ref = dpc_knn_reference(x, 375,
                            generator=torch.Generator().manual_seed(7))
    assert torch.equal(ours, ref)


def test_chunked_equals_unchunked():
    x = torch.randn(2, 300, 32, generator=torch.Generator().manual_seed(1))
    results = [
        dpc_knn(x, 30, generator=torch.Generator().manual_seed(3),
                chunk_elements=chunk) for chunk in (1, 1000, 10**8)
    ]
    assert torch.equal(results[0], results[2])
    assert torch.equal(results[1], results[2])
    assert torch.equal(kmeans(x, 30, chunk_elements=100), kmeans(x, 30))


def test_separated_blobs_become_their_own_clusters():
    x, ids = blobs()  # scattered over the token order
    assert same_partition(dpc_knn(x, 6), ids)
    # K-means starts from evenly spaced tokens, so it needs blobs that are
    # contiguous in token order, as image regions are in raster order
    x, ids = blobs(shuffle=False)
    assert same_partition(kmeans(x, 6), ids)


def test_padded_tokens_are_never_centres_and_change_nothing():
    x, ids = blobs(batch=1, per_blob=10, num_blobs=4)
    padded = torch.cat([x, x[:, :7]], dim=1)  # duplicates of real tokens
    mask = torch.arange(padded.shape[1])[None] < x.shape[1]
    idx = dpc_knn(padded, 4, token_mask=mask)
    assert same_partition(idx[:, :x.shape[1]], ids)
    assert same_partition(idx[:, :x.shape[1]], dpc_knn(x, 4))


def test_an_image_clusters_the_same_alone_and_in_a_batch():
    """Nothing is reduced over the batch: not the tie-breaking noise, nor
    the distance standing in for padded tokens, nor the chunks of rows (a
    batch-sized chunk would compute 2-row blocks alone and 1-row blocks
    batched here, which round differently)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 300, 16, generator=gen)
    x[1] *= 100  # a far larger image beside the first one
    mask = torch.ones(2, 300, dtype=torch.bool)
    mask[:, 297:] = False
    alone, batched = (
        dpc_scores(tokens, 5, masks, chunk_elements=600)
        for tokens, masks in ((x[:1], mask[:1]), (x, mask)))
    assert torch.equal(batched[:1], alone)
    for method in (dpc_knn, kmeans):
        assert torch.equal(method(x, 30)[:1], method(x[:1], 30))
    # fewer real tokens than neighbours: padded ones enter the k nearest
    mask[:, 3:] = False
    assert torch.equal(dpc_scores(x, 5, mask)[:1],
                       dpc_scores(x[:1], 5, mask[:1]))


def test_tie_breaking_ignores_the_random_state():
    """Identical tokens (zero padding) tie; the same ones become centres
    whatever torch's random state."""
    x = torch.cat([torch.randn(1, 40, 8), torch.zeros(1, 60, 8)], dim=1)
    torch.manual_seed(1)
    first = dpc_knn(x, 10)
    torch.manual_seed(2)
    assert torch.equal(dpc_knn(x, 10), first)


def test_cluster_number_is_checked():
    with pytest.raises(ValueError, match='num_clusters must be in'):
        dpc_knn(torch.randn(1, 10, 4), 11)


def test_merge_is_a_weighted_mean_with_gradients():
    x = torch.randn(2, 12, 5, requires_grad=True)
    score = torch.randn(2, 12, 1, requires_grad=True)
    idx = torch.randint(0, 4, (2, 12))
    idx[:, :4] = torch.arange(4)  # no empty cluster
    merged, norm_weight = merge_tokens(x, idx, 4, score.exp())
    for b in range(2):
        for c in range(4):
            members = idx[b] == c
            w = torch.softmax(score[b, members, 0], dim=0)
            expected = (w[:, None] * x[b, members]).sum(dim=0)
            torch.testing.assert_close(merged[b, c], expected)
    merged.square().sum().backward()
    assert x.grad.abs().sum() > 0 and score.grad.abs().sum() > 0
    cluster_sums = torch.zeros(2, 4).scatter_add(1, idx, norm_weight[..., 0])
    torch.testing.assert_close(cluster_sums, torch.ones(2, 4),
                               atol=1e-5, rtol=0)


def test_token_map_round_trip():
    batch, height, width, channels = 2, 6, 8, 3
    grid = torch.randn(batch, height * width, channels)
    tokens = TokenDict.grid(batch, height, width, grid.device)
    as_map = token2map(grid, tokens, (height, width))
    torch.testing.assert_close(
        as_map, grid.transpose(1, 2).reshape(batch, channels, height, width))
    torch.testing.assert_close(map2token(as_map, tokens), grid)

    idx = dpc_knn(grid, 10)
    merged, _ = merge_tokens(grid, idx, 10)
    clustered = tokens.merge(idx, 10)
    full = token2map(merged, clustered, (height, width))  # (B, C, H, W)
    expected = merged.gather(1, idx[..., None].expand(-1, -1, channels))
    torch.testing.assert_close(full.flatten(2).transpose(1, 2), expected)
    torch.testing.assert_close(map2token(full, clustered), merged)
    half = token2map(merged, clustered, (3, 4))  # coarser map: cell means
    assert half.shape == (batch, channels, 3, 4)


def test_windows_cover_every_token_once_and_keep_clusters_inside():
    height, width, window = 11, 14, 4
    x = torch.randn(2, height * width, 6)
    (idx, count), = TokenClusterer(window_size=window)(x, (height, width),
                                                       [4])
    # 3 x 4 windows of 3-4 by 3-4 tokens; >= 9 real tokens -> 3 clusters
    assert count == 12 * 3
    assert idx.min() >= 0 and idx.max() < count
    row_starts = torch.arange(3) * height // 3  # 0, 3, 7
    col_starts = torch.arange(4) * width // 4  # 0, 3, 7, 10
    window_row = torch.searchsorted(row_starts, torch.arange(height),
                                    right=True) - 1
    window_col = torch.searchsorted(col_starts, torch.arange(width),
                                    right=True) - 1
    window_of = (window_row[:, None] * 4 + window_col[None]).flatten()
    for b in range(2):
        for c in idx[b].unique():
            assert len(window_of[idx[b] == c].unique()) == 1


def test_two_ratios_share_the_density_peaks():
    x, _ = blobs(batch=1, per_blob=16, num_blobs=4)
    (fine, m_fine), (coarse, m_coarse) = TokenClusterer()(
        x, (8, 8), [4, 16])
    assert (m_fine, m_coarse) == (16, 4)
    reference = dpc_knn(x, 4)
    assert torch.equal(coarse, reference)


@pytest.mark.skipif(not os.path.exists('/proc/self/clear_refs'),
                    reason='peak memory is read from Linux /proc')
def test_16k_tokens_cluster_in_far_less_than_2_gib():
    x = torch.randn(1, 16384, 64)  # a 512x512 image at stride 4
    run = measure(lambda: dpc_knn(x, 1024))
    assert run.result.shape == (1, 16384)
    # the plain N x N computation peaks at about 5 GiB here
    assert run.peak_bytes < 2 * 2**30, run.peak_bytes / 2**30
