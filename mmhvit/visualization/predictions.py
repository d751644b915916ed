"""Pictures of predictions, the same for ``tools/misc/infer.py``
(:mod:`mmhvit.apis.inference`) and ``tools/test.py --show-dir``
(:class:`DrawPredictionsHook`): the upstream visualizers draw the masks
and boxes, these functions make the result readable.

* segmentation: the input and the mask overlay side by side, enlarged to at
  least :data:`MIN_VIS_HEIGHT` pixels, with a legend of the predicted
  classes and their share of the pixels;
* detection: boxes (and masks) with class names and scores, drawn on the
  input enlarged alike, with a note when no box reaches the score
  threshold; scores in percent as mmdet draws them (:func:`percent`);
* classification (``infer.py`` only): the input enlarged alike with the
  top-k class names in full and their scores beside it.
"""
import math
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
from mmengine.hooks import Hook

from mmhvit.registry import HOOKS

#: visualisations of smaller images are enlarged (nearest) to this height
MIN_VIS_HEIGHT = 256


def segmentation_picture(image, overlay, sem_seg, classes, palette,
                         source='the image'):
    """``image | overlay`` with a legend, and the classes found.

    Args:
        image (ndarray): ``(H, W, 3)`` RGB input.
        overlay (ndarray): ``(H, W, 3)`` RGB, the visualizer's masks drawn
            over the input.
        sem_seg (ndarray): ``(H, W)`` predicted class indices.
        classes (Sequence[str]): Class names; ``palette`` their RGB colours.
        source (str): Named in the error.

    Returns:
        tuple: the picture ``(H', W', 3)`` RGB and ``[(name, pixels)]`` of
        the predicted classes, most pixels first.

    Raises:
        ValueError: a predicted index is not below ``len(classes)``.
    """
    ids, counts = np.unique(sem_seg, return_counts=True)
    if ids.max() >= len(classes):
        raise ValueError(
            f'{source}: predicted class index {ids.max()}, but the '
            f'checkpoint names {len(classes)} classes; the decode head\'s '
            'num_classes and the dataset classes disagree')
    order = np.argsort(-counts, kind='stable')  # most pixels first
    found = [(classes[ids[k]], int(counts[k])) for k in order]
    legend = [(classes[ids[k]], palette[ids[k]], counts[k] / sem_seg.size)
              for k in order]
    panels = enlarge(np.concatenate([image, overlay], 1))
    return with_legend(panels, legend), found


def detection_picture(visualizer, image, sample, score_thr):
    """Boxes (and masks) with class names and scores above ``score_thr``,
    drawn by mmdet's ``visualizer`` on the input enlarged to
    :data:`MIN_VIS_HEIGHT` rows (so names and scores are drawn at a
    readable size), with a note when none reaches ``score_thr``.

    Args:
        visualizer (DetLocalVisualizer): With the classes as dataset_meta.
        image (ndarray): ``(H, W, 3)`` RGB input.
        sample (DetDataSample): Its ``pred_instances`` at the input's size.
        score_thr (float): Lowest score of a drawn box.

    Returns:
        tuple: the picture ``(H', W', 3)`` RGB and ``[(name, score)]`` of
        the drawn instances.
    """
    classes = visualizer.dataset_meta['classes']
    instances = sample.pred_instances
    labels, scores = instances.labels.tolist(), instances.scores.tolist()
    kept = [(classes[label], score) for label, score in zip(labels, scores)
            if score >= score_thr]
    factor = _enlarge_factor(image)
    if factor > 1:
        sample = sample.clone()
        sample.pred_instances.bboxes = instances.bboxes * factor
        if 'masks' in instances:
            sample.pred_instances.masks = instances.masks.repeat_interleave(
                factor, 1).repeat_interleave(factor, 2)
    visualizer.add_datasample('prediction', enlarge(image), sample,
                              draw_gt=False, pred_score_thr=score_thr)
    picture = visualizer.get_image()
    if not kept:  # say so on the image instead of leaving it bare
        best = max(zip(scores, labels), default=None)
        picture = with_note(
            picture, f'no detection with score >= {percent(score_thr)}' +
            (f' (highest: {classes[best[1]]} {percent(best[0])})'
             if best else ''))
    return picture, kept


def classification_picture(image, names, scores):
    """The input enlarged to :data:`MIN_VIS_HEIGHT` rows with the classes
    ``names`` (in full) and their ``scores`` beside it, in percent with two
    decimals (a 1000-class model is rarely sure: mmpretrain's drawing
    showed ``0.00`` and cut long names)."""
    shades = np.linspace(40, 200, len(names)).astype(int)
    return with_legend(enlarge(image), [
        (name, (shade, ) * 3, float(score))
        for name, shade, score in zip(names, shades, scores)], digits=2)


