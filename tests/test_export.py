"""Deployment paths of every backbone, on tiny variants: ONNX export (opset
17) run by onnxruntime, ``torch.compile`` and mixed precision."""
import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from mmhvit.models import HLG, PVTHAFA, ClusTR, HATNet, PVTv2HAFA, SwinHAFA
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT, TINY_SWIN

TINY = {
    'hat_net': lambda: HATNet(arch=TINY_HAT_NET, grid_sizes=(8, 8, 8, 1),
                              pool_sizes=(16, 8, 4, 1)),
    'hlg': lambda: HLG(arch=TINY_HLG),
    'clustr': lambda: ClusTR(arch=TINY_CLUSTR),
    'pvt_hafa': lambda: PVTHAFA(arch=TINY_PVT),
    'pvtv2_hafa': lambda: PVTv2HAFA(arch=TINY_PVT),
    'swin_hafa': lambda: SwinHAFA(arch=TINY_SWIN),
}
# not divisible by the windows, grids and pools: padding paths included
SHAPE = (1, 3, 96, 136)


def tiny(name):
    torch.manual_seed(0)
    return TINY[name]().eval()


@pytest.mark.parametrize('name', TINY)
def test_onnx_export_matches_pytorch(name):
    model, image = tiny(name), torch.rand(*SHAPE)
    buffer = io.BytesIO()
    torch.onnx.export(model, (image, ), buffer, opset_version=17,
                      dynamo=False)
    session = onnxruntime.InferenceSession(buffer.getvalue())
    outs = session.run(None, {session.get_inputs()[0].name: image.numpy()})
    with torch.no_grad():
        expected = model(image)
    assert len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize('name', TINY)
def test_torch_compile_matches_eager(name):
    model, image = tiny(name), torch.rand(*SHAPE)
    compiled = torch.compile(model, backend='aot_eager')
    with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for out, ref in zip(compiled(image), model(image)):
            torch.testing.assert_close(out, ref)
    # the layout caches step aside while Dynamo traces (layout_cache)
    assert not [w for w in caught if 'lru_cache' in str(w.message)]


# Inductor generates and compiles C++ for each backbone (35-70 s apiece on
# 2 cores; all six compile): one windowed and one clustering model here.
@pytest.mark.slow
@pytest.mark.parametrize('name', ['hat_net', 'clustr'])
def test_torch_compile_inductor_matches_eager(name):
    model, image = tiny(name), torch.rand(*SHAPE)
    compiled = torch.compile(model)
    with torch.no_grad():
        for out, ref in zip(compiled(image), model(image)):
            torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('name', TINY)
def test_autocast_forward_and_backward(name, dtype):
    """Under bfloat16 and float16 autocast the outputs stay close to float32
    and the gradients finite. Clustering is discrete: low-precision features
    can move a token across a cluster boundary (PVT-HAFA's last stage in
    bfloat16: cosine 0.987), hence 0.98."""
    model, image = tiny(name), torch.rand(*SHAPE)
    with torch.no_grad():
        reference = model(image)
        with torch.autocast('cpu', dtype=dtype):
            outs = model(image)
    for out, ref in zip(outs, reference):
        similarity = F.cosine_similarity(out.float().flatten(),
                                         ref.flatten(), dim=0)
        assert similarity > 0.98, (name, similarity)
    with torch.autocast('cpu', dtype=dtype):
        loss = sum(o.float().square().mean() for o in model.train()(image))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
