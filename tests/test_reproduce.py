"""``tools/reproduce.py``: the paper tables the metafiles name, the commands
of each launcher, a failed row reported without stopping the others, and a
whole table trained, killed, resumed and reported end to end on the CPU."""
import fnmatch
import glob
import json
import os
import os.path as osp
import re
import runpy
import signal
import socket
import subprocess
import sys
import time

import pytest

from mmhvit.analysis.reproduce import (Launcher, RowDir, find_table,
                                       last_error, list_tables, load_config,
                                       paper_tables, report, row_status,
                                       run_table, select_rows, step_status,
                                       table_slug)
from helpers import ROOT

TABLES = paper_tables(ROOT)
GRID = osp.join(ROOT, 'configs/clustr/clustr-tiny-grid_8xb128-100e_in1k.py')
SINGLE = osp.join(ROOT,
                  'configs/clustr/clustr-tiny-single-64_8xb128-100e_in1k.py')


def test_tables_and_rows():
    assert len(TABLES) > 20
    assert list(TABLES) == sorted(TABLES, key=list(TABLES).index)
    slugs = [table_slug(table) for table in TABLES]
    assert len(set(slugs)) == len(slugs)
    assert table_slug('hafa Supp. Tab. 2') == 'hafa-supptab2'
    assert find_table(TABLES, 'setr_hlg-tab5') == 'setr_hlg Tab. 5'
    assert find_table(TABLES, 'SETR_HLG tab 5') == 'setr_hlg Tab. 5'
    with pytest.raises(KeyError, match='clustr Tab. 7'):
        find_table(TABLES, 'clustr Tab. 77')
    rows = TABLES['clustr Tab. 7']
    assert [row.config for row in rows] == [GRID, SINGLE]
    assert select_rows(rows, ['2']) == rows[1:]
    assert select_rows(rows, ['grid']) == rows[:1]
    with pytest.raises(ValueError):
        select_rows(rows, ['3'])
    # a multi-scale row is tested with the config's TTA, its single-scale
    # twin without; both train the same config once
    tab5 = {(row.config_name, row.mode) for row in TABLES['setr_hlg Tab. 5']}
    assert {('setr_vit-l-pup_8xb2-160k_ade20k-512x512', mode)
            for mode in ('ss', 'ms+flip')} <= tab5
    assert 'Grid-based' in list_tables(TABLES, 'clustr Tab. 7')


def test_commands_of_each_launcher(tmp_path):
    config = osp.join(ROOT, 'configs/hlg/'
                      'setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py')
    options = ['train_cfg.max_iters=10']
    slurm = Launcher('slurm', ROOT, partition='gpu', cfg_options=options)
    command, env = slurm.train(config, 'w', resume=True)
    assert command[:3] == ['bash', f'{ROOT}/tools/slurm_train.sh', 'gpu']
    assert command[4:] == [config, 'w', '--resume', '--cfg-options',
                           *options]
    assert (env['GPUS'], env['GPUS_PER_NODE']) == ('8', '8')  # 8xb2
    command, _ = Launcher('pytorch', ROOT).train(config, 'w', False)
    assert command == ['bash', f'{ROOT}/tools/dist_train.sh', config, '8',
                       '--work-dir', 'w']
    command, _ = Launcher('none', ROOT).test(config, 'c.pth', 't', tta=True)
    assert command == [sys.executable, f'{ROOT}/tools/test.py', config,
                       'c.pth', '--work-dir', 't', '--tta']
    command, _ = slurm.test(config, 'c.pth', 't', tta=False)
    assert command[:2] == ['bash', f'{ROOT}/tools/slurm_test.sh']
    with pytest.raises(ValueError, match='partition'):
        Launcher('slurm', ROOT)


