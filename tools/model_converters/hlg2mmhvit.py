"""Convert an official HLG checkpoint (github.com/fudan-zvg/SETR: ImageNet
classifiers of ``hlg-classification``, or SETR-PUP-HLG / RetinaNet-HLG
checkpoints of its mmseg and mmdet forks) to mmhvit's layout.

    python tools/model_converters/hlg2mmhvit.py hlg_small.pth \
        hlg-small_in1k.pth

Classifiers become an mmpretrain ``ImageClassifier`` state dict
(``backbone.*``, ``head.fc.*``); dense checkpoints keep their ``neck``,
``auxiliary_head``, ``bbox_head``, ... tensors and the fusion conv and
classifier of the SETR-PUP-HLG head (its two transformer layers follow the
paper's earlier layer design and are dropped). Dense configs also accept the
official file directly: mmhvit converts it while loading. Conv biases
followed by a BatchNorm are folded into its running mean (exact), and the
LayerNorms before ``aux_q`` are dropped: mmhvit follows the paper's Eq. 9
there (see configs/hlg/README.md), so converted weights are a starting point
for fine-tuning, not a bit-exact copy of the official network.
"""
from mmhvit.apis import converter_main

if __name__ == '__main__':
    converter_main('hlg', __doc__)
