"""Token clustering shared by ClusTR and HAFA: DPC-KNN, K-means, merging
with importance weights, and the token <-> feature-map "dictionary".

Shapes: ``B`` images, ``N`` tokens of ``C`` channels, ``M`` clusters.

DPC-KNN (density peaks clustering with k nearest neighbours; Rodriguez &
Laio 2014, as used by TCFormer, ClusTR Eqs. 1-2 and HAFA Eqs. 2-4) follows
TCFormer's ``cluster_dpc_knn`` where the papers are silent: distances are
Euclidean divided by ``sqrt(C)``; a token is its own first neighbour; a
uniform noise of 1e-6 breaks density ties; the densest token's ``delta`` is
the largest distance of its image; every token joins its nearest centre and
each centre its own cluster. Unlike a plain implementation, the ``N x N``
distance matrix is never stored: rows are processed in chunks, one chunk
in memory at a time, so extra memory is ``O(N * (k + chunk))`` instead of
``O(N^2)``.

The distances are computed once (:func:`dpc_scores`): one matmul per chunk
of rows gives cdist's squared terms (the same operands, to the bit), and
one pass over them keeps the image's largest distance and each token's
``NUM_CANDIDATES`` nearest tokens, found by block minima rather than
sorting whole rows (rows up to ``_TOPK_WIDTH`` wide are sorted whole: one
kernel). Square roots are monotone, so they are taken on those
few values only. A token's nearest denser token and nearest centre are
almost always among its nearest tokens; where they are provably not (no
denser token or centre is nearer than the last one listed), that token's
row is computed again against every token or centre. Same distances, same
comparisons, same first-index tie-breaking: the same clusters as the
plain computation, without its ``N x N`` temporaries and second pass.

Where the time goes (N = 16 384, C = 64, 2 CPU threads): about 70 % in the
distance matmul (35 GFLOP, which TCFormer's ``cdist`` computes as well),
the rest in the two passes over each chunk (block minima and maximum) and
the candidates' sort. On a loaded machine every parallel kernel can wait
for a descheduled thread, so the code keeps the number of kernels low.

An image's clusters depend on that image only, never on the others of its
batch nor on torch's random state: everything is computed per image, the
chunks of rows are the same whatever the batch size (a matmul over fewer
rows may round differently, and one flipped comparison moves a centre), and
TCFormer's random tie-breaking noise is replaced by a fixed value per token
position (:func:`tie_breaking_noise`). Ties are not rare: the zero padding
of a detector's batch makes many identical tokens. Batched convolutions and
matmuls round differently at another batch size (oneDNN picks its kernels
by shape: ~1e-7), and a discrete choice at a near tie turns that into
another cluster, so a clustering backbone evaluates one image at a time
(:func:`one_image_at_a_time`).
"""
import functools
import math
from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import nlc_to_nchw
from torch._subclasses.fake_tensor import is_fake

from .windows import window_layout

# Rows of an image's distance matrix held at once: chunk * N <= this many
# entries per image.
DEFAULT_CHUNK_ELEMENTS = 1 << 25  # 128 MiB of float32


def one_image_at_a_time(forward: Callable, x: torch.Tensor) -> tuple:
    """``forward(x)`` of a backbone that clusters tokens, run on the images
    of the batch ``x`` one at a time and concatenated: each image is
    computed exactly as alone, whereas batched, its clusters (and so its
    features) would depend on the rounding of the batched kernels and, in a
    detector's batch, on the zero padding that other images impose. ClusTR
    and HAFA do this in eval mode unless built with
    ``eval_per_image=False``; training keeps the batch.

    The cost is throughput: the kernels run ``B`` times at one image's
    shapes instead of once at the batch's. Batch 4 of 224 x 224 images, 2
    CPU threads (machine shared, load 7): ClusTR-T 14.0 s one at a time,
    5.4 s batched (2.6x); PVT-T + HAFA 6.6 s vs 2.7 s (2.5x). Where
    throughput matters more than batch-independent results, build the
    backbone with ``eval_per_image=False``; a batch of one runs the same
    either way.
    """
    if x.shape[0] == 1:
        return forward(x)
    outs = [forward(image[None]) for image in x]
    return tuple(torch.cat(maps) for maps in zip(*outs))


