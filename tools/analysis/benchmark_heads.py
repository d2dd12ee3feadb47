"""Training-step time of detectors that differ only in the head, in one process.

Each config's model is built (with its weights initialised, e.g. the demo's
pretrained trunk) and trained for one step per round on the same synthetic batch
(the config's window length and frame size, two gestures per window). Rounds
visit every model once, so load from other jobs hits them alike; the fastest
round is reported, as wall time and as this process's CPU time (which leaves out
the time spent waiting for a core).

Example::

    python tools/analysis/benchmark_heads.py configs/stda_demo.py configs/stda-afhead_demo.py
"""

import argparse
import os.path as osp
import sys
import time

import torch
from mmaction.structures import ActionDataSample
from mmengine.structures import InstanceData

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

from _helpers.launch import load_config, user_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='configs to compare (the first is the base)')
    parser.add_argument('--batch', type=int, default=8, help='windows per step')
    parser.add_argument('--rounds', type=int, default=3, help='timed rounds (fastest kept)')
    parser.add_argument('--threads', type=int, default=1, help="torch's intra-op threads")
    return parser.parse_args()


def synthetic_batch(cfg, batch: int) -> tuple[torch.Tensor, list]:
    """Random frames ``(B, 3, T, S, S)`` and two gestures per window, from the config."""
    dataset = cfg.train_dataloader.dataset
    frames, interval, size = dataset.window_frames, dataset.frame_interval, cfg.img_size
    span = frames * interval
    samples = []
    for i in range(batch):
        sample = ActionDataSample()
        sample.gt_instances = InstanceData(
            segments=torch.tensor([[0.1 * span, 0.45 * span], [0.55 * span, 0.9 * span]]),
            labels=torch.tensor([i % 2, 1 + i % 2]),
        )
        sample.set_metainfo(dict(frame_interval=interval, window_start_frame=0, video_id=str(i)))
        samples.append(sample)
    return torch.randn(batch, 3, frames, size, size), samples


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with user_errors():
        cfgs = [load_config(path) for path in args.configs]
    init_default_scope('mmaction')
    models = []
    for cfg in cfgs:
        model = MODELS.build(cfg.model)
        model.init_weights()
        models.append(model.train())
    inputs, samples = synthetic_batch(cfgs[0], args.batch)
    wall = [float('inf')] * len(models)
    cpu = [float('inf')] * len(models)
    for _ in range(args.rounds):
        for i, model in enumerate(models):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            sum(model(inputs, samples, mode='loss').values()).backward()
            wall[i] = min(wall[i], time.perf_counter() - start_wall)
            cpu[i] = min(cpu[i], time.process_time() - start_cpu)
            model.zero_grad()
    print('| config | head | trainable params | train step wall (s) | CPU (s) | CPU ratio |')
    print('|---|---|---|---|---|---|')
    for path, model, w, c in zip(args.configs, models, wall, cpu):
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(
            f'| `{path}` | {type(model.head).__name__} | {trainable:,} | {w:.2f} | {c:.2f} '
            f'| {c / cpu[0]:.2f} |'
        )


if __name__ == '__main__':
    main()
