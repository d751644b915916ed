"""Checks of a built dataset before the first iteration: it has samples,
its inventory (what it found, uses and leaves out) holds no missing input,
its annotations and class labels are valid, and its pipeline and a sample of
its label maps agree with its classes and ``reduce_zero_label``."""
import logging
from typing import Iterator, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from mmhvit.utils import ConfigError
from .coco import check_coco_annotations
from .inventory import MAX_LEFT_OUT, report_inventory, take_inventory
from .label_scan import (Labels, count_labels, ignored_foreground,
                         range_errors, zero_label_warnings)
from .samples import SampleError

#: Label maps of each dataset read before the first iteration.
LABEL_SAMPLE = 8


def leaf_datasets(dataset) -> Iterator:
    """``dataset`` itself, or the datasets inside its wrappers
    (``RepeatDataset``, ``ConcatDataset``, ``ClassBalancedDataset``)."""
    inner = getattr(dataset, 'datasets', None) or (
        [dataset.dataset] if hasattr(dataset, 'dataset') else None)
    if inner is None:
        yield dataset
        return
    for child in inner:
        yield from leaf_datasets(child)


def metainfo_classes(dataset) -> Optional[Sequence[str]]:
    """The ``classes`` of a dataset's metainfo, if it has any."""
    return (getattr(dataset, 'metainfo', None) or {}).get('classes')


def check_dataset(dataset, role: str,
                  max_left_out: float = MAX_LEFT_OUT) -> None:
    """errors.md rows 33, 34, 37, 51-57, 59, 83-88, 111 and 114: raise for a
    dataset without samples, with missing inputs (:mod:`.inventory`), invalid
    COCO-style annotations or class labels outside its classes, or whose
    pipeline or label maps contradict its classes or ``reduce_zero_label``;
    log what it found, uses and leaves out, warning above ``max_left_out``.

    Args:
        dataset: A built dataset (wrappers included).
        role (str): ``'train'``, ``'val'`` or ``'test'``, for messages.
        max_left_out (float): Share of a kind of input (files, images,
            annotations) a dataset may leave out without a warning.
    """
    for leaf in leaf_datasets(dataset):
        if len(leaf) == 0:
            raise SampleError(no_samples(leaf, role))
        inventory = take_inventory(leaf)
        if inventory is not None:
            inventory.dataset = f'{role} dataset {type(leaf).__name__}'
            report_inventory(inventory, role, max_left_out)
        ann_file = getattr(leaf, 'ann_file', '')
        if isinstance(ann_file, str) and ann_file.endswith('.json') and \
                not getattr(leaf, 'annotations_checked', False):
            check_coco_annotations(ann_file, f'{role} dataset',
                                   metainfo_classes(leaf))
        check_label_transform(leaf, role)
        check_label_settings(leaf, role)
        check_class_labels(leaf, role)
        check_class_folders(leaf, role)


def check_class_labels(dataset, role: str) -> None:
    """errors.md row 59: the class labels of a classification dataset
    (mmpretrain's ``get_gt_labels``) lie in ``[0, len(classes))``; otherwise
    the loss fails with ``IndexError: Target 7 is out of bounds`` (a
    device-side assert on CUDA) once such a sample is drawn.

    Raises:
        SampleError: naming the dataset, its annotation file, the labels and
            a sample that carries one.
    """
    classes = metainfo_classes(dataset)
    if not classes or not hasattr(dataset, 'get_gt_labels'):
        return
    labels, count = dataset.get_gt_labels(), len(classes)
    if labels.dtype == object:  # multi-label: a list of labels a sample
        bad = [i for i, x in enumerate(labels)
               if not ((np.asarray(x) >= 0) & (np.asarray(x) < count)).all()]
    else:  # vectorised: ImageNet has 1.28 million samples
        outside = (labels < 0) | (labels >= count)
        bad = np.flatnonzero(outside.reshape(len(labels), -1).any(1)).tolist()
    if bad:
        values = sorted({int(v) for i in bad for v in np.atleast_1d(labels[i])
                         if not 0 <= v < count})
        example = dataset.get_data_info(bad[0]).get('img_path')
        raise SampleError(
            f'{len(bad)} samples of the {role} dataset '
            f'{type(dataset).__name__} (ann_file '
            f'{getattr(dataset, "ann_file", None)!r}) have labels '
            f'{values[:10]} outside its {len(classes)} classes (valid: 0..'
            f'{len(classes) - 1}), e.g. {example}. Fix the labels or the '
            "dataset's classes (metainfo).")


