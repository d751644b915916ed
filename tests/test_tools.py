"""Analysis tools run and print what they promise."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run(*args):
    result = subprocess.run([sys.executable, *args], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_benchmark_prints_ratios_side_by_side():
    out = run('tools/analysis_tools/benchmark.py',
              'configs/hafa/pvt-tiny_8xb128_in1k.py',
              'configs/hafa/pvt-tiny-hafa_8xb128_in1k.py', '--shape', '64',
              '64', '--repeat', '2', '--warmup', '1')
    rows = [line for line in out.splitlines() if ' ms ' in line]
    assert len(rows) == 2 and rows[0].endswith('x1.00')


def test_benchmark_clustering_compares_with_plain():
    out = run('tools/analysis_tools/benchmark_clustering.py', '--sizes',
              '196', '1024', '--repeat', '1', '--window-size', '16')
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2 and all(row.split('|')[3].strip() == 'yes'
                                  for row in rows)
