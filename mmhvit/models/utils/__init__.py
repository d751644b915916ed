from .checkpoint import (convert_official_file, load_pretrained,
                         match_state_dict, unwrap_state_dict)
from .ckpt_convert import OFFICIAL_FORMATS, convert_hat_net, convert_hlg

__all__ = [
    'convert_official_file', 'load_pretrained',
    'match_state_dict', 'unwrap_state_dict', 'OFFICIAL_FORMATS',
    'convert_hat_net', 'convert_hlg'
]
