"""Reproducing a paper table: its rows from the metafiles, training and
testing every row through the project's launch scripts, and the comparison
of the results with the paper.

A metafile result names the table and row of the paper it reproduces::

    Results:
    - Task: Semantic Segmentation
      Dataset: ADE20K
      Metrics:
        mIoU(ms+flip): 50.1
      Paper Table: setr_hlg Tab. 5
      Paper Row: SETR-PUP (160k, MS)

Every result with a ``Paper Table`` is a row of that table. Rows of one
config share one work dir (``<work_root>/<config name>``): the config is
trained once, then tested once per test mode (single scale, or the config's
``tta_pipeline`` for ``(ms+flip)`` metrics). The work dir keeps
``reproduce.json``, the state of each step (command, process, host, result,
the last error of a failed step), and the logs of the steps, so that a
second ``run`` skips finished rows and resumes interrupted ones, and
``report`` needs nothing but the work dirs.
"""
import argparse
import copy
import functools
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from mmhvit.utils import ConfigError
from .model_zoo import build_from_config, count_params, metafile_models

#: metafile metric -> (key of the metrics mmengine's test writes, factor to
#: the paper's unit). mmdet's COCO metric reports fractions, the papers
#: percent.
METRIC_KEYS = {
    'mIoU': ('mIoU', 1.),
    'mIoU(ms+flip)': ('mIoU', 1.),
    'aAcc': ('aAcc', 1.),
    'box AP': ('coco/bbox_mAP', 100.),
    'mask AP': ('coco/segm_mAP', 100.),
    'Top 1 Accuracy': ('accuracy/top1', 1.),
    'Top 5 Accuracy': ('accuracy/top5', 1.),
}
#: Suffix of the metrics measured with test-time augmentation.
MULTI_SCALE = '(ms+flip)'
#: Default tolerance of ``report``: |ours - paper| above it is marked
#: (mIoU, AP and top-1 are all in percent).
TOLERANCE = 0.5
STATE_FILE = 'reproduce.json'
STATUSES = ('done', 'running', 'interrupted', 'failed', 'not started')


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table: a metafile result and its config."""
    table: str
    label: str
    name: str
    config: str
    dataset: str
    metrics: Dict[str, float]
    paper_params: Optional[int] = None
    measured_params: Optional[int] = None
    aux_counted: bool = True
    trained_by: Optional[str] = None
    server: Optional[str] = None
    batch_size: Optional[int] = None  # the metafile's total training batch

    @property
    def train_config(self) -> str:
        """The config whose training makes the weights this row tests:
        its own, or (a test-only config, e.g. another test set) the
        metafile's ``Trained By``."""
        return self.trained_by or self.config

    @property
    def config_name(self) -> str:
        return osp.splitext(osp.basename(self.config))[0]

    @property
    def tta(self) -> bool:
        """Tested with the config's test-time augmentation."""
        return any(key.endswith(MULTI_SCALE) for key in self.metrics)

    @property
    def mode(self) -> str:
        """``'ms+flip'`` or ``'ss'`` (single scale)."""
        return 'ms+flip' if self.tta else 'ss'


def _table_order(table: str):
    """Tables of a paper: numbered tables, then sections, then the
    supplement's tables."""
    kind, number = re.fullmatch(r'\S+ (.*?)\s*([\d.]+)', table).groups()
    rank = {'Tab.': 0, 'Sec.': 1}.get(kind, 2)
    return rank, tuple(int(n) for n in number.split('.'))


def paper_tables(root: str) -> 'OrderedDict[str, List[PaperRow]]':
    """The tables named by the metafiles of ``root/model-index.yml``: the
    papers in the order of their first row, each paper's tables by number
    (then sections, then the supplement's), each table's rows in metafile
    order."""
    tables = OrderedDict()
    for entry in metafile_models(root):
        metadata = entry.get('Metadata', {})
        for result in entry.get('Results') or []:
            if 'Paper Table' not in result:
                continue
            row = PaperRow(
                table=result['Paper Table'],
                label=str(result.get('Paper Row', entry['Name'])),
                name=entry['Name'],
                config=entry['Config'],
                dataset=result.get('Dataset', ''),
                metrics=dict(result.get('Metrics') or {}),
                paper_params=metadata.get('Parameters'),
                measured_params=metadata.get('Parameters Measured'),
                aux_counted=metadata.get('Auxiliary Heads Counted', True),
                trained_by=metadata.get('Trained By') and osp.join(
                    root, metadata['Trained By']),
                server=result.get('Test Server'),
                batch_size=metadata.get('Batch Size'))
            tables.setdefault(row.table, []).append(row)
    papers = list(OrderedDict.fromkeys(t.split()[0] for t in tables))
    return OrderedDict(
        sorted(tables.items(), key=lambda item: (papers.index(
            item[0].split()[0]), _table_order(item[0]))))


