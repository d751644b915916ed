"""The installed torch / OpenMMLab stack against the pins of
``requirements/`` and the ranges mmseg, mmdet and mmpretrain assert (what
``tools/misc/check_env.py`` prints): versions, whether mmcv's compiled ops
load and run, and the command that fixes each mismatch."""
import ast
import glob
import importlib
import importlib.metadata
import importlib.util
import os.path as osp

from packaging.version import Version

#: (distribution, module) in the order they are printed
PACKAGES = (('torch', 'torch'), ('torchvision', 'torchvision'),
            ('mmengine', 'mmengine'), ('mmcv', 'mmcv'),
            ('mmsegmentation', 'mmseg'), ('mmdet', 'mmdet'),
            ('mmpretrain', 'mmpretrain'))
#: torch releases mmcv 2.1.0 builds against unpatched (README, "CUDA
#: clusters"); other torch versions than the pin are fine in this range
TORCH_RANGE = ('2.0', '2.10')
MMCV_FIX = ('pip uninstall -y mmcv mmcv-lite mmcv-full && '
            'pip install "setuptools<81" ninja && MMCV_WITH_OPS=1 '
            'pip install --no-build-isolation --no-deps mmcv=={}')
VENV_FIX = 'or, in the mmhvit checkout: make clean-venv && make install'


def read_pins(requirements_dir):
    """``{distribution: version}`` of the ``name==version`` lines."""
    pins = {}
    for path in sorted(glob.glob(osp.join(requirements_dir, '*.txt'))):
        with open(path) as f:
            for line in f:
                name, sep, version = line.split('#')[0].strip().partition(
                    '==')
                if sep:
                    pins[name.strip().lower()] = version.strip()
    return pins


def installed_versions():
    """``{distribution: version or None}`` for :data:`PACKAGES`."""
    versions = {}
    for dist, _ in PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def upstream_ranges():
    """The mmcv / mmengine ranges mmseg, mmdet and mmpretrain assert.

    Returns:
        dict: ``{distribution: {'mmcv': (min, max), 'mmengine': (...)}}``,
        read from each package's ``__init__.py`` (``MMCV_MIN``,
        ``mmcv_maximum_version``, ...) without importing it.
    """
    ranges = {}
    for dist, module in PACKAGES[4:]:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            with open(spec.origin) as f:
                ranges[dist] = parse_ranges(f.read())
    return ranges


def parse_ranges(source):
    """``{'mmcv': (min, max), ...}`` from module-level string constants
    named like ``MMCV_MIN`` or ``mmengine_maximum_version``."""
    bounds = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Constant):
            package, _, bound = node.targets[0].id.lower().partition('_')
            if package in ('mmcv', 'mmengine') and bound[:3] in ('min', 'max'):
                bounds.setdefault(package, {})[bound[:3]] = node.value.value
    return {package: (b['min'], b['max']) for package, b in bounds.items()
            if set(b) == {'min', 'max'}}


def check_versions(installed, pins, ranges):
    """Compare installed versions with the pins and upstream's ranges.

    Args:
        installed (dict): ``{distribution: version or None}``.
        pins (dict): ``{distribution: version}`` (requirements/*.txt).
        ranges (dict): :func:`upstream_ranges`.

    Returns:
        tuple[list[str], list[str]]: problems (each with its fix) and
        notes (supported, but not the tested pins).
    """
    problems, notes = [], []
    refusals = _refusals(installed, ranges)
    for dist, _ in PACKAGES:
        pin, version = pins.get(dist), installed.get(dist)
        if version is None:
            problems.append(
                f'{dist} is not installed: {fix_command(dist, pin)}')
            continue
        reasons = refusals.pop(dist, [])
        mismatch = pin is not None and Version(version) != Version(pin)
        message = f'{dist} {version}' + (
            f' is not the supported {pin}' if mismatch else '')
        if reasons:
            problems.append(f'{message} ({"; ".join(reasons)}): '
                            f'{fix_command(dist, pin)}')
        elif mismatch and dist == 'torch' and _in_range(version,
                                                        TORCH_RANGE):
            notes.append(f'{message} but within {TORCH_RANGE[0]} <= torch '
                         f'< {TORCH_RANGE[1]}, which mmcv {pins.get("mmcv")}'
                         ' builds against; mmcv must be built against this '
                         'torch (its ops check says whether it is)')
        elif mismatch:
            problems.append(f'{message}: {fix_command(dist, pin)}')
    return problems, notes