def test_smoke_runs_every_task_on_synthetic_data(tmp_path):
    """``--smoke``: classification rows take ``--cfg-options``;
    segmentation and detection rows run a child config on the synthetic
    set in the dataset's layout, small, from random weights, 2 iterations
    (1 epoch); rows on sets without a synthetic twin run unchanged."""
    launcher = Launcher('none', ROOT, cfg_options=['a=1'],
                        smoke_root=str(tmp_path))
    command, _ = launcher.train(GRID, 'w', False)
    assert command[2] == GRID
    assert command[-2:] == ['randomness.seed=0', 'a=1']
    assert f'train_dataloader.dataset.data_root={tmp_path}/smoke_imagenet' \
        in command
    rows = {table: TABLES[table][0].config
            for table in ('hat_net Tab. 3', 'hat_net Tab. 4')}
    for (table, config), scale, loop in zip(
            rows.items(), ((256, 64), (107, 64)),
            (dict(max_iters=2), dict(max_epochs=1))):
        command, _ = launcher.test(config, 'c.pth', 't', tta=False)
        child = command[2]
        assert child == str(tmp_path / 'smoke_configs' /
                            osp.basename(config))
        assert command[-2:] == ['--cfg-options', 'a=1']
        cfg = load_config(child)
        assert cfg.scale == scale
        assert cfg.model.backbone.init_cfg is None
        assert loop.items() <= dict(cfg.train_cfg).items()
        roots = {cfg[f'{split}_dataloader'].dataset.data_root
                 for split in ('train', 'val', 'test')}
        assert len(roots) == 1 and roots.pop().startswith(
            str(tmp_path / 'smoke_'))
        if 'crop_size' in cfg:  # segmentation
            assert cfg.crop_size == cfg.model.data_preprocessor.size == (
                64, 64)
    context = osp.join(ROOT, 'configs/setr/'
                       'setr_vit-l-mla_8xb2-80k_pascal-context-480x480.py')
    assert launcher.train(context, 'w', False)[0][2] == context


def recipe_batches():
    """The rows of the "Total batch" table of every family README:
    ``{family: [(config name patterns, total, GPUs, images per GPU)]}``."""
    row = re.compile(r'^\| (`.+`)[^|]* \| (\d+) \| (\d+) × (\d+) \|$')
    tables = {}
    for readme in glob.glob(osp.join(ROOT, 'configs', '*', 'README.md')):
        with open(readme) as f:
            section = f.read().partition('#### Total batch')[2]
        rows = []
        for line in section.splitlines():
            match = row.match(line)
            if match:
                rows.append((re.findall(r'`([^`]+)`', match[1]),
                             *map(int, match.groups()[1:])))
            elif rows and not line.startswith('|'):
                break
        tables[osp.basename(osp.dirname(readme))] = rows
    return tables


RECIPES = recipe_batches()


def recipe_batch(config):
    """``(total, GPUs, images per GPU)`` of ``config`` by its family
    README's "Total batch" table."""
    family = osp.basename(osp.dirname(config))
    name = osp.splitext(osp.basename(config))[0]
    for patterns, *batch in RECIPES[family]:
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            return tuple(batch)
    raise AssertionError(f'No "Total batch" row of configs/{family}/'
                         f'README.md matches {name}.')


@pytest.mark.slow
def test_every_table_launches_the_papers_total_batch(
        tmp_path, capsys, monkeypatch):
    """``tools/reproduce.py run <every table> --launcher pytorch
    --dry-run``: each training it launches (rows and the ImageNet runs they
    start from) runs the GPUs and per-GPU batch of its family README's
    recipe, whatever its name says, without scaling the lr; the metafile's
    batch of every row is that total."""
    assert set(RECIPES) == {'hat_net', 'clustr', 'hafa', 'hlg', 'setr'}
    tool = osp.join(ROOT, 'tools', 'reproduce.py')
    monkeypatch.setattr(sys, 'argv', [
        tool, 'run', *map(table_slug, TABLES), '--launcher', 'pytorch',
        '--dry-run', '--work-root', str(tmp_path)])
    runpy.run_path(tool, run_name='__main__')
    output = capsys.readouterr().out
    trainings = [line.split() for line in output.splitlines()
                 if 'dist_train.sh' in line]
    for command in trainings:
        config, gpus = command[2], int(command[3])
        total, *recipe = recipe_batch(config)
        per_gpu = load_config(config).train_dataloader.batch_size
        assert [gpus, per_gpu] == recipe, config
        assert gpus * per_gpu == total
        assert '--auto-scale-lr' not in command
        name = osp.splitext(osp.basename(config))[0]
        assert (f'{name}: {gpus} processes x {per_gpu} images = total '
                f'batch {total}, the paper\'s') in output
    rows = [row for table in TABLES.values() for row in table]
    assert {command[2] for command in trainings} >= {
        row.train_config for row in rows}
    for row in rows:
        assert row.batch_size == recipe_batch(row.train_config)[0], row.name


