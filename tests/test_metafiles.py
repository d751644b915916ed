"""model-index.yml -> metafiles -> configs: every paper config is listed once
and every entry points to an existing config."""
import glob
import os.path as osp
from collections import Counter

import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_every_config_in_exactly_one_metafile():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    listed = Counter()
    for metafile in metafiles:
        with open(osp.join(ROOT, metafile)) as f:
            for model in yaml.safe_load(f)['Models']:
                assert osp.isfile(osp.join(ROOT, model['Config'])), model
                listed[model['Config']] += 1
    configs = {
        osp.relpath(path, ROOT)
        for path in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        # _base_ holds fragments, demo/ the CPU demo (not a paper row)
        if osp.basename(osp.dirname(path)) not in ('_base_', 'demo')
    }
    assert set(listed) == configs
    assert all(count == 1 for count in listed.values())