def check_class_folders(dataset, role: str) -> None:
    """errors.md row 114: the ``classes`` of a folder dataset (mmpretrain's
    ``CustomDataset`` without ``ann_file``) that are folder names stand at
    their folders' positions. mmpretrain labels a sample by the position of
    its folder among the sorted folder names and only checks the number of
    classes, so classes listed in another order name every prediction and
    metric wrongly. Names that are no folder's (wnid folders with readable
    class names) are left alone.

    Raises:
        ConfigError: naming the classes, the folders and the swaps.
    """
    folders = getattr(dataset, 'folder_to_idx', None)
    classes = metainfo_classes(dataset)
    if not folders or not classes or getattr(dataset, 'ann_file', ''):
        return
    folders = sorted(folders, key=folders.get)
    swapped = [(folder, classes[i]) for i, folder in enumerate(folders)
               if i < len(classes) and classes[i] != folder
               and classes[i] in folders]
    if swapped:
        named = ', '.join(f'{folder!r} as {name!r}'
                          for folder, name in swapped[:5])
        raise ConfigError(
            f'The classes of the {role} dataset {type(dataset).__name__} '
            f'{tuple(classes)} are not in the order of its folders '
            f'({folders[:10]}): mmpretrain labels a sample by the position '
            'of its folder in the sorted folder names, so the images of '
            f'these folders would be named wrongly: {named}. List classes as '
            f'the sorted folder names ({role}_dataloader.dataset.metainfo).')


def check_settings_applied(cfg, dataset, role: str) -> None:
    """errors.md row 117: the config's top-level ``classes`` (the setting
    of :func:`mmhvit.config_settings.apply_data_settings`; no base config
    has one) are the dataset's. A config file builds its entries from its
    variables as it runs, so a child that sets ``classes`` again without
    ending with the call changes nothing but the variable. (A top-level
    ``num_classes`` is not compared: the dataset bases have one, which
    configs that set the heads and ``metainfo`` themselves leave behind.)

    Raises:
        ConfigError: naming the setting, the dataset's classes and the fix.
    """
    classes = metainfo_classes(dataset)
    setting = cfg.get('classes')
    if not classes or setting is None or tuple(setting) == tuple(classes):
        return
    raise ConfigError(
        f'The config sets classes = {tuple(setting)} ({len(setting)} '
        f'classes), but its {role} dataset {type(dataset).__name__} has '
        f'{len(classes)} classes {tuple(classes)[:10]}: a data setting '
        'reaches the datasets, heads and pipelines only through '
        'apply_data_settings(globals()), the last line of a config that sets '
        'it (docs/custom_dataset.md); a child of a config that ends with it '
        'calls it again.')


def check_topk(metrics, dataset, role: str) -> None:
    """errors.md row 116: an evaluator's ``topk`` (mmpretrain's
    ``Accuracy``; the ImageNet configs' ``(1, 5)``) does not exceed the
    number of classes of the dataset it scores; mmpretrain raises only when
    it computes the metric, at the first validation, after training.

    Args:
        metrics: The evaluator's metrics (``runner.val_evaluator.metrics``).
        dataset: The dataset they score.
        role (str): ``'val'`` or ``'test'``, for messages.

    Raises:
        ConfigError: naming the evaluator, ``topk``, the classes and the fix.
    """
    classes = metainfo_classes(dataset)
    for metric in metrics or []:
        topk = getattr(metric, 'topk', None)
        if not classes or not isinstance(topk, (tuple, list)) or max(
                topk) <= len(classes):
            continue
        fit = tuple(sorted({min(k, len(classes)) for k in topk}))
        raise ConfigError(
            f'{role}_evaluator {type(metric).__name__} has topk={tuple(topk)}'
            f', but the {role} dataset {type(dataset).__name__} has '
            f'{len(classes)} classes: top-{max(topk)} accuracy is undefined '
            f'and mmpretrain would fail at the first validation, after '
            f'training. Set {role}_evaluator.topk={fit} (--cfg-options '
            f"'{role}_evaluator.topk={fit}').")