def table_slug(table: str) -> str:
    """``'setr_hlg Tab. 5'`` -> ``'setr_hlg-tab5'``, ``'hafa Sec. 4.4'`` ->
    ``'hafa-sec4.4'`` (file names, CLI)."""
    paper, _, rest = table.partition(' ')
    rest = re.sub(r'([a-z])\.', r'\1', rest.lower())
    return f'{paper}-' + re.sub(r'[^a-z0-9.]', '', rest)


def find_table(tables: Dict[str, List[PaperRow]], query: str) -> str:
    """The table ``query`` names: its name or slug, any case and spacing.

    Raises:
        KeyError: naming the tables there are.
    """
    def canon(text):
        return re.sub(r'[^a-z0-9]', '', text.lower())

    for table in tables:
        if canon(query) in (canon(table), canon(table_slug(table))):
            return table
    raise KeyError(f'No paper table {query!r}; the tables are: '
                   f'{", ".join(tables)} (tools/reproduce.py list).')


def select_rows(rows: List[PaperRow],
                selection: Optional[Sequence[str]]) -> List[PaperRow]:
    """The rows named by 1-based numbers, ``a-b`` ranges or parts of config
    names; all rows without a selection."""
    if not selection:
        return list(rows)
    chosen = set()
    for item in selection:
        match = re.fullmatch(r'(\d+)(?:-(\d+))?', item)
        if match:
            first = int(match[1])
            last = int(match[2] or first)
            if not 1 <= first <= last <= len(rows):
                raise ValueError(f'Row {item} is outside 1-{len(rows)}.')
            chosen.update(range(first - 1, last))
            continue
        found = [i for i, row in enumerate(rows) if item in row.config_name]
        if not found:
            raise ValueError(f'No row of the table has a config matching '
                             f'{item!r}.')
        chosen.update(found)
    return [row for i, row in enumerate(rows) if i in chosen]


