"""mmhvit models: importing this module registers them in ``mmhvit.MODELS``.

Configs of mmseg, mmdet and mmpretrain use them as ``type='mmhvit.<Name>'``.
"""
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