def float32_without_autocast(function):
    """Decorates a clustering function of tokens ``x`` (its first argument):
    no gradients, and autocast off inside, so its matmuls run in the float32
    they are given (autocast would turn them into float16 / bfloat16 and
    change the clusters)."""

    @functools.wraps(function)
    def wrapper(x, *args, **kwargs):
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            return function(x, *args, **kwargs)

    return wrapper


def _row_chunks(num_rows: int, num_cols: int, chunk_elements: int):
    """Row slices of a (rows, cols) matrix per image, ``chunk_elements``
    at a time; independent of the batch size, so that every image's rows
    are computed in the same groups alone or batched."""
    step = max(1, chunk_elements // max(num_cols, 1))
    for start in range(0, num_rows, step):
        yield slice(start, min(start + step, num_rows))


def _distance_operands(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``torch.cdist``'s operands for Euclidean distances by one matmul:
    rows ``[-2x, |x|^2, 1]`` and columns ``[x, 1, |x|^2]``, (B, N, C + 2)
    each; ``rows[i] . cols[j]`` is the squared distance before cdist clamps
    and roots it, to the bit (same operands, same matmul). Both are views
    of one tensor, made by one concatenation."""
    channels = x.shape[-1]
    squares = x.pow(2).sum(-1, keepdim=True)
    ones = torch.ones_like(squares)
    both = torch.cat([x.mul(-2), squares, ones, x, ones, squares], -1)
    return both[..., :channels + 2], both[..., channels + 2:]


def _to_distance(raw: torch.Tensor, channels: int) -> torch.Tensor:
    """Squared terms of :func:`_distance_operands` -> distances divided by
    ``sqrt(C)``, as :func:`scaled_distance` computes them."""
    return raw.clamp_min(0).sqrt() / math.sqrt(channels)


def scaled_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances divided by ``sqrt(C)``: (B, P, C), (B, R, C) ->
    (B, P, R), in float32 (also under autocast)."""
    a, b = a.float(), b.float()
    with torch.autocast(a.device.type, enabled=False):
        if torch.onnx.is_in_onnx_export():  # ONNX's cdist: static sizes only
            squares = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1)[:, None]
            distances = (squares -
                         2 * a @ b.transpose(1, 2)).clamp_min(0).sqrt()
        else:
            distances = torch.cdist(a, b)
    return distances / math.sqrt(a.shape[-1])


def _check_num_clusters(num_clusters: int, num_tokens: int):
    if not 1 <= num_clusters <= num_tokens:
        raise ValueError(f'num_clusters must be in [1, {num_tokens}] for '
                         f'{num_tokens} tokens, got {num_clusters}.')


def nearest_centre(x: torch.Tensor, centres: torch.Tensor,
                   chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
                   ) -> torch.Tensor:
    """Index of the nearest of ``centres`` ``(B, M, C)`` for every token of
    ``x`` ``(B, N, C)`` (first on ties), ``(B, N)``."""
    batch, num_tokens, _ = x.shape
    idx = x.new_empty(batch, num_tokens, dtype=torch.long)
    for rows in _row_chunks(num_tokens, centres.shape[1], chunk_elements):
        idx[:, rows] = scaled_distance(x[:, rows], centres).argmin(dim=-1)
    return idx


def tie_breaking_noise(num_tokens: int, device=None) -> torch.Tensor:
    """``(N,)`` values spread over ``[0, 1)``, a fixed function of the token
    position (Knuth's multiplicative hash): the same for every image and
    call, and made of integer arithmetic, so it traces, compiles and
    exports (a seeded generator does not export to ONNX)."""
    index = torch.arange(num_tokens, device=device)
    return (index * 2654435761 % 2**32).float() / 2**32


class Neighbours(NamedTuple):
    """The ``K`` nearest tokens of every token, found while scoring
    (:func:`dpc_scores`): their distances ``dist`` ``(B, N, K)`` (as
    :func:`scaled_distance` computes them), ascending, and ``index``
    ``(B, N, K)``. Every token not listed for a row is at least as far as
    the last one listed (padded tokens, when masked, are listed last as
    ``inf``). ``rows`` and ``cols`` are the tokens' distance operands."""
    dist: torch.Tensor
    index: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor


# Candidates kept per token: its nearest denser token (delta) and nearest
# centre are among them for all but ~0.1-1 % of the tokens (random features,
# N = 4k-16k), which are computed over every token.
NUM_CANDIDATES = 8
# Columns per block of the candidate search (:func:`_scan_rows`).
_BLOCK = 32
# Up to this many columns, one topk over whole rows is as fast as the block
# search (2 CPU threads) and is one kernel instead of four: on a loaded
# machine every parallel kernel may wait for a descheduled thread.
_TOPK_WIDTH = 4096
# Fewest rows of a matmul: below ~12 rows the CPU BLAS takes another path
# that rounds differently, and a recomputed row must equal the scanned one.
_MIN_ROWS = 16


def _scan_rows(raw: torch.Tensor, k: int):
    """Largest entry of ``raw`` ``(B, R, N)`` per image, and the ``k``
    smallest entries of every row, ascending, with their columns. The
    ``k`` smallest lie in the ``k`` blocks of ``_BLOCK`` columns with the
    smallest minima, so only those are sorted (a short last block counts
    as one); rows up to ``_TOPK_WIDTH`` wide are sorted whole."""
    batch, rows, width = raw.shape
    num_blocks, tail = width // _BLOCK, width % _BLOCK
    if width <= max(_TOPK_WIDTH, 4 * k * _BLOCK):
        return raw.amax(dim=(1, 2)), raw.topk(k, dim=-1, largest=False)
    blocks = raw[..., :num_blocks * _BLOCK].view(batch, rows, num_blocks,
                                                 _BLOCK)
    # (aminmax in one pass is slower than both reductions on the CPU)
    minima, largest = blocks.amin(-1), raw.amax(dim=(1, 2))  # (B, R, nb)
    if tail:
        last = F.pad(raw[..., -tail:], (0, _BLOCK - tail), value=math.inf)
        minima = torch.cat([minima, last.amin(-1, keepdim=True)], -1)
    best = minima.topk(k, dim=-1, largest=False).indices  # (B, R, k)
    picked = blocks.gather(
        2, best.clamp(max=num_blocks - 1)[..., None].expand(
            -1, -1, -1, _BLOCK))  # (B, R, k, _BLOCK)
    if tail:
        picked = picked.where(best[..., None] < num_blocks, last[:, :, None])
    values, position = picked.flatten(2).topk(k, dim=-1, largest=False)
    column = best.gather(2, position // _BLOCK) * _BLOCK + position % _BLOCK
    return largest, (values, column)


def _scan(x: torch.Tensor, k: int, token_mask: Optional[torch.Tensor],
          chunk_elements: int):
    """One pass over every image's distances, rows in chunks: the largest
    squared term between real tokens ``(B,)`` and each token's ``k``
    nearest real tokens (:class:`Neighbours`)."""
    batch, num_tokens, _ = x.shape
    rows_op, cols_op = _distance_operands(x)
    cols_t = cols_op.transpose(1, 2)  # (B, C + 2, N)
    raw_max = x.new_full((batch, ), -math.inf)
    near = x.new_empty(batch, num_tokens, k)
    index = x.new_empty(batch, num_tokens, k, dtype=torch.long)
    for rows in _row_chunks(num_tokens, num_tokens, chunk_elements):
        raw = rows_op[:, rows] @ cols_t  # (B, R, N)
        if token_mask is not None:
            real = token_mask[:, None, :]
            raw_max = torch.maximum(
                raw_max, raw.where(real, -math.inf).amax(dim=(1, 2)))
            raw = raw.where(real, math.inf)
        largest, (near[:, rows], index[:, rows]) = _scan_rows(raw, k)
        if token_mask is None:
            raw_max = torch.maximum(raw_max, largest)
        del raw  # freed before the next chunk: one chunk in memory at a time
    # the square root is monotone: taken on the values kept only
    near = _to_distance(near, x.shape[-1])
    return raw_max, Neighbours(near, index, rows_op, cols_op)


def _has_values(tensor: torch.Tensor) -> bool:
    """Whether Python may read ``tensor``'s values: not while exporting to
    ONNX (a trace records no data-dependent sizes), nor for a fake tensor
    (shapes without data, e.g. while :mod:`mmhvit.analysis.memory`
    counts)."""
    return not (torch.onnx.is_in_onnx_export() or is_fake(tensor))


def _rows_to_compute(unresolved: torch.Tensor) -> torch.Tensor:
    """Indices of the true entries of ``unresolved`` ``(N,)`` (all rows
    where its values cannot be read, see :func:`_has_values`)."""
    if not _has_values(unresolved):
        return torch.arange(len(unresolved), device=unresolved.device)
    return unresolved.nonzero()[:, 0]


def _row_groups(rows: torch.Tensor, step: int):
    """``rows`` in groups of at most ``step``, each padded (by repeating its
    first row) to at least ``_MIN_ROWS``: (group, number of real rows)."""
    step = max(step, _MIN_ROWS)
    for start in range(0, len(rows), step):
        group = rows[start:start + step]
        count = len(group)
        if count < _MIN_ROWS:
            group = torch.cat([group, group[:1].expand(_MIN_ROWS - count)])
        yield group, count


@float32_without_autocast
def dpc_scores(x: torch.Tensor,
               k: int = 5,
               token_mask: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None,
               chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
               return_neighbours: bool = False):
    """Decision value ``gamma = rho * delta`` of every token (ClusTR Eqs.
    1-2): the density peaks are the tokens of the largest values.

    One pass over the distances (rows in chunks) finds each token's nearest
    tokens, from which the density ``rho`` follows. ``delta``, the distance
    to the nearest denser token, is then read off those neighbours; only
    the tokens without a denser one among them (the local peaks, ~0.1-1 %)
    are compared with every token. The distances are cdist's, to the bit.

    Args:
        x (Tensor): Tokens ``(B, N, C)``; computed in float32.
        k (int): Neighbours of the local density, the token itself included.
        token_mask (Tensor, optional): ``(B, N)`` bool, False for padded
            tokens: they are nobody's neighbour, have density 0 and score
            below every real token.
        generator (torch.Generator, optional): Draws the tie-breaking
            noise, one value per token position, shared by the images of
            the batch. By default :func:`tie_breaking_noise`.
        chunk_elements (int): Distance entries held at once per image.
        return_neighbours (bool): Also return the :class:`Neighbours`
            found, which :func:`cluster_by_scores` uses.

    Returns:
        Tensor: ``(B, N)`` float32 scores (and the neighbours).
    """
    batch, num_tokens, channels = x.shape
    x = x.float()
    k = min(k, num_tokens)
    raw_max, neighbours = _scan(x, min(max(k, NUM_CANDIDATES), num_tokens),
                                token_mask, chunk_elements)
    rows_op, cols_t = neighbours.rows, neighbours.cols.transpose(1, 2)
    dist_max = _to_distance(raw_max, channels)[:, None]  # (B, 1)
    knn = neighbours.dist[..., :k]
    if token_mask is not None:
        # larger than any distance of the image: padded tokens join the k
        # nearest only where an image has fewer than k real ones
        far = 2 * x.norm(dim=-1).amax(dim=1) / math.sqrt(channels) + 1
        knn = knn.where(knn < math.inf, far[:, None, None])
    if generator is None:
        noise = tie_breaking_noise(num_tokens, x.device)
    else:
        noise = torch.rand(num_tokens, generator=generator,
                           device=generator.device).to(x.device)
    density = (-knn.square().mean(dim=-1)).exp() + 1e-6 * noise  # (B, N)
    if token_mask is not None:
        density = density * token_mask

    # delta: distance to the nearest denser token (dist_max for the peak),
    # from the neighbours where one of them is denser
    denser = density.gather(1, neighbours.index.flatten(1)).view_as(
        neighbours.index) > density[..., None]
    nearest = neighbours.dist.where(denser, math.inf).amin(dim=-1)
    step = chunk_elements // num_tokens
    for b in range(batch):  # the others (inf: none listed) against all
        for group, count in _row_groups(_rows_to_compute(nearest[b].isinf()),
                                        step):
            raw = rows_op[b, group] @ cols_t[b]  # (R, N)
            # padded tokens have density 0: never denser
            raw.masked_fill_(density[b, None, :] <= density[b, group, None],
                             math.inf)
            nearest[b, group[:count]] = _to_distance(
                raw.amin(dim=-1)[:count], channels)
    delta = torch.minimum(nearest, dist_max)

    score = delta * density
    if token_mask is not None:  # padded tokens last, even behind score 0
        score = score.masked_fill(~token_mask, -1.)
    return (score, neighbours) if return_neighbours else score


def _nearest_listed_centre(neighbours: Neighbours, centres: torch.Tensor):
    """Each token's nearest centre among its listed neighbours: the
    centre's rank in ``centres`` (lowest rank on ties) and whether that is
    its nearest centre of all, which it is when strictly nearer than the
    last neighbour listed."""
    batch, num_tokens, _ = neighbours.index.shape
    num_clusters = centres.shape[1]
    rank = centres.new_full((batch, num_tokens), num_clusters).scatter(
        1, centres, torch.arange(num_clusters, device=centres.device).expand(
            batch, -1))
    listed = rank.gather(1, neighbours.index.flatten(1)).view_as(
        neighbours.index)  # (B, N, K); M where not a centre
    dist = neighbours.dist.masked_fill(listed == num_clusters, math.inf)
    nearest = dist.amin(dim=-1, keepdim=True)
    choice = listed.masked_fill(dist != nearest, num_clusters).amin(dim=-1)
    return choice, nearest[..., 0] < neighbours.dist[..., -1]


@float32_without_autocast
def cluster_by_scores(x: torch.Tensor, score: torch.Tensor,
                      num_clusters: int,
                      chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
                      neighbours: Optional[Neighbours] = None
                      ) -> torch.Tensor:
    """The ``M`` best-scored tokens become centres; every token joins its
    nearest centre (first on ties) and each centre its own cluster.

    Args:
        x (Tensor): Tokens ``(B, N, C)``.
        score (Tensor): ``(B, N)`` from :func:`dpc_scores`.
        num_clusters (int): ``M``.
        neighbours (Neighbours, optional): From :func:`dpc_scores` on the
            same tokens (unmasked, or with only real tokens as centres):
            tokens whose nearest centre is among them are not compared with
            every centre.

    Returns:
        Tensor: ``(B, N)`` long, in ``[0, M)``; cluster ``c`` is centred on
        the token of the ``c``-th largest score.
    """
    _check_num_clusters(num_clusters, x.shape[1])
    centres = score.topk(num_clusters, dim=-1).indices  # (B, M)
    x = x.float()
    if neighbours is None:
        idx_cluster = nearest_centre(x, gather_tokens(x, centres),
                                     chunk_elements)
    else:
        channels = x.shape[-1]
        idx_cluster, resolved = _nearest_listed_centre(neighbours, centres)
        rows_op, cols_t = neighbours.rows, neighbours.cols.transpose(1, 2)
        step = chunk_elements // x.shape[1]
        for b in range(x.shape[0]):  # the others against every centre
            for group, count in _row_groups(_rows_to_compute(~resolved[b]),
                                            step):
                # whole rows, then the centres' columns: for a few rows
                # that costs less than gathering the centres' operands
                raw = (rows_op[b, group] @ cols_t[b])[:, centres[b]]
                dist = _to_distance(raw, channels)  # (R, M)
                idx_cluster[b, group[:count]] = dist.argmin(-1)[:count]
    ids = torch.arange(num_clusters, device=x.device).expand_as(centres)
    return idx_cluster.scatter(1, centres, ids)


def dpc_knn(x: torch.Tensor, num_clusters: int, k: int = 5,
            **kwargs) -> torch.Tensor:
    """DPC-KNN: :func:`dpc_scores`, then :func:`cluster_by_scores`.

    Keyword arguments (``token_mask``, ``generator``, ``chunk_elements``)
    go to :func:`dpc_scores`. Returns ``(B, N)`` cluster indices.
    """
    chunk = kwargs.get('chunk_elements', DEFAULT_CHUNK_ELEMENTS)
    score, neighbours = dpc_scores(x, k, return_neighbours=True, **kwargs)
    if not _real_centres_only(kwargs.get('token_mask'), num_clusters):
        neighbours = None
    return cluster_by_scores(x, score, num_clusters, chunk, neighbours)


def _real_centres_only(token_mask: Optional[torch.Tensor],
                       num_clusters: int) -> bool:
    """Whether every image has at least ``num_clusters`` real tokens, so
    that no padded token becomes a centre (padded tokens are not listed
    among the :class:`Neighbours`). False where the mask cannot be read
    (:func:`_has_values`)."""
    if token_mask is None:
        return True
    return _has_values(token_mask) and bool(
        token_mask.sum(dim=1).min() >= num_clusters)


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b, i]]``: (B, N, C), (B, M) -> (B, M, C)."""
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


@float32_without_autocast
def kmeans(x: torch.Tensor,
           num_clusters: int,
           num_iters: int = 10,
           token_mask: Optional[torch.Tensor] = None,
           chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> torch.Tensor:
    """Lloyd's K-means, started from ``M`` tokens evenly spaced in token
    order (deterministic; in raster order they spread over the image).

    Args:
        x (Tensor): Tokens ``(B, N, C)``.
        num_clusters (int): ``M``.
        num_iters (int): Assignment/update rounds.
        token_mask (Tensor, optional): ``(B, N)`` bool, False for padded
            tokens, which do not move the centres.

    Returns:
        Tensor: ``(B, N)`` long cluster indices in ``[0, M)``.
    """
    batch, num_tokens, channels = x.shape
    _check_num_clusters(num_clusters, num_tokens)
    x = x.float()
    start = torch.linspace(0, num_tokens - 1, num_clusters,
                           device=x.device).round().long()
    centres = x[:, start]  # (B, M, C)
    weight = (x.new_ones(batch, num_tokens) if token_mask is None else
              token_mask.float())
    for _ in range(num_iters):
        idx = nearest_centre(x, centres, chunk_elements)
        sums = x.new_zeros(batch, num_clusters, channels).scatter_add_(
            1, idx[..., None].expand_as(x), x * weight[..., None])
        counts = x.new_zeros(batch, num_clusters).scatter_add_(1, idx, weight)
        # an empty cluster keeps its centre
        centres = torch.where(counts[..., None] > 0,
                              sums / counts.clamp(min=1)[..., None], centres)
    return idx


def merge_tokens(x: torch.Tensor,
                 idx_cluster: torch.Tensor,
                 num_clusters: int,
                 weight: Optional[torch.Tensor] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean of each cluster's tokens.

    ``y_c = sum_{i in c} w_i x_i / sum_{i in c} w_i``: with ``w = exp(s)``
    for predicted importance scores ``s``, the weights are a softmax within
    each cluster (HAFA Eq. 5; TCFormer's merge; ClusTR's per-token ``w_i``).
    Gradients reach ``x`` and ``weight``; the assignment is discrete.

    Args:
        x (Tensor): Tokens ``(B, N, C)``.
        idx_cluster (Tensor): ``(B, N)`` cluster of each token.
        num_clusters (int): ``M``.
        weight (Tensor, optional): ``(B, N, 1)`` non-negative weights;
            uniform when None. Tokens of weight 0 do not contribute.

    Returns:
        tuple: merged tokens ``(B, M, C)`` and each token's normalised
        weight within its cluster ``(B, N, 1)``.
    """
    batch, _, channels = x.shape
    if weight is None:
        weight = x.new_ones(x.shape[:2] + (1, ))
    cluster_weight = weight.new_zeros(batch, num_clusters, 1).scatter_add(
        1, idx_cluster[..., None], weight) + 1e-6
    norm_weight = weight / cluster_weight.gather(1, idx_cluster[..., None])
    merged = x.new_zeros(batch, num_clusters, channels).scatter_add(
        1, idx_cluster[..., None].expand(-1, -1, channels), x * norm_weight)
    return merged, norm_weight


