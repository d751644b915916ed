"""``--cfg-options KEY=VALUE ...`` of the tools, checked against the config
they change.

mmengine's ``DictAction`` fails on an option without ``=`` with ``ValueError:
not enough values to unpack``, turns a value of the wrong type into a string
that fails much later without the key (``invalid literal for int() with base
10: 'abc'``), and merges a misspelt key (``load_fron=...``) as a new setting
that nothing reads.
"""
import difflib

from mmengine.config import Config, DictAction

from mmhvit.utils import ConfigError

_MISSING = object()


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction``; an option without ``=`` is refused with
    the option and the form it needs (argparse's usage error, status 2)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for value in values:
            if '=' not in value:
                parser.error(
                    f'{option_string} takes KEY=VALUE pairs, got {value!r} '
                    f'without "=" (e.g. {value}=VALUE).')
        super().__call__(parser, namespace, values, option_string)


def merge_cfg_options(cfg: Config, options: dict) -> None:
    """Merge ``options`` (as :class:`CfgOptionsAction` parses them) into
    ``cfg`` after :func:`check_cfg_option` of each."""
    for key, value in options.items():
        check_cfg_option(cfg, key, value)
    cfg.merge_from_dict(options)


def check_cfg_option(cfg: Config, key: str, value) -> None:
    """``key=value`` does not put text where the config holds a number or
    a bool, and a key the config lacks is not a near miss of one it has.

    Raises:
        ConfigError: naming the option, and the config's value or the key
            it probably means.
    """
    node, path = dict(cfg.items()), []
    for name in key.split('.'):
        parent, node = node, _child(node, name)
        if node is _MISSING:
            close = difflib.get_close_matches(
                name, [str(k) for k in _keys(parent)], n=1, cutoff=0.8)
            if close:
                where = '.'.join(path) or 'the config'
                raise ConfigError(
                    f'--cfg-options {key}: {where} has no key {name!r}; did '
                    f'you mean {close[0]!r}? (A new key would be merged and '
                    'silently ignored.)')
            return
        path.append(name)
    if isinstance(node, (bool, int, float)) and isinstance(value, str):
        raise ConfigError(
            f'--cfg-options {key}={value}: the config holds the '
            f'{type(node).__name__} {node!r} there, not text. Give a number '
            f'or True / False, as in {key}={node!r}.')


def _child(node, name: str):
    if isinstance(node, dict):
        return node.get(name, _MISSING)
    if isinstance(node, (list, tuple)) and name.isdigit() and \
            int(name) < len(node):
        return node[int(name)]
    return _MISSING


def _keys(node):
    return node.keys() if isinstance(node, dict) else []
