"""tools/data/smg_to_json.py converts the samples that exist and fails in one line."""

import json


def test_default_converts_every_sample_folder(tiny_smg, tmp_path, run_data_tool):
    out = tmp_path / 'all.json'
    result = run_data_tool('smg_to_json', tiny_smg, str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    ids = [entry['video_id'] for entry in json.loads(out.read_text())['data_list']]
    assert ids == ['Sample0001', 'Sample0031', 'Sample0036']


def test_missing_or_malformed_ids_are_one_line_errors(tiny_smg, tmp_path, run_data_tool):
    result = run_data_tool('smg_to_json', tiny_smg, str(tmp_path / 'x.json'), '--sample-ids', '1-3')
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f'error: {tiny_smg}: no labels file for 2 of the requested samples (Sample0002, Sample0003)'
    )
    result = run_data_tool('smg_to_json', tiny_smg, str(tmp_path / 'x.json'), '--sample-ids', 'one')
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --sample-ids: expected ids like 1-30,33, got 'one'"
