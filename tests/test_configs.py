"""Every config loads and builds its model, with the parameter count of its
paper row; every classifier runs a forward pass to its logits."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmhvit.analysis.model_zoo import (build_from_config, count_params,
                                       metafile_models)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path)

# Metafile rows by config. A row's parameters are within 0.5 % of its paper
# value, or the row explains the difference ("Parameters Note") and records
# our count ("Parameters Measured"), which must then hold to 0.05 %. Every
# row of a model with auxiliary heads (used only in training) says whether
# the paper counts them ("Auxiliary Heads Counted").
METAFILE_ROWS = {entry['Config']: entry for entry in metafile_models(ROOT)}
PAPER_TOLERANCE, MEASURED_TOLERANCE = 0.005, 0.0005


CLASSIFIERS = {
    path for path in CONFIGS
    if Config.fromfile(path).get('default_scope') == 'mmpretrain'
}


def build_model(path):
    return build_from_config(path)[0]  # no weights: nothing downloaded


def assert_classifier_runs(model):
    """The backbone's outputs reach the head (mmdet backbones return lists,
    which mmpretrain's own pooling neck rejects)."""
    with torch.no_grad():
        logits = model.eval()(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 1000)


def rel(path):
    return osp.relpath(path, ROOT)


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_config_builds_with_its_paper_parameters(path):
    model = build_model(path)
    if path in CLASSIFIERS:
        assert_classifier_runs(model)
    metadata = METAFILE_ROWS.get(path, {}).get('Metadata', {})  # demo: none
    if getattr(model, 'with_auxiliary_head', False) and path in METAFILE_ROWS:
        assert 'Auxiliary Heads Counted' in metadata, 'as the paper counts?'
    skip = () if metadata.get('Auxiliary Heads Counted', True) else (
        'auxiliary_head', )
    params = count_params(model, skip)
    if 'Parameters' not in metadata:  # no paper count (ablations, demo)
        assert params > 0
        return
    paper = metadata['Parameters']
    if abs(params / paper - 1) <= PAPER_TOLERANCE:
        assert 'Parameters Note' not in metadata, 'note no longer needed'
        return
    assert 'Parameters Note' in metadata, (
        f'{params / 1e6:.3f} M is {params / paper - 1:+.2%} off the paper\'s '
        f'{paper / 1e6} M: explain it in the metafile or fix the model')
    measured = metadata['Parameters Measured']
    assert abs(params / measured - 1) <= MEASURED_TOLERANCE, (params,
                                                              measured)