def importance_weight(score: torch.Tensor) -> torch.Tensor:
    """``exp(score)``, shifted per image for stability; the shift cancels in
    the per-cluster normalisation of :func:`merge_tokens`."""
    return (score - score.amax(dim=1, keepdim=True).detach()).exp()


class TokenDict(NamedTuple):
    """Where the cells of the initial grid went (TCFormer's token dict, the
    "dictionary" of HAFA Fig. 3).

    Attributes:
        idx_token (Tensor): ``(B, H0 * W0)`` token index of every cell of
            the initial ``H0 x W0`` grid.
        init_size (tuple): ``(H0, W0)``.
        num_tokens (int): ``N``, tokens the cells point into.
        is_grid (bool): The tokens are the cells themselves, in raster
            order (no clustering yet).
    """
    idx_token: torch.Tensor
    init_size: Tuple[int, int]
    num_tokens: int
    is_grid: bool = False

    @classmethod
    def grid(cls, batch, height, width, device):
        """The identity dictionary of an ``H x W`` map of tokens."""
        idx = torch.arange(height * width, device=device)
        return cls(idx.expand(batch, -1), (height, width), height * width,
                   True)

    def merge(self, idx_cluster: torch.Tensor, num_clusters: int):
        """The dictionary after the tokens were merged into clusters."""
        return TokenDict(idx_cluster.gather(1, self.idx_token),
                         self.init_size, num_clusters)


