"""Draw the samples of a config's training set as its pipeline delivers them
(images after augmentation, with their label maps or boxes and masks):
mmseg's or mmdet's ``browse_dataset``, chosen by the config's
``default_scope``.

    python tools/analysis_tools/browse_dataset.py CONFIG \
        --output-dir DIR --not-show [--cfg-options KEY=VALUE ...]

All options are upstream's (``--show-interval`` too; mmdet's also
``--not-show`` to write files only). mmseg's tool runs with the fix of
``mmhvit.compat`` (item 5) that lets it draw under OpenCV 5.
"""
import runpy
import sys

from mmengine.config import Config

from mmhvit import compat


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith('-'):
        sys.exit(__doc__)
    compat.apply()
    scope = Config.fromfile(sys.argv[1]).get('default_scope')
    if scope not in ('mmseg', 'mmdet'):
        sys.exit(f'{sys.argv[1]}: browse_dataset draws segmentation '
                 f'(mmseg) and detection (mmdet) sets, not {scope}')
    runpy.run_path(compat.upstream_tool(scope, 'analysis_tools/'
                                        'browse_dataset.py'),
                   run_name='__main__')


if __name__ == '__main__':
    main()
