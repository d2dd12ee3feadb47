"""tools/analysis/plot_asba.py names classes from the run's training set and highlights the ends."""

import importlib.util
import json
import os.path as osp

from mmstda.datasets.smg_meta import SMG_CLASSES
from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_demo.py')


def load_plot_tool():
    spec = importlib.util.spec_from_file_location(
        'plot_asba', osp.join(REPO_ROOT, 'tools', 'analysis', 'plot_asba.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_highlight_keeps_the_rarest_and_most_frequent_classes():
    plot_asba = load_plot_tool()
    counts = [27, 26, 10, 1, 5, 1, 4, 3, 8, 6, 7, 2, 1, 9, 12, 11, 13]
    # Rarest first: classes 3, 5, 12 (n=1), most frequent last: 16, 1, 0.
    assert plot_asba.highlighted_classes(counts, list(range(17)), 3) == [3, 5, 12, 16, 1, 0]
    assert plot_asba.highlighted_classes(counts[:5], list(range(5)), 3) == [0, 1, 2, 3, 4]


def test_names_and_counts_come_from_the_saved_config(tmp_path, capsys):
    data_root = str(tmp_path / 'smg')
    generate_synthetic_smg(data_root, SyntheticSMGConfig(num_videos=3, frame_size=32, seed=0))
    work_dir = tmp_path / 'work'
    vis_dir = work_dir / '20260101_000000' / 'vis_data'
    vis_dir.mkdir(parents=True)
    records = [
        {f'asba/intensity/class_{k:02d}': 0.1 * (k % 10) + epoch for k in range(17)}
        | {'step': epoch}
        for epoch in (1, 2)
    ]
    (vis_dir / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    # What the Runner saves in the work dir: the run's config.
    (work_dir / 'run.py').write_text(
        f'_base_ = [{TINY_CONFIG!r}]\n'
        f'train_dataloader = dict(dataset=dict(data_root={data_root!r}))\n'
    )
    plot_asba = load_plot_tool()
    names, counts = plot_asba.training_classes(str(work_dir / 'run.py'))
    with open(osp.join(data_root, 'synthetic_smg.json')) as f:
        assert counts == json.load(f)['class_counts']['train']
    assert names == list(SMG_CLASSES)

    out = plot_asba.main([str(work_dir), '--out', str(tmp_path / 'asba.png')])
    assert 'No config saved' not in capsys.readouterr().out
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
