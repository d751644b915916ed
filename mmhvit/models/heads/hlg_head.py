"""SETR's decoder for pyramid backbones (HLG paper Sec. 3.4)."""
import torch
from mmcv.cnn import ConvModule
from mmengine.model import ModuleList
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmhvit.registry import MODELS
from ..backbones.hlg import HLGLayer


@MODELS.register_module()
class HLGUPHead(BaseDecodeHead):
    """Fuse the four stage maps at one scale, refine them with a plain and a
    dilated HLG layer, classify.

    ``resize every input to the fusion level -> concat -> 3x3 conv + norm +
    ReLU -> HLG layer (plain) -> HLG layer (dilated) -> dropout + 1x1 conv``;
    mmseg's loss and inference then upsample the logits to the image.

    The paper fuses at 1/16 and upsamples progressively; the official head
    fuses at the first input's scale (1/4) and upsamples once (x4). Only the
    latter reproduces the paper's own cost (SETR-PUP-HLG-S: 243 GFLOPs at
    512 x 512; a 1/16 fusion gives a fraction of it) and parameters (37 M;
    progressive upsampling convs would add ~1.2 M), so ``fuse_level=0`` is
    the default and the level is a parameter.

    Args:
        fuse_level (int): Index (into the selected inputs) whose resolution
            the maps are fused at. Defaults to 0 (1/4 of the image).
        num_heads (int): Heads of the HLG layers (official: 16 at 512 ch).
        window_size (int): Their window side ``R``; 8 in the paper's text
            (the official head uses 7).
        num_layers (int): HLG layers, alternating plain and dilated (2).
        drop_path_rate (float): Stochastic depth of the HLG layers.
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels`` a list,
            ``in_index`` e.g. ``[0, 1, 2, 3]``, ``channels``, ...).
    """

    def __init__(self, fuse_level=0, num_heads=16, window_size=8,
                 num_layers=2, drop_path_rate=0., **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        if not 0 <= fuse_level < len(self.in_channels):
            raise ValueError(f'fuse_level {fuse_level} must index one of the '
                             f'{len(self.in_channels)} inputs.')
        self.fuse_level = fuse_level
        self.fuse = ConvModule(sum(self.in_channels), self.channels, 3,
                               padding=1, norm_cfg=self.norm_cfg,
                               act_cfg=self.act_cfg)
        self.layers = ModuleList(
            HLGLayer(self.channels, self.channels, num_heads,
                     window_size=window_size, dilated=i % 2 == 1,
                     drop_path_rate=drop_path_rate)
            for i in range(num_layers))

    def forward(self, inputs):
        """Stage maps -> logits ``(B, num_classes, H_f, W_f)`` at the fusion
        level."""
        maps = self._transform_inputs(inputs)
        size = maps[self.fuse_level].shape[2:]
        x = torch.cat([
            resize(m, size=size, mode='bilinear',
                   align_corners=self.align_corners) for m in maps
        ], dim=1)  # (B, sum(C_i), H_f, W_f)
        x = self.fuse(x)
        for layer in self.layers:
            x = layer(x)
        return self.cls_seg(x)
