# HLG-Small's ImageNet-1k weights (the checkpoint of
# hlg-small_8xb128_in1k.py, whose training this config does not change)
# tested on ImageNet-V2 matched frequency (SETR/HLG paper Tab. 8: 70.3
# top-1): `tools/test.py` with that config's checkpoint. Data layout:
# ../_base_/imagenet-v2_test.py.
_base_ = ['./hlg-small_8xb128_in1k.py', '../_base_/imagenet-v2_test.py']
test_dataloader = dict(_delete_=True, **_base_.imagenet_v2_test_dataloader)
test_dataloader['dataset']['pipeline'] = _base_.test_pipeline
test_evaluator = dict(type='Accuracy', topk=(1, 5))
