"""SETR-MLA's decoder with the official k x k classifier (SETR/HLG paper
Sec. 3.4)."""
from mmseg.models.decode_heads import SETRMLAHead as _SETRMLAHead
from torch import nn

from mmhvit.registry import MODELS


@MODELS.register_module()
class SETRMLAHead(_SETRMLAHead):
    """mmseg's ``SETRMLAHead`` with a ``cls_kernel_size`` classifier.

    The paper's MLA decoder (Sec. 3.4, Fig. 1c) ends in a classifier on the
    concatenated, upsampled streams whose kernel its text does not give; the
    official head (fudan-zvg/SETR ``VIT_MLAHead``, design/model_facts.md
    §2.2) makes it a 3x3 conv ``cls`` (``channels`` -> classes, bias,
    padding 1), where mmseg's head has a 1x1 ``conv_seg``. With the default
    ``cls_kernel_size=3`` ``conv_seg`` is that 3x3 conv: the classifier has
    the official parameters (8 x ``channels`` x classes more than a 1x1
    one: +0.08 M at 19 classes, +0.61 M at 150) and official checkpoints
    convert completely (``decode_head.cls`` -> ``conv_seg``,
    tools/model_converters/setr2mmhvit.py). Everything else, dropout and
    ``conv_seg``'s ``Normal(std=0.01)`` initialisation included, is mmseg's.

    Args:
        cls_kernel_size (int): Kernel side of the classifier ``conv_seg``
            (odd; padded by ``cls_kernel_size // 2`` so the map keeps its
            size). Defaults to 3 (official); 1 gives mmseg's head.
        **kwargs: ``SETRMLAHead`` arguments (``mla_channels``, ``up_scale``)
            and ``BaseDecodeHead`` ones (``in_channels`` a list,
            ``in_index``, ``channels`` = inputs x ``mla_channels``, ...).
    """

    def __init__(self, cls_kernel_size=3, **kwargs):
        if cls_kernel_size < 1 or cls_kernel_size % 2 == 0:
            raise ValueError(f'cls_kernel_size must be odd and positive, got '
                             f'{cls_kernel_size}')
        super().__init__(**kwargs)
        self.cls_kernel_size = cls_kernel_size
        self.conv_seg = nn.Conv2d(
            self.channels,
            self.out_channels,
            kernel_size=cls_kernel_size,
            padding=cls_kernel_size // 2)
