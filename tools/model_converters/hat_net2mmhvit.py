"""Convert an official HAT-Net checkpoint (github.com/yun-liu/HAT-Net) to
mmhvit's layout.

    python tools/model_converters/hat_net2mmhvit.py HAT-Net_Tiny.pth \
        hat-net-tiny_in1k.pth

The result holds an mmpretrain ``ImageClassifier`` state dict (``backbone.*``
and ``head.fc.*``): classification configs load it with ``load_from`` and the
dense configs through ``init_cfg=dict(type='Pretrained', checkpoint=...,
prefix='backbone.')``. (Those configs also accept the official file itself:
mmhvit converts it while loading.) The official ``attn.proj_norm`` tensors,
never used by its forward pass, are dropped.
"""
from mmhvit.apis import converter_main

if __name__ == '__main__':
    converter_main('hat_net', __doc__)
