"""A cache for the index layouts the backbones derive from map sizes."""
import functools

import torch


def layout_cache(maxsize: int):
    """``functools.lru_cache(maxsize)`` in eager mode; uncached while
    ``torch.compile`` traces, where Dynamo would trace through the cache
    anyway (and warn about it): the layout becomes a graph constant.

    The wrapped function must take hashable arguments and return tensors
    that callers never modify in place.
    """

    def decorator(function):
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def wrapper(*args):
            if torch.compiler.is_compiling():
                return function(*args)
            return cached(*args)
        return wrapper

    return decorator
