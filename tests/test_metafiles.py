"""model-index.yml -> metafiles -> configs: every paper config is listed once,
every entry points to an existing config and has the same fields, and every
result names the paper table and row it reproduces."""
import glob
import os.path as osp
import re
from collections import Counter

import pytest
import yaml

from mmhvit.analysis.model_zoo import metafile_models
from mmhvit.analysis.reproduce import METRIC_KEYS, MULTI_SCALE, paper_tables
from mmhvit.analysis.training_memory import MEMORY_FIELDS
from helpers import ROOT

ENTRIES = list(metafile_models(ROOT))
# The papers (the tables are named after them) and where a table is
PAPERS = ('hat_net', 'setr_hlg', 'clustr', 'hafa')
TABLE = re.compile(rf'({"|".join(PAPERS)}) (Tab\. \d+|Sec\. [\d.]+|'
                   r'Supp\. Tab\. \d+)')


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


def test_collections_name_their_paper():
    for metafile in {entry['Metafile'] for entry in ENTRIES}:
        with open(osp.join(ROOT, metafile)) as f:
            for collection in yaml.safe_load(f)['Collections']:
                paper = collection['Paper']
                assert paper['Title'] and paper['URL'].startswith('https://')
                assert osp.isfile(osp.join(ROOT, collection['README']))


@pytest.mark.parametrize('entry', ENTRIES,
                         ids=lambda e: osp.relpath(e['Config'], ROOT))
def test_entry_fields(entry):
    """Name = config name; training data, batch and schedule; a parameter
    note only with the measured count; results with known metrics, either
    single-scale or multi-scale (a row each: they test differently), each
    naming its paper table and row."""
    assert entry['Name'] == osp.splitext(osp.basename(entry['Config']))[0]
    metadata = entry['Metadata']
    assert {'Training Data', 'Batch Size'} <= set(metadata)
    assert ('Epochs' in metadata) != ('Iterations' in metadata)
    assert ('Parameters Note' in metadata) == (
        'Parameters Measured' in metadata)
    if 'Trained By' in metadata:  # a test-only config
        assert osp.isfile(osp.join(ROOT, metadata['Trained By']))
    for result in entry.get('Results', []):
        assert {'Task', 'Dataset', 'Metrics', 'Paper Table',
                'Paper Row'} <= set(result)
        assert TABLE.fullmatch(result['Paper Table']), result['Paper Table']
        assert set(result['Metrics']) <= set(METRIC_KEYS)
        modes = {key.endswith(MULTI_SCALE) for key in result['Metrics']}
        assert len(modes) <= 1, 'single- and multi-scale in one result'


def test_rows_of_a_table_are_distinct():
    """A paper row may take its metrics from several configs (top-1 from
    the ImageNet config, mIoU from the segmentation one), but each metric
    of a row from one only."""
    for table, rows in paper_tables(ROOT).items():
        cells = Counter((row.label, metric) for row in rows
                        for metric in row.metrics)
        assert max(cells.values()) == 1, (table, cells.most_common(1))
        runs = Counter((row.config, row.mode) for row in rows)
        assert max(runs.values()) == 1, (table, runs.most_common(1))


def test_dense_entries_record_their_counted_training_memory():
    """Every segmentation and detection entry holds the training memory
    ``model_zoo.py --count-memory`` counted (docs/model_zoo.md's column):
    per image above the fixed part; classifiers hold none."""
    for entry in ENTRIES:
        metadata = entry['Metadata']
        per_image, fixed = (metadata.get(key) for key in MEMORY_FIELDS)
        if metadata['Training Data'] == 'ImageNet-1k':
            assert per_image is fixed is None, entry['Name']
        else:
            assert per_image > 0 and fixed > 0, entry['Name']
