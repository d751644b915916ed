"""Plain N x N DPC-KNN, written step by step from TCFormer's formulation
(ClusTR Eqs. 1-2, HAFA Eqs. 2-4, with TCFormer's choices: distances over
sqrt(C), self among the k neighbours, 1e-6 uniform noise on the density
(one draw per token position, the same for every image), the image's largest
distance as the peak's delta, nearest-centre assignment).
The whole distance matrix is built: fine for the small N of the tests."""
import math

import torch


def dpc_knn_reference(x, num_clusters, k=5, generator=None):
    batch, num_tokens, channels = x.shape
    x = x.float()
    dist = torch.cdist(x, x) / math.sqrt(channels)  # (B, N, N)
    knn = dist.topk(k, dim=-1, largest=False).values
    noise = torch.rand(num_tokens, generator=generator)
    density = torch.exp(-(knn**2).mean(dim=-1)) + noise * 1e-6
    idx = torch.empty(batch, num_tokens, dtype=torch.long)
    for b in range(batch):
        d, rho = dist[b], density[b]
        delta = torch.empty(num_tokens)
        for i in range(num_tokens):
            denser = rho > rho[i]
            delta[i] = d[i][denser].min() if denser.any() else d.max()
        centres = (delta * rho).topk(num_clusters).indices
        idx[b] = d[centres].argmin(dim=0)  # nearest centre, first on ties
        idx[b, centres] = torch.arange(num_clusters)
    return idx
