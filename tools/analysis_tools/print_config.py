"""Print a config with its bases merged, as the runner sees it: mmdet's
``print_config`` (it serves segmentation and classification configs alike).

    python tools/analysis_tools/print_config.py CONFIG \
        [--save-path full.py] [--cfg-options KEY=VALUE ...]
"""
import runpy

from mmhvit import compat


def main():
    compat.apply()
    runpy.run_path(compat.upstream_tool('mmdet', 'misc/print_config.py'),
                   run_name='__main__')


if __name__ == '__main__':
    main()
