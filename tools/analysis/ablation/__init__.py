"""The ablation study that ``tools/analysis/run_ablation.py`` runs.

``variants``: the study's rows, as overrides of one base config. ``report``:
the scores of a run and the study's table, JSON and chart. The tool puts its
folder on ``sys.path`` and imports ``ablation.<module>``, from a source checkout
and from the wheel's ``mmstda/.mim/tools`` alike.
"""
