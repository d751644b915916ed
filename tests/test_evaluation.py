"""mmhvit.IoUMetric: mmseg's metrics, a per-class table of the classes the
evaluated set holds."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmseg.evaluation import IoUMetric as MMSegIoUMetric

from mmhvit.evaluation import IoUMetric

CLASSES = tuple(f'class{i}' for i in range(6))


def samples(seed=0):
    """Two 8x8 predictions and labels that hold classes 0-2 only."""
    generator = torch.Generator().manual_seed(seed)
    return [dict(pred_sem_seg=dict(data=torch.randint(0, 3, (1, 8, 8),
                                                      generator=generator)),
                 gt_sem_seg=dict(data=torch.randint(0, 3, (1, 8, 8),
                                                    generator=generator)))
            for _ in range(2)]


def evaluate(metric):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process([], samples())
    return metric.evaluate(2)


@pytest.fixture
def logged():
    logger = MMLogger.get_instance('test_evaluation')
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(str(record.msg))
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


@pytest.mark.parametrize('iou_metrics', [['mIoU'], ['mIoU', 'mDice',
                                                    'mFscore']])
def test_metrics_are_mmseg_and_the_table_lists_present_classes(
        logged, iou_metrics):
    ours = evaluate(IoUMetric(iou_metrics=iou_metrics))
    table = '\n'.join(logged)
    assert ('per class results (3 of 6 classes neither labelled nor '
            'predicted in the evaluated set are left out):') in table
    assert 'class2' in table and 'class3' not in table
    assert 'nan' not in table and table.count('per class results') == 1
    del logged[:]
    assert ours == evaluate(MMSegIoUMetric(iou_metrics=iou_metrics))
    assert 'class3' in '\n'.join(logged)  # the logger is left as it was


def test_registered_for_the_configs():
    from mmseg.registry import METRICS
    metric = METRICS.build(dict(type='mmhvit.IoUMetric',
                                iou_metrics=['mIoU']))
    assert isinstance(metric, IoUMetric)
