"""Check that the installed torch / OpenMMLab stack is one mmhvit supports.

    python tools/misc/check_env.py

Prints Python, torch (and CUDA), torchvision, mmengine, mmcv (and whether its
compiled ops load and run), mmsegmentation, mmdet and mmpretrain, compares
them with the pins in ``requirements/*.txt`` (the tested set) and with the
mmcv / mmengine ranges that mmseg, mmdet and mmpretrain assert when imported
(read from their ``__init__.py`` without importing them), and prints the
command that fixes each mismatch. Exit status 1 when the combination is not
supported. The checks are :mod:`mmhvit.utils.collect_env`.
"""
import os.path as osp
import platform
import sys

from mmhvit.utils.collect_env import (PACKAGES, check_versions,
                                      installed_versions, read_pins,
                                      runtime_details, upstream_ranges)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main():
    pins = read_pins(osp.join(ROOT, 'requirements'))
    if not pins:
        raise SystemExit(f'no pins found in {ROOT}/requirements/*.txt: run '
                         'this from an mmhvit checkout')
    installed = installed_versions()
    problems, notes = check_versions(installed, pins, upstream_ranges())
    details, runtime_problems = runtime_details(installed, pins)
    problems += runtime_problems
    print(f'Python         {platform.python_version()} ({sys.executable})')
    for dist, _ in PACKAGES:
        line = (f'{dist:<15}{installed[dist] or "MISSING":<12}'
                f'pinned {pins.get(dist, "-"):<10}{details.get(dist, "")}')
        print(line.rstrip())
    for note in notes:
        print(f'NOTE: {note}')
    for problem in problems:
        print(f'PROBLEM: {problem}')
    print('Supported combination: ' + ('yes' if not problems else 'NO'))
    raise SystemExit(1 if problems else 0)


if __name__ == '__main__':
    main()
