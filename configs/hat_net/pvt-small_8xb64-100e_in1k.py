# PVT-Small "under the same condition" as HAT-Net's pure transformer version
# (HAT-Net Sec. 4.4: 75.8 top-1): the PVT-Small config of HAFA Tab. 1 in
# HAT-Net's ablation setting (100 epochs, batch and lr halved, as
# hat-net-small_8xb64-100e_in1k.py).
_base_ = '../hafa/pvt-small_8xb128_in1k.py'

train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=512)