def check_label_transform(dataset, role: str) -> None:
    """errors.md row 15: the ``num_classes`` of a label-checking transform
    in the dataset's pipeline equals the dataset's number of classes.

    Raises:
        ConfigError: naming both numbers.
    """
    classes = metainfo_classes(dataset)
    for transform in getattr(getattr(dataset, 'pipeline', None),
                             'transforms', []):
        num_classes = getattr(transform, 'num_classes', None)
        if classes and num_classes is not None and \
                num_classes != len(classes):
            raise ConfigError(
                f'The {role} pipeline checks labels against num_classes='
                f'{num_classes} ({type(transform).__name__}), but the dataset '
                f'{type(dataset).__name__} has {len(classes)} classes. Set '
                f'num_classes={len(classes)} in the pipeline (as in the '
                'heads).')


def no_samples(dataset, role: str = '') -> str:
    """errors.md rows 37 and 57: the message for a dataset without
    samples; what to check depends on whether an annotation file (COCO) or
    file names list the samples."""
    ann_file = getattr(dataset, 'ann_file', None)
    if isinstance(ann_file, str) and ann_file.endswith('.json'):
        check = ("its 'images' and 'annotations', and filter_cfg "
                 '(filter_empty_gt=True drops every image without an '
                 'annotation of metainfo.classes; min_size drops small ones)')
    else:
        check = ('these paths, the file suffixes the dataset expects '
                 '(img_suffix, seg_map_suffix) and its filter_cfg')
    return (f'The {role + " " if role else ""}dataset '
            f'{type(dataset).__name__} has no samples (data_root '
            f'{getattr(dataset, "data_root", None)!r}, data_prefix '
            f'{getattr(dataset, "data_prefix", None)}, ann_file '
            f'{ann_file!r}): check {check}.')


def check_label_settings(dataset, role: str) -> None:
    """errors.md rows 87, 88 and 111: the label loaders of a segmentation
    dataset's pipeline read ``reduce_zero_label`` as the dataset does
    (mmseg asserts it while loading, as a bare ``AssertionError`` in a test
    pipeline), and ``reduce_zero_label`` and the number of classes fit the
    values of :data:`LABEL_SAMPLE` of its label maps, spread over the
    dataset.

    Raises:
        ConfigError: naming the dataset's settings, the values found and
            the files that hold them.
    """
    if not hasattr(dataset, 'reduce_zero_label') or not len(dataset):
        return
    setting = f'{role}_dataloader.dataset.reduce_zero_label'
    for transform in getattr(getattr(dataset, 'pipeline', None),
                             'transforms', []):
        reduce = getattr(transform, 'reduce_zero_label', None)
        if reduce is not None and reduce != dataset.reduce_zero_label:
            raise ConfigError(
                f'The {role} dataset {type(dataset).__name__} has '
                f'reduce_zero_label={dataset.reduce_zero_label} but its '
                f'{type(transform).__name__} reduce_zero_label={reduce}: '
                f'mmseg asserts they agree. Set the dataset\'s ({setting}) '
                'and leave it unset in the pipeline (the loader takes the '
                "dataset's).")
    classes = metainfo_classes(dataset)
    step = max(len(dataset) // LABEL_SAMPLE, 1)
    files = [dataset.get_data_info(i).get('seg_map_path')
             for i in range(0, len(dataset), step)][:LABEL_SAMPLE]
    if not classes or not all(files):
        return
    labels = Labels(files, len(classes), dataset.reduce_zero_label,
                    dataset.ignore_index, classes, dataset.label_map)
    counts = count_labels(files)
    where = (f'The label maps of the {role} dataset {type(dataset).__name__}'
             f' (reduce_zero_label={dataset.reduce_zero_label}, '
             f'{len(classes)} classes), {len(files)} of them read')
    # of more classes, a few sampled maps may hold only 0 and ignored areas
    foreground = ignored_foreground(counts, labels) \
        if len(classes) == 2 else ''
    if foreground:
        raise ConfigError(f'{where}: {foreground}.')
    errors = range_errors(counts, labels)
    if errors:
        raise ConfigError(
            f'{where}, do not fit its settings: {" ".join(errors)} Set '
            f"{setting} or the dataset's classes (num_classes of the heads "
            'and the label checks), whichever the files contradict.')
    for warning in zero_label_warnings(counts, labels):
        print_log(f'{where}: {warning} ({setting}).', logger='current',
                  level=logging.WARNING)
