from .clustr import ClusTR
from .hafa import PVTHAFA, PVTv2HAFA, SwinHAFA
from .hat_net import HATNet

__all__ = ['ClusTR', 'HATNet', 'PVTHAFA', 'PVTv2HAFA', 'SwinHAFA']
