"""The command line of the ``tools/model_converters/<family>2mmhvit.py``
scripts: ``SRC DST``, converted by
:func:`mmhvit.models.utils.convert_official_file`."""
import argparse

from mmhvit import compat
from mmhvit.models.utils import convert_official_file


def converter_main(official_format: str, doc: str) -> None:
    """Parse ``SRC DST`` (the script's docstring as help), convert the
    official checkpoint ``SRC`` in ``official_format`` to mmhvit's layout
    and save it to ``DST``."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='output path')
    args = parser.parse_args()
    compat.apply()  # reads checkpoints that hold training state
    try:
        converted = convert_official_file(args.src, args.dst, official_format)
    except ValueError as error:
        raise SystemExit(str(error))
    print(f'Converted into {len(converted)} tensors: {args.dst}')
