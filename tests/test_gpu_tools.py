"""The GPU tools where there is no GPU: the GPU report's CPU mode end to
end, its plan and budget, the attention-kernel recorder on the CPU's SDPA
kernels, the GPU check's dry run, and the bundle for the GPU machine: its
resolution, size check and download (the mmcv build is done by hand:
docs/gpu.md)."""
import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile

import pytest
import torch
import torch.nn.functional as F

from mmhvit.analysis.attention import AttentionRecorder
from mmhvit.analysis.gpu_report import SETTINGS, plan, run_report, tiny
from helpers import ROOT, run_tool, write

sys.path.insert(0, os.path.join(ROOT, 'tools', 'misc'))
import gpu_bundle  # noqa: E402
import gpu_check_steps  # noqa: E402

EXTERNAL = '''
import torch


def build():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1),
                               torch.nn.ReLU(inplace=True))
'''


def cells_of(report, **match):
    return [c for c in report['cells']
            if all(c[k] == v for k, v in match.items())]


@pytest.mark.slow
def test_gpu_report_cpu_mode_end_to_end(tmp_path):
    """Ours, an upstream peer and an external model side by side: images/s
    and counted training memory for every precision, with_cp where the
    model has it, the attention kernels; markdown and JSON in one
    folder."""
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
            # on the CPU: no resident-set peak; training memory counted
            assert cell['images_per_s'] > 0 and 'peak_bytes' not in cell
            # (weights, gradients, two AdamW moments: 16 bytes a parameter)
            params = report['params'][cell['model']]
            assert (cell['counted_bytes'] > 16 * params if
                    cell['mode'] == 'train' else 'counted_bytes' not in cell)
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
    assert ('| train img/s | train counted MiB | with_cp img/s | with_cp '
            'counted MiB | inference img/s |') in markdown
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


GPU_CHECK_STEPS = ['env', 'install', 'stack', 'pytest', 'pytest-counts',
                   'data', 'train-hat_net', 'train-hlg', 'train-setr',
                   'train-clustr', 'train-hafa', 'report']


@pytest.mark.slow
def test_gpu_check_dry_run_on_the_cpu(tmp_path):
    """tools/misc/gpu_check.sh where there is no CUDA: every step writes its
    row to summary.md; the CUDA tests run (all skipped, with the reason, in
    the junit XML), the install, the trainings and the report skip with
    their reason; of a bundle it would install what the machine lacks."""
    bundle = tmp_path / 'bundle'
    (bundle / 'wheels').mkdir(parents=True)
    for name in ('mmengine-0.10.7-py3-none-any.whl',
                 'numpy-2.4.0-cp312-cp312-manylinux_2_28_x86_64.whl',
                 'setuptools-81.0.0-py3-none-any.whl',
                 'no_such_dist-1.0-py3-none-any.whl'):
        (bundle / 'wheels' / name).write_bytes(b'')
    out = tmp_path / 'out'
    result = subprocess.run(
        ['bash', 'tools/misc/gpu_check.sh'], capture_output=True, text=True,
        cwd=ROOT, env=dict(os.environ, OUT=str(out), BUNDLE=str(bundle),
                           PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='',
                           # a loaded 2-core machine, not the GPU machine's
                           # 16 cores
                           LIMIT_SCALE='10', DEADLINE='5400'))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split(' | ') for line in
            (out / 'summary.md').read_text().splitlines()
            if line.startswith('| ') and not line.startswith('| step')]
    status = {row[0][2:]: row[1] for row in rows}
    detail = {row[0][2:]: row[3] for row in rows}
    assert [row[0][2:] for row in rows] == GPU_CHECK_STEPS
    assert status['env'] == status['stack'] == status['pytest'] == 'ok'
    assert 'mmcv ops: CPU only' in detail['stack']
    reason = 'no CUDA device (torch.cuda.is_available() is False)'
    for step in GPU_CHECK_STEPS[5:]:
        assert status[step] == 'skipped' and reason in detail[step], step
    # the machine's numpy and pkg_resources are kept
    assert [os.path.basename(w) for w in
            (out / 'install.log').read_text().split()] == [
        'mmengine-0.10.7-py3-none-any.whl',
        'no_such_dist-1.0-py3-none-any.whl']
    assert 'would install 2 wheels' in detail['install']
    counts = detail['pytest-counts']
    assert re.match(r'(\d+) tests: \1 skipped; \d+ skipped: needs CUDA',
                    counts), counts
    assert 'tools/dist_train.sh configs/hlg/setr-pup_hlg-small' in (
        out / 'train-hlg.log').read_text()


