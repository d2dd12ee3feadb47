"""The Runner's environment/config/hook dumps reach the log file, not the console."""

import uuid

from mmengine.logging import MMLogger

from _helpers.console import concise_console


def test_dumps_go_to_the_log_file_only(tmp_path, capsys):
    log_file = tmp_path / 'run.log'
    with concise_console():
        # What mmengine's Runner does while it is built.
        logger = MMLogger.get_instance(f'console_{uuid.uuid4().hex}', log_file=str(log_file))
        logger.info('\n' + '-' * 60 + '\nSystem environment:\n    sys.platform: linux')
        logger.info("Config:\nmodel = dict(type='X')")
        logger.info('Hooks will be executed in the following order:\nbefore_run: ...')
        logger.info('built the model')
    logger.info('Epoch(train) [1][1/2]  loss: 1.0')
    console = capsys.readouterr().out
    assert 'built the model' in console and 'Epoch(train) [1][1/2]' in console
    assert 'System environment' not in console and 'Config:' not in console
    assert 'Hooks will be executed' not in console
    assert f'Environment, config and hook order: in {log_file}' in console
    saved = log_file.read_text()
    for text in ('System environment', "model = dict(type='X')", 'Hooks will be', 'Epoch(train)'):
        assert text in saved
