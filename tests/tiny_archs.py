"""Backbone archs small enough for CPU tests that still take every code path
of the paper's archs (several heads, all four stages, both HLG window kinds,
two cluster ratios per ClusTR stage). Tests pass them as ``arch=``."""
TINY_HAT_NET = dict(stem_channels=8, embed_dims=(16, 32, 48, 64),
                    depths=(1, 1, 1, 1), head_dim=16, mlp_ratios=(2, 2, 2, 2),
                    kernel_sizes=(3, 3, 3, 3))
# HLG's stage widths must be multiples of the previous one; stage 2 has a
# plain and a dilated layer.
TINY_HLG = dict(embed_dims=(16, 32, 32, 64), num_heads=(1, 2, 2, 4),
                depths=(1, 2, 1, 1))
TINY_CLUSTR = dict(embed_dims=(16, 32, 48, 64), depths=(1, 1, 1, 1),
                   num_heads=(1, 1, 2, 2), mlp_ratios=(2, 2, 2, 2),
                   reduction_ratios=((64, 16), (16, 4), (4, 1), (1, )))
# PVTHAFA and PVTv2HAFA
TINY_PVT = dict(embed_dims=16, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 3, 4])
TINY_SWIN = dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
