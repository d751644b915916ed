"""The GPU report: training and inference throughput and peak memory of
backbones at the papers' training settings, side by side with the upstream
peers, and the attention kernel each of their attention calls runs.

Settings (input size and per-GPU batch of the papers' training recipes):
ADE20K 512x512 x 2, Cityscapes 768x768 x 1, COCO 1333x800 x 2 and ImageNet
224x224 x 128. Per backbone, setting and precision (float16 / bfloat16
autocast, float32) a table row holds

- training images/s and peak memory, with and without ``with_cp``
  (activation checkpointing): one step is forward under autocast, backward
  of the loss (scaled by a ``GradScaler`` for float16, as mmengine's
  ``AmpOptimWrapper`` does) and an AdamW update;
- inference images/s and peak memory (forward without gradients).

Images/s are the batch over the median step time after warm-up steps. Peak
memory on CUDA is the allocator's peak during one step, everything the step
holds included (weights, optimizer state, input, activations). On the CPU,
whose resident-memory peak says little (the allocator keeps freed pages), a
training cell holds the counted training memory instead
(:func:`~mmhvit.analysis.training_memory.count_training_memory`: saved
activations, weights, gradients, AdamW state, in the cell's autocast
dtype), marked as counted, and inference cells hold none.

Cells are measured in order of importance (the first precision's training
and inference, the attention kernels, the other precisions, ``with_cp``,
the other precisions' inference), settings before models, so a ``budget``
in seconds that runs out leaves the least important cells empty, marked as
such. ``tiny_sizes=True`` shrinks every setting (a 64-pixel side, batch 2)
for a quick run on the CPU.
"""
import json
import os
import os.path as osp
import platform
import statistics
import time
from typing import Dict, List, NamedTuple, Tuple

import mmcv
import mmdet
import mmengine
import mmpretrain
import mmseg
import torch

import mmhvit
from .attention import AttentionRecorder
from .benchmark import autocast, build, output_loss, step, timed
from .model_zoo import count_params
from .profiling import measure
from .training_memory import count_training_memory


class Setting(NamedTuple):
    """A paper's training setting: dataset, input ``(H, W)``, images per
    GPU."""
    dataset: str
    shape: Tuple[int, int]
    batch: int


SETTINGS = {
    'ade20k': Setting('ADE20K', (512, 512), 2),
    'cityscapes': Setting('Cityscapes', (768, 768), 1),
    'coco': Setting('COCO', (800, 1333), 2),
    'imagenet': Setting('ImageNet', (224, 224), 128),
}
PRECISIONS = ('float16', 'bfloat16', 'float32')


class Cell(NamedTuple):
    """One measurement: ``mode`` is ``'train'``, ``'inference'`` or
    ``'kernels'`` (the attention calls of one forward)."""
    model: str
    setting: str
    mode: str
    precision: str
    with_cp: bool = False


def tiny(setting: Setting) -> Setting:
    """``setting`` scaled to a 64-pixel short side, at most 2 images."""
    scale = 64 / min(setting.shape)
    shape = tuple(max(64, round(side * scale)) for side in setting.shape)
    return setting._replace(shape=shape, batch=min(setting.batch, 2))


def plan(models, settings, precisions) -> List[Cell]:
    """Every cell of the report, most important first: the first
    precision's training and inference, the attention kernels, the other
    precisions' training, training with ``with_cp``, the other precisions'
    inference. Within a group, settings before models."""
    first, rest = precisions[0], list(precisions[1:])
    groups = [
        [('train', first, False), ('inference', first, False)],
        [('kernels', first, False)],
        [('train', p, False) for p in rest],
        [('train', p, True) for p in precisions],
        [('inference', p, False) for p in rest],
    ]
    return [Cell(model, setting, *variant) for group in groups
            for setting in settings for model in models
            for variant in group]


