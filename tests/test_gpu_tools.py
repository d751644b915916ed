"""The GPU tools where there is no GPU: the GPU report's CPU mode end to
end, its plan and budget, the attention-kernel recorder on the CPU's SDPA
kernels, and what the bare-CUDA-machine scripts would do."""
import json
import os
import subprocess

import pytest
import torch
import torch.nn.functional as F

from mmhvit.analysis.attention import AttentionRecorder
from mmhvit.analysis.gpu_report import SETTINGS, plan, run_report, tiny
from test_e2e import ROOT, run_tool, write

EXTERNAL = '''
import torch


def build():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1),
                               torch.nn.ReLU(inplace=True))
'''


def cells_of(report, **match):
    return [c for c in report['cells']
            if all(c[k] == v for k, v in match.items())]


def test_gpu_report_cpu_mode_end_to_end(tmp_path):
    """Ours, an upstream peer and an external model side by side: images/s
    and peak memory for every precision, with_cp where the model has it,
    the attention kernels; markdown and JSON in one folder."""
    factory = write(tmp_path / 'external.py', EXTERNAL)
    out = tmp_path / 'report'
    # one thread: a check of the tool, not a measurement (on a loaded
    # machine, threads waiting for each other take 10x as long)
    run_tool('analysis_tools/gpu_report.py', 'hlg-mobile', 'pvt-tiny',
             '--external', f'conv={factory}:build', '--settings', 'ade20k',
             '--precisions', 'float32', 'bfloat16', '--device', 'cpu',
             '--tiny', '--warmup', '0', '--repeat', '1', '--out-dir', out,
             env=dict(os.environ, OMP_NUM_THREADS='1'))
    with open(out / 'gpu_report.json') as f:
        report = json.load(f)
    assert list(report['params']) == ['hlg-mobile', 'pvt-tiny', 'conv']
    assert report['settings']['ade20k'] == dict(dataset='ADE20K',
                                                shape=[64, 64], batch=2)
    for cell in cells_of(report, with_cp=False):
        if cell['mode'] != 'kernels':
            # the CPU's resident-set peak is coarse: only its presence
            assert cell['images_per_s'] > 0 and 'peak_bytes' in cell
    with_cp = {c['model']: c for c in cells_of(report, with_cp=True,
                                               precision='float32')}
    assert with_cp['hlg-mobile']['images_per_s'] > 0
    assert with_cp['pvt-tiny']['status'] == with_cp['conv']['status'] == 'n/a'
    kernels = {c['model']: c['attention']
               for c in cells_of(report, mode='kernels')}
    # a training forward: on the CPU, HLG's position biases need gradients,
    # which the CPU's flash kernel does not give, so it says why not
    for call in kernels['hlg-mobile']:
        assert call['site'].startswith('mmhvit/models/backbones/hlg.py:')
        assert call['mask'].startswith('float32')
        assert call['kernel'] == 'flash (CPU)' or call['refused'].startswith(
            'flash_attention:')
    assert {a['kernel'] for a in kernels['pvt-tiny']} == {'explicit'}
    assert kernels['conv'] == []
    markdown = (out / 'gpu_report.md').read_text()
    assert '## ADE20K: 64x64, 2 per GPU' in markdown
    assert markdown.count('| hlg-mobile | 4.0 |') == 2  # per precision


def test_cells_are_planned_most_important_first_within_a_budget():
    cells = plan(['a', 'b'], ['ade20k', 'coco'], ['float16', 'float32'])
    assert [tuple(c) for c in cells[:3]] == [
        ('a', 'ade20k', 'train', 'float16', False),
        ('a', 'ade20k', 'inference', 'float16', False),
        ('b', 'ade20k', 'train', 'float16', False)]
    assert cells[8].mode == 'kernels'
    assert cells[-1] == ('b', 'coco', 'inference', 'float32', False)
    assert len(cells) == 2 * 2 * (2 + 1 + 1 + 2 + 1)
    assert tiny(SETTINGS['coco']).shape == (64, 107)
    assert tiny(SETTINGS['imagenet']).batch == 2
    report = run_report(dict(conv=torch.nn.Conv2d(3, 4, 3)), ['ade20k'],
                        ['float32'], 'cpu', True, budget=0,
                        log=lambda _: None)
    assert {c['status'] for c in report['cells']} == {'not run (budget)'}


