from .clustr import ClusTR
from .hafa import PVTHAFA, PVTv2HAFA, SwinHAFA
from .hat_net import HATNet
from .hlg import HLG
from .vit_sdpa import SDPAVisionTransformer

__all__ = [
    'ClusTR', 'HATNet', 'HLG', 'PVTHAFA', 'PVTv2HAFA', 'SDPAVisionTransformer',
    'SwinHAFA'
]
