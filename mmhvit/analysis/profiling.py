"""Time and peak memory of a call, on CUDA or (Linux) CPU."""
import time
from typing import Any, Callable, NamedTuple

import torch


class Measurement(NamedTuple):
    result: Any
    seconds: float
    peak_bytes: int  # above the memory in use before the call; -1: unknown


def _rss_bytes(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in bytes."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def measure(fn: Callable[[], Any], device='cpu') -> Measurement:
    """Run ``fn()`` once; wall time and the peak of extra memory.

    On CUDA the peak counts tensors allocated by PyTorch; on the CPU it is
    the process's peak resident memory above what it held before the call
    (read from /proc; ``-1`` where that is unavailable).
    """
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        start = time.perf_counter()
        result = fn()
        torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) - before
        return Measurement(result, seconds, peak)
    tracked = _reset_peak_rss()
    before = _rss_bytes('VmRSS') if tracked else 0
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = _rss_bytes('VmHWM') - before if tracked else -1
    return Measurement(result, seconds, peak)
