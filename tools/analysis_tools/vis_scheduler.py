"""Plot the learning rate (momentum, weight decay) a config's schedulers
give over its training: mmpretrain's ``vis_scheduler``, which steps the
config's optimizer and schedulers through a runner without a model or data.

    python tools/analysis_tools/vis_scheduler.py CONFIG --save-path lr.png \
        --not-show [--parameter {lr,momentum,wd}] [--ngpus 8] \
        [--dataset-size N] [--cfg-options KEY=VALUE ...]

``--dataset-size`` is the training set's length, needed for epoch-based
configs whose data is not at hand (detection, classification); iteration-
based ones (segmentation) default to ``max_iters`` batches. The config is
changed for upstream's tool, which only steps the schedulers:

* ``custom_hooks`` (mmhvit's safety hooks) are left out: they took ~2 s per
  iteration and wrote a checkpoint into ``work_dirs`` when the plot was
  stopped;
* an iteration-based config gets ``--dataset-size`` = ``max_iters`` batches:
  upstream's default (one batch) restarted the data loader, which mmengine
  follows by a 2 s pause, every iteration (22 hours for 40k iterations);
* the layer-wise lr decay of the ``*-layer-decay`` configs is dropped
  (mmpretrain's constructor needs a model with layers; the schedule of the
  base lr, which the plot shows, is the same);
* the runner's logs go to a temporary folder, not ``work_dirs/<config>``.
"""
import argparse
import sys
import tempfile

from mmengine.config import Config, DictAction

from mmhvit import compat


def parse_args():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('config')
    parser.add_argument('-d', '--dataset-size', type=int)
    parser.add_argument('-n', '--ngpus', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_known_args()


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith('-'):
        sys.exit(__doc__)
    compat.apply()
    args, rest = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    cfg.custom_hooks = []
    if 'layer_decay_rate' in cfg.optim_wrapper.get('paramwise_cfg', {}):
        cfg.optim_wrapper.pop('constructor')
        cfg.optim_wrapper.pop('paramwise_cfg', None)
    size = args.dataset_size
    if size is None and 'max_iters' in cfg.train_cfg:
        size = cfg.train_cfg.max_iters * cfg.train_dataloader.batch_size * \
            args.ngpus
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        compat.run_upstream_tool(
            compat.upstream_tool('mmpretrain',
                                 'visualization/vis_scheduler.py'), cfg,
            rest + ['--ngpus', str(args.ngpus)] +
            (['--dataset-size', str(size)] if size else []))


if __name__ == '__main__':
    main()