def test_other_process_counts_scale_the_lr_and_say_so():
    config = osp.join(ROOT, 'configs/hat_net/'
                      'retinanet_hat-net-tiny_fpn_1x_coco.py')
    launcher = Launcher('pytorch', ROOT, gpus=4)
    command, env = launcher.train(config, 'w', resume=False)
    assert command[3] == '4' and '--auto-scale-lr' in command
    assert launcher.plan(config).describe() == (
        'retinanet_hat-net-tiny_fpn_1x_coco: 4 processes x 2 images = total '
        "batch 8, not the paper's 8 x 2 = 16: the lr is scaled by 8/16 "
        '(tools/train.py --auto-scale-lr)')
    one = Launcher('none', ROOT)
    command, _ = one.train(config, 'w', resume=False)
    assert '--auto-scale-lr' in command
    assert one.plan(config).total == 2
    with pytest.raises(ValueError, match='one process'):
        Launcher('none', ROOT, gpus=8)
    # the per-GPU batch of --cfg-options counts
    shrunk = Launcher('pytorch', ROOT,
                      cfg_options=['train_dataloader.batch_size=4'])
    assert shrunk.plan(config).total == 32 and shrunk.plan(config).scaled


@pytest.mark.slow
def test_every_config_has_the_papers_total_batch_for_auto_scale_lr():
    """``tools/train.py --auto-scale-lr`` needs
    ``auto_scale_lr.base_batch_size``: every config has it, the total batch
    of its family README's recipe, a multiple of its per-GPU batch."""
    configs = [path for path in glob.glob(osp.join(ROOT, 'configs', '*',
                                                   '*.py'))
               if '_base_' not in path and '/demo/' not in path]
    assert len(configs) > 150
    for config in configs:
        cfg = load_config(config)
        total, gpus, per_gpu = recipe_batch(config)
        assert cfg.auto_scale_lr.base_batch_size == total, config
        assert cfg.train_dataloader.batch_size == per_gpu, config


def test_status_of_a_step():
    here = socket.gethostname()
    dead = subprocess.Popen([sys.executable, '-c', ''])
    dead.wait()
    assert step_status(None) == 'not started'
    assert step_status(dict(state='running', host=here,
                            pid=os.getpid())) == 'running'
    assert step_status(dict(state='running', host=here,
                            pid=dead.pid)) == 'interrupted'
    assert step_status(dict(state='running', host='elsewhere',
                            pid=dead.pid)) == 'running'


def test_last_error(tmp_path):
    log = tmp_path / 'train.log'
    log.write_text('Traceback (most recent call last):\n  File "x"\n'
                   '[rank0]: FileNotFoundError: data/ade missing\n'
                   'E1130 torch.distributed.elastic failed\n\n')
    assert last_error(str(log)) == 'FileNotFoundError: data/ade missing'
    log.write_text('killed by the scheduler\n')
    assert last_error(str(log)) == 'killed by the scheduler'


FAKE_TEST = """
import json, os, sys
out = os.path.join(sys.argv[1], '20261130_000000')
os.makedirs(out)
json.dump({'accuracy/top1': 77.0}, open(out + '/20261130_000000.json', 'w'))
"""


class FakeLauncher(Launcher):
    """Commands that fail to train the grid row (an error deep in its log)
    and that write a test result for the other row, in a second."""

    def train(self, config, work_dir, resume):
        code = ("raise ValueError('bad data root')" if 'grid' in config else
                "open(r'{}/epoch_1.pth', 'w').close()".format(work_dir))
        return [self.python, '-c', code], {}

    def test(self, config, checkpoint, work_dir, tta):
        return [self.python, '-c', FAKE_TEST, work_dir], {}


