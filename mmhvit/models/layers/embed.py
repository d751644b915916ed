"""Convolutional stems and strided downsampling between stages."""
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from .mlp import build_inplace_activation


class ConvStem(BaseModule):
    """Two 3x3 stride-2 convolutions: an overall stride of 4.

    ``conv1 -> norm -> act -> conv2``; nothing follows the second conv, as in
    HAT-Net's stem (paper Sec. 3.3, "two sequential vanilla 3x3 convs").

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Channels after the first conv.
        out_channels (int): Channels after the second conv.
        norm_cfg (dict): Norm after the first conv.
        act_cfg (dict): Activation after that norm.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, in_channels, mid_channels, out_channels, norm_cfg,
                 act_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, 2, 1)
        self.norm = build_norm_layer(norm_cfg, mid_channels)[1]
        self.act = build_inplace_activation(act_cfg)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 2, 1)

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, ceil(H/4), ceil(W/4))."""
        return self.conv2(self.act(self.norm(self.conv1(x))))


class ConvDownsample(BaseModule):
    """A 3x3 stride-2 convolution followed by a norm, halving the map."""

    def __init__(self, in_channels, out_channels, norm_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))."""
        return self.norm(self.conv(x))
