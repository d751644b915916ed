"""The training-memory count (mmhvit.analysis.training_memory and
tools/analysis_tools/training_memory.py): exact on a model counted by hand,
the same on fake tensors, the CLI's rows for SETR on mmseg's ViT and on
ours, with and without with_cp, and the model zoo's metafile fields."""
import pytest
import yaml
from torch import nn

from mmhvit.analysis.model_zoo import set_metadata
from mmhvit.analysis.training_memory import (MEMORY_FIELDS, TrainingMemory,
                                             count_config,
                                             count_training_memory)
from mmhvit.models.layers import sdpa_multihead_attention
from helpers import run_tool

SGD = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))


@pytest.mark.parametrize('fake', [False, True])
def test_counts_a_conv_relu_by_hand(fake):
    """Conv 3->4 (3x3) + ReLU on 2 images of 10 x 12: the conv keeps its
    input (2*3*10*12 floats; its weight is a parameter), ReLU its output
    (2*4*8*10); AdamW two moments and a step per tensor, SGD a momentum
    buffer."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    params = (4 * 3 * 3 * 3 + 4) * 4
    memory = count_training_memory(model, (10, 12), batch=2, fake=fake)
    assert memory.saved == (2 * 3 * 10 * 12 + 2 * 4 * 8 * 10) * 4
    assert (memory.params, memory.grads) == (params, params)
    assert memory.optimizer == 2 * params + 2 * 4
    assert memory.total == memory.saved + 4 * params + 2 * 4
    sgd = count_training_memory(model, (10, 12), optim_wrapper=SGD, fake=fake)
    assert sgd.optimizer == params
    assert all(p.grad is None for p in model.parameters())


def test_views_of_one_storage_count_once():
    """Queries, keys and values sliced from one projection
    (sdpa_multihead_attention) are one storage; SDPA's flash kernel keeps its
    output and one log-sum-exp per row and head."""

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(12, 3 * 12)

        def forward(self, x):  # (B, 3, H, W) -> 12-channel tokens
            tokens = x.flatten(2).transpose(1, 2).repeat(1, 1, 4)
            return sdpa_multihead_attention(tokens, tokens, tokens,
                                            self.qkv.weight, self.qkv.bias,
                                            num_heads=2)

    tokens = 16
    memory = count_training_memory(Attention(), (4, 4), fake=True)
    # the tokens (linear input), q/k/v, output, log-sum-exp
    assert memory.saved == (tokens * 12 + tokens * 36 + tokens * 12 +
                            2 * tokens) * 4


@pytest.mark.slow
def test_cli_compares_setr_on_mmseg_vit_and_ours():
    config = 'configs/setr/setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py'
    result = run_tool('analysis_tools/training_memory.py', config, '--peer',
                      'model.backbone.type=VisionTransformer', '--with-cp',
                      '--shape', 64, 64, '--fake')
    rows = [line.split() for line in result.stdout.splitlines()
            if line.startswith('setr_')]
    labels = [' '.join(row[1:-8]) for row in rows]
    assert labels == ['[peer]', '[peer] with_cp', '', 'with_cp']
    saved = [float(row[-7]) for row in rows]
    params = {row[-6] for row in rows}
    assert len(params) == 1  # same model
    assert rows[0][-2:] == ['1.000', '1.000']
    assert saved[2] < saved[0] and saved[1] < saved[0] and saved[3] < saved[2]


def test_memory_fields_are_written_into_a_metafile_entry(tmp_path):
    """model_zoo.py --count-memory's metafile edit: the fields at the end
    of the entry's Metadata, replaced on a recount, the rest of the file
    (comments, other entries) unchanged."""
    text = ('# a comment\nModels:\n- Name: a\n  Config: a.py\n  Metadata:\n'
            '    Parameters: 1\n  Results:\n  - Task: X\n'
            '- Name: b\n  Config: b.py\n  Metadata:\n    Parameters: 2\n')
    path = tmp_path / 'metafile.yml'
    path.write_text(text)
    memory = TrainingMemory(saved=3 * 2**20, params=2**20, grads=2**20,
                            optimizer=2 * 2**20, batch=2)
    set_metadata(str(path), 'a', memory.fields())
    set_metadata(str(path), 'b', dict(memory.fields(), **{
        MEMORY_FIELDS[0]: 9.9}))
    set_metadata(str(path), 'b', memory.fields())  # recount
    assert path.read_text() == text.replace(
        '    Parameters: 1\n', '    Parameters: 1\n'
        f'    {MEMORY_FIELDS[0]}: 1.5\n    {MEMORY_FIELDS[1]}: 4.0\n'
    ).replace('    Parameters: 2\n', '    Parameters: 2\n'
              f'    {MEMORY_FIELDS[0]}: 1.5\n    {MEMORY_FIELDS[1]}: 4.0\n')
    entries = yaml.safe_load(path.read_text())['Models']
    assert entries[0]['Metadata'][MEMORY_FIELDS[0]] == 1.5


@pytest.mark.slow
def test_amp_config_is_counted_under_autocast():
    """An AmpOptimWrapper config (CUDA-only wrapper) is counted with the
    forward under CPU autocast to its dtype: 16-bit activations plus the
    16-bit copy of each weight autocast casts (at most half the parameters'
    bytes), the same optimizer state as without AMP."""
    amp, shape = count_config(
        'configs/clustr/fpn_clustr-small_8xb2-amp-80k_ade20k-512x512.py',
        shape=(64, 64), fake=True)
    plain, _ = count_config(  # its base, in float32
        'configs/clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py',
        shape=(64, 64), fake=True)
    assert shape == (64, 64) and amp.optimizer == plain.optimizer
    assert amp.saved - amp.params / 2 < 0.75 * plain.saved