def percent(score):
    """A score in percent with one decimal, as mmdet's visualizer draws it
    next to a box (``car: 45.3``)."""
    return f'{100 * float(score):.1f}%'


def with_legend(image, entries, row=22, digits=1):
    """Append a legend column: a colour swatch, a name and a percentage
    (``digits`` decimals) per ``(name, rgb, share)`` entry."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    texts = [f'{name} {100 * share:.{digits}f}%'
             for name, _, share in entries]
    width = max(cv2.getTextSize(t, font, scale, 1)[0][0] for t in texts) + 40
    height = max(image.shape[0], row * len(entries) + 8)
    canvas = np.full((height, image.shape[1] + width, 3), 255, np.uint8)
    canvas[:image.shape[0], :image.shape[1]] = image
    for i, ((_, color, _), text) in enumerate(zip(entries, texts)):
        x, y = image.shape[1] + 6, 6 + i * row
        cv2.rectangle(canvas, (x, y), (x + 16, y + 16),
                      tuple(int(c) for c in color), -1)
        cv2.rectangle(canvas, (x, y), (x + 16, y + 16), (0, 0, 0), 1)
        cv2.putText(canvas, text, (x + 24, y + 13), font, scale, (0, 0, 0),
                    1, cv2.LINE_AA)
    return canvas


def with_note(image, text, height=28):
    """Append a white strip with ``text`` below the image."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    width = max(image.shape[1], cv2.getTextSize(text, font, scale, 1)[0][0]
                + 12)
    canvas = np.full((image.shape[0] + height, width, 3), 255, np.uint8)
    canvas[:image.shape[0], :image.shape[1]] = image
    cv2.putText(canvas, text, (6, image.shape[0] + 19), font, scale,
                (200, 0, 0), 1, cv2.LINE_AA)
    return canvas


def enlarge(image):
    """Nearest-neighbour upscale by an integer factor to ``MIN_VIS_HEIGHT``
    (pixels stay visible as they are)."""
    factor = _enlarge_factor(image)
    if factor <= 1:
        return image
    return cv2.resize(image, None, fx=factor, fy=factor,
                      interpolation=cv2.INTER_NEAREST)


def _enlarge_factor(image):
    return math.ceil(MIN_VIS_HEIGHT / image.shape[0])


def write_rgb(path, image):
    if not mmcv.imwrite(mmcv.rgb2bgr(image), path):
        raise OSError(f'could not write {path}')


@HOOKS.register_module()
class DrawPredictionsHook(Hook):
    """Write every test image with its predictions into ``out_dir``
    (``tools/test.py --show-dir``), drawn as ``tools/misc/infer.py`` draws
    them: ``<image name>.png`` per test sample.

    The masks and boxes are drawn by a copy of the runner's visualizer
    without its storage backends (nothing goes to the work dir's
    ``vis_data``), with the test set's classes and palette.

    Args:
        out_dir (str): Output directory (relative: to the working
            directory, as infer.py's ``--out-dir``).
        score_thr (float): Detection: lowest score of a drawn box.
        opacity (float): Segmentation: opacity of the masks.
    """
    priority = 'LOW'

    def __init__(self, out_dir, score_thr=0.3, opacity=0.5):
        self.out_dir = out_dir
        self.score_thr = score_thr
        self.opacity = opacity

    def before_test(self, runner):
        os.makedirs(self.out_dir, exist_ok=True)
        source = runner.visualizer
        self.visualizer = type(source)(
            name=f'{type(self).__name__}_{id(self)}')
        self.visualizer.dataset_meta = source.dataset_meta

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        for sample in outputs:
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            write_rgb(osp.join(self.out_dir, stem + '.png'),
                      self.picture(image, sample))

    def picture(self, image, sample):
        """The picture of one predicted ``sample`` of ``image``."""
        meta = self.visualizer.dataset_meta
        if 'pred_sem_seg' in sample:
            self.visualizer.alpha = self.opacity
            self.visualizer.add_datasample(
                'prediction', image, sample, draw_gt=False, with_labels=False)
            sem_seg = sample.pred_sem_seg.data[0].cpu().numpy()
            return segmentation_picture(image, self.visualizer.get_image(),
                                        sem_seg, meta['classes'],
                                        meta['palette'], sample.img_path)[0]
        return detection_picture(self.visualizer, image, sample,
                                 self.score_thr)[0]
