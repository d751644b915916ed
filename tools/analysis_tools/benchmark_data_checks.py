"""What mmhvit's data checks cost in training: samples per second of the
checked training pipeline of a shipped dataset base (mmhvit's loaders, which
check every image and label map) over the same pipeline with the upstream
loaders, measured side by side in one process.

    python tools/analysis_tools/benchmark_data_checks.py \
        [--datasets ade20k cityscapes] [--samples 16] [--rounds 5] \
        [--inventory-files 20210] [--work-dir /tmp/data_checks]

Samples are generated at the datasets' real sizes and formats (ADE20K:
512x683 JPEG images, PNG label maps whose 0 becomes the ignore index with
``reduce_zero_label``; Cityscapes: 2048x1024 PNGs with ignored pixels).
Each round runs every sample through both pipelines, which goes first
alternating, with the random transforms seeded alike; the ratio printed is
the median over rounds (1.0: the checks cost nothing). Target: >= 0.95.
Then the inventory that ``PreflightCheckHook`` takes before the first
iteration is timed on a generated ADE20K-sized folder (20 210 empty images
and label maps), beside the time mmseg takes to list it.
"""
import argparse
import tempfile

from mmhvit.analysis.data_checks import (DATASETS, build_pipelines,
                                         inventory_seconds, pipeline_ratio,
                                         write_samples)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Samples/s of the checked training pipelines over the '
        'upstream ones, interleaved in one process')
    parser.add_argument('--datasets', nargs='+', default=list(DATASETS),
                        choices=list(DATASETS))
    parser.add_argument('--samples', type=int, default=16,
                        help='samples generated per dataset')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--inventory-files', type=int, default=20210,
                        help='images (and label maps) of the folder whose '
                        'inventory is timed; 0: none')
    parser.add_argument('--work-dir', help='where to write the samples '
                        '(default: a temporary directory)')
    return parser.parse_args()


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory(dir=args.work_dir) as root:
        print(f'{"dataset":<11} {"size":>10} {"checked ms":>11} '
              f'{"upstream ms":>12} {"ratio":>6}  (per round)')
        for name in args.datasets:
            folder = write_samples(f'{root}/{name}', name, args.samples)
            result = pipeline_ratio(*build_pipelines(name, folder),
                                    args.rounds)
            height, width = DATASETS[name]['shape']
            times = result['ms_per_sample']
            print(f'{name:<11} {f"{width}x{height}":>10} '
                  f'{times["checked"]:>11.1f} {times["upstream"]:>12.1f} '
                  f'{result["ratio"]:>6.3f}  '
                  + ' '.join(f'{r:.3f}' for r in result['ratios']))
        if args.inventory_files:
            seconds = inventory_seconds(f'{root}/inventory',
                                        args.inventory_files)
            print(f'inventory of {args.inventory_files} images and label '
                  f'maps: {seconds["inventory"]:.2f} s (mmseg lists them in '
                  f'{seconds["dataset"]:.2f} s)')


if __name__ == '__main__':
    main()
