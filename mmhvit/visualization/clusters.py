"""Pictures and measures of token clusters (HAFA Fig. 4, supplement Fig. 1
and Sec. 3)."""
import numpy as np
import torch

from mmhvit.models.layers import TokenDict


def cluster_map(tokens: TokenDict) -> np.ndarray:
    """The cluster of every cell of the initial grid, ``(B, H0, W0)``."""
    return tokens.idx_token.view(-1, *tokens.init_size).cpu().numpy()


def conv_similarity(clusters: np.ndarray) -> float:
    """How much a clustering looks like a stride-2 convolution (HAFA
    supplement Sec. 3): the share of non-overlapping 2x2 windows whose four
    cells form one cluster that none of the 4-adjacent windows shares.

    Args:
        clusters (ndarray): ``(H, W)`` cluster ids.
    """
    height, width = (s // 2 * 2 for s in clusters.shape)
    windows = clusters[:height, :width].reshape(height // 2, 2, width // 2,
                                                2).transpose(0, 2, 1, 3)
    windows = windows.reshape(height // 2, width // 2, 4)
    uniform = (windows == windows[..., :1]).all(-1)
    label = np.where(uniform, windows[..., 0], -1)
    alone = uniform.copy()
    for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
        neighbour = np.roll(label, shift, axis=axis)
        edge = [slice(None)] * 2
        edge[axis] = 0 if shift == 1 else -1
        neighbour[tuple(edge)] = -2  # no neighbour across the border
        alone &= neighbour != label
    return float(alone.mean()) if alone.size else 0.


def draw_clusters(image: np.ndarray, clusters: np.ndarray,
                  alpha: float = 0.55, seed: int = 0) -> np.ndarray:
    """Blend a random colour per cluster over ``image`` and outline the
    clusters.

    Args:
        image (ndarray): ``(H, W, 3)`` uint8.
        clusters (ndarray): ``(h, w)`` cluster ids of a grid over it.

    Returns:
        ndarray: ``(H, W, 3)`` uint8.
    """
    height, width = image.shape[:2]
    rows = np.arange(height) * clusters.shape[0] // height
    cols = np.arange(width) * clusters.shape[1] // width
    ids = clusters[rows[:, None], cols[None, :]]  # nearest upsampling
    palette = np.random.default_rng(seed).integers(
        0, 256, (int(clusters.max()) + 1, 3), dtype=np.uint8)
    out = (image * (1 - alpha) + palette[ids] * alpha).astype(np.uint8)
    border = np.zeros((height, width), bool)
    border[1:] |= ids[1:] != ids[:-1]
    border[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    out[border] = 255
    return out


@torch.no_grad()
def collect_sia_clusters(model: torch.nn.Module, inputs: torch.Tensor):
    """Run ``model`` on ``inputs`` and return, for every SIA module in it,
    ``(name, TokenDict)`` of its merged tokens."""
    from mmhvit.models.backbones.hafa import SemanticInformationAggregation
    found, handles = [], []
    for name, module in model.named_modules():
        if isinstance(module, SemanticInformationAggregation):
            handles.append(module.register_forward_hook(
                lambda mod, args, out, name=name: found.append(
                    (name, out[0].tokens))))
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return found
