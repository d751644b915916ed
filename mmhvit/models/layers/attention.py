"""Splitting tokens into attention heads and back, shared by the
token-based attentions (HLG, ClusTR, HAFA, SETR's ViT); channels are
head-major, ``(num_heads, head_dim)``."""
from typing import Optional

import torch
import torch.nn.functional as F


def tokens_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, C)`` -> ``(B, h, L, C/h)``."""
    batch, length, _ = x.shape
    return x.view(batch, length, num_heads, -1).transpose(1, 2)


def heads_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, h, L, d)`` -> ``(B, L, h*d)``."""
    return x.transpose(1, 2).flatten(2)


def packed_self_attention(x: torch.Tensor,
                          qkv_weight: torch.Tensor,
                          qkv_bias: Optional[torch.Tensor],
                          num_heads: int,
                          dropout_p: float = 0.) -> torch.Tensor:
    """Multi-head self-attention of tokens ``x`` ``(B, N, C)`` whose
    queries, keys and values come from one packed projection (``qkv_weight``
    ``(3C, C)``, rows ``[W_q; W_k; W_v]``, as ``nn.MultiheadAttention``'s
    ``in_proj_weight``), through ``scaled_dot_product_attention``: its fused
    kernels keep the queries, keys, values, output and one log-sum-exp per
    row for backward, never the ``N x N`` attention. Returns the heads
    concatenated, ``(B, N, C)``, before the output projection."""
    qkv = F.linear(x, qkv_weight, qkv_bias).unflatten(-1, (3, num_heads, -1))
    query, key, value = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B, h, N, d)
    out = F.scaled_dot_product_attention(
        query, key, value, dropout_p=dropout_p)
    return heads_to_tokens(out)
