"""Time and peak memory of DPC-KNN against the number of tokens: mmhvit's
implementation beside the plain N x N formulation (the way TCFormer's
``cluster_dpc_knn`` computes it) and, with ``--external``, another
implementation such as a local copy of TCFormer's, measured in one run.

    python tools/analysis_tools/benchmark_clustering.py \\
        [--sizes 196 1024 4096 16384] [--channels 64] [--ratio 4] \\
        [--device cpu|cuda] [--repeat 5] [--max-plain-n 16384] \\
        [--window-size 64] [--external NAME=FILE:FUNCTION]

The implementations take turns, round by round, so that machine load
affects all alike; times are medians. Memory is the peak above the input
of one more run each (CPU: resident memory, which large temporaries
reach). All are given the same tie-breaking noise (an external function
draws it from torch's global generator, seeded alike), so the table also
says whether they produce the same clusters. ``FUNCTION(x, num_clusters,
k)`` returns the ``(B, N)`` cluster indices (or a tuple starting with
them); for TCFormer's ``cluster_dpc_knn(token_dict, cluster_num, k)``
write a two-line adapter. With ``--window-size`` a last column times
clustering within windows of that many tokens a side (the tokens laid out
on the most square grid of N cells), the cheaper option for
detection-size maps, which does change the clusters.

On a CPU loaded with other jobs, run it as ``OMP_WAIT_POLICY=passive python
...``: with libgomp's default spin-waiting every kernel can wait ~15 ms for
a descheduled thread, which weighs on many small kernels (ours) far more
than on a few large ones (README, "Token clustering").
"""
import argparse
import math
import statistics

import torch

from mmhvit.analysis import measure
from mmhvit.analysis.benchmark import load_callable, timed
from mmhvit.models.layers import TokenClusterer, dpc_knn


@torch.no_grad()
def dpc_knn_plain(x, num_clusters, k=5, generator=None):
    """DPC-KNN with the whole (B, N, N) distance matrix and its same-sized
    temporaries, vectorised: the baseline of this benchmark."""
    batch, num_tokens, channels = x.shape
    dist = torch.cdist(x, x) / math.sqrt(channels)
    knn = dist.topk(k, dim=-1, largest=False).values
    noise = torch.rand(batch, num_tokens, generator=generator,
                       device=generator.device if generator else x.device)
    density = (-(knn**2).mean(dim=-1)).exp() + 1e-6 * noise.to(x.device)
    denser = (density[:, None, :] > density[:, :, None]).to(x.dtype)
    dist_max = dist.flatten(1).amax(dim=-1)[:, None, None]
    delta = (dist * denser + dist_max * (1 - denser)).amin(dim=-1)
    centres = (delta * density).topk(num_clusters, dim=-1).indices
    to_centres = dist.gather(
        1, centres[..., None].expand(-1, -1, num_tokens))  # (B, M, N)
    idx = to_centres.argmin(dim=1)
    ids = torch.arange(num_clusters, device=x.device).expand_as(centres)
    return idx.scatter(1, centres, ids)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[196, 1024, 4096, 16384])
    parser.add_argument('--channels', type=int, default=64)
    parser.add_argument('--ratio', type=float, default=4,
                        help='token reduction ratio: M = ceil(N / ratio)')
    parser.add_argument('--k', type=int, default=5)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--max-plain-n', type=int, default=16384,
                        help='skip the plain computation above this N')
    parser.add_argument('--window-size', type=int,
                        help='also time clustering within windows')
    parser.add_argument('--external', metavar='NAME=FILE:FUNCTION',
                        help='another DPC-KNN, FUNCTION(x, num_clusters, k)')
    return parser.parse_args()


def grid_of(n):
    """The most square (H, W) with H * W = n."""
    height = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return height, n // height


def implementations(args, external, n):
    """name -> fn(x, num_clusters) for the size ``n``."""
    def seeded(fn):
        def run(x, m):
            return fn(x, m, args.k,
                      generator=torch.Generator(args.device).manual_seed(0))
        return run

    fns = {'ours': seeded(dpc_knn)}
    if n <= args.max_plain_n:
        fns['plain'] = seeded(dpc_knn_plain)
    if external is not None:
        name, function = external

        def run_external(x, m):
            torch.manual_seed(0)  # its noise, as ours draws it
            out = function(x, m, args.k)
            return out[0] if isinstance(out, tuple) else out

        fns[name] = run_external
    if args.window_size:
        clusterer = TokenClusterer(window_size=args.window_size)
        fns['windows'] = lambda x, m: clusterer(x, grid_of(n),
                                                [args.ratio])[0][0]
    return fns


def main():
    args = parse_args()
    external = load_callable(args.external) if args.external else None
    print(f'DPC-KNN, C={args.channels}, M=ceil(N/{args.ratio:g}), '
          f'k={args.k}, batch 1, {args.device} '
          f'({torch.get_num_threads()} threads); median of {args.repeat} '
          'interleaved runs; memory: peak above the input; same: clusters '
          'equal to ours')
    for n in args.sizes:
        x = torch.randn(1, n, args.channels, device=args.device,
                        generator=torch.Generator(args.device).manual_seed(n))
        m = math.ceil(n / args.ratio)
        fns = implementations(args, external, n)
        results = {name: fn(x, m) for name, fn in fns.items()}  # warm-up
        seconds = {name: [] for name in fns}
        for _ in range(args.repeat):
            for name, fn in fns.items():
                seconds[name].append(timed(lambda: fn(x, m), x.device))
        ours = statistics.median(seconds['ours'])
        cells = []
        for name, fn in fns.items():
            sec = statistics.median(seconds[name])
            peak = measure(lambda: fn(x, m), args.device).peak_bytes
            same = '' if name in ('ours', 'windows') else (
                ' same' if torch.equal(results[name], results['ours'])
                else ' DIFFERENT')
            cells.append(f'{name} {sec:.3f} s ({sec / ours:.2f}x ours), '
                         f'{peak / 2**20:.0f} MiB{same}')
        print(f'N={n:>6} | ' + ' | '.join(cells), flush=True)


if __name__ == '__main__':
    main()
