"""The tests' import path, and a marker per model family.

``pytest -m hat_net`` runs every test of one family: ``hat_net``, ``hlg``,
``setr``, ``clustr``, ``hafa``, and ``clustering`` for the clustering core
that ClusTR and HAFA share (mmhvit/models/layers/clustering.py). A test
gets the marker of each family that its file name, its name or its
parameters name, however they spell it (``hat_net``, ``HATNet``,
``hat-net``; ``PVTHAFA``; a config path counts for its folder:
``configs/hlg/setr-pup_hlg-small_...py`` is HLG's, not SETR's). The few
tests about a family whose family shows in none of these carry its marker
themselves (``@pytest.mark.hat_net``). Tests of the runner, the data checks
and the tools that merely use a tiny HAT-Net as their model belong to no
family. The markers are declared in setup.cfg (``--strict-markers``), with
``slow``, which the tests of 10 s and more carry (training or a tool in
fresh processes, torch.compile, the largest full-size builds and loads,
the full-size AMP steps).

``make test`` runs the suite on every core (pytest-xdist, ``-n auto --dist
loadgroup``). Each worker then gets an equal share of the cores for torch's
threads, and the tests of a file whose module-scoped fixtures or caches are
costly to build (``GROUPED``) stay on one worker, which builds them once.
"""
import os
import os.path as osp
import re
import sys

import pytest

# Under xdist, each worker's torch (and the tools it starts) uses its share
# of the cores rather than all of them: 2 workers x 2 threads on 2 cores ran
# the matmul-bound tests slower than one worker. Set before torch is imported.
if 'PYTEST_XDIST_WORKER_COUNT' in os.environ:
    os.environ.setdefault('OMP_NUM_THREADS', str(max(
        1, os.cpu_count() // int(os.environ['PYTEST_XDIST_WORKER_COUNT']))))

# tests/ on the import path: helpers, tiny_archs, custom_data and reference/
# (the independent reference implementations)
sys.path.insert(0, osp.dirname(__file__))

# family: how tests spell it (case-insensitive)
FAMILIES = dict(
    hat_net=r'hat[-_]?net',
    hlg=r'hlg',
    setr=r'setr',
    clustr=r'clustr',
    hafa=r'hafa',
    clustering=r'(?<![a-z])(cluster(s|ing|er)?|dpc[-_]knn|kmeans)(?![a-z])')
# A config path in a test id, e.g. 'configs/hlg/setr-pup_hlg-small_...py',
# stands for its folder ('hlg')
CONFIG_PATH = re.compile(r'(?:configs/)?(%s)/[\w.+-]+\.py' %
                         '|'.join(FAMILIES))


def families(item):
    """The families a collected test exercises, by its file and name."""
    stem = osp.splitext(osp.basename(str(item.path)))[0]
    text = stem + ' ' + CONFIG_PATH.sub(r'\1', item.name)
    return [family for family, spelling in FAMILIES.items()
            if re.search(spelling, text, re.IGNORECASE)]


# Test files whose tests share a costly module-level fixture: the inference
# models (test_inference), the trained tiny config (test_mim) and the
# trained segmentor and detector (test_analysis_tools). (Parsed configs are
# cheap to parse again on another worker since mmhvit.compat's fix 6: 0.1 s.)
GROUPED = ('test_inference', 'test_mim', 'test_analysis_tools')


def pytest_collection_modifyitems(config, items):
    xdist = config.pluginmanager.hasplugin('xdist')
    for item in items:
        stem = osp.splitext(osp.basename(str(item.path)))[0]
        if xdist and stem in GROUPED:
            item.add_marker(pytest.mark.xdist_group(stem))
        for family in families(item):
            item.add_marker(getattr(pytest.mark, family))
