"""tools/misc/check_env.py, tools/misc/scan_labels.py and
tools/analysis_tools/analyze_logs.py: their logic on made-up inputs, and
each run as a user runs it."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmhvit.checks import label_scan as scan_labels
from mmhvit.utils import collect_env as check_env
from custom_data import TEMPLATES, make_custom_seg
from helpers import ROOT, run_tool


def load_tool(path):
    """A tool script as a module."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


analyze_logs = load_tool('tools/analysis_tools/analyze_logs.py')

PINS = dict(torch='2.9.1', torchvision='0.24.1', mmengine='0.10.7',
            mmcv='2.1.0', mmsegmentation='1.2.2', mmdet='3.3.0',
            mmpretrain='1.2.0')
RANGES = dict(
    mmsegmentation=dict(mmcv=('2.0.0rc4', '2.2.0'),
                        mmengine=('0.5.0', '1.0.0')),
    mmdet=dict(mmcv=('2.0.0rc4', '2.2.0'), mmengine=('0.7.1', '1.0.0')),
    mmpretrain=dict(mmcv=('2.0.0', '2.4.0'), mmengine=('0.8.3', '1.0.0')))


# ---------------------------------------------------------------- check_env
def test_the_pinned_stack_is_supported():
    assert check_env.check_versions(PINS, PINS, RANGES) == ([], [])
    pins = check_env.read_pins(osp.join(ROOT, 'requirements'))
    assert pins.items() >= PINS.items()  # test-only pins (onnx) besides


def test_mmcv_2_2_is_refused_with_the_reason_and_the_fix():
    problems, _ = check_env.check_versions(dict(PINS, mmcv='2.2.0'), PINS,
                                           RANGES)
    assert len(problems) == 1
    assert problems[0].startswith('mmcv 2.2.0 is not the supported 2.1.0 '
                                  '(mmsegmentation 1.2.2 asserts mmcv>=')
    assert 'mmdet 3.3.0 asserts mmcv>=2.0.0rc4,<2.2.0' in problems[0]
    assert 'mmpretrain' not in problems[0]  # it accepts mmcv < 2.4
    assert 'MMCV_WITH_OPS=1 pip install --no-build-isolation --no-deps ' \
           'mmcv==2.1.0' in problems[0]


@pytest.mark.parametrize('changes,problem,note', [
    (dict(torch='2.4.1'), None, 'torch 2.4.1 is not the supported 2.9.1'),
    (dict(torch='2.14.0'), 'torch 2.14.0 is not the supported', None),
    (dict(mmdet=None), 'mmdet is not installed: pip install mmdet==3.3.0',
     None),
    (dict(mmsegmentation='1.2.1'),
     'mmsegmentation 1.2.1 is not the supported 1.2.2: pip install '
     'mmsegmentation==1.2.2', None),
    (dict(mmengine='1.0.0'), 'mmengine 1.0.0 is not the supported 0.10.7 '
     '(mmsegmentation 1.2.2 asserts mmengine>=0.5.0,<1.0.0', None),
])
def test_version_mismatches(changes, problem, note):
    problems, notes = check_env.check_versions(dict(PINS, **changes), PINS,
                                               RANGES)
    assert [p[:len(problem)] for p in problems] == ([problem] if problem
                                                    else [])
    assert [n[:len(note)] for n in notes] == ([note] if note else [])


def test_upstream_ranges_are_read_in_both_spellings():
    mmseg_style = "MMCV_MIN = '2.0.0rc4'\nMMCV_MAX = '2.2.0'\nX = 1\n"
    mmdet_style = ("mmengine_minimum_version = '0.7.1'\n"
                   "mmengine_maximum_version = '1.0.0'\n")
    assert check_env.parse_ranges(mmseg_style) == dict(
        mmcv=('2.0.0rc4', '2.2.0'))
    assert check_env.parse_ranges(mmdet_style) == dict(
        mmengine=('0.7.1', '1.0.0'))
    assert check_env.upstream_ranges() == RANGES  # the installed releases


def test_check_env_passes_in_the_project_venv():
    result = run_tool('misc/check_env.py')
    assert 'compiled ops load (nms ran)' in result.stdout
    assert result.stdout.rstrip().endswith('Supported combination: yes')


# -------------------------------------------------------------- scan_labels
@pytest.mark.slow
def test_scan_labels_names_a_value_beyond_num_classes(tmp_path):
    root = make_custom_seg(str(tmp_path / 'data'), num_train=4, num_val=0)
    bad = osp.join(root, 'ann_dir', 'train', 'bad.png')
    label = np.zeros((8, 8), np.uint8)
    label[0, :3] = 37
    cv2.imwrite(bad, label)
    result = run_tool('misc/scan_labels.py', osp.join(root, 'ann_dir'),
                      '--num-classes', 4, fails=True)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == ('5 label maps, num_classes=4, reduce_zero_label='
                        'False, ignore index 255')
    assert '    37            3' in result.stdout  # value, pixels
    assert [line for line in lines if line.startswith('ERROR')] == [
        'ERROR: value 37 (3 pixels, 1 file) becomes label 37, not below '
        f'num_classes=4 and not the ignore index 255: {bad}.']


def scan(labels_by_file, num_classes=4, reduce_zero_label=False, **kwargs):
    """find_problems on made-up pixel counts ``{file: {value: pixels}}``."""
    counts = scan_labels.Counts()
    for path, values in labels_by_file.items():
        for value, pixels in values.items():
            counts.pixels[value] += pixels
            counts.files[value].append(path)
    for key, value in kwargs.items():
        setattr(counts, key, value)
    labels = scan_labels.Labels(list(labels_by_file), num_classes,
                                reduce_zero_label)
    return scan_labels.find_problems(counts, labels)


