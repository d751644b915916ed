"""The set of files a bare GPU machine needs to run mmhvit's GPU check.

    python3 tools/misc/gpu_bundle.py [--list] [--out gpu_bundle]

(``make gpu-bundle``; docs/gpu.md.)

The GPU machine (docs/gpu.md) has Python, torch with CUDA, torchvision,
numpy, scipy, opencv-python-headless, matplotlib and pytest, but no
OpenMMLab package and no network, and at most 64 MiB can be brought along
with the checkout. This script, run on a machine with PyPI, writes
``OUT/wheels/``:

- mmcv with its CUDA ops for the target's torch / CUDA / Python / GPU
  architecture, built here (no GPU needed) against torch and the CUDA
  toolkit from PyPI wheels, debug symbols stripped, and kept in a per-user
  wheelhouse (``~/.cache/mmhvit/wheels/torch-2.11.0-cu130-cp312-sm90``), so
  the build (about 3 000 CPU-seconds) happens once per target;
- the OpenMMLab packages of ``requirements/mminstall.txt`` and only the
  dependencies the machine lacks: pip's resolution for the target
  (``pip install --dry-run --report``) with the machine's distributions
  (``MACHINE``) standing in as stubs, less those.

Before building mmcv or writing the bundle it adds up the set's sizes
(``HEAD`` requests) with the checkout's files and stops, naming the largest
files, when they would exceed the limit. (pip reads the candidates'
metadata from the index where it serves it, PEP 658; where it does not, as
the mirror this was written on, it fetches the set's own wheels to read
it: about 20 MB, 20 s here.) ``--list`` prints the resolution and the size
check without building or downloading. ``tools/misc/gpu_check.sh``
installs the set on the GPU machine with ``pip install --no-index
--no-deps --target`` and runs the check.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MiB = 2**20
LIMIT_MIB = 64
# The GPU machine's distributions (docs/gpu.md): the packages it is known
# to have and what they depend on (matplotlib's, pytest's and torch's
# dependencies are there for them to import), none brought along. The
# resolution sees each as a stub wheel without dependencies (so pip fetches
# none of them) at a release of its own: the machine's where known (numpy
# 2.x), else a recent one, read only against the bounds of the set's
# dependencies (a version outside one would make pip pick an old release of
# the dependent: rich 0.1.0 under pygments 9999). The set is installed with
# --no-deps, so the CPU stack's numpy<2.3 / scipy<1.14 do not apply there.
MACHINE = {
    'torch': '2.11.0', 'torchvision': '0.26.0', 'numpy': '2.5.0',
    'scipy': '1.17.0', 'opencv-python-headless': '4.12.0.88',
    'matplotlib': '3.10.3', 'pytest': '8.4.1',
    # matplotlib's
    'contourpy': '1.3.2', 'cycler': '0.12.1', 'fonttools': '4.58.4',
    'kiwisolver': '1.4.8', 'packaging': '25.0', 'pillow': '11.3.0',
    'pyparsing': '3.2.3', 'python-dateutil': '2.9.0.post0',
    # pytest's
    'iniconfig': '2.1.0', 'pluggy': '1.6.0', 'pygments': '2.19.2',
    # torch's
    'filelock': '3.18.0', 'fsspec': '2025.5.1', 'jinja2': '3.1.6',
    'markupsafe': '3.0.2', 'mpmath': '1.3.0', 'networkx': '3.5',
    'sympy': '1.14.0', 'triton': '3.5.0', 'typing-extensions': '4.14.1',
    # mmengine and mmcv ask for opencv-python: the headless build's cv2
    'opencv-python': '4.12.0.88'}
# brought along whatever the machine has: mmengine's config bases
# (``mmseg::...``) import pkg_resources, which setuptools 82 removed;
# gpu_check.sh installs it only where ``import pkg_resources`` fails
ALWAYS = ('setuptools<82',)
# the mmcv wheel's size before it is built (6.0 MB measured for sm_90)
MMCV_ESTIMATE = 6.5 * MiB
CUDA_EXTRAS = 'nvcc,crt,nvvm,cccl,cudart'


class Target(NamedTuple):
    """The GPU machine's Python, torch, CUDA toolkit and GPU architecture."""
    python: str = '3.12'
    torch: str = '2.11.0'
    cuda: str = '13.0.2'
    arch: str = '9.0'

    @property
    def key(self):
        """e.g. torch-2.11.0-cu130-cp312-sm90: names the wheelhouse."""
        major, minor = self.cuda.split('.')[:2]
        return (f'torch-{self.torch}-cu{major}{minor}-'
                f'cp{self.python.replace(".", "")}-'
                f'sm{self.arch.replace(".", "")}')

    def pip_platform(self):
        """pip options resolving binary wheels for the target."""
        tag = self.python.replace('.', '')
        return ['--python-version', self.python, '--implementation', 'cp',
                '--abi', f'cp{tag}', '--abi', 'abi3', '--abi', 'none',
                '--platform', 'manylinux2014_x86_64',
                '--platform', 'manylinux_2_17_x86_64',
                '--platform', 'manylinux_2_28_x86_64',
                '--platform', 'any', '--only-binary=:all:']


