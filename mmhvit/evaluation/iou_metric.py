"""mmseg's ``IoUMetric`` with a per-class table of the classes the evaluated
set has."""
import logging
from typing import Dict

import numpy as np
from mmengine.logging import MMLogger
from mmseg.evaluation import IoUMetric as MMSegIoUMetric
from prettytable import PrettyTable

from mmhvit.registry import METRICS


class _WithoutClassTable(logging.Filter):
    """Drops the per-class table (and its heading) that mmseg's
    ``IoUMetric.compute_metrics`` logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message == 'per class results:'
                    or message.startswith('\n+-'))


@METRICS.register_module()
class IoUMetric(MMSegIoUMetric):
    """mmseg's ``IoUMetric`` (same arguments, same metrics), whose per-class
    table lists only the classes that the evaluated labels or predictions
    hold, and says in one line how many it leaves out.

    mmseg prints a row for every class of the dataset: on a 150-class ADE20K
    config evaluated on a few images, or on a subset, most rows read
    ``nan``. Classes neither labelled nor predicted have an IoU of 0 / 0,
    which mmseg's mean (``nanmean``) leaves out too: the summary metrics
    (``mIoU``, ``mAcc``, ``aAcc``) are mmseg's, unchanged.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        table_filter = _WithoutClassTable()
        logger.addFilter(table_filter)
        try:
            metrics = super().compute_metrics(results)
        finally:
            logger.removeFilter(table_filter)
        if not self.format_only:
            self.log_class_table(results, logger)
        return metrics

    def log_class_table(self, results: list, logger: MMLogger) -> None:
        """Log the per-class rows of the classes labelled or predicted."""
        intersect, union, pred_label, label = (
            sum(parts) for parts in zip(*results))
        class_metrics = self.total_area_to_metrics(
            intersect, union, pred_label, label, self.metrics,
            self.nan_to_num, self.beta)
        class_metrics.pop('aAcc', None)
        present = np.flatnonzero((np.asarray(label) > 0) |
                                 (np.asarray(pred_label) > 0))
        classes = self.dataset_meta['classes']
        table = PrettyTable()
        table.add_column('Class', [classes[i] for i in present])
        for name, values in class_metrics.items():
            table.add_column(name, np.round(np.asarray(values)[present] * 100,
                                            2))
        absent = len(classes) - len(present)
        note = (f' ({absent} of {len(classes)} classes neither labelled nor '
                'predicted in the evaluated set are left out)'
                if absent else '')
        logger.info(f'per class results{note}:')
        logger.info('\n' + table.get_string())
