"""mmhvit.compat: mmengine checkpoints load under torch >= 2.6, unreadable
checkpoints and unreachable URLs are named; the fixes are installed by
``compat.apply()`` (which ``tools/`` call, and importing
``mmhvit.apply_compat``, which every config names), for the mmengine
versions they are written for, and importing mmhvit installs nothing."""
import argparse
import glob
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import mmhvit.compat as compat
from mmhvit.registry import MODELS
from mmhvit.utils import DownloadError
from helpers import ROOT
from tiny_archs import TINY_HAT_NET


@pytest.fixture(autouse=True, scope='module')
def fixes():
    assert compat.apply()


@pytest.fixture
def warnings(monkeypatch):
    logged = []
    monkeypatch.setattr(compat, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    return logged


def test_runner_state_loads_weights_only(tmp_path, warnings):
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    state = dict(
        state_dict={'w': torch.ones(2)},
        message_hub=dict(
            log_scalars={'train/loss': buffer},
            runtime_info={'iter': 3, 'scale': np.array([1.0, 2.0])}),
        meta=dict(seed=np.int64(1), classes=('a', 'b')))
    path = str(tmp_path / 'iter_3.pth')
    torch.save(state, path)
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert not warnings
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5
    np.testing.assert_array_equal(
        loaded['message_hub']['runtime_info']['scale'], [1.0, 2.0])


def test_other_objects_fall_back_with_a_warning(tmp_path, warnings):
    path = str(tmp_path / 'official.pth')
    torch.save({'model': {'w': torch.ones(1)},
                'args': argparse.Namespace(lr=1e-3)}, path)
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert loaded['args'].lr == 1e-3
    assert len(warnings) == 1 and 'official.pth' in warnings[0]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'html'])
def test_unreadable_checkpoint_is_named(tmp_path, warnings, damage):
    """``--resume`` / ``load_from`` / ``init_cfg`` of a broken download."""
    path = str(tmp_path / 'iter_4.pth')
    torch.save({'state_dict': {'w': torch.ones(256)}}, path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write({'truncated': data[:len(data) // 2], 'empty': b'',
                 'html': b'<html>Not Found</html>'}[damage])
    with pytest.raises(RuntimeError, match=r'Cannot read checkpoint .*'
                       r'iter_4.pth \(\d+ bytes\): it is truncated, empty or '
                       r'not a torch file'):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')


@pytest.mark.slow
def test_importing_mmhvit_changes_nothing_in_mmengine():
    """Only ``compat.apply()`` installs the fixes; importing every package
    of mmhvit (as a config's ``custom_imports`` or a registry lookup does)
    leaves mmengine as it is."""
    code = (
        'import mmengine.dist.utils as du, mmengine.hooks.logger_hook as lh\n'
        'from mmengine.dataset import BaseDataset\n'
        'from mmengine.model import MMDistributedDataParallel as DDP\n'
        'from mmengine.runner.checkpoint import CheckpointLoader as L\n'
        'before = (du._init_dist_pytorch, lh.dump,'
        ' BaseDataset._serialize_data, DDP.__init__, L._schemes[""])\n'
        'import mmhvit, mmhvit.models, mmhvit.engine, mmhvit.datasets\n'
        'after = (du._init_dist_pytorch, lh.dump,'
        ' BaseDataset._serialize_data, DDP.__init__, L._schemes[""])\n'
        'assert before == after, after\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_other_mmengine_versions_are_left_alone(monkeypatch, warnings):
    monkeypatch.setattr(compat.mmengine, '__version__', '0.11.0')
    assert not compat.apply()
    assert 'written for mmengine 0.10.0-0.10.7, found 0.11.0' in warnings[0]


def test_test_metrics_json_is_written_by_the_main_process_only():
    """Every process of a distributed test used to dump the same
    ``<timestamp>.json`` (a race that corrupted it)."""
    from mmengine.fileio import dump
    from mmengine.hooks import logger_hook
    assert logger_hook.dump.__wrapped__ is dump


def test_seg_visualizer_draws_labels_on_a_non_contiguous_image():
    """mmseg's ``browse_dataset`` hands the visualizer a permuted tensor's
    array with its channels reordered (channels the outer axis in memory),
    which OpenCV 5 refused in ``cv2.rectangle``."""
    from mmengine.structures import PixelData
    from mmseg.visualization import SegLocalVisualizer
    image = torch.zeros(3, 32, 48, dtype=torch.uint8).permute(
        1, 2, 0).numpy()[..., [2, 1, 0]]
    labels = PixelData(data=torch.zeros(1, 32, 48, dtype=torch.long))
    drawn = SegLocalVisualizer(name='contiguous')._draw_sem_seg(
        image, labels, ['wall'], [(255, 0, 0)], with_labels=True)
    assert drawn.shape == (32, 48, 3) and drawn.any()


@pytest.mark.parametrize('package,name', [
    ('mmseg', 'fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'),
    ('mmdet', 'retinanet/retinanet_r50_fpn_1x_coco'),
    ('mmseg', '_base_/models/fpn_r50.py'),
    ('mmpretrain', '_base_/default_runtime.py')])
def test_external_configs_resolve_as_mmengine_resolves_them(package, name):
    """An ``mmseg::``-style base resolves to mmengine's own answer, from
    the metafiles read once per process (mmengine read them all for each
    reference: about 10 s of every dense config's parse)."""
    from mmengine.config import utils
    from mmengine.utils import get_installed_path
    path = get_installed_path(package)
    try:
        expected = utils._get_external_cfg_path(path, name)
    except ValueError:
        with pytest.raises(ValueError):
            compat.external_cfg_path(path, name)
    else:
        assert compat.external_cfg_path(path, name) == expected
    assert compat.is_installed(package)


def test_configs_install_the_fixes_through_custom_imports():
    """Every shipped config imports ``mmhvit.apply_compat``, so a tool that
    only reads the config (an upstream inferencer, ``mim``, mmseg's
    ``tools/``) gets the fixes; importing it installs them."""
    configs = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                        recursive=True)
    for path in configs:
        with open(path) as f:
            text = f.read()
        if 'custom_imports' in text:
            assert "'mmhvit.apply_compat'" in text, path
    code = (
        'from mmengine.runner.checkpoint import CheckpointLoader as L\n'
        'before = L._schemes[""]\n'
        'import mmhvit.apply_compat\n'
        'from mmhvit import compat\n'
        'assert before is not compat.load_from_local\n'
        'assert L._schemes[""] is compat.load_from_local\n'
        'assert L._schemes["https://"] is compat.load_from_http\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_unreachable_checkpoint_url_names_where_to_put_the_file(
        tmp_path, monkeypatch):
    """Offline (no route to the weights' host), a ``Pretrained`` URL gets
    a named error with the path the download is looked for first, instead
    of ``urllib.error.URLError``; a file put there is loaded."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    compat.apply()
    url = 'http://127.0.0.1:9/weights/tiny_backbone.pth'
    target = tmp_path / 'hub' / 'checkpoints' / 'tiny_backbone.pth'
    backbone = MODELS.build(dict(
        type='mmhvit.HATNet', arch=TINY_HAT_NET,
        init_cfg=dict(type='Pretrained', checkpoint=url)))
    with pytest.raises(DownloadError, match=re.escape(
            f'Cannot download the checkpoint {url} (') + r'.*' + re.escape(
                f'put it at {target} (where the download is looked for')):
        backbone.init_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(backbone.state_dict(), target)
    backbone.init_weights()
