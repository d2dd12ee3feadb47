"""Checkpoints that cannot be read, or belong to another model, fail in one line."""

import pytest
import torch
from torch import nn

from mmstda.utils import (
    CheckpointError,
    UserInputError,
    checkpoint,
    load_checkpoint_file,
    load_model_weights,
)


class _Net(nn.Module):
    def __init__(self, with_adapter: bool = True) -> None:
        super().__init__()
        self.trunk = nn.Linear(3, 4)
        if with_adapter:
            self.adapter = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)


def _save_net(path, net: nn.Module) -> str:
    torch.save({'state_dict': net.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.mark.parametrize(
    'content, message',
    [
        (b'', r'empty\.pth: the checkpoint file is empty \(0 bytes\)'),
        (b'hello world\n', r'empty\.pth: not a readable PyTorch checkpoint \(KeyError'),
    ],
)
def test_empty_and_text_files_name_the_file(tmp_path, content, message):
    path = tmp_path / 'empty.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint_file(str(path))


def test_truncated_checkpoint_names_the_file_in_one_line(tmp_path):
    path = _save_net(tmp_path / 'full.pth', _Net())
    data = open(path, 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(str(cut))
    message = str(info.value)
    assert message.startswith(f'{cut}: not a readable PyTorch checkpoint (RuntimeError')
    assert 'truncated' in message and '\n' not in message
    # The tools print user-input errors as one line (exit 2), not a traceback.
    assert isinstance(info.value, UserInputError)


def test_matching_checkpoint_loads_every_weight(tmp_path):
    source = _Net()
    path = _save_net(tmp_path / 'ok.pth', source)
    target = _Net()
    load_model_weights(target, path)
    for name, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], value), name


def test_checkpoint_of_another_model_is_refused_before_loading(tmp_path):
    path = _save_net(tmp_path / 'other.pth', nn.Sequential(nn.Linear(3, 4)))
    target = _Net()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_model_weights(target, path)
    message = str(info.value)
    assert message.startswith(f'{path} does not match the model: 6 model keys missing from it ')
    assert '[trunk.weight, trunk.bias, adapter.weight, ...]' in message
    assert '2 keys the model does not have [0.weight, 0.bias]' in message
    assert '\n' not in message
    for name, value in before.items():
        assert torch.equal(target.state_dict()[name], value), name


def test_shape_mismatch_is_refused(tmp_path):
    other = _Net()
    other.head = nn.Linear(4, 5)
    path = _save_net(tmp_path / 'five_classes.pth', other)
    with pytest.raises(CheckpointError, match=r'2 shapes differ \(file vs model\) \[head.weight'):
        load_model_weights(_Net(), path)


def test_allowed_missing_keys_are_loaded_around_and_logged(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(checkpoint, 'print_log', lambda message, **_: logged.append(message))
    trunk_only = _Net(with_adapter=False)
    path = _save_net(tmp_path / 'trunk.pth', trunk_only)
    target = _Net()
    adapter_before = target.adapter.weight.clone()
    load_model_weights(target, path, allow_missing=('adapter.*',))
    assert torch.equal(target.trunk.weight, trunk_only.trunk.weight)
    assert torch.equal(target.adapter.weight, adapter_before)
    out = ''.join(logged)
    assert 'trunk.pth: 2 model keys are not in the checkpoint and keep their initial values' in out
    assert '[adapter.weight, adapter.bias]' in out


def test_ddp_prefix_is_accepted(tmp_path):
    source = _Net()
    path = tmp_path / 'ddp.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in source.state_dict().items()}}, path)
    target = _Net()
    load_model_weights(target, str(path))
    assert torch.equal(target.head.weight, source.head.weight)
