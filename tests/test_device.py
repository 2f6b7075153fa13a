import logging
import subprocess
import sys

import pytest
import torch

from heygem_ops.device import choose_device
from heygem_ops.errors import InputError


def test_auto_uses_cpu_and_says_so_without_cuda(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(logging.getLogger("heygem_ops"), "propagate", True)
    with caplog.at_level(logging.INFO, logger="heygem_ops"):
        assert choose_device("auto") == torch.device("cpu")
    assert "CUDA not available, using CPU" in caplog.text


def test_hidden_gpus_mean_cpu(monkeypatch):
    # torch reads the variable when CUDA initialises, so ask a fresh process
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    code = "from heygem_ops.device import choose_device; print(choose_device('auto'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "cpu"


def test_cuda_request_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="--device cpu"):
        choose_device("cuda:0")


def test_unknown_device_lists_the_choices():
    with pytest.raises(InputError, match="auto, cpu, cuda or cuda:N"):
        choose_device("tpu")