def pin(name):
    """The version pinned in requirements/mminstall.txt."""
    with open(osp.join(ROOT, 'requirements', 'mminstall.txt')) as f:
        for line in f:
            if line.startswith(f'{name}=='):
                return line.strip().split('==')[1]
    raise SystemExit(f'no {name}== pin in requirements/mminstall.txt')


def default_wheelhouse(target):
    return osp.join(osp.expanduser('~'), '.cache', 'mmhvit', 'wheels',
                    target.key)


def run(cmd, log=None, **kwargs):
    """Runs ``cmd``, its output to ``log`` (a file) when given; raises
    SystemExit naming the command and the log's end on failure."""
    print('+', ' '.join(map(str, cmd)), flush=True)
    if log is None:
        result = subprocess.run(list(map(str, cmd)), **kwargs)
    else:
        with open(log, 'a') as f:
            result = subprocess.run(list(map(str, cmd)), stdout=f,
                                    stderr=subprocess.STDOUT, **kwargs)
    if result.returncode:
        tail = ''
        if log is not None:
            with open(log) as f:
                tail = ''.join(f.readlines()[-30:])
        raise SystemExit(f'{tail}\nfailed (exit {result.returncode}): '
                         f'{" ".join(map(str, cmd))}' +
                         (f'\nlog: {log}' if log else ''))
    return result


# ---------------------------------------------------------------- mmcv build


