"""Layer-wise lr decay for segmentors and detectors."""
import functools

from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor

from mmhvit.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmhvit.utils import ConfigError


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise lr decay for any model with a ``backbone``.

    mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` asks the model
    for ``get_layer_depth``, which only mmpretrain's classifiers pass on to
    their backbone; mmseg's segmentors and mmdet's detectors have none, and
    mmseg's own ``LayerDecayOptimizerConstructor`` knows ConvNeXt, BEiT and
    MAE only. This one asks ``model.backbone.get_layer_depth(name,
    'backbone.')``, which every mmhvit backbone has (necks and heads take
    the last depth, the full lr): a parameter at depth ``d`` of ``L`` trains
    at ``lr * layer_decay_rate ** (L - 1 - d)``, times the ``lr_mult`` of
    its ``custom_keys`` (SETR's heads: 10), which mmpretrain's constructor
    stores in the group without applying.

    Example::

        optim_wrapper = dict(
            constructor='mmhvit.BackboneLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.9))
    """

    def add_params(self, params, module, prefix='', get_layer_depth=None,
                   **kwargs):
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise ConfigError(
                    'Layer-wise lr decay needs the depth of each parameter: '
                    f'{type(module).__name__} has no get_layer_depth and its '
                    f'backbone ({type(backbone).__name__}) none either '
                    '(docs/errors.md row 102).')
            get_layer_depth = functools.partial(backbone.get_layer_depth,
                                                prefix='backbone.')
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)
        if prefix == '':
            for group in params:
                lr_mult = group.pop('lr_mult', 1.0)
                group['lr'] *= lr_mult
                group['lr_scale'] *= lr_mult