def test_attention_recorder_names_each_kernel_and_why():
    """The CPU's flash kernel takes 4-D masks; a 3-D mask or a strided head
    dim send a call to the math path, with torch's reason; an
    ``nn.MultiheadAttention`` asked for its weights is explicit."""
    q = torch.randn(2, 4, 64, 16)
    mha = torch.nn.MultiheadAttention(64, 4, batch_first=True)
    x = torch.randn(2, 10, 64)
    with AttentionRecorder(probe=True) as recorder:
        F.scaled_dot_product_attention(
            q, q, q, attn_mask=torch.ones(2, 1, 1, 64, dtype=torch.bool))
        F.scaled_dot_product_attention(q, q, q,
                                       torch.zeros(4, 64, 64))  # 3-D
        strided = torch.randn(2, 4, 16, 64).transpose(-1, -2)
        F.scaled_dot_product_attention(strided, strided, strided)
        mha(x, x, x)
        mha(x, x, x, need_weights=False)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            F.scaled_dot_product_attention(q, q, q)
    calls = recorder.calls
    assert [(c.kind, c.kernel, c.dtype) for c in calls] == [
        ('sdpa', 'flash (CPU)', 'float32'), ('sdpa', 'math', 'float32'),
        ('sdpa', 'math', 'float32'), ('mha', 'explicit', 'float32'),
        ('mha', 'flash (CPU)', 'float32'),
        ('sdpa', 'flash (CPU)', 'bfloat16')]
    assert calls[0].mask == 'bool 2x1x1x64' and not calls[0].refused
    assert 'attn mask shapes' in calls[1].refused
    assert 'stride 1' in calls[2].refused
    assert all(c.site.startswith('test_gpu_tools.py:') for c in calls)


def bash(*args, **env):
    result = subprocess.run(['bash', *args], capture_output=True, text=True,
                            cwd=ROOT, env=dict(os.environ, **env))
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_prepare_gpu_box_lists_what_it_fetches():
    out = bash('tools/misc/prepare_gpu_box.sh', '--list')
    assert 'CPython 3.12 manylinux x86_64, torch 2.11.0' in out
    for pin in ('mmengine==0.10.7', 'mmsegmentation==1.2.2', 'mmdet==3.3.0',
                'mmpretrain==1.2.0', '--abi cp312', 'mmcv==2.1.0',
                'torchvision==0.26.*'):
        assert pin in out
    out = bash('tools/misc/prepare_gpu_box.sh', '--list',
               TARGET_TORCH='2.14.1', TARGET_PYTHON='3.13')
    assert 'torchvision==0.29.*' in out and '--abi cp313' in out


def test_gpu_check_runs_its_steps_in_order():
    out = bash('tools/misc/gpu_check.sh', DRY_RUN='1')
    steps = [line.split(']')[0][1:] for line in out.splitlines()]
    assert steps == ['0-unpack', '1-install', '2-mmcv', '3-check_env',
                     '3-pytest', '4-gpu_report']


@pytest.mark.skipif(
    not os.environ.get('MMHVIT_TEST_PREPARE'),
    reason='downloads about 220 MB from PyPI (about 45 s): set '
    'MMHVIT_TEST_PREPARE=1')
def test_prepare_gpu_box_builds_a_complete_offline_bundle(tmp_path):
    """The real preparation; its own last step checks that pip resolves
    everything gpu_check.sh installs from the wheels alone."""
    bash('tools/misc/prepare_gpu_box.sh', str(tmp_path / 'box'))
    wheels = os.listdir(tmp_path / 'box' / 'wheels')
    for name in ('mmengine-', 'mmsegmentation-', 'mmdet-', 'mmpretrain-',
                 'mmhvit-', 'torchvision-0.26.0-cp312', 'pytest-'):
        assert any(w.startswith(name) for w in wheels), name
    assert os.listdir(tmp_path / 'box' / 'sdist') == ['mmcv-2.1.0.tar.gz']