def _cell_to_pixel(init_size, map_size, device):
    """Pixel of an ``H x W`` map covering each cell of the initial grid
    (nearest neighbour), ``(H0 * W0,)``."""
    pixels = torch.arange(map_size[0] * map_size[1], device=device,
                          dtype=torch.float32).view(1, 1, *map_size)
    return F.interpolate(pixels, init_size, mode='nearest').long().flatten()


def token2map(x: torch.Tensor, tokens: TokenDict,
              map_size: Tuple[int, int]) -> torch.Tensor:
    """Tokens -> feature map: each pixel is the mean of the tokens of the
    initial-grid cells it covers. ``map_size`` must not exceed the initial
    grid.

    Args:
        x (Tensor): ``(B, N, C)`` tokens described by ``tokens``.
        tokens (TokenDict): Their dictionary.
        map_size (tuple): ``(H, W)``.

    Returns:
        Tensor: ``(B, C, H, W)``, contiguous (mmcv's ops, e.g. RoIAlign,
        read the memory as NCHW).
    """
    batch, _, channels = x.shape
    if tokens.is_grid and tuple(map_size) == tuple(tokens.init_size):
        return nlc_to_nchw(x, map_size)
    pixel = _cell_to_pixel(tokens.init_size, map_size, x.device)
    pixel = pixel.expand(batch, -1)[..., None]  # (B, H0*W0, 1)
    cells = gather_tokens(x, tokens.idx_token)  # (B, H0*W0, C)
    height, width = map_size
    out = x.new_zeros(batch, height * width, channels).scatter_add(
        1, pixel.expand(-1, -1, channels), cells)
    count = x.new_zeros(batch, height * width, 1).scatter_add(
        1, pixel, x.new_ones(pixel.shape))
    return nlc_to_nchw(out / count.clamp(min=1), map_size)


