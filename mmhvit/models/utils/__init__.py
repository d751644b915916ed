from .checkpoint import load_pretrained, match_state_dict, unwrap_state_dict
from .ckpt_convert import OFFICIAL_FORMATS, convert_hat_net

__all__ = [
    'load_pretrained', 'match_state_dict', 'unwrap_state_dict',
    'OFFICIAL_FORMATS', 'convert_hat_net'
]
