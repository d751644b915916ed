"""Splitting tokens into attention heads and back, shared by the
token-based attentions (HLG, ClusTR, HAFA); channels are head-major,
``(num_heads, head_dim)``."""
import torch


def tokens_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, C)`` -> ``(B, h, L, C/h)``."""
    batch, length, _ = x.shape
    return x.view(batch, length, num_heads, -1).transpose(1, 2)


def heads_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, h, L, d)`` -> ``(B, L, h*d)``."""
    return x.transpose(1, 2).flatten(2)
