import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from mmstda.utils import UnsafeCheckpointError, load_checkpoint_file


class _RunsShellOnLoad:
    def __reduce__(self):
        return (os.system, ('echo this must never run',))


def test_checkpoint_with_mmengine_message_hub_types_loads(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(0.5)
    buffer.update(0.25)
    path = tmp_path / 'ckpt.pth'
    torch.save(
        {
            'state_dict': {'w': torch.ones(2)},
            'message_hub': {'loss': buffer, 'seed': np.int64(3), 'arr': np.arange(3)},
        },
        path,
    )
    loaded = _load_checkpoint(str(path), map_location='cpu')  # mmengine's own entry point
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub']['loss'].mean() == pytest.approx(0.375)
    assert loaded['message_hub']['seed'] == 3
    np.testing.assert_array_equal(loaded['message_hub']['arr'], np.arange(3))


def test_checkpoint_with_arbitrary_callable_is_refused_with_clear_message(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _RunsShellOnLoad()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'Refusing to load checkpoint .*evil\.pth'):
        _load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match='system'):
        load_checkpoint_file(str(path))


@pytest.mark.parametrize(
    'owner, name', [(np.ndarray, 'tofile'), (HistoryBuffer, '__init__'), (HistoryBuffer, 'update')]
)
def test_getattr_in_checkpoint_only_resolves_history_buffer_statistics(tmp_path, owner, name):
    class _Getattr:
        def __reduce__(self):
            return (getattr, (owner, name))

    path = tmp_path / 'getattr.pth'
    with open(path, 'wb') as f:
        pickle.dump({'x': _Getattr()}, f, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=name):
        load_checkpoint_file(str(path))


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
