from .hat_net import HATNet

__all__ = ['HATNet']
