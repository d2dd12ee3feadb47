"""Testing on 2 CPU processes scores exactly what one process scores."""


def test_two_process_test_matches_single_process(tmp_path, run_tiny):
    train = run_tiny(
        'train', '--work-dir', str(tmp_path / 'train'), '--seed', '0', '--no-validate',
        cfg_options=['train_cfg.max_epochs=1'],
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = str(tmp_path / 'train' / 'epoch_1.pth')
    # Keep low-scoring segments so that there are predictions to compare.
    low_thr = ['model.head.test_cfg.score_thr=0.01', 'test_evaluator.score_thr=0.0']

    single = run_tiny('test', checkpoint, '--work-dir', str(tmp_path / 'single'),
                      cfg_options=low_thr)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    # The 2 ranks each score part of the windows; the metric gathers them all and
    # takes each video's ground truth once (the sampler's padding is dropped).
    dist = run_tiny('test', checkpoint, '--work-dir', str(tmp_path / 'dist'),
                    cfg_options=low_thr, nproc=2)  # fmt: skip
    assert dist.returncode == 0, dist.stderr[-3000:]

    single_rows = open(tmp_path / 'single' / 'submission.csv').read().splitlines()
    dist_rows = open(tmp_path / 'dist' / 'submission.csv').read().splitlines()
    assert len(single_rows) > 1  # a header and at least one prediction
    assert dist_rows == single_rows
    single_table = open(tmp_path / 'single' / 'per_class_f1.csv').read()
    assert open(tmp_path / 'dist' / 'per_class_f1.csv').read() == single_table


def test_demo_model_trains_on_two_cpu_processes(tmp_path, run_tiny):
    # Several iterations per rank: the demo's trainable backbone must leave no
    # parameter without gradient (DDP rejects those from the second iteration on),
    # and validation gathers every window of every video.
    result = run_tiny('train', '--work-dir', str(tmp_path), nproc=2,
                      cfg_options=['train_cfg.max_epochs=1',
                                   'train_dataloader.dataset.windows_per_video=12'])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').is_file()
    log = next(tmp_path.glob('*/*[0-9].log')).read_text()
    assert 'mg/num_gt: 12' in log  # the val video's 12 gestures, each counted once
