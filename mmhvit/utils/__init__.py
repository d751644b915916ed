"""The bottom layer of mmhvit: what every other package may use."""
from .errors import ConfigError, DownloadError
from .paths import (latest_checkpoint, local_checkpoint_missing,
                    missing_checkpoint_message)

__all__ = [
    'ConfigError', 'DownloadError', 'latest_checkpoint',
    'local_checkpoint_missing', 'missing_checkpoint_message'
]
