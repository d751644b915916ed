"""Turn a checkpoint the runner wrote into one to publish: only the weights
(``state_dict``) and ``meta`` are kept (the optimizer, scheduler and message
hub state go), and the file is named after the first 8 hex digits of its
SHA-256, as OpenMMLab's model zoos name theirs.

    python tools/analysis_tools/publish_model.py IN.pth OUT.pth
    # writes OUT-<sha256[:8]>.pth and prints its name, size and hash

Upstream's ``publish_model`` (mmseg, mmdet) cannot read runner checkpoints
under torch >= 2.6 (a bare ``torch.load``, now weights-only, refuses their
``HistoryBuffer``), and mmseg's names the file after the input's hash; this
loads with :func:`mmhvit.compat.load_from_local`.
"""
import argparse
import hashlib
import os
import os.path as osp

import torch

from mmhvit.compat import load_from_local

KEEP = ('meta', 'state_dict')


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file, out_file):
    """Write the published checkpoint; returns its path and what was
    dropped."""
    checkpoint = load_from_local(in_file, map_location='cpu')
    dropped = sorted(set(checkpoint) - set(KEEP))
    torch.save({key: checkpoint[key] for key in KEEP if key in checkpoint},
               out_file)
    final = f'{osp.splitext(out_file)[0]}-{sha256(out_file)[:8]}.pth'
    os.replace(out_file, final)
    return final, dropped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('in_file', help='checkpoint written by the runner')
    parser.add_argument('out_file', help='name of the published file; '
                        '-<sha256[:8]> is added before .pth')
    args = parser.parse_args()
    try:
        final, dropped = publish(args.in_file, args.out_file)
    except (FileNotFoundError, RuntimeError) as error:
        parser.error(str(error))
    print(f'wrote {final} ({osp.getsize(final) / 2**20:.1f} MiB, sha256 '
          f'{sha256(final)}); dropped {", ".join(dropped) or "nothing"}')


if __name__ == '__main__':
    main()