def find_python(version):
    """An interpreter of the target's Python version, to build mmcv."""
    candidates = [shutil.which(f'python{version}')]
    pyenv_root = os.environ.get('PYENV_ROOT',
                                osp.join(osp.expanduser('~'), '.pyenv'))
    candidates += sorted(glob.glob(osp.join(
        pyenv_root, 'versions', f'{version}.*', 'bin', f'python{version}')))
    for python in filter(None, candidates):
        found = subprocess.run(
            [python, '-c',
             'import sys; print("%d.%d" % sys.version_info[:2])'],
            capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == version:
            return python
    raise SystemExit(
        f'building mmcv for the GPU machine needs Python {version} here (its '
        f'extension is compiled for that ABI); none found on PATH or under '
        f'{pyenv_root}/versions. Install it (e.g. `pyenv install {version}`) '
        'or name one with --build-python.')


def cuda_home(env_dir, site):
    """A CUDA_HOME for torch's extension builder from the toolkit's PyPI
    wheels: their bin/, include/ and nvvm/ linked, and lib64/ with the
    runtime library (torch links the extension against lib64/libcudart)."""
    toolkit = glob.glob(osp.join(site, 'nvidia', 'cu*', 'bin', 'nvcc'))
    if not toolkit:
        raise SystemExit(f'no nvcc under {site}/nvidia/cu*/bin: the '
                         'cuda-toolkit wheels did not install it')
    toolkit = osp.dirname(osp.dirname(toolkit[0]))
    home = osp.join(env_dir, 'cuda')
    os.makedirs(osp.join(home, 'lib64'), exist_ok=True)
    for sub in ('bin', 'include', 'nvvm'):
        link = osp.join(home, sub)
        if not osp.lexists(link):
            os.symlink(osp.join(toolkit, sub), link)
    libs = sorted(glob.glob(osp.join(toolkit, 'lib', 'libcudart.so*')))
    if not libs:
        raise SystemExit(f'no libcudart.so* under {toolkit}/lib')
    for lib in libs + [libs[-1]]:
        name = osp.basename(lib) if lib is not libs[-1] else 'libcudart.so'
        link = osp.join(home, 'lib64', name)
        if not osp.lexists(link):
            os.symlink(lib, link)
    return home


def strip_wheel(wheel, python, work):
    """The wheel with ``strip --strip-debug`` applied to its extensions
    (mmcv's _ext.so is mostly debug information), RECORD rewritten."""
    unpacked = osp.join(work, 'unpacked')
    shutil.rmtree(unpacked, ignore_errors=True)
    run([python, '-m', 'wheel', 'unpack', '-d', unpacked, wheel])
    tree, = glob.glob(osp.join(unpacked, '*'))
    for so in glob.glob(osp.join(tree, '**', '*.so'), recursive=True):
        run(['strip', '--strip-debug', so])
    packed = osp.join(work, 'stripped')
    os.makedirs(packed, exist_ok=True)
    run([python, '-m', 'wheel', 'pack', '-d', packed, tree])
    out, = glob.glob(osp.join(packed, '*.whl'))
    return out


CHECK_EXT = '''
import importlib.machinery, importlib.util, subprocess, sys, zipfile
import torch
wheel, work = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    name, = [n for n in z.namelist() if n.startswith('mmcv/_ext')]
    path = z.extract(name, work)
loader = importlib.machinery.ExtensionFileLoader('mmcv._ext', path)
module = importlib.util.module_from_spec(
    importlib.util.spec_from_loader('mmcv._ext', loader))
loader.exec_module(module)
ops = [n for n in dir(module) if not n.startswith('_')]
sections = subprocess.run(['readelf', '-SW', path], capture_output=True,
                          text=True, check=True).stdout
assert '.nv_fatbin' in sections, 'no CUDA code (.nv_fatbin) in ' + name
print(f'{name}: loads with torch {torch.__version__} '
      f'(CUDA {torch.version.cuda}), {len(ops)} functions, CUDA code')
'''


def build_mmcv(target, wheelhouse, build_python=None, jobs=None, keep=False,
               log=None):
    """mmcv's wheel with CUDA ops for ``target``, from the wheelhouse or
    built: a venv of the target's Python with torch and the CUDA toolkit
    from PyPI, ``pip wheel`` of mmcv's sdist with FORCE_CUDA=1, debug
    symbols stripped, the extension loaded with that torch as a check."""
    version = pin('mmcv')
    cached = glob.glob(osp.join(wheelhouse, f'mmcv-{version}-*.whl'))
    if cached:
        return cached[0]
    python = build_python or find_python(target.python)
    work = osp.join(osp.dirname(wheelhouse), '..', 'build', target.key)
    work = osp.normpath(work)
    os.makedirs(work, exist_ok=True)
    log = log or osp.join(work, 'build.log')
    print(f'building mmcv {version} with CUDA ops for {target.key} in {work} '
          f'(log: {log}); about 3 000 CPU-seconds', flush=True)
    start = time.time()
    env_dir = osp.join(work, 'env')
    if not osp.exists(osp.join(env_dir, 'bin', 'python')):
        run([python, '-m', 'venv', env_dir], log)
    env_python = osp.join(env_dir, 'bin', 'python')
    # torch's CUDA wheels and the toolkit: several GiB, so no pip cache
    run([env_python, '-m', 'pip', 'install', '-q', '--no-cache-dir',
         f'torch=={target.torch}',
         f'cuda-toolkit[{CUDA_EXTRAS}]=={target.cuda}',
         # mmcv's setup.py imports pkg_resources (gone in setuptools 82)
         'setuptools<82', 'wheel', 'ninja'], log)
    site = subprocess.run(
        [env_python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], capture_output=True, text=True,
        check=True).stdout.strip()
    torch_cuda = subprocess.run(
        [env_python, '-c', 'import torch; print(torch.version.cuda)'],
        capture_output=True, text=True, check=True).stdout.strip()
    if torch_cuda.split('.')[:2] != target.cuda.split('.')[:2]:
        raise SystemExit(f'torch {target.torch} from PyPI is built for CUDA '
                         f'{torch_cuda}, not the target\'s {target.cuda}')
    env = dict(os.environ, CUDA_HOME=cuda_home(env_dir, site),
               FORCE_CUDA='1', MMCV_WITH_OPS='1',
               TORCH_CUDA_ARCH_LIST=target.arch,
               MAX_JOBS=str(jobs or os.cpu_count()),
               PATH=osp.join(env_dir, 'bin') + os.pathsep +
               os.environ['PATH'])
    src = osp.join(work, 'src', f'mmcv-{version}')
    if not osp.exists(osp.join(src, 'setup.py')):
        sdist = osp.join(work, 'sdist')
        run([env_python, '-m', 'pip', 'download', '-q', '--no-deps',
             '--no-binary', 'mmcv', '--no-build-isolation', '-d', sdist,
             f'mmcv=={version}'], log, env=env)
        with tarfile.open(osp.join(sdist, f'mmcv-{version}.tar.gz')) as tar:
            tar.extractall(osp.dirname(src), filter='data')
    built = osp.join(work, 'built')
    shutil.rmtree(built, ignore_errors=True)
    # in the source tree: setuptools' build/ stays there, so a build that
    # was interrupted resumes where it stopped (ninja skips the objects
    # already compiled)
    run([env_python, '-m', 'pip', 'wheel', '--no-build-isolation',
         '--no-deps', '--no-cache-dir', '-w', built, src], log, env=env)
    wheel, = glob.glob(osp.join(built, 'mmcv-*.whl'))
    size = osp.getsize(wheel)
    stripped = strip_wheel(wheel, env_python, work)
    run([env_python, '-c', CHECK_EXT, stripped, work], log)
    os.makedirs(wheelhouse, exist_ok=True)
    out = osp.join(wheelhouse, osp.basename(stripped))
    shutil.copy(stripped, out + '.part')
    os.replace(out + '.part', out)
    with open(log) as f:
        print(f.readlines()[-1].rstrip())
    print(f'mmcv built in {time.time() - start:.0f} s: '
          f'{size / MiB:.1f} MiB, {osp.getsize(out) / MiB:.1f} MiB '
          f'stripped: {out}', flush=True)
    if not keep:  # several GiB; the log stays (an interrupted build keeps
        # all, to resume)
        for sub in ('env', 'src', 'sdist', 'built', 'unpacked', 'stripped',
                    'mmcv'):
            shutil.rmtree(osp.join(work, sub), ignore_errors=True)
    return out


# ---------------------------------------------------------------- resolution


class Wheel(NamedTuple):
    """One file of the set: a distribution's wheel, where it comes from."""
    name: str  # normalised distribution name
    version: str
    url: str  # '' for the mmcv wheel built here
    sha256: str = ''
    size: int = 0
    note: str = ''

    @property
    def filename(self):
        return urllib.parse.unquote(self.url.rsplit('/', 1)[-1])


def normalise(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_name(line):
    return normalise(re.split(r'[\s\[<>=!~;@]', line.strip(), 1)[0])


def read_requirements(path):
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith(('#', '-'))]


def bundle_requirements():
    """What the set must satisfy: the OpenMMLab pins but mmcv (built here),
    requirements/runtime.txt but the machine's distributions, and
    ALWAYS."""
    machine = set(MACHINE)
    requirements = [r for r in read_requirements(
        osp.join(ROOT, 'requirements', 'mminstall.txt'))
        if requirement_name(r) != 'mmcv']
    requirements += [r for r in read_requirements(
        osp.join(ROOT, 'requirements', 'runtime.txt'))
        if requirement_name(r) not in machine]
    return requirements + list(ALWAYS)


def stub_wheel(name, folder):
    """A wheel of ``name`` at the machine's version without files or
    dependencies: the resolution takes it for the machine's."""
    version = MACHINE[name]
    dist = f'{name.replace("-", "_")}-{version}'
    path = osp.join(folder, f'{dist}-py3-none-any.whl')
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr(f'{dist}.dist-info/METADATA',
                       f'Metadata-Version: 2.1\nName: {name}\n'
                       f'Version: {version}\n')
        wheel.writestr(f'{dist}.dist-info/WHEEL',
                       'Wheel-Version: 1.0\nRoot-Is-Purelib: true\n'
                       'Tag: py3-none-any\n')
        wheel.writestr(f'{dist}.dist-info/RECORD', '')
    return path


def pip_report(target, requirements, pip=(sys.executable, '-m', 'pip')):
    """pip's resolution of ``requirements`` for the target, the machine's
    distributions standing in as stubs (``--dry-run --report``: nothing
    installed; pip reads each candidate's metadata, from the index where it
    serves it (PEP 658), else from the wheel), as its JSON report."""
    with tempfile.TemporaryDirectory(prefix='gpu-bundle-') as tmp:
        # torch and torchvision: no stub (nothing in the set requires them
        # in its metadata, and pip configurations cap their versions)
        stubs = [f'{name} @ file://{stub_wheel(name, tmp)}'
                 for name in MACHINE if not name.startswith('torch')]
        report = osp.join(tmp, 'report.json')
        run([*pip, 'install', '--dry-run', '--ignore-installed', '-q',
             '--report', report, '--target', osp.join(tmp, 'target'),
             *target.pip_platform(), *requirements, *stubs])
        with open(report) as f:
            return json.load(f)


def select(report):
    """The report's wheels but the machine's distributions."""
    wheels = []
    for item in report['install']:
        name = normalise(item['metadata']['name'])
        if name in MACHINE:
            continue
        info = item['download_info']
        digest = info.get('archive_info', {}).get('hashes', {}).get(
            'sha256', '')
        wheels.append(Wheel(name, item['metadata']['version'], info['url'],
                            digest))
    return sorted(wheels)


def url_size(url):
    """A file's size from the index, without downloading it."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == 'file':
        return osp.getsize(urllib.request.url2pathname(parsed.path))
    request = urllib.request.Request(url, method='HEAD')
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.headers['Content-Length'])


def with_sizes(wheels):
    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(url_size, [w.url for w in wheels]))
    return [w._replace(size=s) for w, s in zip(wheels, sizes)]


def checkout_size(root=ROOT):
    """Bytes of the files the device tool carries from the checkout (git's
    tracked and untracked, not ignored), with the bundle."""
    listed = subprocess.run(
        ['git', 'ls-files', '-z', '-c', '-o', '--exclude-standard'],
        cwd=root, capture_output=True, check=True).stdout.split(b'\0')
    return sum(osp.getsize(osp.join(root, p.decode()))
               for p in listed if p and osp.isfile(osp.join(root, p.decode())))


def check_size(wheels, checkout, limit):
    """SystemExit naming the largest files when the wheels and the checkout
    exceed ``limit`` bytes; else the total."""
    total = checkout + sum(w.size for w in wheels)
    if total <= limit:
        return total
    largest = sorted(wheels, key=lambda w: -w.size)[:5]
    raise SystemExit(
        f'the set would be {total / MiB:.1f} MiB, over the limit of '
        f'{limit / MiB:.0f} MiB (checkout {checkout / MiB:.1f} MiB); '
        'largest: ' + ', '.join(f'{w.filename or w.name} '
                                f'{w.size / MiB:.1f} MiB' for w in largest) +
        '. Nothing was built or downloaded. Leave out what the GPU machine '
        'has (MACHINE in tools/misc/gpu_bundle.py) or raise --limit-mib '
        'where more can be brought along.')


# ---------------------------------------------------------------- the set


def resolve(target, wheelhouse):
    """The set: the mmcv wheel first (cached, or its estimate), the
    resolved wheels with their sizes."""
    wheels = select(pip_report(target, bundle_requirements()))
    cached = glob.glob(osp.join(wheelhouse, f'mmcv-{pin("mmcv")}-*.whl'))
    if cached:
        mmcv = Wheel('mmcv', pin('mmcv'), 'file://' + cached[0],
                     size=osp.getsize(cached[0]), note='built, cached')
    else:
        mmcv = Wheel('mmcv', pin('mmcv'), '', size=int(MMCV_ESTIMATE),
                     note='to build: estimate')
    return [mmcv] + with_sizes(wheels)


def describe(wheels, checkout, target):
    lines = [f'target: CPython {target.python}, torch {target.torch}, CUDA '
             f'{target.cuda}, sm_{target.arch.replace(".", "")} '
             f'({target.key})']
    for w in wheels:
        lines.append(f'  {w.size / MiB:6.2f} MiB  {w.name} {w.version}'
                     + (f'  ({w.note})' if w.note else ''))
    lines.append(f'  {checkout / MiB:6.2f} MiB  the checkout (git ls-files '
                 '-co --exclude-standard)')
    total = checkout + sum(w.size for w in wheels)
    lines.append(f'  {total / MiB:6.2f} MiB  in all, {len(wheels)} wheels')
    lines.append('the GPU machine\'s own (not brought): ' +
                 ', '.join(MACHINE))
    return '\n'.join(lines)


def download(wheels, dest, target):
    """pip downloads exactly the resolved files, checking their hashes, as
    wheels for the target's platform (not this interpreter's: a cp312
    wheel is "not supported" by a 3.11 pip without the target's tags)."""
    os.makedirs(dest, exist_ok=True)
    with tempfile.NamedTemporaryFile('w', suffix='.txt') as f:
        for w in wheels:
            f.write(f'{w.name} @ {w.url} --hash=sha256:{w.sha256}\n')
        f.flush()
        run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
             '--require-hashes', *target.pip_platform(), '-d', dest,
             '-r', f.name])


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_manifest(out, target, files, checkout):
    total = checkout + sum(osp.getsize(f) for f in files)
    manifest = dict(target=target._asdict(), key=target.key,
                    wheels=[dict(file=osp.basename(f), size=osp.getsize(f),
                                 sha256=sha256(f)) for f in files],
                    checkout_bytes=checkout, total_bytes=total)
    with open(osp.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    return total


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='docs/gpu.md: what to run there, and the budget')
    parser.add_argument('--out', default=osp.join(ROOT, 'gpu_bundle'),
                        help='the folder to write (OUT/wheels/, '
                        'OUT/manifest.json); default: gpu_bundle in the '
                        'checkout (ignored by git: carry it along)')
    parser.add_argument('--list', action='store_true',
                        help='print the set and its size check; build and '
                        'download nothing')
    parser.add_argument('--limit-mib', type=float, default=LIMIT_MIB,
                        help='what can be brought along, checkout included '
                        f'(default {LIMIT_MIB})')
    target = Target()
    for field in Target._fields:
        parser.add_argument(f'--{field}', default=getattr(target, field),
                            help=f'the target\'s {field} (default '
                            f'{getattr(target, field)})')
    parser.add_argument('--wheelhouse',
                        help='where the built mmcv wheel is kept (default: '
                        '~/.cache/mmhvit/wheels/<target key>)')
    parser.add_argument('--build-python',
                        help='an interpreter of the target\'s Python '
                        'version to build mmcv with (default: found on '
                        'PATH or under pyenv)')
    parser.add_argument('--jobs', type=int,
                        help='compiler processes of the mmcv build '
                        '(default: all cores)')
    parser.add_argument('--keep-build-env', action='store_true',
                        help='keep the build venv (torch and the CUDA '
                        'toolkit, about 5 GiB) after building mmcv')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    target = Target(*(getattr(args, f) for f in Target._fields))
    wheelhouse = args.wheelhouse or default_wheelhouse(target)
    limit = int(args.limit_mib * MiB)
    wheels = resolve(target, wheelhouse)
    checkout = checkout_size()
    print(describe(wheels, checkout, target), flush=True)
    total = check_size(wheels, checkout, limit)
    print(f'fits: {total / MiB:.1f} of {limit / MiB:.0f} MiB')
    if args.list:
        return
    mmcv = build_mmcv(target, wheelhouse, args.build_python, args.jobs,
                      args.keep_build_env)
    wheels[0] = wheels[0]._replace(size=osp.getsize(mmcv))
    check_size(wheels, checkout, limit)
    dest = osp.join(args.out, 'wheels')
    shutil.rmtree(dest, ignore_errors=True)
    download(wheels[1:], dest, target)
    shutil.copy(mmcv, dest)
    files = sorted(glob.glob(osp.join(dest, '*.whl')))
    total = write_manifest(args.out, target, files, checkout)
    check_size([Wheel(osp.basename(f), '', '', size=osp.getsize(f))
                for f in files], checkout, limit)
    print(f'wrote {dest}: {len(files)} wheels, {total / MiB:.1f} MiB with '
          f'the checkout. There: bash tools/misc/gpu_check.sh (docs/gpu.md)')


if __name__ == '__main__':
    main()
