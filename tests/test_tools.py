"""Analysis tools run and print what they promise."""
import os.path as osp

import pytest

from helpers import ROOT, run_tool


@pytest.mark.slow
def test_benchmark_prints_ratios_side_by_side():
    out = run_tool('analysis_tools/benchmark.py',
                   'configs/hafa/pvt-tiny_8xb128_in1k.py',
                   'configs/hafa/pvt-tiny-hafa_8xb128_in1k.py', '--shape',
                   '64', '64', '--repeat', '2', '--warmup', '1').stdout
    rows = [line.split() for line in out.splitlines()
            if line.startswith('pvt-tiny')]
    assert [row[0] for row in rows] == [
        'pvt-tiny_8xb128_in1k.py', 'pvt-tiny-hafa_8xb128_in1k.py'
    ]
    assert rows[0][2] == '1.00'  # ratio to the first model
    assert all(row[-1].endswith('%') for row in rows)  # of the matmul rate


@pytest.mark.slow
def test_benchmark_sweeps_sizes_and_fits_the_exponent():
    out = run_tool('analysis_tools/benchmark.py', 'hlg-tiny', '--shape',
                   '64', '64', '--sweep', '64', '96', '--repeat', '2',
                   '--warmup', '1', '--mode', 'train').stdout
    sweep = out[out.index('Resolution sweep'):].splitlines()
    assert sweep[-1].split()[0] == 'hlg-tiny'
    float(sweep[-1].split()[-1])  # the fitted exponent


@pytest.mark.slow
def test_benchmark_clustering_compares_with_plain(tmp_path):
    """Ours, the plain N x N computation and an external implementation
    (here the plain one again, through an adapter file) take turns; all
    give the same clusters."""
    adapter = tmp_path / 'adapter.py'
    adapter.write_text(
        'import sys\n'
        f'sys.path.insert(0, {osp.join(ROOT, "tools/analysis_tools")!r})\n'
        'from benchmark_clustering import dpc_knn_plain\n\n\n'
        'def cluster(x, num_clusters, k):\n'
        '    return dpc_knn_plain(x, num_clusters, k), num_clusters\n')
    out = run_tool('analysis_tools/benchmark_clustering.py', '--sizes',
                   '196', '1024', '--repeat', '1', '--window-size', '16',
                   '--external', f'copy={adapter}:cluster').stdout
    rows = [line for line in out.splitlines() if line.startswith('N=')]
    assert len(rows) == 2
    for row in rows:
        cells = row.split(' | ')
        assert cells[1].startswith('ours ')
        assert cells[2].startswith('plain') and cells[2].endswith(' same')
        assert cells[3].startswith('copy') and cells[3].endswith(' same')
        assert cells[4].startswith('windows')


@pytest.mark.slow
def test_benchmark_data_checks_prints_the_ratio():
    out = run_tool('analysis_tools/benchmark_data_checks.py',
                   '--datasets', 'ade20k', '--samples', '1', '--rounds', '1',
                   '--inventory-files', '100').stdout.splitlines()
    row = out[-2].split()
    assert row[:2] == ['ade20k', '683x512']
    assert 0 < float(row[4]) < 10  # checked / upstream samples per second
    assert out[-1].startswith('inventory of 100 images and label maps: ')
