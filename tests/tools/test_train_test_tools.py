"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user runs them."""

import csv
import os
import os.path as osp
import subprocess
import sys

from mmstda.utils import load_checkpoint_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TOY_CONFIG = osp.join('tests', 'data', 'configs', 'toy_recognizer.py')


def run_tool(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    # Run from the repo root without PYTHONPATH, exactly as the README says.
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


def test_resume_continues_at_epoch_2_with_saved_optimizer_state(tmp_path, toy_cfg_options):
    first = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=1']
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    after_one = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    assert after_one['meta']['epoch'] == 1

    resumed = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path), '--resume',
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=2']
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2]' in log and 'Epoch(train) [1]' not in log
    after_two = load_checkpoint_file(str(tmp_path / 'epoch_2.pth'))
    assert after_two['meta']['epoch'] == 2
    # 4 videos, batch 2: AdamW has taken 2 steps per epoch. Restarting from
    # scratch would leave 2, not 4.
    steps = [state['step'].item() for state in after_two['optimizer']['state'].values()]
    assert steps and all(step == 4 for step in steps)


def test_bad_config_path_is_one_clear_line(tmp_path):
    result = run_tool([sys.executable, 'tools/train.py', 'configs/does_not_exist.py'])
    assert result.returncode == 2
    assert 'Config file not found: configs/does_not_exist.py' in result.stderr
    assert 'Traceback' not in result.stderr


def test_misspelt_component_type_names_field_and_suggests(tmp_path, toy_cfg_options):
    result = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'model.backbone.type=VisionTransfromer']
    )  # fmt: skip
    assert result.returncode == 2
    assert "model.backbone.type='VisionTransfromer' is not a registered component" in (
        result.stderr
    )
    assert "Did you mean 'VisionTransformer'" in result.stderr
    assert 'Traceback' not in result.stderr


def test_test_tool_reports_missing_checkpoint(tmp_path):
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path / 'x.pth')])
    assert result.returncode == 2
    assert 'Checkpoint file not found' in result.stderr and 'x.pth' in result.stderr


def test_dist_train_on_two_cpu_processes_logs_on_both_ranks(tmp_path, toy_cfg_options):
    # PYTHON picks the interpreter: the venv's python need not be first on PATH.
    venv_bin = osp.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep) if p != venv_bin)
    env = dict(os.environ, PORT=str(29500 + os.getpid() % 1000), PYTHON=sys.executable, PATH=path)
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=1']
        , cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    logs = {}
    for root, _, files in os.walk(tmp_path):
        logs.update({name: osp.join(root, name) for name in files if name.endswith('.log')})
    rank1 = [name for name in logs if name.endswith('_rank1.log')]
    rank0 = [name for name in logs if name not in rank1]
    assert len(rank0) == 1 and len(rank1) == 1, sorted(logs)
    for name in rank0 + rank1:
        text = open(logs[name]).read()
        assert 'Epoch(train) [1]' in text, name
    assert osp.isfile(tmp_path / 'epoch_1.pth')


def test_test_tool_takes_a_work_dir_and_picks_its_best_checkpoint(tmp_path):
    # Nothing saved yet: the error names the work dir.
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert result.returncode == 2
    assert f'No checkpoint in work dir {tmp_path}' in result.stderr
    # Only a last_checkpoint record, pointing at a missing file: that file is named.
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert result.returncode == 2
    assert 'Checkpoint file not found' in result.stderr and 'epoch_9.pth' in result.stderr
    # A best checkpoint wins over last_checkpoint (which carries another epoch's
    # threshold); the tool says which file it took.
    (tmp_path / 'best_mg_best_f1_epoch_3.pth').write_bytes(b'not a checkpoint')
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert f'Testing the best checkpoint of {tmp_path}: ' in result.stdout
    assert 'best_mg_best_f1_epoch_3.pth' in result.stdout + result.stderr
    assert 'epoch_9.pth' not in result.stdout + result.stderr
    # Two best files (two save_best keys): the user must choose.
    (tmp_path / 'best_mg_f1_epoch_2.pth').write_bytes(b'')
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert result.returncode == 2
    assert 'holds 2 best checkpoints' in result.stderr and 'pass the one to test' in result.stderr


def test_test_tool_online_streams_every_test_video_at_the_operating_point(tmp_path):
    import json

    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

    data_root = str(tmp_path / 'smg')
    generate_synthetic_smg(data_root, SyntheticSMGConfig(num_videos=3, frame_size=32, seed=0))
    config = osp.join('tests', 'data', 'configs', 'tiny_demo.py')
    init_default_scope('mmaction')
    model = MODELS.build(Config.fromfile(osp.join(REPO_ROOT, config)).model)
    ckpt = str(tmp_path / 'best.pth')
    point = dict(score_thr=0.0, val_f1=0.1, epoch=1, metric='mg/f1')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(operating_point=point)), ckpt)
    work_dir = tmp_path / 'work'
    result = run_tool(
        [sys.executable, 'tools/test.py', config, ckpt, '--online', '--work-dir', str(work_dir),
         '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
         # Untrained scores are ~0.01: open runs at 0 and never split them.
         'model.head.test_cfg.score_thr=0.0', 'model.head.test_cfg.boundary_thr=1.1']
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'score_thr=0.0: the operating point in {ckpt}' in result.stdout
    metrics = json.loads((work_dir / 'online_metrics.json').read_text())
    assert {'mg/f1', 'mg/latency_median_frames', 'mg/latency_p95_s'} <= set(metrics)
    with open(work_dir / 'submission_online.csv', newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['video_id', 'label', 'start_frame', 'end_frame', 'score']
    # The test video streamed from its first frame to its last; every class is on
    # everywhere, so class-agnostic NMS leaves one segment over the whole video.
    assert len(rows) == 2 and rows[1][2] == '0'
    assert int(rows[1][3]) >= 1600 and metrics['mg/num_pred'] == 1
    assert (work_dir / 'per_class_f1_online.csv').is_file()
