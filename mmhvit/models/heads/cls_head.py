"""Classification heads for mmpretrain's ``ImageClassifier``."""
from mmpretrain.models.heads import LinearClsHead
from torch import nn

from mmhvit.registry import MODELS


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """``LinearClsHead`` with dropout before the fully connected layer.

    HAT-Net's classifier is ``Dropout(0.2) + Linear`` on the globally pooled
    last stage (official code); mmpretrain's heads have no such dropout.

    Args:
        dropout_rate (float): Probability of zeroing a feature.
        **kwargs: Arguments of ``LinearClsHead``.
    """

    def __init__(self, *args, dropout_rate: float = 0., **kwargs):
        super().__init__(*args, **kwargs)
        self.dropout = nn.Dropout(dropout_rate)

    def pre_logits(self, feats):
        return self.dropout(super().pre_logits(feats))
