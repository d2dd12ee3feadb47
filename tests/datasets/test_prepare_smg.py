"""tools/data/prepare_smg.py refuses a copy that would not keep every frame, in one line."""

import shutil


def test_damaged_video_is_refused_in_one_line(damaged_video, tmp_path, run_data_tool):
    src = tmp_path / 'src' / 'Sample0001'
    src.mkdir(parents=True)
    shutil.copy(damaged_video, src / 'Sample0001_color.mp4')
    result = run_data_tool('prepare_smg', str(tmp_path / 'src'), str(tmp_path / 'dst'))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and 'Traceback' not in result.stderr
    assert errors[0].startswith(f'error: {tmp_path}/dst/Sample0001/Sample0001_color.mp4: wrote ')
    assert 'expected 200 frames at 28.000 fps' in errors[0]


def test_missing_root_is_one_line(tmp_path, run_data_tool):
    result = run_data_tool('prepare_smg', str(tmp_path / 'nope'), str(tmp_path / 'dst'))
    assert result.returncode == 2
    assert result.stderr.strip() == f'error: {tmp_path}/nope: dataset root not found'
