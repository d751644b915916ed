"""mmdet's COCO dataset with its annotation file checked as it is read."""
import json

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO

from mmhvit.checks.coco import (check_coco_classes, check_coco_content,
                                check_coco_masks, json_error)
from mmhvit.checks.inventory import CocoTally
from mmhvit.registry import DATASETS


class CheckedCOCO(COCO):
    """mmdet's COCO API; the loaded file is checked by
    :func:`check_coco_content` before it is indexed, and the class names
    the dataset asks for by :func:`check_coco_classes`."""

    def __init__(self, annotation_file=None):
        self.annotation_file = annotation_file
        try:
            super().__init__(annotation_file)
        except json.JSONDecodeError as error:
            raise json_error(error, annotation_file) from error

    def createIndex(self):  # noqa: N802 (pycocotools' name)
        if self.annotation_file is not None:
            check_coco_content(self.dataset, self.annotation_file)
        super().createIndex()

    def get_cat_ids(self, cat_names=(), *args, **kwargs):
        if cat_names and self.annotation_file is not None:
            check_coco_classes(self.dataset.get('categories', []), cat_names,
                               self.annotation_file)
        return super().get_cat_ids(cat_names, *args, **kwargs)


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` (same arguments); its annotation file is
    checked while it is loaded, before mmdet parses it: a file without
    ``images`` or with an image id listed twice, boxes that are not 4 finite
    numbers, of negative size or outside their image, polygons that are not
    finite, annotations of images or categories the file does not list, and
    dataset classes that are no category name raise a ``SampleError``
    naming the file and the image ids, instead of mmdet's ``too many values
    to unpack`` or silently dropped objects. Empty boxes and degenerate
    polygons, which mmdet drops, are logged. The annotations mmdet leaves
    out of training (crowd regions, no area, boxes under a pixel, other
    categories) and the images ``filter_cfg`` removes are counted as they
    are parsed: :attr:`inventory`, which ``PreflightCheckHook`` reports
    before the first iteration. Annotations without a ``segmentation``
    under a pipeline that loads masks (Mask R-CNN's on a boxes-only file)
    are refused when the dataset is built. mmhvit's COCO bases
    (``configs/_base_/datasets/coco_*.py``) use it."""
    COCOAPI = CheckedCOCO
    annotations_checked = True
    #: what the dataset found, uses and leaves out (``mmhvit.checks``'
    #: ``Inventory``), once it is loaded
    inventory = None

    def load_data_list(self):
        self._tally = CocoTally()
        return super().load_data_list()

    def parse_data_info(self, raw_data_info: dict):
        self._tally.add(raw_data_info['raw_img_info'],
                        raw_data_info['raw_ann_info'], self.cat_ids)
        return super().parse_data_info(raw_data_info)

    def filter_data(self):
        kept = super().filter_data()
        check_coco_masks(kept, self.pipeline, f'{self.ann_file} (dataset)')
        self.inventory = self._tally.inventory(
            self.ann_file, kept, self.filter_cfg, self.data_prefix['img'])
        del self._tally
        return kept
