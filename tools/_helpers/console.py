"""Keep the console to what a person follows; the log file keeps everything."""

import contextlib
import logging
import sys
from collections.abc import Iterator

# mmengine's Runner logs these blocks (about 400 lines) while it is built.
_FILE_ONLY_MARKERS = ('\nSystem environment:', ' - Config:\n', 'Hooks will be executed in the')


class _DropDumps:
    """A stdout stand-in that drops the Runner's environment, config and hook dumps.

    mmengine's console handler writes one log record per ``write`` call, so a
    record is dropped whole or kept whole.
    """

    def __init__(self, stream):
        self.stream = stream
        self.dropped = 0

    def write(self, text: str) -> int:
        if any(marker in text for marker in _FILE_ONLY_MARKERS):
            self.dropped += 1
            return len(text)
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


@contextlib.contextmanager
def concise_console() -> Iterator[None]:
    """Build mmengine's Runner inside this to keep its dumps out of the console.

    The Runner's logger creates its console handler on ``sys.stdout`` and logs
    the environment, the full config and the hook order while the Runner is
    built. Inside this context those records reach the log file only; on exit
    the console handlers write to the real stdout again, and one line says
    where the dumps went. (mmengine has no option for this: its console and
    file handlers share one level.)
    """
    real_stdout = sys.stdout
    proxy = _DropDumps(real_stdout)
    sys.stdout = proxy
    try:
        yield
    finally:
        sys.stdout = real_stdout
        log_files = _repoint_console_handlers(proxy, real_stdout)
        if proxy.dropped and log_files:
            print(
                f'Environment, config and hook order: in {", ".join(log_files)}',
                file=real_stdout,
            )


def _repoint_console_handlers(proxy: _DropDumps, stream) -> list[str]:
    """Point mmengine's console handlers created on ``proxy`` back at ``stream``.

    Returns the log files of the loggers that had such a handler.
    """
    from mmengine.logging import MMLogger

    log_files = []
    for logger in MMLogger._instance_dict.values():
        handlers = [h for h in logger.handlers if getattr(h, 'stream', None) is proxy]
        for handler in handlers:
            handler.setStream(stream)
        if handlers:
            log_files += [
                h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)
            ]
    return log_files