def test_gpu_check_summarises_a_training_log(tmp_path):
    logs = tmp_path / '20260101_000000' / 'vis_data'
    logs.mkdir(parents=True)
    records = [dict(iter=i, loss=3.0 - 0.1 * i, time=1.0 if i < 6 else 0.25,
                    memory=1000 + i) for i in range(1, 21)]
    (logs / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records))
    assert gpu_check_steps.training(str(tmp_path)) == (
        '20 iterations, 0.250 s/iter, 1020 MiB peak, loss 2.900 -> 1.000')


def fake_report(*names):
    """A pip report (``pip install --dry-run --report``) installing
    ``names``."""
    return dict(install=[dict(
        metadata=dict(name=name, version='1.0'),
        download_info=dict(url=f'https://files/{name}-1.0-py3-none-any.whl',
                           archive_info=dict(hashes=dict(sha256='0' * 64))))
        for name in names])


def test_bundle_brings_only_what_the_gpu_machine_lacks(tmp_path):
    """The machine's distributions (numpy, opencv-python-headless,
    matplotlib's pillow, ...) are stubs in the resolution and left out of
    the set, opencv-python (mmengine's requirement) too; the CPU stack's
    numpy<2.3 / scipy<1.14 do not bind the GPU machine."""
    report = fake_report('mmengine', 'numpy', 'opencv-python', 'Pillow',
                         'addict', 'PyYAML', 'setuptools')
    wheels = gpu_bundle.select(report)
    assert [w.name for w in wheels] == ['addict', 'mmengine', 'pyyaml',
                                        'setuptools']
    assert wheels[1].filename == 'mmengine-1.0-py3-none-any.whl'
    requirements = gpu_bundle.bundle_requirements()
    assert 'setuptools<82' in requirements and 'mmdet==3.3.0' in requirements
    assert not any(r.startswith(('mmcv', 'numpy', 'scipy', 'opencv', 'torch',
                                 'matplotlib', 'pillow'))
                   for r in requirements)
    with zipfile.ZipFile(gpu_bundle.stub_wheel('python-dateutil',
                                               tmp_path)) as stub:
        assert stub.read('python_dateutil-2.9.0.post0.dist-info/METADATA'
                         ).decode().splitlines() == [
            'Metadata-Version: 2.1', 'Name: python-dateutil',
            'Version: 2.9.0.post0']


def test_bundle_size_check_names_the_largest_files():
    MiB = gpu_bundle.MiB
    wheels = [gpu_bundle.Wheel('mmcv', '2.1.0', '', size=6 * MiB),
              gpu_bundle.Wheel('opencv-python', '4', 'https://f/opencv.whl',
                               size=70 * MiB),
              gpu_bundle.Wheel('addict', '2', 'https://f/addict.whl',
                               size=4000)]
    assert gpu_bundle.check_size(wheels[:1], MiB, 64 * MiB) == 7 * MiB
    with pytest.raises(SystemExit, match=r'would be 77\.0 MiB, over the '
                       r'limit of 64 MiB \(checkout 1\.0 MiB\); largest: '
                       r'opencv\.whl 70\.0 MiB, mmcv 6\.0 MiB, addict\.whl'):
        gpu_bundle.check_size(wheels, MiB, 64 * MiB)


def pypi_reachable():
    index = os.environ.get('PIP_INDEX_URL', 'https://pypi.org/simple')
    try:
        urllib.request.urlopen(index.rstrip('/') + '/mmengine/', timeout=15)
    except OSError as error:
        return f'the package index {index} is unreachable ({error})'
    return ''


