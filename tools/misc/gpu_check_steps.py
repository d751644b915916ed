"""The parts of tools/misc/gpu_check.sh that read files: which of the
bundle's wheels the machine lacks, and one line about each result (the
machine, the junit XML, a training run's log) for its summary.

    python3 tools/misc/gpu_check_steps.py missing BUNDLE
    python3 tools/misc/gpu_check_steps.py machine BUNDLE
    python3 tools/misc/gpu_check_steps.py stack
    python3 tools/misc/gpu_check_steps.py junit XML
    python3 tools/misc/gpu_check_steps.py training WORK_DIR

Standard library only but ``machine`` (torch) and ``stack`` (the whole
stack): ``missing`` runs before the bundle is installed.
"""
import glob
import importlib.metadata
import json
import os.path as osp
import statistics
import sys
import warnings
import xml.etree.ElementTree as ET

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# always installed from the bundle: the machine has no OpenMMLab package,
# and a machine's mmcv would not be the one built for its torch and CUDA
OPENMMLAB = ('mmcv', 'mmengine', 'mmsegmentation', 'mmdet', 'mmpretrain')


def has_pkg_resources():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            return False
    return True


def missing(bundle):
    """The bundle's wheels whose distribution the machine lacks (its own
    numpy, scipy, opencv, ... are kept: pip installs with --no-deps);
    setuptools only where ``import pkg_resources`` fails (mmengine's config
    bases need it; setuptools 82 removed it)."""
    wheels = sorted(glob.glob(osp.join(bundle, 'wheels', '*.whl')))
    for wheel in wheels:
        name = osp.basename(wheel).split('-')[0]
        if name in OPENMMLAB:
            yield wheel
        elif name == 'setuptools':
            if not has_pkg_resources():
                yield wheel
        else:
            try:
                importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                yield wheel


def machine(bundle):
    """Python, torch, CUDA, the GPUs; and whether the bundle was made for
    this torch, CUDA and GPU architecture."""
    import platform

    import torch
    line = (f'Python {platform.python_version()}, torch {torch.__version__}'
            f' (CUDA {torch.version.cuda}, cuDNN '
            f'{torch.backends.cudnn.version()})')
    if not torch.cuda.is_available():
        return line + ', no CUDA device'
    names = [torch.cuda.get_device_name(i)
             for i in range(torch.cuda.device_count())]
    capability = '%d.%d' % torch.cuda.get_device_capability(0)
    line += f', {len(names)} x {names[0]} (sm_{capability.replace(".", "")})'
    manifest = osp.join(bundle, 'manifest.json')
    if osp.exists(manifest):
        with open(manifest) as f:
            target = json.load(f)['target']
        built = (target['torch'], target['cuda'][:4], target['arch'])
        here = (torch.__version__.split('+')[0], torch.version.cuda[:4],
                capability)
        if built != here:
            line += (f'; WARNING: the bundle\'s mmcv was built for torch '
                     f'{built[0]}, CUDA {built[1]}, sm_{built[2]}: rebuild '
                     'it (docs/gpu.md)')
    return line


def stack():
    """tools/misc/check_env.py's versions (informational: it finds a
    problem wherever torch is not the CPU stack's pinned one); then the
    OpenMMLab models import, and mmcv's compiled ops run on CUDA (an NMS)
    where there is CUDA, or this raises."""
    import runpy
    try:
        runpy.run_path(osp.join(ROOT, 'tools', 'misc', 'check_env.py'),
                       run_name='__main__')
    except SystemExit:
        pass
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    import torch
    from mmcv.ops import nms

    import mmhvit.models  # noqa: F401
    from mmhvit.analysis.gpu_report import mmcv_ops
    line = f'mmseg, mmdet, mmpretrain, mmhvit import; mmcv ops: {mmcv_ops()}'
    if torch.cuda.is_available():
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]],
                             device='cuda')
        keep = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)[1]
        assert keep.tolist() == [0], keep
        line += ', NMS ran on CUDA'
    return line


def junit(path):
    """Counts of a pytest junit XML, and the distinct skip reasons."""
    root = ET.parse(path).getroot()
    cases = root.iter('testcase')
    counts = dict(passed=0, failed=0, errors=0, skipped=0)
    reasons = {}
    for case in cases:
        kinds = [child.tag for child in case]
        if 'failure' in kinds:
            counts['failed'] += 1
        elif 'error' in kinds:
            counts['errors'] += 1
        elif 'skipped' in kinds:
            counts['skipped'] += 1
            reason = case.find('skipped').get('message', '')
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            counts['passed'] += 1
    line = f'{sum(counts.values())} tests: ' + ', '.join(
        f'{n} {k}' for k, n in counts.items() if n)
    for reason, n in sorted(reasons.items(), key=lambda r: -r[1])[:3]:
        line += f'; {n} skipped: {reason[:160]}'
    return line


def training(work_dir):
    """Iterations, median seconds per iteration (the first 5 left out:
    start-up), peak memory and the loss of a run's scalars.json."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        return f'no scalars.json under {work_dir}'
    with open(logs[-1]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    records = [r for r in records if 'loss' in r]
    if not records:
        return 'no training iteration logged'
    times = [r['time'] for r in records if r.get('iter', 0) > 5] or [
        r['time'] for r in records]
    line = (f'{records[-1]["iter"]} iterations, '
            f'{statistics.median(times):.3f} s/iter')
    if 'memory' in records[-1]:
        line += f', {max(r.get("memory", 0) for r in records)} MiB peak'
    return line + (f', loss {records[0]["loss"]:.3f} -> '
                   f'{records[-1]["loss"]:.3f}')


def main(argv):
    command, *path = argv
    if command == 'missing':
        for wheel in missing(*path):
            print(wheel)
    else:
        print(dict(machine=machine, stack=stack, junit=junit,
                   training=training)[command](*path))


if __name__ == '__main__':
    main(sys.argv[1:])
