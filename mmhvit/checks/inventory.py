"""The inventory of a dataset before the first iteration: what it found on
disk or in its annotation file, what it uses, and every file, image or
annotation it leaves out, with the reason and the setting that decides it.

The upstream datasets leave inputs out without a word: mmseg lists images
by a case-sensitive ``img_suffix`` (``.JPG`` files are not ``.jpg`` ones)
and only finds a missing label map when that sample is loaded; mmdet drops
COCO annotations that are crowd regions, have no area or boxes under a
pixel, and images without annotations (``filter_cfg``). Counted here, a
dataset that lost a share of its inputs says so before training starts, and
one that has nothing to train on, or misses label maps, stops it.
"""
import logging
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Tuple

from mmengine import fileio
from mmengine.logging import print_log

from .coco import LEFT_OUT, left_out_reason
from .samples import SampleError

#: Items named per reason in the log and in messages.
EXAMPLES = 3
#: Share of a kind of input a dataset may leave out without a warning.
MAX_LEFT_OUT = 0.05


class Inventory:
    """What a dataset found, used and left out.

    Args:
        where (str): The folders or annotation file it reads.
        found (dict): Kind of input (``'image files'``, ``'annotations'``)
            -> how many there are.
    """

    def __init__(self, where: str, **found: int):
        self.where = where
        self.dataset = 'dataset'  # its role and type, set by the check
        self.found = found
        #: kind of input -> how many the dataset uses
        self.used: Dict[str, int] = {}
        #: reason -> [kind of input, the setting that decides, count,
        #: examples]
        self.left_out: Dict[str, list] = {}
        #: inputs whose absence stops the run: reason -> [fix, count,
        #: examples]
        self.missing: Dict[str, list] = {}

    def leave_out(self, reason: str, kind: str, setting: str,
                  items: Iterable[str], count: Optional[int] = None) -> None:
        """Record ``items`` (of the kind of input ``kind``; ``count`` of
        them, of which ``items`` may be the first few) as left out for
        ``reason``, which ``setting`` decides."""
        items = list(items)
        count = len(items) if count is None else count
        if count:
            entry = self.left_out.setdefault(reason, [kind, setting, 0, []])
            entry[2] += count
            entry[3] = (entry[3] + items)[:EXAMPLES]

    def miss(self, reason: str, fix: str, items: Iterable[str]) -> None:
        """Record ``items`` as inputs the dataset needs and lacks for
        ``reason``, which ``fix`` mends."""
        items = list(items)
        if items:
            entry = self.missing.setdefault(reason, [fix, 0, []])
            entry[1] += len(items)
            entry[2] = (entry[2] + items)[:EXAMPLES]

    def shares(self) -> Dict[str, float]:
        """Kind of input -> the share of those found that is left out."""
        counts = defaultdict(int)
        for kind, _, count, _ in self.left_out.values():
            counts[kind] += count
        return {kind: count / max(self.found.get(kind, 0), 1)
                for kind, count in counts.items()}

    def summary(self) -> str:
        """One paragraph for the log."""
        found = ', '.join(f'{n} {kind}' for kind, n in self.found.items())
        used = ', '.join(f'{n} {kind}' for kind, n in self.used.items())
        lines = [f'Inventory of the {self.dataset} ({self.where}): found '
                 f'{found}; uses {used}.']
        lines += [f'  left out: {count} {reason}, e.g. {examples} '
                  f'(setting: {setting})' for reason, (
                      _, setting, count, examples) in self.left_out.items()]
        return '\n'.join(lines)


def take_inventory(dataset) -> Optional[Inventory]:
    """The inventory of a built dataset (no wrapper): an mmseg dataset's
    folders, a COCO dataset's annotation file (what
    ``mmhvit.CheckedCocoDataset`` counted as it parsed it, or the file read
    again); None for other datasets and storage."""
    if getattr(dataset, 'inventory', None) is not None:
        return dataset.inventory
    if hasattr(dataset, 'seg_map_suffix') and hasattr(dataset, 'img_suffix'):
        return seg_inventory(dataset)
    ann_file = getattr(dataset, 'ann_file', '')
    if isinstance(ann_file, str) and ann_file.endswith('.json') and hasattr(
            dataset, 'cat_ids') and osp.isfile(ann_file):
        return coco_inventory(dataset)
    return None