def test_bundle_resolution_for_the_gpu_machine(tmp_path):
    """The real resolution for the GPU machine (pip's metadata and HEAD
    requests: about 20 MB and 20 s where the index serves no PEP 658
    metadata, as here): the OpenMMLab pins and what the machine lacks, well
    under 64 MiB with the checkout; with a limit the set exceeds, it stops
    naming the largest files before building mmcv or writing anything."""
    unreachable = pypi_reachable()
    if unreachable:
        pytest.skip(unreachable)
    out, wheelhouse = tmp_path / 'bundle', tmp_path / 'wheelhouse'
    result = run_tool('misc/gpu_bundle.py', '--out', out, '--wheelhouse',
                      wheelhouse, '--limit-mib', '8', fails=True)
    assert result.returncode == 1, result.stderr[-2000:]
    listed = dict(re.findall(r'^ +[\d.]+ MiB  (\S+) (\S+)', result.stdout,
                             re.M))
    for name in ('mmcv', 'mmengine', 'mmsegmentation', 'mmdet',
                 'mmpretrain'):
        assert listed[name] == gpu_bundle.pin(name), name
    for name in ('pycocotools', 'shapely', 'terminaltables', 'addict',
                 'yapf', 'setuptools', 'rich'):
        assert name in listed, name
    # not an old release picked for a stub's version (rich 0.1.0 needs no
    # pygments)
    assert int(listed['rich'].split('.')[0]) >= 13
    for name in ('torch', 'torchvision', 'numpy', 'scipy', 'opencv-python',
                 'opencv-python-headless', 'matplotlib', 'pytest', 'pillow'):
        assert name not in listed, name
    total = float(re.search(r'^ +([\d.]+) MiB  in all', result.stdout,
                            re.M)[1])
    assert 10 < total < 32, result.stdout
    assert 'over the limit of 8 MiB' in result.stderr
    assert 'largest: mmcv 6.5 MiB, ' in result.stderr
    assert 'mmsegmentation-1.2.2-py3-none-any.whl 2.3 MiB' in result.stderr
    assert not out.exists() and not wheelhouse.exists()


@pytest.mark.slow
def test_bundle_downloads_the_targets_wheels(tmp_path):
    """The whole bundle but the mmcv build (a wheel in the wheelhouse
    stands in for the built one): the resolved files are downloaded as
    CPython 3.12 manylinux wheels whatever Python runs the tool (the first
    version asked this interpreter's pip for them: "not a supported wheel
    on this platform" under 3.11), then listed in the manifest with their
    hashes, the whole set within the limit."""
    unreachable = pypi_reachable()
    if unreachable:
        pytest.skip(unreachable)
    out, wheelhouse = tmp_path / 'bundle', tmp_path / 'wheelhouse'
    wheelhouse.mkdir()
    mmcv = f'mmcv-{gpu_bundle.pin("mmcv")}-cp312-cp312-linux_x86_64.whl'
    with zipfile.ZipFile(wheelhouse / mmcv, 'w') as stand_in:
        stand_in.writestr('mmcv/__init__.py', '')
    run_tool('misc/gpu_bundle.py', '--out', out, '--wheelhouse', wheelhouse)
    files = sorted(p.name for p in (out / 'wheels').iterdir())
    manifest = json.loads((out / 'manifest.json').read_text())
    assert [w['file'] for w in manifest['wheels']] == files
    assert manifest['key'] == 'torch-2.11.0-cu130-cp312-sm90'
    assert mmcv in files
    assert any(f.startswith('mmsegmentation-') for f in files)
    # the target's binary wheels, not this interpreter's
    binary = [f for f in files if not f.endswith('-none-any.whl')]
    assert {'pycocotools', 'shapely', 'pyyaml', 'regex'} <= {
        f.split('-')[0].lower() for f in binary}, files
    for name in binary:
        assert re.search(r'-(cp312-cp312|cp3\d+-abi3)-(manylinux|linux)',
                         name), name
    for wheel in manifest['wheels']:
        assert wheel['sha256'] == gpu_bundle.sha256(out / 'wheels' /
                                                    wheel['file'])
    assert manifest['total_bytes'] < gpu_bundle.LIMIT_MIB * gpu_bundle.MiB
