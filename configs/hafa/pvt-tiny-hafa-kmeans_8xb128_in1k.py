# HAFA supplement Tab. 3: K-means (k = 49, at most 10 iterations) instead of
# DPC-KNN in SIA.
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(backbone=dict(clustering=dict(method='kmeans', num_iters=10)))
