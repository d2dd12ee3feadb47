"""What the command-line tools share, and only they use.

Start-up (``launch``: config checks, one-line user errors, CPU distributed
runs), the console (``console``), torch's CPU threads (``cpu_threads``) and
``tools/train.py``'s closing summary (``run_summary``). The library itself
(``mmstda``) does not import this package; a tool puts ``tools/`` on
``sys.path`` and imports ``_helpers.<module>``, from a source checkout and from
the wheel's ``mmstda/.mim/tools`` alike.
"""
