# Ablation setting of ClusTR Sec. 4.5: ClusTR-T trained for 100 epochs (the
# cosine schedule ends at max_epochs). Multi-scale reduction ratios {64, 16},
# {16, 4}, {4, 1}, {1}: the "multi-scale" row of Tab. 9.
_base_ = './clustr-tiny_8xb128_in1k.py'

train_cfg = dict(max_epochs=100)