def inventory_problems(inventory: Inventory, role: str,
                       max_left_out: float) -> Tuple[List[str], List[str]]:
    """``(errors, warnings)`` of an inventory: missing inputs, and a
    training set without an instance to train on; a share above
    ``max_left_out`` of a kind of input left out, naming the setting that
    leaves it out."""
    where = f'The {inventory.dataset} ({inventory.where})'
    errors = [f'{where}: {reason}: {count}, e.g. {examples}. {fix}.'
              for reason, (fix, count, examples)
              in inventory.missing.items()]
    if role == 'train' and inventory.used.get('instances') == 0:
        reasons = '; '.join(
            f'{count} {reason} (e.g. {examples}; fix: {setting})'
            for reason, (kind, setting, count, examples)
            in inventory.left_out.items() if kind == 'annotations')
        errors.append(
            f'{where} has no instance to train on: of its '
            f'{inventory.found.get("annotations", 0)} annotations, none is '
            f'used. Left out: {reasons or "none (it has no annotations)"}. '
            'The losses of boxes and masks would be 0 throughout.')
    warnings = []
    for kind, share in inventory.shares().items():
        if share > max_left_out:
            reasons = {reason: entry[1] for reason, entry
                       in inventory.left_out.items() if entry[0] == kind}
            warnings.append(
                f'{where} leaves out {share:.0%} of its {kind} '
                f'({"; ".join(reasons)}): to use them, change '
                f'{"; ".join(reasons.values())}. (PreflightCheckHook warns '
                f'above max_left_out={max_left_out}.)')
    return errors, warnings


def report_inventory(inventory: Inventory, role: str,
                     max_left_out: float) -> None:
    """errors.md rows 83-86: log the inventory and
    :func:`inventory_problems`, warnings first.

    Raises:
        SampleError: naming the dataset, what is missing (a few of them) or
            why every instance is left out, and the fix.
    """
    print_log(inventory.summary(), logger='current')
    errors, warnings = inventory_problems(inventory, role, max_left_out)
    for warning in warnings:
        print_log(warning, logger='current', level=logging.WARNING)
    if errors:
        raise SampleError(' '.join(errors))


def local_files(folder: str) -> List[str]:
    """The files below ``folder`` as mmengine lists them (hidden ones
    left aside), relative to it."""
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        relative = osp.relpath(parent, folder)
        found += [name if relative == '.' else osp.join(relative, name)
                  for name in names if not name.startswith('.')]
    return found


def seg_inventory(dataset) -> Optional[Inventory]:
    """The inventory of an mmseg dataset (``BaseSegDataset``): the image
    files of ``data_prefix.img_path``, the label maps of
    ``data_prefix.seg_map_path``, the samples it lists, and why the other
    files are not used. None for storage other than local folders."""
    img_dir = dataset.data_prefix.get('img_path')
    ann_dir = dataset.data_prefix.get('seg_map_path')
    if not (isinstance(img_dir, str) and osp.isdir(img_dir)) or getattr(
            dataset, 'backend_args', None):
        return None
    img_suffix, seg_suffix = dataset.img_suffix, dataset.seg_map_suffix
    images = local_files(img_dir)
    labels = set(local_files(ann_dir)) if ann_dir and osp.isdir(
        ann_dir) else set()
    inventory = Inventory(img_dir + (f', {ann_dir}' if ann_dir else ''))
    inventory.found['image files'] = len(images)
    if ann_dir:
        inventory.found['label maps'] = sum(
            name.endswith(seg_suffix) for name in labels)
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    inventory.used['samples'] = len(samples)
    listed = {_relative(s['img_path'], img_dir) for s in samples}
    image_set = set(images)
    inventory.miss(
        'images its ann_file lists that do not exist',
        f'Add them under {img_dir}, or remove them from the ann_file',
        [osp.join(img_dir, name) for name in sorted(listed - image_set)])
    unused = sorted(image_set - listed)
    case = [n for n in unused if n.lower().endswith(img_suffix.lower())]
    inventory.leave_out(
        f'image files ending in {_suffixes(case, img_suffix)}, not in '
        f'img_suffix {img_suffix!r} (its case differs)', 'image files',
        f'img_suffix (or rename the files to end in {img_suffix!r})', case)
    other = [n for n in unused if n not in set(case)]
    inventory.leave_out(
        f'files not ending in img_suffix {img_suffix!r}', 'image files',
        'img_suffix', other)
    if not ann_dir:
        return inventory
    stems = set()
    for sample in samples:
        label = _relative(sample['seg_map_path'], ann_dir)
        stems.add(label[:-len(seg_suffix)])
        if label not in labels:
            inventory.miss(
                'images without their label map (mmseg would fail at that '
                'sample)', f'Add the label maps, named as their image with '
                f'seg_map_suffix {seg_suffix!r} in place of img_suffix '
                f'{img_suffix!r}, or remove those images',
                [_missing_label(sample, ann_dir, labels, seg_suffix)])
    image_stems = {_stem(n, img_suffix) for n in images}
    orphans = sorted(n for n in labels if n.endswith(seg_suffix)
                     and n[:-len(seg_suffix)] not in stems
                     and n[:-len(seg_suffix)] not in image_stems)
    inventory.leave_out(
        'label maps without an image', 'label maps',
        'data_prefix.img_path (or add their images)', orphans)
    return inventory


def _relative(path: str, folder: str) -> str:
    """``path`` relative to ``folder``, which the datasets joined to it
    (``osp.relpath`` takes 20x as long: seconds for ADE20K)."""
    prefix = osp.join(folder, '')
    return path[len(prefix):] if path.startswith(prefix) else osp.relpath(
        path, folder)


def _suffixes(names: List[str], suffix: str) -> str:
    found = sorted({n[-len(suffix):] for n in names})
    return ', '.join(repr(s) for s in found) or repr(suffix)


