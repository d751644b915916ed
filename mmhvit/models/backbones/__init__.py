from .clustr import ClusTR
from .hat_net import HATNet

__all__ = ['ClusTR', 'HATNet']
