"""The cpu_threads config key sets torch's thread count, whatever the shell says."""

import pytest
import torch
from mmengine.config import Config

from _helpers.cpu_threads import set_cpu_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_cpu_run_without_omp_num_threads_uses_one_thread(monkeypatch, restore_threads):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    torch.set_num_threads(2)
    assert set_cpu_threads(Config(dict())) == 1
    assert torch.get_num_threads() == 1


def test_omp_num_threads_is_respected_and_the_key_wins(monkeypatch, restore_threads):
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    torch.set_num_threads(2)
    assert set_cpu_threads(Config(dict())) is None
    assert torch.get_num_threads() == 2
    assert set_cpu_threads(Config(dict(cpu_threads=3))) == 3
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize('bad', [0, -1, 1.5, '2', True])
def test_bad_cpu_threads_names_the_key(bad):
    with pytest.raises(ValueError, match='cpu_threads must be a positive integer'):
        set_cpu_threads(Config(dict(cpu_threads=bad)))