def _stem(name: str, suffix: str) -> str:
    """``name`` without the suffix, whatever the case of its letters."""
    return name[:-len(suffix)] if name.lower().endswith(
        suffix.lower()) else osp.splitext(name)[0]


def _missing_label(sample: dict, ann_dir: str, labels: set,
                   suffix: str) -> str:
    """The label map ``sample`` expects, and a file of another case of the
    suffix that is there instead."""
    path = sample['seg_map_path']
    stem = _relative(path, ann_dir)[:-len(suffix)]
    other = [n for n in labels if n.lower() == (stem + suffix).lower()]
    return path + (f' (there is {other[0]!r}: seg_map_suffix {suffix!r} '
                   'differs in case)' if other else '')


class CocoTally:
    """Counts, as mmdet parses a COCO file image by image, the annotations
    it does not train on, by reason (:data:`~.coco.LEFT_OUT`)."""

    def __init__(self):
        self.images = self.annotations = 0
        self.left_out: Dict[str, list] = {}  # reason -> [count, examples]
        self.trained: Dict[int, int] = {}  # image id -> instances trained
        self.with_class = set()  # ids of images with an annotation of one
        self.cat_ids = None  # those of the classes, from the first image

    def add(self, image: dict, annotations: List[dict], cat_ids) -> None:
        """Count the ``annotations`` of ``image`` (mmdet's raw entries,
        image id under ``'img_id'`` or ``'id'``); ``cat_ids``: the category
        ids of the dataset's classes."""
        if self.cat_ids is None:
            self.cat_ids = set(cat_ids)
        cat_ids = self.cat_ids
        image_id = image.get('img_id', image.get('id'))
        self.images += 1
        self.annotations += len(annotations)
        trained = 0
        for ann in annotations:
            reason = left_out_reason(ann, image, cat_ids)
            if ann.get('category_id') in cat_ids:
                self.with_class.add(image_id)
            if reason is None:
                trained += 1
                continue
            entry = self.left_out.setdefault(reason, [0, []])
            entry[0] += 1
            if len(entry[1]) < EXAMPLES:
                entry[1].append(f'annotation {ann.get("id")} of image '
                                f'{image_id}')
        self.trained[image_id] = trained

    def inventory(self, ann_file: str, samples: List[dict],
                  filter_cfg: Optional[dict], img_dir: str) -> Inventory:
        """The inventory of a dataset that keeps ``samples`` (its data
        infos, after ``filter_cfg``) of the images counted."""
        inventory = Inventory(ann_file, images=self.images,
                              annotations=self.annotations)
        kept = {sample['img_id'] for sample in samples}
        inventory.used = dict(
            samples=len(samples),
            instances=sum(self.trained.get(i, 0) for i in kept))
        for reason, (count, examples) in self.left_out.items():
            text, setting = LEFT_OUT[reason]
            inventory.leave_out(text, 'annotations', setting, examples,
                                count)
        dropped = [i for i in self.trained if i not in kept]
        no_class = [i for i in dropped if i not in self.with_class]
        inventory.leave_out(
            'images without an annotation of the classes', 'images',
            'filter_cfg.filter_empty_gt',
            [f'image {i}' for i in no_class[:EXAMPLES]], len(no_class))
        small = [i for i in dropped if i in self.with_class]
        inventory.leave_out(
            f'images smaller than filter_cfg.min_size '
            f'{(filter_cfg or {}).get("min_size")}', 'images',
            'filter_cfg.min_size', [f'image {i}' for i in small[:EXAMPLES]],
            len(small))
        # images whose annotations were all left out; those without any
        # that the dataset keeps (filter_empty_gt=False, test_mode) are
        # background samples it uses
        empty = [i for i in kept
                 if i in self.with_class and not self.trained.get(i)]
        if empty and len(empty) < len(kept):
            inventory.leave_out(
                'samples with no instance to train on (only background)',
                'images', 'the annotations left out above',
                [f'image {i}' for i in empty[:EXAMPLES]], len(empty))
        if osp.isdir(img_dir):
            files = set(local_files(img_dir))
            inventory.miss(
                'images the annotation file lists that do not exist',
                f'Put them under {img_dir} (data_prefix.img), or remove '
                'their entries', [s['img_path'] for s in samples
                                  if _relative(s['img_path'], img_dir)
                                  not in files])
        return inventory


def coco_inventory(dataset) -> Inventory:
    """The inventory of an mmdet COCO-style dataset whose annotation file
    was not counted as it was parsed: the file read again."""
    content = fileio.load(dataset.ann_file)
    by_image = defaultdict(list)
    for ann in content.get('annotations', []):
        by_image[ann.get('image_id')].append(ann)
    tally = CocoTally()
    for image in content.get('images', []):
        tally.add(image, by_image[image.get('id')], dataset.cat_ids)
    samples = [dataset.get_data_info(i) for i in range(len(dataset))]
    return tally.inventory(dataset.ann_file, samples, dataset.filter_cfg,
                           dataset.data_prefix.get('img', ''))
