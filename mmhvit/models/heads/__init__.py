from .cls_head import DropoutLinearClsHead
from .hlg_head import HLGUPHead

__all__ = ['DropoutLinearClsHead', 'HLGUPHead']
