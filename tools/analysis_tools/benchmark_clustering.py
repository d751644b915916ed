"""Time and peak memory of DPC-KNN against the number of tokens: mmhvit's
chunked implementation beside the plain N x N formulation (the way
TCFormer's ``cluster_dpc_knn`` computes it), measured in one run.

    python tools/analysis_tools/benchmark_clustering.py \
        [--sizes 196 1024 4096 16384] [--channels 64] [--ratio 4] \
        [--device cpu|cuda] [--repeat 3] [--max-plain-n 16384] \
        [--window-size 64]

Both are given the same tie-breaking noise, so the table also says whether
they produce the same clusters. With ``--window-size`` a third column times
clustering within windows of that many tokens a side (the tokens laid out on
the most square grid of N cells), the cheaper option for detection-size
maps, which does change the clusters.
"""
import argparse
import math

import torch

from mmhvit.analysis import measure
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


def best_of(fn, device, repeat):
    """Fastest of ``repeat`` runs and the largest peak memory."""
    runs = [measure(fn, device) for _ in range(repeat)]
    return (runs[0].result, min(r.seconds for r in runs),
            max(r.peak_bytes for r in runs))


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
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--max-plain-n', type=int, default=16384,
                        help='skip the plain computation above this N')
    parser.add_argument('--window-size', type=int,
                        help='also time clustering within windows')
    return parser.parse_args()


def grid_of(n):
    """The most square (H, W) with H * W = n."""
    height = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return height, n // height


def main():
    args = parse_args()
    print(f'DPC-KNN, C={args.channels}, M=ceil(N/{args.ratio:g}), '
          f'k={args.k}, batch 1, {args.device}; best of {args.repeat} runs; '
          'memory = peak above the input')
    header = (f'{"N":>7} | {"chunked s":>9} {"plain s":>9} {"plain/ch":>8} '
              f'| {"chunked MiB":>11} {"plain MiB":>10} {"plain/ch":>8} | '
              'same')
    if args.window_size:
        header += f' | {"windows s":>9} {"ch/win":>7} {"win MiB":>8}'
    print(header)
    for n in args.sizes:
        x = torch.randn(1, n, args.channels, device=args.device)
        m = math.ceil(n / args.ratio)

        def run(fn):
            gen = torch.Generator(args.device).manual_seed(0)
            return best_of(lambda: fn(x, m, args.k, generator=gen),
                           args.device, args.repeat)

        ours, t_ours, mem_ours = run(dpc_knn)
        row = f'{n:>7} | {t_ours:>9.3f} '
        if n <= args.max_plain_n:
            plain, t_plain, mem_plain = run(dpc_knn_plain)
            same = 'yes' if torch.equal(ours, plain) else 'no'
            row += (f'{t_plain:>9.3f} {t_plain / t_ours:>8.2f} | '
                    f'{mem_ours / 2**20:>11.0f} {mem_plain / 2**20:>10.0f} '
                    f'{mem_plain / max(mem_ours, 1):>8.2f} | {same}')
        else:
            row += (f'{"-":>9} {"-":>8} | {mem_ours / 2**20:>11.0f} '
                    f'{"-":>10} {"-":>8} |    -')
        if args.window_size:
            clusterer = TokenClusterer(window_size=args.window_size)
            _, t_win, mem_win = best_of(
                lambda: clusterer(x, grid_of(n), [args.ratio]), args.device,
                args.repeat)
            row += (f' | {t_win:>9.3f} {t_ours / t_win:>7.1f} '
                    f'{mem_win / 2**20:>8.0f}')
        print(row, flush=True)


if __name__ == '__main__':
    main()
