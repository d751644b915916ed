"""The best and worst predicted test images of a detector: mmdet's
``analyze_results``. It scores each image of ``tools/test.py`` results
(``--out R.pkl``) by its mAP and draws the ``--topk`` best and worst, with
their ground truth, to ``SHOW_DIR/good`` and ``SHOW_DIR/bad`` (the score in
each file name).

    python tools/analysis_tools/test.py CONFIG CHECKPOINT --out R.pkl
    python tools/analysis_tools/analyze_results.py CONFIG R.pkl SHOW_DIR \
        [--topk 20] [--show-score-thr 0] [--cfg-options KEY=VALUE ...]

All options are upstream's. Detection configs only (mmseg and mmpretrain
ship no such tool for segmentation; mmpretrain's classification one is
``mmpretrain/.mim/tools/analysis_tools/analyze_results.py``). mmdet's tool
takes the loading steps from the training pipeline, by their exact
classes: mmhvit's ``CheckedLoadImageFromFile`` (mmcv's loader that names
an unreadable image) made it fail ("The data pipeline in your config file
must include loading image and annotations related pipeline"), so it gets
mmcv's ``LoadImageFromFile`` here.
"""
import sys

from mmengine.config import Config

from mmhvit import compat

CHECKED_LOADERS = {'mmhvit.CheckedLoadImageFromFile': 'LoadImageFromFile'}


def main():
    if len(sys.argv) < 4 or sys.argv[1].startswith('-'):
        sys.exit(__doc__)
    compat.apply()
    cfg = Config.fromfile(sys.argv[1])
    if cfg.get('default_scope') != 'mmdet':
        sys.exit(f'{sys.argv[1]}: analyze_results scores detections (mmdet '
                 f'configs), not {cfg.get("default_scope")}')
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset:  # dataset wrappers
        dataset = dataset.get('dataset') or dataset.datasets[0]
    for step in dataset.pipeline:
        step.type = CHECKED_LOADERS.get(step.type, step.type)
    compat.run_upstream_tool(
        compat.upstream_tool('mmdet', 'analysis_tools/analyze_results.py'),
        cfg, sys.argv[2:])


if __name__ == '__main__':
    main()
