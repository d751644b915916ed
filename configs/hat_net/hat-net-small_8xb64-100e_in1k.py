# HAT-Net-Small in the ablation setting of HAT-Net Sec. 4.4: "100 epochs ...
# the batch size and learning rate are also reduced by half" (8 GPUs x 64,
# lr 5e-4; the cosine schedule ends at max_epochs). H-MHSA in stages 2-4:
# Tab. 5's design 4, the model Tab. 5's other designs change.
_base_ = './hat-net-small_8xb128_in1k.py'

train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=512)
