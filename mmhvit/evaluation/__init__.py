"""Evaluation metrics that adjust upstream's output (their values are
upstream's)."""
from .iou_metric import IoUMetric

__all__ = ['IoUMetric']
