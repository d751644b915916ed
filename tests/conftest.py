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
fresh processes, the full-size AMP steps).
"""
import os.path as osp
import re
import sys

import pytest

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


def pytest_collection_modifyitems(items):
    for item in items:
        for family in families(item):
            item.add_marker(getattr(pytest.mark, family))