def mmcv_ops() -> str:
    """What mmcv's compiled ops were built for: ``'CUDA <version>'``,
    ``'CPU only'`` or ``'missing (<error>)'`` (mmcv-lite, or built against
    another torch)."""
    try:
        from mmcv.ops import get_compiling_cuda_version
    except Exception as error:  # ImportError, undefined symbols
        lines = str(error).splitlines() or ['']
        return f'missing ({type(error).__name__}: {lines[0]})'
    version = get_compiling_cuda_version()
    return 'CPU only' if version == 'not available' else f'CUDA {version}'


def environment(device) -> Dict:
    """Versions and the device the report ran on."""
    env = dict(
        date=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
        python=platform.python_version(), torch=torch.__version__,
        cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
        mmcv=f'{mmcv.__version__} (compiled ops: {mmcv_ops()})',
        mmengine=mmengine.__version__, mmseg=mmseg.__version__,
        mmdet=mmdet.__version__, mmpretrain=mmpretrain.__version__,
        mmhvit=mmhvit.__version__, cpu_threads=torch.get_num_threads())
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        env['device'] = (f'{props.name}, {props.total_memory / 2**30:.0f} '
                         f'GiB, compute capability {props.major}.'
                         f'{props.minor}; {torch.cuda.device_count()} '
                         'device(s)')
    else:
        env['device'] = f'CPU ({platform.processor() or platform.machine()})'
    return env


def train_step(fn, inputs, optimizer, scaler, dtype):
    """Forward under autocast, backward of the (scaled) loss and an
    optimizer update."""
    with autocast(inputs.device, dtype):
        loss = output_loss(fn(inputs))
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


def step_runner(fn, module, inputs, mode, dtype):
    """A ``run()`` doing one training or inference step of the model."""
    module.train(mode == 'train')
    if mode == 'inference':
        return lambda: step(fn, module, inputs, 'forward', dtype)
    optimizer = torch.optim.AdamW(
        [p for p in module.parameters() if p.requires_grad], lr=1e-4)
    scaler = torch.amp.GradScaler(inputs.device.type,
                                  enabled=dtype == torch.float16)
    return lambda: train_step(fn, inputs, optimizer, scaler, dtype)


def measure_steps(run, device, warmup, repeat) -> Dict:
    """Median seconds of ``run()`` after ``warmup`` calls and, on CUDA, the
    peak memory of one more call (see the module docstring)."""
    for _ in range(warmup):
        run()
    seconds = statistics.median(timed(run, device) for _ in range(repeat))
    if device.type != 'cuda':
        return dict(seconds=seconds)
    held = torch.cuda.memory_allocated(device)
    return dict(seconds=seconds,
                peak_bytes=held + measure(run, device).peak_bytes)


def record_kernels(fn, module, inputs, dtype) -> List[Dict]:
    """The attention calls of one training forward (gradients on: a mask
    that needs them can change the kernel), grouped by site and kernel
    (:meth:`AttentionRecorder.summary`), as dicts with a ``calls`` count."""
    module.train()
    with AttentionRecorder(probe=True) as recorder, autocast(
            inputs.device, dtype):
        fn(inputs)
    return [dict(call._asdict(), calls=count)
            for call, count in recorder.summary()]


class Models:
    """The models of a report, built once per ``with_cp`` value on the CPU
    and moved to the device for each measurement.

    Args:
        models (dict): name -> what
            :func:`mmhvit.analysis.benchmark.build` takes: a name of
            ``BACKBONES``, a ``(scope, config)`` pair, a config file or a
            built ``nn.Module`` (an external model; no ``with_cp``).
    """

    def __init__(self, models):
        self.specs = models
        self.built = {}

    def get(self, name, with_cp):
        key = (name, with_cp)
        if key not in self.built:
            options = dict(with_cp=True) if with_cp else {}
            self.built[key] = build(self.specs[name], 'cpu', **options)
        return self.built[key]

    def params(self, name):
        return count_params(self.get(name, False)[1])