def _refusals(installed, ranges):
    """``{package: [reason, ...]}`` for mmcv / mmengine versions outside
    what an installed downstream package asserts (its import fails)."""
    refusals = {}
    for dist, required in ranges.items():
        if installed.get(dist) is None:
            continue
        for package, (low, high) in required.items():
            version = installed.get(package)
            if version is not None and not _in_range(version, (low, high)):
                refusals.setdefault(package, []).append(
                    f'{dist} {installed[dist]} asserts '
                    f'{package}>={low},<{high} on import')
    return refusals


def _in_range(version, bounds):
    low, high = bounds
    return Version(low) <= Version(version) < Version(high)


def fix_command(dist, pin):
    """The shell command that installs ``dist==pin``."""
    if pin is None:
        return f'pip install {dist}; {VENV_FIX}'
    if dist == 'mmcv':
        return f'{MMCV_FIX.format(pin)}; {VENV_FIX}'
    if dist == 'torch':
        return (f'pip install torch=={pin} (with the matching torchvision), '
                f'then rebuild mmcv against it: {MMCV_FIX.format("2.1.0")}; '
                f'{VENV_FIX}')
    return f'pip install {dist}=={pin}; {VENV_FIX}'


def check_mmcv_ops(cuda_available, mmcv_pin):
    """Whether mmcv's compiled ops load and run (and were built for CUDA
    where torch has it).

    Returns:
        tuple[str | None, str]: a problem (None if fine) and a description.
    """
    try:
        import torch
        from mmcv.ops import get_compiling_cuda_version, nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    except Exception as error:  # ImportError, undefined symbols, ...
        first_line = str(error).splitlines()[0] if str(error) else ''
        return (f'mmcv\'s compiled ops do not work ({type(error).__name__}: '
                f'{first_line}); mmcv was installed without them (mmcv-lite, '
                'or a build without torch) or against another torch: '
                f'{MMCV_FIX.format(mmcv_pin)}'), 'compiled ops: FAIL'
    built_for = get_compiling_cuda_version()
    cpu_only = built_for == 'not available'
    description = 'compiled ops load (nms ran), built ' + (
        'for the CPU only' if cpu_only else f'for CUDA {built_for}')
    if cuda_available and cpu_only:
        return ('mmcv\'s ops were built for the CPU only, but CUDA is '
                'available: rebuild with FORCE_CUDA=1 '
                'TORCH_CUDA_ARCH_LIST=... ' + MMCV_FIX.format(mmcv_pin),
                description)
    return None, description


def import_status(module):
    """``'imports'`` or the first line of the import error."""
    try:
        importlib.import_module(module)
    except Exception as error:  # upstream version asserts, missing ops
        lines = str(error).splitlines()
        return f'IMPORT FAILS: {type(error).__name__}: ' + (
            lines[0] if lines else '')
    return 'imports'


def torch_status():
    """CUDA availability, torch's CUDA version and the device count."""
    import torch
    built = torch.version.cuda or 'none (CPU build)'
    if not torch.cuda.is_available():
        return False, f'CUDA not available (torch built for CUDA {built})'
    return True, (f'CUDA {built} available, {torch.cuda.device_count()} '
                  f'device(s): {torch.cuda.get_device_name(0)}')


def runtime_details(installed, pins):
    """What each installed package does when used: torch's CUDA, mmcv's
    ops, whether the OpenMMLab packages import.

    Returns:
        tuple[dict, list[str]]: ``{distribution: description}`` and the
        problems found.
    """
    details, problems = {}, []
    if installed['torch'] is not None:
        cuda_available, details['torch'] = torch_status()
        if installed['mmcv'] is not None:
            problem, details['mmcv'] = check_mmcv_ops(
                cuda_available, pins.get('mmcv'))
            problems += [problem] if problem else []
    for dist, module in PACKAGES[2:]:
        if installed[dist] is not None:
            details[dist] = '; '.join(
                filter(None, [details.get(dist), import_status(module)]))
    return details, problems
