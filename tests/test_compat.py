"""mmhvit.compat: mmengine checkpoints load under torch >= 2.6, unreadable
checkpoints are named; the fixes are installed by ``compat.apply()`` (which
``tools/`` call), for the mmengine versions they are written for, and
importing mmhvit installs nothing."""
import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import mmhvit.compat as compat


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