def _error(error):
    lines = str(error).splitlines() or ['']
    return dict(status=f'error: {type(error).__name__}: {lines[0]}')


def run_cell(cell, models, settings, device, warmup, repeat) -> Dict:
    """Measure one cell; its result or the error that stopped it."""
    setting = settings[cell.setting]
    dtype = getattr(torch, cell.precision)
    module = None
    try:
        fn, module = models.get(cell.model, cell.with_cp)
        module.to(device)
        inputs = torch.rand(setting.batch, 3, *setting.shape, device=device)
        if cell.mode == 'kernels':
            return dict(attention=record_kernels(fn, module, inputs, dtype))
        result = measure_steps(
            step_runner(fn, module, inputs, cell.mode, dtype), device,
            warmup, repeat)
        if device.type == 'cpu' and cell.mode == 'train':
            result['counted_bytes'] = count_training_memory(
                module.cpu(), setting.shape, batch=setting.batch,
                dtype=dtype).total
        return dict(result, images_per_s=setting.batch / result['seconds'])
    except torch.cuda.OutOfMemoryError:
        return dict(status='OOM')
    except TypeError as error:
        if cell.with_cp and 'with_cp' in str(error):
            return dict(status='n/a')  # external models, mmdet's PVTs
        return _error(error)
    except Exception as error:  # a model failing a setting; keep going
        return _error(error)
    finally:
        if module is not None:
            module.zero_grad(set_to_none=True)
            module.to('cpu')
        if device.type == 'cuda':
            torch.cuda.empty_cache()


def run_report(models, settings=tuple(SETTINGS), precisions=PRECISIONS,
               device='cuda', tiny_sizes=False, warmup=2, repeat=5,
               budget=None, log=print) -> Dict:
    """Measure every cell of :func:`plan` until ``budget`` seconds are
    spent.

    Args:
        models (dict): name -> what :func:`mmhvit.analysis.benchmark.build`
            takes (see :class:`Models`).
        settings (Sequence[str]): Keys of :data:`SETTINGS`.
        precisions (Sequence[str]): ``'float16'``, ``'bfloat16'``,
            ``'float32'``; the first is measured first.
        tiny_sizes (bool): Shrink the settings (:func:`tiny`).
        budget (float, optional): Seconds; cells not started by then are
            reported as ``'not run (budget)'``.

    Returns:
        dict: ``environment``, ``settings``, ``params`` (per model) and
        ``cells`` (each a :class:`Cell` as a dict with its result or
        ``status``).
    """
    device = torch.device(device)
    chosen = {name: tiny(SETTINGS[name]) if tiny_sizes else SETTINGS[name]
              for name in settings}
    built = Models(models)
    deadline = None if budget is None else time.monotonic() + budget
    cells = []
    for cell in plan(list(models), list(chosen), list(precisions)):
        if deadline is not None and time.monotonic() >= deadline:
            result = dict(status='not run (budget)')
        else:
            start = time.monotonic()
            result = run_cell(cell, built, chosen, device, warmup, repeat)
            log(f'{cell.model} {cell.setting} {cell.mode} {cell.precision}'
                f'{" with_cp" if cell.with_cp else ""}: '
                f'{result.get("status", "ok")} '
                f'({time.monotonic() - start:.1f} s)')
        cells.append(dict(cell._asdict(), **result))
    return dict(environment=environment(device),
                settings={k: s._asdict() for k, s in chosen.items()},
                params={name: built.params(name) for name in models},
                timing=dict(warmup=warmup, repeat=repeat, budget=budget),
                cells=cells)


def _value(cell, key, scale, digits):
    if cell is None:
        return '-'
    if 'status' in cell:
        return cell['status']
    return f'{cell[key] / scale:.{digits}f}'


