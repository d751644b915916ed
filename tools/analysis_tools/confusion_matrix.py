"""A confusion matrix of a model on a config's test set, drawn to
``SAVE_DIR/confusion_matrix.png``.

    # segmentation: a checkpoint (the test set is predicted here) or a
    # folder of label PNGs in the test set's order
    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT \
        SAVE_DIR [--device cpu] [--title T] [--color-theme Blues]
    # detection: the results of tools/test.py CONFIG CHECKPOINT --out R.pkl
    python tools/analysis_tools/confusion_matrix.py CONFIG R.pkl SAVE_DIR \
        [--score-thr 0.3] [--tp-iou-thr 0.5] ...

Detection configs run mmdet's ``confusion_matrix`` as it is (all options
are its own). Segmentation configs count pixels with mmseg's, which reads
``dataset.METAINFO['classes']``; here it is the built dataset's (a config's
own ``metainfo=dict(classes=...)`` raised ``KeyError: 'classes'``). The
drawing is ours: mmseg's draws every class at 2 x 2 inches and 300 dpi
(45000 pixels wide for ADE20K), with ``-1%`` rows for classes without
labelled pixels. Here a row is a class with labelled pixels, a column a
class that is labelled or predicted, and a cell the percentage of the row's
pixels predicted as the column's class. The full matrix of pixel counts
(rows: label, columns: prediction) goes to ``SAVE_DIR/confusion_matrix.npy``.
"""
import argparse
import importlib.util
import os
import os.path as osp
import runpy
import sys

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmhvit import compat
from mmhvit.apis import build_inferencer, load_inference_config
from mmhvit.checks import CfgOptionsAction


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'predictions', help='segmentation: checkpoint or folder of label '
        'PNGs; detection: results pickle of tools/test.py --out')
    parser.add_argument('save_dir', help='where confusion_matrix.png goes')
    parser.add_argument('--device', default='cpu',
                        help='segmentation: device to predict on')
    parser.add_argument('--color-theme', default='Blues',
                        help='matplotlib colour map')
    parser.add_argument('--title', default='Confusion matrix')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings')
    return parser


def upstream_module(scope, path):
    """A script of ``scope``'s tools imported as a module (its functions,
    without running its ``main``)."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], compat.upstream_tool(scope, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def predict(cfg, checkpoint, dataset, device):
    """The label maps of the test images, in the dataset's order."""
    inferencer = build_inferencer(cfg, checkpoint, device)
    return [inferencer(dataset.get_data_info(i)['img_path'])['predictions']
            for i in range(len(dataset))]


def read_predictions(folder):
    """Label PNGs, sorted by name as mmseg's tool reads them."""
    return [np.array(Image.open(osp.join(folder, name)))
            for name in sorted(os.listdir(folder))]


def plot(matrix, classes, out, title, color_theme):
    """Draw the labelled classes' rows of ``matrix`` (pixel counts) as
    percentages of each row, over the labelled or predicted classes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = np.flatnonzero(matrix.sum(1))
    cols = np.flatnonzero(matrix.sum(0) + matrix.sum(1))
    percent = 100 * matrix[np.ix_(rows, cols)] / matrix[rows].sum(
        1, keepdims=True)
    fig, ax = plt.subplots(figsize=(2.5 + 0.5 * len(cols),
                                    2 + 0.4 * len(rows)))
    ax.imshow(percent, cmap=color_theme, vmin=0, vmax=100, aspect='auto')
    ax.set_xticks(range(len(cols)), [classes[i] for i in cols], rotation=45,
                  ha='left', rotation_mode='anchor')
    ax.set_yticks(range(len(rows)), [classes[i] for i in rows])
    ax.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    for (i, j), value in np.ndenumerate(percent):
        ax.text(j, i, f'{value:.0f}', ha='center', va='center', fontsize=8)
    ax.set(xlabel='predicted class', ylabel='labelled class',
           title=f'{title} (% of each row\'s pixels)')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return len(rows), len(cols)


def segmentation_matrix(args):
    """Count, save and draw the pixel confusion matrix; returns a summary."""
    upstream = upstream_module('mmseg', 'analysis_tools/confusion_matrix.py')
    cfg = load_inference_config(args.config, args.cfg_options)
    init_default_scope('mmseg')
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    dataset.METAINFO = dataset.metainfo  # upstream reads the class's
    if osp.isdir(args.predictions):
        results = read_predictions(args.predictions)
    else:
        results = predict(cfg, args.predictions, dataset, args.device)
    if len(results) != len(dataset):
        raise ValueError(f'{len(results)} predictions for {len(dataset)} '
                         'test images')
    matrix = upstream.calculate_confusion_matrix(dataset, results)
    os.makedirs(args.save_dir, exist_ok=True)
    np.save(osp.join(args.save_dir, 'confusion_matrix.npy'), matrix)
    classes = dataset.metainfo['classes']
    rows, cols = plot(matrix, classes,
                      osp.join(args.save_dir, 'confusion_matrix.png'),
                      args.title, args.color_theme)
    return (f'{int(matrix.sum())} pixels; {rows} of {len(classes)} classes '
            f'labelled, {cols} labelled or predicted (only these are drawn); '
            f'pixel accuracy {100 * np.trace(matrix) / matrix.sum():.2f}%')


def main():
    compat.apply()
    parser = parse_args()
    config, _ = parser.parse_known_args()
    scope = Config.fromfile(config.config).get('default_scope')
    if scope == 'mmdet':
        runpy.run_path(compat.upstream_tool(
            'mmdet', 'analysis_tools/confusion_matrix.py'),
            run_name='__main__')
        print(f'wrote {osp.join(sys.argv[3], "confusion_matrix.png")}')
        return
    if scope != 'mmseg':
        parser.error(f'{config.config}: a segmentation or detection config '
                     f'is needed, not {scope}')
    args = parser.parse_args()
    try:
        summary = segmentation_matrix(args)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    png = osp.join(args.save_dir, 'confusion_matrix.png')
    print(f'{summary}\nwrote {png} and confusion_matrix.npy')


if __name__ == '__main__':
    main()