@functools.lru_cache(maxsize=None)
def load_config(path: str) -> Config:
    """The config at ``path``, parsed once per process (a run reads each
    config for its batch and for the runs it starts from). Deep-copy it
    before changing it."""
    return Config.fromfile(path)


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` parsed as ``--cfg-options`` parses them."""
    if not options:
        return {}
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction)
    return parser.parse_args(['--options', *options]).options


@dataclass(frozen=True)
class BatchPlan:
    """The processes and images per process a row's training launches.

    The paper's total batch is the config's
    ``auto_scale_lr.base_batch_size`` (the batch its lr is for); the
    paper's process count is that over the config's
    ``train_dataloader.batch_size``, the images per GPU of its recipe.
    """
    config: str
    paper_total: int
    paper_gpus: int
    gpus: int  # processes launched
    per_gpu: int  # images per process, --cfg-options applied

    @property
    def total(self) -> int:
        return self.gpus * self.per_gpu

    @property
    def scaled(self) -> bool:
        """The launched total batch differs from the paper's, so the lr is
        scaled (``tools/train.py --auto-scale-lr``)."""
        return self.total != self.paper_total

    def describe(self) -> str:
        name = osp.splitext(osp.basename(self.config))[0]
        launched = (f'{name}: {self.gpus} process'
                    f'{"es" if self.gpus > 1 else ""} x {self.per_gpu} '
                    f'images = total batch {self.total}')
        paper = (f'{self.paper_gpus} x {self.paper_total // self.paper_gpus}'
                 f' = {self.paper_total}')
        if not self.scaled:
            return f'{launched}, the paper\'s ({paper})'
        return (f'{launched}, not the paper\'s {paper}: the lr is scaled by '
                f'{self.total}/{self.paper_total} (tools/train.py '
                '--auto-scale-lr)')


def batch_plan(config: str, options: Sequence[str] = (),
               gpus: Optional[int] = None) -> BatchPlan:
    """How ``config`` is launched to keep the paper's total batch: the
    paper's processes, or ``gpus`` of them.

    Raises:
        ConfigError: the config has no ``auto_scale_lr.base_batch_size``, or
            one that its per-GPU batch does not divide.
    """
    cfg = load_config(config)
    paper_total = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    per_gpu = cfg.train_dataloader.batch_size
    if not paper_total or paper_total % per_gpu:
        raise ConfigError(
            f'{config}: auto_scale_lr.base_batch_size '
            f'({paper_total}) should be the paper\'s total batch, a multiple '
            f'of train_dataloader.batch_size ({per_gpu}); reproduce.py '
            'launches base_batch_size / batch_size processes.')
    if options:
        cfg = copy.deepcopy(cfg)
        cfg.merge_from_dict(parse_cfg_options(options))
    return BatchPlan(config, paper_total, paper_total // per_gpu,
                     gpus or paper_total // per_gpu,
                     cfg.train_dataloader.batch_size)


def last_error(log_file: str, lines: int = 400) -> str:
    """The last error a log names: the last ``...Error: ...`` (or
    ``Exception``) line, ``[rankN]:`` prefixes removed, else its last
    line."""
    if not osp.isfile(log_file):
        return f'no log ({log_file})'
    with open(log_file, errors='replace') as f:
        tail = [re.sub(r'^\[(?:default)?rank\d+\]:\s*', '', line.rstrip())
                for line in f.readlines()[-lines:]]
    tail = [line for line in tail if line.strip()]
    pattern = re.compile(
        r'^([\w.]*(Error|Exception|Interrupt)|Killed|Segmentation fault)\b')
    errors = [line for line in tail if pattern.match(line)]
    return (errors or tail or ['empty log'])[-1].strip()


def process_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a child that died but was not reaped yet
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(') ')[-1][:1] != 'Z'
    except OSError:
        return True


class RowDir:
    """The work dir of a config and ``reproduce.json``, the state of its
    steps: ``train`` and ``test-ss`` / ``test-ms+flip``, each a dict with
    ``state`` (``running``, ``done`` or ``failed``), ``pid``, ``host``,
    ``command``, ``log``, ``started``/``finished`` and ``error`` or
    ``metrics``; plus the ``cfg_options`` of the run and cached
    ``params``."""

    def __init__(self, work_root: str, config: str):
        self.path = osp.join(work_root,
                             osp.splitext(osp.basename(config))[0])
        self.state_file = osp.join(self.path, STATE_FILE)

    def load(self) -> dict:
        if not osp.isfile(self.state_file):
            return {}
        with open(self.state_file) as f:
            return json.load(f)

    def save(self, state: dict) -> None:
        os.makedirs(self.path, exist_ok=True)
        tmp = f'{self.state_file}.{os.getpid()}.tmp'
        with open(tmp, 'w') as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.state_file)

    def log_file(self, step: str) -> str:
        """Where the output of ``step`` goes."""
        return osp.join(self.path, f'{step}.log')

    def update(self, step: str, **values) -> None:
        state = self.load()
        state.setdefault(step, {}).update(values)
        self.save(state)


def step_status(step: Optional[dict]) -> str:
    """``done``, ``failed``, ``running`` (its process lives, or runs on
    another host), ``interrupted`` (its process died) or ``not started``."""
    if not step:
        return 'not started'
    state = step.get('state')
    if state in ('done', 'failed'):
        return state
    if step.get('host') != socket.gethostname() or process_alive(
            step.get('pid')):
        return 'running'
    return 'interrupted'


def row_status(row: PaperRow, work_root: str) -> Tuple[str, dict]:
    """The status of a row (one of :data:`STATUSES`) and its work dir's
    state."""
    state = RowDir(work_root, row.config).load()
    train = step_status(
        RowDir(work_root, row.train_config).load().get('train'))
    test = step_status(state.get(f'test-{row.mode}'))
    if test == 'done':
        return 'done', state
    for status in ('running', 'failed', 'interrupted'):
        if status in (train, test):
            return status, state
    return ('interrupted' if train == 'done' else 'not started'), state


def row_error(row: PaperRow, work_root: str) -> str:
    """The error of a failed row's failed step."""
    steps = ((row.train_config, 'train'), (row.config, f'test-{row.mode}'))
    for config, step in steps:
        state = RowDir(work_root, config).load().get(step, {})
        if state.get('state') == 'failed':
            return f'{step}: {state.get("error", "")}'
    return ''


@dataclass
class Launcher:
    """Commands of the project's launch scripts for one row's steps.

    Args:
        launcher (str): ``'none'`` (``tools/train.py``, ``tools/test.py``:
            one process), ``'pytorch'`` (``tools/dist_train.sh`` /
            ``dist_test.sh``) or ``'slurm'`` (``tools/slurm_train.sh`` /
            ``slurm_test.sh``).
        root (str): The checkout whose ``tools/`` run.
        gpus (int, optional): Processes per row; default: the paper's
            (:func:`batch_plan`). A total batch other than the paper's
            scales the lr (``--auto-scale-lr``).
        partition (str, optional): Slurm partition.
        cfg_options (Sequence[str]): ``--cfg-options`` of every step.
        python (str): The interpreter of the tools.
        smoke_root (str, optional): Run every step as ``--smoke`` does,
            with the synthetic sets and smoke configs under this folder
            (:func:`smoke_config`).
    """
    launcher: str
    root: str
    gpus: Optional[int] = None
    partition: Optional[str] = None
    cfg_options: Sequence[str] = field(default_factory=list)
    python: str = sys.executable
    smoke_root: Optional[str] = None

    def __post_init__(self):
        if self.launcher not in ('none', 'pytorch', 'slurm'):
            raise ValueError(f"launcher must be 'none', 'pytorch' or "
                             f"'slurm', got {self.launcher!r}.")
        if self.launcher == 'slurm' and not self.partition:
            raise ValueError('--launcher slurm needs --partition.')
        if self.launcher == 'none' and self.gpus not in (None, 1):
            raise ValueError(f'--launcher none runs one process, not '
                             f'--gpus {self.gpus}: use --launcher pytorch or '
                             'slurm.')
        self._plans: Dict[str, BatchPlan] = {}

    def plan(self, config: str) -> BatchPlan:
        """The processes and images per process of ``config`` (cached)."""
        if config not in self._plans:
            gpus = 1 if self.launcher == 'none' else self.gpus
            self._plans[config] = batch_plan(config, self.cfg_options, gpus)
        return self._plans[config]

    def _env_of(self, plan: BatchPlan) -> Dict[str, str]:
        env = dict(PYTHON=self.python)
        gpus = plan.gpus
        if self.launcher == 'slurm':
            env.update(GPUS=str(gpus), GPUS_PER_NODE=str(min(gpus, 8)))
        if self.launcher in ('slurm', 'pytorch'):
            env['PORT'] = str(free_port())
        return env

    def _config(self, config: str) -> Tuple[str, List[str]]:
        """The config a step runs (a smoke child with ``smoke_root``) and
        its ``--cfg-options``."""
        options = list(self.cfg_options)
        if self.smoke_root is not None:
            config, smoke = smoke_config(config, self.smoke_root)
            options = smoke + options
        return config, ['--cfg-options', *options] if options else []

    def _tool(self, name: str) -> str:
        return osp.join(self.root, 'tools', name)

    def train(self, config: str, work_dir: str,
              resume: bool) -> Tuple[List[str], Dict[str, str]]:
        """``(command, environment)`` that trains ``config`` into
        ``work_dir``, resuming from its latest checkpoint, with the lr
        scaled when the total batch is not the paper's."""
        plan = self.plan(config)
        config, options = self._config(config)
        extra = (['--resume'] if resume else []) + (
            ['--auto-scale-lr'] if plan.scaled else []) + options
        if self.launcher == 'none':
            command = [self.python, self._tool('train.py'), config,
                       '--work-dir', work_dir, *extra]
        elif self.launcher == 'pytorch':
            command = ['bash', self._tool('dist_train.sh'), config,
                       str(plan.gpus), '--work-dir', work_dir, *extra]
        else:
            command = ['bash', self._tool('slurm_train.sh'), self.partition,
                       job_name(config), config, work_dir, *extra]
        return command, self._env_of(plan)

    def test(self, config: str, checkpoint: str, work_dir: str,
             tta: bool) -> Tuple[List[str], Dict[str, str]]:
        """``(command, environment)`` that tests ``checkpoint``, writing
        logs and metrics under ``work_dir``."""
        plan = self.plan(config)
        config, options = self._config(config)
        extra = ['--work-dir', work_dir] + (['--tta'] if tta else []) + \
            options
        if self.launcher == 'none':
            command = [self.python, self._tool('test.py'), config, checkpoint,
                       *extra]
        elif self.launcher == 'pytorch':
            command = ['bash', self._tool('dist_test.sh'), config,
                       checkpoint, str(plan.gpus), *extra]
        else:
            command = ['bash', self._tool('slurm_test.sh'), self.partition,
                       job_name(config), config, checkpoint, *extra]
        return command, self._env_of(plan)


def job_name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0][:64]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from (mmhvit's rule)."""
    from mmhvit.engine import latest_checkpoint as latest
    return latest(work_dir) if osp.isdir(work_dir) else None


def test_metrics(test_dir: str) -> Dict[str, float]:
    """The metrics of the newest test run under ``test_dir``
    (``<timestamp>/<timestamp>.json``, written by mmengine's LoggerHook)."""
    files = [
        path for path in glob.glob(osp.join(test_dir, '*', '*.json'))
        if osp.basename(path)[:-5] == osp.basename(osp.dirname(path))
    ]
    if not files:
        raise FileNotFoundError(f'No test metrics (<timestamp>/'
                                f'<timestamp>.json) under {test_dir}.')
    with open(max(files, key=osp.getmtime)) as f:
        return json.load(f)


def execute(command: List[str], env: Dict[str, str], log_file: str,
            on_start: Callable[[int], None]) -> int:
    """Run ``command`` with its output appended to ``log_file``; the
    process is terminated if this one is interrupted."""
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    with open(log_file, 'a') as log:
        log.write(f'\n# {time.strftime("%Y-%m-%d %H:%M:%S")} '
                  f'{" ".join(command)}\n')
        log.flush()
        process = subprocess.Popen(command, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   env=dict(os.environ, **env))
        on_start(process.pid)
        try:
            return process.wait()
        except BaseException:
            process.terminate()
            process.wait()
            raise


def pretraining(config: str,
                options: Sequence[str]) -> List[Tuple[str, str]]:
    """``(config, checkpoint)`` of the runs a config starts from: its
    ``Pretrained`` checkpoints of the form ``<dir>/<config name>/<file>``
    for which ``configs/*/<config name>.py`` exists (the dense ClusTR and
    HAFA configs start from ImageNet runs of their own)."""
    cfg = copy.deepcopy(load_config(config))
    cfg.merge_from_dict(parse_cfg_options(options))
    configs_dir = osp.dirname(osp.dirname(osp.abspath(config)))
    found = []

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained' and isinstance(
                    node.get('checkpoint'), str):
                name = osp.basename(osp.dirname(node['checkpoint']))
                matches = glob.glob(osp.join(configs_dir, '*', f'{name}.py'))
                if matches:
                    found.append((matches[0], node['checkpoint']))
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get('model'))
    return found


def train(config: str, work_root: str, launcher: Launcher,
          dry_run: bool = False, log: Callable[[str], None] = print) -> str:
    """Train ``config`` into ``work_root/<config name>`` unless that is done
    or running, resuming from its latest checkpoint; its status."""
    work = RowDir(work_root, config)
    name = osp.splitext(osp.basename(config))[0]
    state = work.load()
    status = step_status(state.get('train'))
    if status in ('done', 'running'):
        return status
    options = list(launcher.cfg_options)
    if state.get('cfg_options', options) != options:
        message = (f'{work.path} was started with --cfg-options '
                   f'{state["cfg_options"]}, not {options}: use another '
                   '--work-root or delete it.')
        log(f'{name}: {message}')
        if not dry_run:
            work.update('train', state='failed', error=message)
        return 'failed'
    smoke = launcher.smoke_root is not None  # from random weights
    for dependency, checkpoint in [] if smoke else pretraining(
            config, options):
        if osp.isfile(checkpoint):
            continue
        log(f'{name} starts from {checkpoint}: training '
            f'{osp.basename(dependency)} first')
        if train(dependency, osp.dirname(osp.dirname(checkpoint)), launcher,
                 dry_run, log) == 'failed':
            return 'failed'
    checkpoint = latest_checkpoint(work.path)
    command, env = launcher.train(config, work.path,
                                  resume=checkpoint is not None)
    plan = launcher.plan(config)
    log(plan.describe())
    if dry_run:
        log(' '.join(command))
        return status
    state['cfg_options'] = options
    work.save(state)
    log(f'{name}: training'
        + (f', resuming from {checkpoint}' if checkpoint else '')
        + f'; log: {work.log_file("train")}')
    batch = dict(gpus=plan.gpus, per_gpu=plan.per_gpu, total=plan.total,
                 paper_total=plan.paper_total)
    if not _run_step(work, 'train', command, env, resumed_from=checkpoint,
                     batch=batch):
        log(f'{name}: training failed: {work.load()["train"]["error"]}')
        return 'failed'
    return 'done'


def run_row(row: PaperRow, work_root: str, launcher: Launcher,
            dry_run: bool = False, log: Callable[[str], None] = print) -> str:
    """Train (or resume) and test one row; return its status.

    A finished row is skipped, so is one whose step runs now (in another
    process or on another host); an interrupted one resumes from its
    latest checkpoint. A failed step records the last error of its log.
    The runs a row starts from (:func:`pretraining`) are trained first.
    """
    status, _ = row_status(row, work_root)
    if status in ('done', 'running'):
        log(f'{row.config_name} [{row.mode}]: {status}, skipped')
        return status
    trained = train(row.train_config, work_root, launcher, dry_run, log)
    if trained in ('failed', 'running'):
        return trained
    work = RowDir(work_root, row.config)
    step = f'test-{row.mode}'
    checkpoint = '<final checkpoint>' if dry_run and trained != 'done' \
        else latest_checkpoint(RowDir(work_root, row.train_config).path)
    command, env = launcher.test(row.config, checkpoint,
                                 osp.join(work.path, step), row.tta)
    if dry_run:
        log(' '.join(command))
        return status
    state = work.load()
    state['cfg_options'] = list(launcher.cfg_options)
    work.save(state)
    log(f'{row.config_name}: testing {checkpoint} [{row.mode}]; log: '
        f'{work.log_file(step)}')
    if not _run_step(work, step, command, env, checkpoint=checkpoint):
        log(f'{row.config_name}: test failed: {work.load()[step]["error"]}')
        return 'failed'
    return 'done'


def _run_step(work: RowDir, step: str, command, env, **info) -> bool:
    log_file = work.log_file(step)
    work.update(step, state='running', command=command, log=log_file,
                host=socket.gethostname(), pid=None, error=None,
                started=time.time(), **info)
    code = execute(command, env, log_file,
                   on_start=lambda pid: work.update(step, pid=pid))
    if code == 0 and step.startswith('test'):
        try:
            metrics = test_metrics(osp.join(work.path, step))
        except FileNotFoundError as error:
            work.update(step, state='failed', error=str(error),
                        finished=time.time())
            return False
        work.update(step, state='done', metrics=metrics,
                    finished=time.time())
        return True
    if code == 0:
        work.update(step, state='done', finished=time.time())
        return True
    work.update(step, state='failed', finished=time.time(),
                error=f'exit code {code}: {last_error(log_file)}')
    return False


def smoke_options(data_root: str) -> List[str]:
    """``--cfg-options`` of ``tools/reproduce.py run --smoke`` for an
    ImageNet config, trained on the synthetic set at ``data_root``
    (``make_imagenet``, 32x32 images): one batch of 4 per epoch, 2 epochs,
    no validation, one training data worker (what an exact resume needs),
    none for testing. The pipeline indices are those of the ImageNet
    configs (``RandomResizedCrop``; ``ResizeEdge``, ``CenterCrop``) and the
    schedulers a warm-up and a cosine."""
    options = [f'{split}_dataloader.{key}'
               for split in ('train', 'val', 'test')
               for key in (f'dataset.data_root={data_root}', 'batch_size=4',
                           f'num_workers={int(split == "train")}')]
    options += [f'{split}_dataloader.dataset.pipeline.{key}'
                for split in ('val', 'test')
                for key in ('1.scale=32', '2.crop_size=32')]
    return options + [
        'train_dataloader.dataset.pipeline.1.scale=32',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=10',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'randomness.seed=0'
    ]


#: The synthetic sets of ``--smoke`` (written by ``mmhvit.datasets``, in
#: the real layouts) by the training dataset a config names: the writer,
#: the image size (H, W) and the training images (the validation set has
#: 4 for ImageNet, 2 otherwise).
SMOKE_SETS = {
    'ImageNet': ('make_imagenet', (32, 32), 4),
    'ADE20KDataset': ('make_ade20k', (64, 64), 4),
    'CityscapesDataset': ('make_cityscapes', (64, 128), 4),
    'CocoDataset': ('make_coco', (96, 96), 4),
    'mmhvit.CheckedCocoDataset': ('make_coco', (96, 96), 4),
}

#: The shorter image side of segmentation and detection smoke runs (the
#: configs' ``scale`` shrunk in proportion), and the side of their crops.
SMOKE_SIDE = 64

SMOKE_CHILD = """# tools/reproduce.py run --smoke: {name} on the
# synthetic set at data_root (images resized to a shorter side of {side}),
# {schedule}, from random weights, one process; the numbers mean nothing.
_base_ = {config!r}
from mmhvit.config_settings import apply_data_settings  # noqa: E402

data_root = {data_root!r}
scale = {scale!r}
{crop}model = {model!r}
train_dataloader = dict(batch_size=2, num_workers=1)
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = {train_cfg!r}
randomness = dict(seed=0)

apply_data_settings(globals())
"""


def smoke_data(work_root: str, dataset: str = 'ImageNet') -> str:
    """The synthetic set of ``--smoke`` for configs training on
    ``dataset`` (a key of :data:`SMOKE_SETS`), written once under
    ``work_root`` (``smoke_imagenet``, ``smoke_ade20k``, ...); its
    ``data_root``."""
    from mmhvit import datasets
    writer, size, num_train = SMOKE_SETS[dataset]
    root = osp.join(work_root, 'smoke_' + writer[len('make_'):])
    num_val = 4 if dataset == 'ImageNet' else 2
    if not osp.isdir(root):
        getattr(datasets, writer)(root, num_train=num_train,
                                  num_val=num_val, size=size)
    if writer == 'make_ade20k':
        return osp.join(root, 'ADEChallengeData2016')
    return root


def smoke_config(config: str, work_root: str) -> Tuple[str, List[str]]:
    """What ``--smoke`` runs for ``config``: ``(config, cfg_options)``.

    ImageNet configs: the config itself with :func:`smoke_options`.
    Segmentation and detection configs on ADE20K, Cityscapes or COCO: a
    child config (``work_root/smoke_configs/<config name>.py``, written
    once) that sets the synthetic set as ``data_root``, shrinks ``scale``
    to a shorter side of :data:`SMOKE_SIDE` (and the crop to that side)
    with :func:`mmhvit.config_settings.apply_data_settings`, trains 2
    iterations (1 epoch of 2 batches of 2 for detection) from random
    weights (no ``init_cfg`` checkpoint) and tests one image at a time.
    Configs on other sets (Pascal Context, Cityscapes with its coarse
    labels) run unchanged and fail without their data.
    """
    cfg = load_config(config)
    dataset = cfg.train_dataloader.dataset.type
    if dataset not in SMOKE_SETS:
        return config, []
    data_root = smoke_data(work_root, dataset)
    if dataset == 'ImageNet':
        return config, smoke_options(data_root)
    child = osp.join(work_root, 'smoke_configs', osp.basename(config))
    if osp.isfile(child):
        return child, []
    factor = SMOKE_SIDE / min(cfg.scale)
    model = dict(backbone=dict(init_cfg=None))
    if 'pretrained' in cfg.model:
        model['pretrained'] = None
    by_iter = 'max_iters' in cfg.train_cfg
    text = SMOKE_CHILD.format(
        name=osp.basename(config), config=osp.abspath(config),
        data_root=osp.abspath(data_root), side=SMOKE_SIDE,
        scale=tuple(round(side * factor) for side in cfg.scale),
        crop=(f'crop_size = {(SMOKE_SIDE, SMOKE_SIDE)!r}\n'
              if 'crop_size' in cfg else ''),
        model=model,
        schedule='2 iterations' if by_iter else '1 epoch',
        train_cfg=dict(max_iters=2, val_interval=2) if by_iter else dict(
            max_epochs=1, val_interval=1))
    os.makedirs(osp.dirname(child), exist_ok=True)
    with open(child, 'w') as f:
        f.write(text)
    return child, []


def run_table(rows: Sequence[PaperRow], work_root: str, launcher: Launcher,
              dry_run: bool = False,
              log: Callable[[str], None] = print) -> Dict[str, str]:
    """:func:`run_row` for every row (a failed row does not stop the
    others); the status of each row by its name and mode."""
    return {
        f'{row.name} [{row.mode}]': run_row(row, work_root, launcher,
                                            dry_run, log)
        for row in rows
    }


def ours(row: PaperRow, metric: str, state: dict) -> Optional[float]:
    """Our value of a row's metric, in the paper's unit."""
    metrics = state.get(f'test-{row.mode}', {}).get('metrics')
    if not metrics or metric not in METRIC_KEYS:
        return None
    key, factor = METRIC_KEYS[metric]
    value = metrics.get(key)
    return None if value is None else float(value) * factor


def our_params(row: PaperRow, work_root: str, state: dict) -> Optional[int]:
    """Parameters of the row's model as run (its ``--cfg-options``
    applied), the auxiliary heads counted as the paper counts them; cached
    in the work dir. Rows not started: the metafile's measured count, or the
    config's model."""
    options = state.get('cfg_options')
    cached = state.get('params', {})
    if options is not None and cached.get('cfg_options') == options:
        return cached['count']
    if options is None and row.measured_params:
        return row.measured_params
    cfg = Config.fromfile(row.config)
    cfg.merge_from_dict(parse_cfg_options(options or []))
    model, _ = build_from_config(cfg)
    count = count_params(model, () if row.aux_counted else
                         ('auxiliary_head', ))
    if options is not None:
        RowDir(work_root, row.config).update('params', cfg_options=options,
                                             count=count)
    return count


def _number(value, digits=2):
    return '–' if value is None else f'{value:.{digits}f}'


def _millions(value, digits=1):
    return '–' if value is None else f'{value / 1e6:.{digits}f}'


def report(table: str, rows: Sequence[PaperRow], work_root: str,
           tolerance: float = TOLERANCE, params: bool = True) -> str:
    """The markdown comparison of a table's rows with the paper: paper value,
    ours, difference (``!`` where it exceeds ``tolerance``), parameters
    (paper / ours, millions) and status of every row and metric."""
    lines = [
        f'## {table}: paper vs ours', '',
        f'Work dirs: `{work_root}/<config>`. `!`: |ours - paper| > '
        f'{tolerance}.', '',
        '| # | row | config | metric | paper | ours | diff | '
        'params paper / ours (M) | status |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    notes, counts = [], dict.fromkeys(STATUSES, 0)
    for index, row in enumerate(rows, 1):
        status, state = row_status(row, work_root)
        counts[status] += 1
        if status == 'failed':
            notes.append(f'{len(notes) + 1}. {row.config_name}: '
                         f'{row_error(row, work_root)}')
            status = f'failed ({len(notes)})'
        count = our_params(row, work_root, state) if params else None
        for metric, paper in row.metrics.items() or [('–', None)]:
            value = ours(row, metric, state)
            diff = None if None in (value, paper) else value - paper
            mark = ' !' if diff is not None and abs(diff) > tolerance \
                else ''
            ours_cell = 'server' if row.server else _number(value)
            lines.append(
                f'| {index} | {row.label} | `{row.config_name}` | {metric} '
                f'| {"–" if paper is None else paper} | {ours_cell} | '
                f'{"–" if diff is None else f"{diff:+.2f}"}{mark} | '
                f'{_millions(row.paper_params)} / {_millions(count, 2)} | '
                f'{status} |')
    lines += ['', ', '.join(f'{n} {s}' for s, n in counts.items() if n)
              + f' (of {len(rows)} rows).']
    servers = sorted({row.server for row in rows if row.server})
    if servers:
        lines += ['', '"server": the test writes the predictions to submit '
                  f'at {", ".join(servers)} (the config\'s '
                  'test_evaluator.output_dir).']
    if notes:
        lines += ['', 'Errors (the last error of the step\'s log):', '',
                  *notes]
    return '\n'.join(lines) + '\n'


def list_tables(tables: Dict[str, List[PaperRow]],
                table: Optional[str] = None) -> str:
    """Every table (or one) with its rows: label, config and metrics."""
    lines = []
    for name in [table] if table else tables:
        rows = tables[name]
        lines.append(f'{name} ({table_slug(name)}, {len(rows)} rows)')
        for index, row in enumerate(rows, 1):
            metrics = ', '.join(f'{k} {v}' for k, v in row.metrics.items())
            lines.append(f'{index:>4}. {row.label}  [{row.config_name}]  '
                         f'{metrics or "no result"}')
    return '\n'.join(lines) + '\n'
