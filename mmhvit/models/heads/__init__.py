from .cls_head import DropoutLinearClsHead
from .hlg_head import HLGUPHead
from .setr_mla_head import SETRMLAHead

__all__ = ['DropoutLinearClsHead', 'HLGUPHead', 'SETRMLAHead']