def test_failed_row_is_reported_and_the_others_run(tmp_path):
    rows = TABLES['clustr Tab. 7']
    statuses = run_table(rows, str(tmp_path), FakeLauncher('none', ROOT),
                         log=lambda line: None)
    assert list(statuses.values()) == ['failed', 'done']
    text = report('clustr Tab. 7', rows, str(tmp_path), params=False)
    assert '| 77.2 | 77.00 | -0.20 |' in text
    assert 'failed (1)' in text
    assert "ValueError: bad data root" in text
    assert '1 done, 1 failed (of 2 rows)' in text
    # run again: the done row is skipped, the failed one tried again
    statuses = run_table(rows, str(tmp_path), FakeLauncher('none', ROOT),
                         log=lambda line: None)
    assert list(statuses.values()) == ['failed', 'done']
    state = RowDir(str(tmp_path), SINGLE).load()
    assert 'exit code' not in json.dumps(state)


def reproduce(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'reproduce.py'), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, **kwargs)


@pytest.mark.slow
def test_table_run_killed_resumed_and_reported(tmp_path):
    """ClusTR Tab. 7 (2 rows) with ``--smoke`` (the synthetic ImageNet
    set, one process); the whole process group is killed (SIGKILL)
    while the second row trains, after its first epoch's checkpoint: the
    report shows the first row done and the second interrupted; run
    again, the first row is skipped, the second resumes from its
    checkpoint and is tested; the report has both results."""
    work = tmp_path / 'work'
    args = ['run', 'clustr-tab7', '--smoke', '--work-root', str(work)]
    first = reproduce(*args, start_new_session=True)
    checkpoint = work / 'clustr-tiny-single-64_8xb128-100e_in1k' / \
        'epoch_1.pth'
    start = time.monotonic()
    while not checkpoint.exists():
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() - start < 300
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    rows = TABLES['clustr Tab. 7']
    start = time.monotonic()  # until the killed training process is gone
    while row_status(rows[1], str(work))[0] == 'running':
        assert time.monotonic() - start < 30
        time.sleep(0.1)
    assert [row_status(row, str(work))[0] for row in rows] == [
        'done', 'interrupted']
    second = reproduce(*args)
    output = second.communicate()[0]
    assert second.returncode == 0, output
    assert 'clustr-tiny-grid_8xb128-100e_in1k [ss]: done, skipped' in output
    assert 'resuming from' in output and 'epoch_1.pth' in output
    single = work / 'clustr-tiny-single-64_8xb128-100e_in1k'
    assert f'; log: {single / "train.log"}' in output
    assert f'; log: {single / "test-ss.log"}' in output
    state = RowDir(str(work), SINGLE).load()
    assert state['train']['resumed_from'].endswith('epoch_1.pth')
    with open(state['train']['log']) as f:
        assert 'resumed epoch: 1' in f.read()

    report_file = work / 'clustr-tab7.md'
    assert report_file.read_text() in output
    lines = [line for line in report_file.read_text().splitlines()
             if line.startswith('| 1 ') or line.startswith('| 2 ')]
    assert len(lines) == 2
    for line, row in zip(lines, rows):
        cells = [cell.strip() for cell in line.split('|')[1:-1]]
        paper, ours, diff = float(cells[4]), float(cells[5]), cells[6]
        assert paper == row.metrics['Top 1 Accuracy']
        assert 0 <= ours <= 100
        assert diff.startswith(f'{ours - paper:+.2f}')
        assert diff.endswith(' !')  # 2 epochs on 4 images: far off
        # ours: the model as run (its paper count within 0.5 %)
        paper_params, our_params = map(float, cells[7].split(' / '))
        assert paper_params == row.paper_params / 1e6
        assert our_params == pytest.approx(paper_params, rel=0.005)
        assert cells[8] == 'done'


@pytest.mark.slow
def test_segmentation_row_smoke(tmp_path):
    """HAT-Net Tab. 3, row 1 with ``--smoke``: its full-size model trained
    2 iterations on the synthetic ADE20K set, tested and reported (100 s
    on the loaded 2-core machine; a detection row takes about as long)."""
    run = reproduce('run', 'hat_net-tab3', '--smoke', '--rows', '1',
                    '--work-root', str(tmp_path))
    output = run.communicate()[0]
    assert run.returncode == 0, output[-3000:]
    row, = [line for line in output.splitlines() if line.startswith('| 1 ')]
    cells = [cell.strip() for cell in row.split('|')[1:-1]]
    assert cells[3] == 'mIoU' and 0 <= float(cells[5]) <= 100
    assert cells[8] == 'done'
