"""The documentation works as written: the custom-dataset tutorial's commands
run on a generated dataset, the templates load their documented layouts, and
the links of README.md and docs/ resolve."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from mmhvit.datasets import SHAPE_CLASSES
from custom_data import (NUM_SHAPES, TEMPLATES, make_custom_cls,
                         make_custom_det, make_custom_seg, write_tiny_config)
from helpers import ROOT

TUTORIAL = osp.join(ROOT, 'docs', 'custom_dataset.md')
SEG_TEMPLATE = 'configs/_base_/custom/fpn_hat-net-tiny_custom-seg.py'


def code_blocks(markdown, language):
    """The contents of the ```<language> blocks of a markdown file."""
    with open(markdown) as f:
        return re.findall(rf'```{language}\n(.*?)```', f.read(), re.S)


def bash_commands(markdown):
    """The commands of the ```bash blocks, continuation lines joined."""
    blocks = code_blocks(markdown, 'bash')
    text = '\n'.join(blocks).replace('\\\n', ' ')
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith('#')]


def run(command, cwd):
    """Run a documented command with this interpreter as ``python``."""
    path = osp.dirname(sys.executable) + os.pathsep + os.environ['PATH']
    result = subprocess.run(command, shell=True, cwd=cwd, text=True,
                            capture_output=True, executable='/bin/bash',
                            env=dict(os.environ, PATH=path,
                                     PYTHONWARNINGS='ignore'))
    assert result.returncode == 0, (command, result.stdout[-2000:],
                                    result.stderr[-3000:])
    return result.stdout


@pytest.mark.slow
def test_custom_dataset_tutorial_runs(tmp_path):
    """Every command of the tutorial, in a checkout-like directory holding
    the tutorial's data layout; the template is replaced by its child with a
    tiny backbone and 4 iterations."""
    for name in ('tools', 'configs'):
        os.symlink(osp.join(ROOT, name), tmp_path / name)
    make_custom_seg(str(tmp_path / 'data' / 'my_seg_data'))
    tiny = write_tiny_config(tmp_path, 'seg')
    commands = bash_commands(TUTORIAL)
    assert [c.split()[1] for c in commands] == [
        'tools/misc/scan_labels.py', 'tools/train.py',
        'tools/analysis_tools/analyze_logs.py', 'tools/misc/infer.py']
    outputs = [run(c.replace(SEG_TEMPLATE, tiny), tmp_path)
               for c in commands]

    # the output shown in the tutorial is the real one
    shown = [b for b in code_blocks(TUTORIAL, 'text') if 'label maps' in b]
    assert shown == [outputs[0]]
    work_dir = tmp_path / 'work_dirs' / 'my_seg'
    assert (work_dir / 'iter_4.pth').is_file()
    assert (work_dir / 'curves.png').stat().st_size > 0
    assert 'mIoU: 1 points' in outputs[2]
    predictions = sorted(os.listdir(work_dir / 'predictions'))
    assert predictions == ['0000.json', '0000.png', '0001.json', '0001.png']
    with open(work_dir / 'predictions' / '0000.json') as f:
        record = json.load(f)
    assert record['classes'] == ['background', *SHAPE_CLASSES[:NUM_SHAPES]]
    assert len(record['predictions']['sem_seg']) == 64


@pytest.mark.parametrize('template,make,num_samples', [
    ('retinanet_hat-net-tiny_fpn_custom-det.py', make_custom_det, 2),
    ('hat-net-tiny_custom-cls.py', make_custom_cls, 6),
])
def test_templates_read_their_layouts(tmp_path, monkeypatch, template, make,
                                      num_samples):
    cfg = Config.fromfile(osp.join(TEMPLATES, template))
    make(osp.join(tmp_path, cfg.train_dataloader.dataset.data_root))
    monkeypatch.chdir(tmp_path)  # data_root is relative, as in a checkout
    init_default_scope(cfg.default_scope)
    for split in ('train', 'val'):
        dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
        assert len(dataset) == num_samples
        assert dataset.metainfo['classes'] == SHAPE_CLASSES[:NUM_SHAPES]
    head = cfg.model.get('bbox_head') or cfg.model.head
    assert head.num_classes == NUM_SHAPES


def test_seg_template_heads_follow_classes():
    cfg = Config.fromfile(
        osp.join(TEMPLATES, 'fpn_hat-net-tiny_custom-seg.py'))
    classes = cfg.train_dataloader.dataset.metainfo['classes']
    assert cfg.model.decode_head.num_classes == len(classes)
    assert cfg.model.get('auxiliary_head') is None
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.type == 'BaseSegDataset'
        assert dataset.reduce_zero_label is False
        assert dataset.metainfo == cfg.train_dataloader.dataset.metainfo


def test_links_of_readme_and_docs_resolve():
    pages = [osp.join(ROOT, 'README.md'),
             *glob.glob(osp.join(ROOT, 'docs', '*.md'))]
    missing = []
    for page in pages:
        with open(page) as f:
            links = re.findall(r'\]\(([^)#\s]+)', f.read())
        missing += [f'{page}: {link}' for link in links
                    if '://' not in link and not osp.exists(
                        osp.join(osp.dirname(page), link))]
    assert not missing, missing