def map2token(feature_map: torch.Tensor, tokens: TokenDict) -> torch.Tensor:
    """Feature map -> tokens: each token is the mean of the pixels over its
    initial-grid cells.

    Args:
        feature_map (Tensor): ``(B, C, H, W)``, not larger than the initial
            grid.
        tokens (TokenDict): The tokens' dictionary.

    Returns:
        Tensor: ``(B, N, C)``.
    """
    batch, channels, height, width = feature_map.shape
    if tokens.is_grid and (height, width) == tuple(tokens.init_size):
        return feature_map.flatten(2).transpose(1, 2)
    pixel = _cell_to_pixel(tokens.init_size, (height, width),
                           feature_map.device).expand(batch, -1)
    flat = feature_map.flatten(2).transpose(1, 2)  # (B, H*W, C)
    cells = gather_tokens(flat, pixel)  # (B, H0*W0, C)
    index = tokens.idx_token[..., None]
    out = flat.new_zeros(batch, tokens.num_tokens, channels).scatter_add(
        1, index.expand(-1, -1, channels), cells)
    count = flat.new_zeros(batch, tokens.num_tokens, 1).scatter_add(
        1, index, flat.new_ones(index.shape))
    return out / count.clamp(min=1)


class TokenClusterer:
    """Clusters the tokens of a map at one or more reduction ratios.

    ``ratios`` ``lambda`` give ``M = ceil(N / lambda)`` clusters each
    (ClusTR Eq. 3). DPC-KNN scores the tokens once and picks the centres of
    every ratio from the same scores; K-means runs once per ratio.

    Args:
        method (str): ``'dpc_knn'`` or ``'kmeans'``.
        k (int): DPC-KNN neighbours.
        num_iters (int): K-means rounds.
        window_size (int, optional): Cluster within windows of at most this
            many tokens a side instead of over the whole map (each window
            gets ``ceil(n / lambda)`` clusters, ``n`` its fewest tokens).
            Cheaper at high resolution, but it changes the clusters: a
            cluster never spans two windows.
    """

    def __init__(self, method='dpc_knn', k=5, num_iters=10, window_size=None):
        if method not in ('dpc_knn', 'kmeans'):
            raise ValueError(f"Unknown clustering method {method!r}; use "
                             "'dpc_knn' or 'kmeans'.")
        self.method, self.k, self.num_iters = method, k, num_iters
        self.window_size = window_size

    def __call__(self, x: torch.Tensor, hw: Tuple[int, int],
                 ratios) -> List[Tuple[torch.Tensor, int]]:
        """Cluster ``x`` ``(B, N, C)`` laid out on an ``H x W`` grid.

        Returns:
            list: per ratio, the ``(B, N)`` cluster indices and the number
            of clusters ``M``.
        """
        batch, num_tokens, channels = x.shape
        if self.window_size is None:
            groups, mask, fewest = x, None, num_tokens
        else:
            index, valid, slot, num_windows, fewest = window_layout(
                *hw, self.window_size, x.device)
            groups = x[:, index].view(batch * num_windows, -1, channels)
            mask = valid.repeat(batch, 1)  # (B * nW, P)
        counts = [max(1, math.ceil(fewest / ratio)) for ratio in ratios]
        idxs = self.cluster(groups, counts, mask)
        if self.window_size is None:
            return list(zip(idxs, counts))
        results = []
        for idx, count in zip(idxs, counts):
            offset = torch.arange(num_windows, device=x.device)[:, None]
            idx = idx.view(batch, num_windows, -1) + offset * count
            idx = idx.flatten(1)
            results.append((idx[:, slot], num_windows * count))
        return results

    def cluster(self, groups: torch.Tensor, counts,
                mask: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """``(B, N)`` cluster indices of ``groups`` ``(B, N, C)`` for every
        cluster number in ``counts``, over all tokens (no windows)."""
        if self.method == 'kmeans':
            return [kmeans(groups, m, self.num_iters, mask) for m in counts]
        score, neighbours = dpc_scores(groups, self.k, mask,
                                       return_neighbours=True)
        return [
            cluster_by_scores(
                groups, score, m, neighbours=neighbours
                if _real_centres_only(mask, m) else None) for m in counts
        ]
