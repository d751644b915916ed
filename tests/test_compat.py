"""mmhvit.compat: mmengine checkpoints load under torch >= 2.6, unreadable
checkpoints are named, and checkpoints are saved atomically (the crash
itself is simulated in tests/test_reliability.py)."""
import argparse

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import mmhvit.compat as compat


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


def test_checkpoints_are_saved_atomically():
    from mmengine.runner import checkpoint, runner
    assert checkpoint.save_checkpoint is compat.save_checkpoint_atomically
    assert runner.save_checkpoint is compat.save_checkpoint_atomically


def test_test_metrics_json_is_written_by_the_main_process_only():
    """Every process of a distributed test used to dump the same
    ``<timestamp>.json`` (a race that corrupted it)."""
    from mmengine.fileio import dump
    from mmengine.hooks import logger_hook
    assert logger_hook.dump.__wrapped__ is dump