def format_markdown(report) -> str:
    """The report as markdown: environment, a table per setting, the
    attention kernels."""
    lines = ['# GPU report', '']
    lines += [f'- {key}: {value}'
              for key, value in report['environment'].items()]
    timing = report['timing']
    budget = timing['budget']
    budget = 'none' if budget is None else f'{budget:.0f} s'
    lines += [
        '', f'Median of {timing["repeat"]} steps after {timing["warmup"]} '
        f'warm-up steps; budget: {budget}. Training step: forward under '
        'autocast, backward (GradScaler for float16), AdamW update. Peak '
        'memory (on CUDA) and counted memory (on the CPU): see '
        'mmhvit/analysis/gpu_report.py.', ''
    ]
    # on the CPU: counted training memory, no inference memory
    counted = report['environment']['device'].startswith('CPU')
    # (column, key, digits)
    memory = ('counted MiB', 'counted_bytes', 1) if counted else (
        'peak MiB', 'peak_bytes', 0)
    # (mode, with_cp, name, with a memory column)
    columns = [('train', False, 'train', True),
               ('train', True, 'with_cp', True),
               ('inference', False, 'inference', not counted)]
    header = ['model', 'params (M)', 'precision']
    for _, _, name, with_memory in columns:
        header += [f'{name} img/s'] + ([f'{name} {memory[0]}']
                                       if with_memory else [])
    index = {(c['model'], c['setting'], c['mode'], c['precision'],
              c['with_cp']): c for c in report['cells']}
    models = list(report['params'])
    precisions = list(dict.fromkeys(c['precision'] for c in report['cells']))
    for key, setting in report['settings'].items():
        height, width = setting['shape']
        lines += [f'## {setting["dataset"]}: {width}x{height}, '
                  f'{setting["batch"]} per GPU', '',
                  '| ' + ' | '.join(header) + ' |',
                  '|---' * len(header) + '|']
        for model in models:
            for precision in precisions:
                row = [model, f'{report["params"][model] / 1e6:.1f}',
                       precision]
                for mode, with_cp, _, with_memory in columns:
                    cell = index.get((model, key, mode, precision, with_cp))
                    row.append(_value(cell, 'images_per_s', 1, 1))
                    if with_memory:
                        row.append(_value(cell, memory[1], 2**20,
                                          memory[2]))
                lines.append('| ' + ' | '.join(row) + ' |')
        lines += ['', *format_kernels(report['cells'], key), '']
    return '\n'.join(lines)


def format_kernels(cells, setting) -> List[str]:
    """Markdown lines of the attention calls recorded at ``setting``."""
    lines = ['Attention calls of one training forward, per call site: '
             '"math" and "explicit" materialise the attention matrix.', '',
             '| model | site | kind | kernel | dtype | calls | query | '
             'mask | why other fused kernels refuse |', '|---' * 9 + '|']
    for cell in cells:
        if cell['mode'] != 'kernels' or cell['setting'] != setting:
            continue
        if 'status' in cell:
            lines.append(f'| {cell["model"]} | {cell["status"]} |' +
                         ' |' * 7)
        for call in cell.get('attention', []):
            query = 'x'.join(map(str, call['query']))
            lines.append(
                f'| {cell["model"]} | {call["site"]} | {call["kind"]} | '
                f'{call["kernel"]} | {call["dtype"]} | {call["calls"]} | '
                f'{query} | {call["mask"]} | {call["refused"] or "-"} |')
    return lines


def write_report(report, out_dir) -> Tuple[str, str]:
    """Write ``gpu_report.md`` and ``gpu_report.json`` into ``out_dir``;
    their paths."""
    os.makedirs(out_dir, exist_ok=True)
    md, js = (osp.join(out_dir, f'gpu_report.{ext}') for ext in ('md',
                                                                 'json'))
    with open(md, 'w') as f:
        f.write(format_markdown(report) + '\n')
    with open(js, 'w') as f:
        json.dump(report, f, indent=1)
    return md, js
