from .cls_head import DropoutLinearClsHead

__all__ = ['DropoutLinearClsHead']