def test_ade20k_style_labels_without_reduce_zero_label():
    errors, _ = scan({'a.png': {0: 5, 1: 5, 4: 5}})
    assert errors[0].startswith('value 4 (5 pixels, 1 file) becomes label 4')
    assert errors[0].endswith('set reduce_zero_label=True.')
    assert scan({'a.png': {0: 5, 1: 5, 4: 5}}, reduce_zero_label=True) == (
        [], ['2 classes without a single pixel: 1, 2'])


def test_reduce_zero_label_while_zero_is_a_class():
    errors, warnings = scan({'a.png': {0: 5, 1: 5, 2: 5, 3: 5}},
                            reduce_zero_label=True)
    assert not errors
    assert warnings[0].startswith('reduce_zero_label=True ignores the '
                                  'stored 0 (5 pixels)')


def test_binary_masks_of_0_and_255():
    errors, _ = scan({'m.png': {0: 9, 255: 3}}, num_classes=2)
    assert errors == ['only 0 and 255 occur: 255 is the ignore index, so '
                      'the foreground is never learnt; store it as 1 (e.g. '
                      'mask // 255), e.g. m.png']


def test_colour_and_unreadable_files_are_named(tmp_path):
    colour = str(tmp_path / 'colour.png')
    cv2.imwrite(colour, np.full((4, 4, 3), 128, np.uint8))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    counts = scan_labels.count_labels([colour, str(empty),
                                       str(tmp_path / 'gone.png')])
    assert counts.colour == [colour]
    assert counts.unreadable == [f'{empty} (empty file)',
                                 f'{tmp_path}/gone.png (missing)']


def test_config_heads_that_disagree_with_the_classes(tmp_path, monkeypatch):
    make_custom_seg(str(tmp_path / 'data' / 'my_seg_data'), num_train=2,
                    num_val=0)
    config = tmp_path / 'five.py'
    config.write_text(
        f"_base_ = '{TEMPLATES}/fpn_hat-net-tiny_custom-seg.py'\n"
        'model = dict(decode_head=dict(num_classes=5))\n')
    monkeypatch.chdir(tmp_path)
    labels = scan_labels.labels_from_config(str(config), 'train')
    assert len(labels.files) == 2 and labels.num_classes == 5
    assert labels.errors == [
        'num_classes disagree: decode_head=5, label loader=4; the dataset has '
        '4 classes; set all heads (and the label loader) to the number of '
        'classes']


# ------------------------------------------------------------- analyze_logs
def write_run(work_dir, records):
    log = work_dir / '20250101_000000' / 'vis_data' / 'scalars.json'
    log.parent.mkdir(parents=True)
    log.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return log


ITER_RUN = [
    *(dict(lr=0.01, loss=2.0 / i, time=0.5 + 0.1 * (i == 2), iter=i, step=i)
      for i in (1, 2, 3, 4)),
    dict(mIoU=40.0, aAcc=80.0, step=4),
]


def test_plot_curve_draws_loss_and_val_metric(tmp_path):
    write_run(tmp_path / 'work', ITER_RUN)
    out = tmp_path / 'curves.png'
    result = run_tool('analysis_tools/analyze_logs.py', 'plot_curve',
                      tmp_path / 'work', '--keys', 'loss', 'mIoU', '--out',
                      out, '--legend', 'run')
    assert result.stdout.splitlines() == [
        'run loss: 4 points, iter 1..4, first 2, last 0.5, min 0.5 at iter 4',
        'run mIoU: 1 points, iter 4..4, first 40, last 40, max 40 at iter 4',
        f'wrote {out}']
    assert cv2.imread(str(out)).shape == (600, 700, 3)


def test_a_missing_key_lists_the_logged_ones(tmp_path):
    log = write_run(tmp_path / 'work', ITER_RUN)
    result = run_tool('analysis_tools/analyze_logs.py', 'plot_curve', log,
                      '--keys', 'accuracy/top1', fails=True)
    assert result.returncode == 2
    assert (f"{log} has no 'accuracy/top1'; it logs aAcc, loss, lr, mIoU, "
            'time') in result.stderr


def test_epoch_based_val_metrics_are_per_epoch():
    records = [dict(loss=1.0, epoch=1, iter=5, step=5),
               dict(**{'coco/bbox_mAP': 0.1}, step=1)]
    assert analyze_logs.curve(records, 'loss') == ([5], [1.0], 'iter')
    assert analyze_logs.curve(records, 'coco/bbox_mAP') == ([1], [0.1],
                                                            'epoch')


def test_join_segments_replaces_what_a_resumed_segment_logs_again():
    """A run that went on to iteration 3 but resumed from iteration 2; a
    test run's log in the same work dir is no segment."""
    first = [dict(loss=3.0, iter=1), dict(loss=2.0, iter=2),
             dict(mIoU=1.0, step=2), dict(loss=1.5, iter=3)]
    second = [dict(loss=1.0, iter=3), dict(loss=0.5, iter=4),
              dict(mIoU=2.0, step=4)]
    test_only = [dict(mIoU=3.0)]
    assert analyze_logs.join_segments([first, second, test_only]) == [
        *first[:3], *second]


def test_train_time():
    timing = analyze_logs.train_time(ITER_RUN)
    assert timing['slowest'] == (2, 0.6) and timing['iters'] == 4
    assert timing['mean'] == pytest.approx(0.525)
