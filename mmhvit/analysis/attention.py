"""Which kernel each attention of a model runs, with its real masks and
shapes.

``scaled_dot_product_attention`` (SDPA) picks a kernel per call: on CUDA
flash attention, the memory-efficient kernel, cuDNN's or the unfused math
path; on the CPU its flash kernel or the math path. A mask of an
unsupported layout, a strided head dim or a dtype can silently send a call
to the math path, which materialises the whole attention matrix.
:class:`AttentionRecorder` runs code and records, per call site, the kernel
each SDPA call ran, ``nn.MultiheadAttention`` calls (with
``need_weights=True``, the default of mmcv's ``MultiheadAttention`` that
mmseg's ViT and mmdet's PVT use, torch computes the attention explicitly,
never through SDPA) and explicit softmaxes (attention written as
``softmax(q @ k.T) @ v``, as in Swin's window attention)::

    with AttentionRecorder(probe=True) as recorder:
        model(images)
    print(format_calls(recorder.summary()))
"""
import os
import os.path as osp
import traceback
import warnings
from collections import OrderedDict
from typing import List, NamedTuple

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

# aten ops of SDPA's fused kernels -> the kernel's name; a call that runs
# none of them took the math path.
FUSED_KERNELS = {
    'aten::_scaled_dot_product_flash_attention': 'flash',
    'aten::_scaled_dot_product_flash_attention_for_cpu': 'flash (CPU)',
    'aten::_scaled_dot_product_efficient_attention': 'memory-efficient',
    'aten::_scaled_dot_product_cudnn_attention': 'cuDNN',
    'aten::_scaled_dot_product_fused_attention_overrideable': 'fused',
    'aten::_native_multi_head_attention': 'native MHA',
}
# backends tried one at a time by ``probe``, per device type
PROBED_BACKENDS = {
    'cuda': (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
             SDPBackend.CUDNN_ATTENTION),
    'cpu': (SDPBackend.FLASH_ATTENTION, ),
}
_TORCH_DIR = osp.dirname(torch.__file__) + os.sep
_PACKAGES = ('mmhvit', 'mmdet', 'mmseg', 'mmpretrain', 'mmcv', 'mmengine')


class AttentionCall(NamedTuple):
    """One attention call: where, which kind (``'sdpa'``, ``'mha'``,
    ``'softmax'``), the kernel it ran (``'math'``, ``'explicit'``, a name
    of :data:`FUSED_KERNELS`), the dtype the fused kernel ran in (else the
    query's), the query's shape, the mask and why each fused backend that
    could not run it refused (``probe``)."""
    site: str
    kind: str
    kernel: str
    dtype: str
    query: tuple
    mask: str
    refused: str = ''


class _KernelSpy(TorchDispatchMode):
    """Collects the fused attention kernels that run below it."""

    def __init__(self):
        super().__init__()
        self.kernels = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kernel = FUSED_KERNELS.get(func.overloadpacket._qualified_op_name)
        if kernel is not None:
            self.kernels.append((kernel, args[0].dtype))
        return func(*args, **(kwargs or {}))


def call_site():
    """``package/path.py:line`` of the innermost caller outside torch and
    this module."""
    for frame in reversed(traceback.extract_stack()):
        if frame.filename.startswith(_TORCH_DIR) or frame.filename == __file__:
            continue
        parts = frame.filename.split(os.sep)
        starts = [i for i, part in enumerate(parts) if part in _PACKAGES]
        path = '/'.join(parts[starts[-1]:] if starts else parts[-1:])
        return f'{path}:{frame.lineno}'
    return '?'


def describe_mask(mask):
    """``None``, or the mask's dtype and shape, e.g. ``bool 1050x1x1x64``."""
    if mask is None:
        return 'none'
    dtype = str(mask.dtype).replace('torch.', '')
    return f'{dtype} ' + 'x'.join(map(str, mask.shape))


def refusals(args, kwargs):
    """Why each fused backend of the query's device refuses this SDPA call
    (the warnings torch gives when the backend is forced), or ``''`` where
    it runs; ``'; '``-joined ``backend: reason`` entries."""
    query = args[0]
    reasons = []
    for backend in PROBED_BACKENDS.get(query.device.type, ()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                with sdpa_kernel([backend]):
                    F.scaled_dot_product_attention(*args, **kwargs)
                continue
            except RuntimeError as error:
                messages = [str(w.message) for w in caught] or [str(error)]
        texts = [m.strip().splitlines()[0].split(' (Triggered internally')[0]
                 for m in messages]
        details = ' '.join(t for t in texts if not t.endswith('because:'))
        reasons.append(f'{backend.name.lower()}: '
                       f'{details or "refused, no reason given"}')
    return '; '.join(reasons)


class AttentionRecorder(TorchFunctionMode):
    """Records every attention call made while it is active (a context
    manager), in :attr:`calls`.

    Args:
        probe (bool): At the first SDPA call of each site, also force each
            fused backend of the device in turn and record why those that
            cannot run it refuse (runs that call again per backend).
    """

    def __init__(self, probe=False):
        super().__init__()
        self.probe = probe
        self.calls: List[AttentionCall] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            mask = args[3] if len(args) > 3 else kwargs.get('attn_mask')
            return self._run('sdpa', func, args, kwargs, mask)
        if func is F.multi_head_attention_forward:
            mask = kwargs.get('attn_mask')
            if kwargs.get('key_padding_mask') is not None:
                mask = kwargs['key_padding_mask']
            return self._run('mha', func, args, kwargs, mask)
        if func in (F.softmax, torch.softmax, torch.Tensor.softmax):
            self._record('softmax', 'explicit', args[0].dtype, args[0],
                         None)
        return func(*args, **kwargs)

    def _run(self, kind, func, args, kwargs, mask):
        """Run an attention call under the kernel spy and record it."""
        site = call_site()
        refused = ''
        if (kind == 'sdpa' and self.probe
                and all(call.site != site for call in self.calls)):
            refused = refusals(args, kwargs)
        spy = _KernelSpy()
        with spy:
            out = func(*args, **kwargs)
        query = args[0]
        kernel, dtype = spy.kernels[0] if spy.kernels else (
            'explicit' if kind == 'mha' else 'math', query.dtype)
        self._record(kind, kernel, dtype, query, mask, site, refused)
        return out

    def _record(self, kind, kernel, dtype, query, mask, site=None,
                refused=''):
        self.calls.append(AttentionCall(
            site or call_site(), kind, kernel,
            str(dtype).replace('torch.', ''), tuple(query.shape),
            describe_mask(mask), refused))

    def summary(self):
        """One entry per (site, kind, kernel, dtype, mask kind) with the
        number of calls and the first call's details: ``[(call, count)]``
        in order of first appearance."""
        groups = OrderedDict()
        for call in self.calls:
            key = (call.site, call.kind, call.kernel, call.dtype,
                   call.mask.split(' ')[0])
            first, count = groups.get(key, (call, 0))
            groups[key] = (first, count + 1)
        return list(groups.values())


def format_calls(summary):
    """A markdown table of :meth:`AttentionRecorder.summary`."""
    lines = ['| site | kind | kernel | dtype | calls | query | mask | '
             'other fused kernels refuse |', '|---' * 8 + '|']
    for call, count in summary:
        query = 'x'.join(map(str, call.query))
        lines.append(f'| {call.site} | {call.kind} | {call.kernel} | '
                     f'{call.dtype} | {count} | {query} | {call.mask} | '
                     f'{call.refused or "-"} |')
    return '\n'.join(lines)
