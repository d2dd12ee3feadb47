"""Docs that cannot drift: the README and docs/en are checked against the code.

- The README's Python snippet runs (on a checkpoint of the demo's model crafted
  here, so no training is needed) and prints what its comment says.
- Every ``python tools/...`` command in the README and docs/en names an existing
  script, and every ``--flag`` in it is one that the script's ``--help`` lists
  (``bash tools/...`` scripts must exist).
- Every ``configs/....py`` path they name exists.

Placeholders (CONFIG, CKPT, VIDEO, DIR, ...) are fine: only scripts, flags and
config paths are checked.
"""

import ast
import contextlib
import glob
import io
import json
import os
import os.path as osp
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = osp.join('docs', 'en')
DOC_FILES = ['README.md'] + sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, DOCS, '**', '*.md'), recursive=True)
    if '_build' not in osp.relpath(path, osp.join(REPO_ROOT, DOCS)).split(os.sep)
)

_FENCE = re.compile(r'^[ \t]*(`{3,}|~{3,})(.*)$')
_INLINE = re.compile(r'(`+)(.+?)\1', re.S)
_FLAG = re.compile(r'(?<![\w-])--[A-Za-z][\w-]*')
# A config path: not part of a longer path (mmaction/.mim/configs/, tests/data/configs/).
_CONFIG = re.compile(r'(?<![\w/.:-])configs/[\w./*{},-]*?\.py(?![\w.])')
_PYTHON_TOOL = re.compile(r'(?<![\w/.-])python\s+(tools/\S+?\.py)(?![\w.])(.*)')
_BASH_TOOL = re.compile(r'(?<![\w/.-])bash\s+(tools/\S+?\.sh)(?![\w.])')


def split_markdown(text: str) -> tuple[list[tuple[str, str]], str]:
    """``([(info, body) per fenced block], prose)``: blocks, and the text outside them."""
    blocks, prose, lines = [], [], text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            prose.append(lines[i])
            i += 1
            continue
        fence, info, body = opening.group(1), opening.group(2).strip(), []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append((info, '\n'.join(body)))
        i += 1  # the closing fence
    return blocks, '\n'.join(prose)


def code_texts(text: str) -> list[str]:
    """Every fenced block and every inline code span of a Markdown text."""
    blocks, prose = split_markdown(text)
    return [body for _, body in blocks] + [m.group(2) for m in _INLINE.finditer(prose)]


def tool_commands(code: str) -> list[tuple[str, list[str]]]:
    """``(script, flags)`` for each ``python tools/X.py ...`` command in a piece of code."""
    code = re.sub(r'\\\n\s*', ' ', code)  # shell line continuations
    commands = []
    for line in code.splitlines():
        for match in _PYTHON_TOOL.finditer(line):
            # The command ends at a shell separator or a comment. A pipe needs
            # spaces around it: `CHECKPOINT|WORK_DIR` in a synopsis is one argument.
            args = re.split(r'&&|\|\||\s\|\s|;|\s#', match.group(2))[0]
            commands.append((match.group(1), _FLAG.findall(args)))
    return commands


_HELP: dict[str, object] = {}


def _run_help(script: str) -> object:
    """The flags ``python SCRIPT --help`` lists, or the error text when it fails."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    try:
        result = subprocess.run(
            [sys.executable, script, '--help'],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        return f'`python {script} --help` timed out'
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        return f'`python {script} --help` failed (exit {result.returncode}): {" ".join(tail)}'
    return set(_FLAG.findall(result.stdout)) | {'--help'}


def help_flags(scripts) -> dict:
    """``--help`` flags per script, run once per script per session (a few in parallel)."""
    scripts = list(scripts)
    missing = sorted({s for s in scripts if s not in _HELP and osp.isfile(osp.join(REPO_ROOT, s))})
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        for script, flags in zip(missing, pool.map(_run_help, missing)):
            _HELP[script] = flags
    return {s: _HELP.get(s) for s in scripts}


def _expand_braces(path: str) -> list[str]:
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    return [p for part in match.group(1).split(',') for p in _expand_braces(head + part + tail)]


def check_markdown(text: str, source: str) -> list[str]:
    """Every way ``text`` has drifted from the code, one line each (empty: none)."""
    errors = []
    codes = code_texts(text)
    commands = [command for code in codes for command in tool_commands(code)]
    mentioned = len(_PYTHON_TOOL.findall(re.sub(r'\\\n\s*', ' ', text)))
    if mentioned != len(commands):
        errors.append(
            f'{source}: {mentioned - len(commands)} `python tools/...` command(s) outside '
            'code: put each in a code span or block so that it is checked'
        )
    helps = help_flags(script for script, _ in commands)
    for script, flags in commands:
        if not osp.isfile(osp.join(REPO_ROOT, script)):
            errors.append(f'{source}: `python {script}`: no such script')
            continue
        known = helps[script]
        if isinstance(known, str):
            errors.append(f'{source}: {known}')
            continue
        for flag in flags:
            if flag not in known:
                errors.append(
                    f'{source}: `python {script} ... {flag}`: {flag} is not in its --help '
                    f'({", ".join(sorted(known))})'
                )
    for code in codes:
        for script in _BASH_TOOL.findall(code):
            if not osp.isfile(osp.join(REPO_ROOT, script)):
                errors.append(f'{source}: `bash {script}`: no such script')
    for path in sorted(set(_CONFIG.findall(text))):
        for one in _expand_braces(path):
            found = glob.glob(osp.join(REPO_ROOT, one)) if '*' in one else []
            if not (found or osp.isfile(osp.join(REPO_ROOT, one))):
                errors.append(f'{source}: config {one} does not exist')
    for info, body in split_markdown(text)[0]:
        if info.split()[:1] == ['python']:
            try:
                ast.parse(body)
            except SyntaxError as error:
                errors.append(f'{source}: python block does not parse: {error}')
    return list(dict.fromkeys(errors))


def _read(path: str) -> str:
    with open(osp.join(REPO_ROOT, path), encoding='utf-8') as f:
        return f.read()


# -- the checker itself --------------------------------------------------------


def test_a_synopsis_alternative_does_not_hide_the_flags_after_it():
    # `CHECKPOINT|WORK_DIR` is one argument, not a pipe: the flags after it count.
    code = 'python tools/test.py CONFIG CHECKPOINT|WORK_DIR [--show-dir DIR] | tee log'
    assert tool_commands(code) == [('tools/test.py', ['--show-dir'])]


def test_checker_reports_a_renamed_flag():
    text = 'Test again:\n\n```bash\npython tools/test.py CONFIG CKPT --scor-thr 0.3\n```\n'
    (error,) = check_markdown(text, 'synthetic.md')
    assert 'synthetic.md' in error and 'tools/test.py' in error and '--scor-thr' in error
    # The right spelling, in a code block or inline, with a continuation line, passes.
    assert check_markdown(text.replace('--scor-thr', '--score-thr'), 'synthetic.md') == []
    inline = 'Run `python tools/test.py CONFIG CKPT \\\n    [--online] --score-thr=0.3`.'
    assert check_markdown(inline, 'synthetic.md') == []
    assert '--onlne' in check_markdown(inline.replace('--online', '--onlne'), 'x.md')[0]


def test_checker_reports_missing_scripts_configs_and_unchecked_commands():
    text = (
        '`python tools/tset.py configs/stda_demo.py` and `bash tools/dist_trian.sh CONFIG 2`\n'
        'with `configs/stda_dmeo.py`, `configs/mix/stda_vit-{small,tiny}-p16_videomaev2-vit-g-'
        'dist-k710-pre_1xb8-16x4x1-10e_kinetics-400.py` and `configs/stda-afhead_*.py`;\n'
        'not a command: python tools/train.py configs/stda_demo.py in prose.\n'
    )
    errors = '\n'.join(check_markdown(text, 'synthetic.md'))
    assert 'tools/tset.py`: no such script' in errors
    assert 'tools/dist_trian.sh`: no such script' in errors
    assert 'config configs/stda_dmeo.py does not exist' in errors
    assert 'stda_vit-tiny-p16' in errors and 'stda_vit-small-p16' not in errors
    assert 'stda-afhead_*' not in errors  # a glob that matches
    assert '1 `python tools/...` command(s) outside code' in errors
    assert 'configs/stda_demo.py does not exist' not in errors


# -- the README and docs/en ----------------------------------------------------


@pytest.fixture(scope='module')
def docs_help_flags():
    """Every script the docs name, its --help run once (in parallel) for all the pages."""
    codes = [code for path in DOC_FILES for code in code_texts(_read(path))]
    return help_flags(script for code in codes for script, _ in tool_commands(code))


@pytest.mark.parametrize('path', DOC_FILES)
def test_commands_and_config_paths_match_the_code(path, docs_help_flags):
    errors = check_markdown(_read(path), path)
    assert not errors, '\n'.join(errors)


def test_readme_links_and_images_exist():
    text = _read('README.md')
    targets = re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text)
    local = [t for t in targets if '://' not in t]
    assert local, 'the README links to no docs page'
    assert [t for t in local if not osp.exists(osp.join(REPO_ROOT, t))] == []


def test_readme_first_screen_has_install_demo_and_tests():
    with open(osp.join(REPO_ROOT, '.ci', 'run')) as f:
        ci = f.read().splitlines()
    first_screen = '\n'.join(_read('README.md').splitlines()[:45])
    for command in (
        'pip install torch==2.13.0 && pip install -r requirements.txt && '
        'pip install --no-build-isolation -e .',
        'python -m pytest tests',
    ):
        assert command in ci, command  # the README's commands are the ones CI runs
        assert f'```bash\n{command}\n```' in first_screen, command
    assert '```bash\npython tools/train.py configs/stda_demo.py\n```' in first_screen


# -- the README's Python snippet -----------------------------------------------

SNIPPET_CHECKPOINTS = 'work_dirs/stda_demo/best_*.pth'
SNIPPET_VIDEO = 'data/synthetic_smg_test/Sample0037/Sample0037_color.mp4'
VIDEO_FRAMES = 96
LABEL = 3


def _readme_snippet() -> str:
    (snippet,) = [body for info, body in split_markdown(_read('README.md'))[0] if info == 'python']
    return snippet


@pytest.fixture(scope='module')
def demo_model_state():
    """The demo's model with a crafted head: class 3 on in every frame (p 0.95), no boundary."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config

    import mmstda  # noqa: F401

    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stda_demo.py')).model)
    state = model.state_dict()
    with torch.no_grad():
        state['head.cls_out.weight'].zero_()
        state['head.cls_out.bias'].fill_(-6.0)
        state['head.cls_out.bias'][LABEL] = 3.0
        state['head.boundary_out.weight'].zero_()
        state['head.boundary_out.bias'].fill_(-6.0)
    return state


@pytest.fixture(scope='module')
def snippet_video(tmp_path_factory):
    import cv2
    import numpy as np

    path = str(tmp_path_factory.mktemp('snippet') / 'Sample0037_color.mp4')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 28.0, (64, 64))
    rng = np.random.default_rng(0)
    for _ in range(VIDEO_FRAMES):
        writer.write(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    writer.release()
    return path


def _run_snippet(snippet: str, checkpoint_dir, video: str) -> tuple[str, dict]:
    assert SNIPPET_CHECKPOINTS in snippet and SNIPPET_VIDEO in snippet, (
        'the README snippet changed its checkpoint or video path: update this test'
    )
    code = snippet.replace(SNIPPET_CHECKPOINTS, osp.join(str(checkpoint_dir), 'best_*.pth'))
    code = code.replace(SNIPPET_VIDEO, video)
    namespace, out, cwd = {'__name__': '__readme__'}, io.StringIO(), os.getcwd()
    os.chdir(REPO_ROOT)  # the snippet names configs/stda_demo.py from the repository root
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, 'README.md', 'exec'), namespace)
    finally:
        os.chdir(cwd)
    return out.getvalue(), namespace


@pytest.mark.parametrize('score_thr', [0.5, 0.99])
def test_readme_snippet_streams_the_demo_and_prints_what_it_says(
    score_thr, demo_model_state, snippet_video, tmp_path
):
    import torch

    point = dict(score_thr=score_thr, val_f1=0.5, epoch=1, metric='mg/best_f1')
    torch.save(
        dict(state_dict=demo_model_state, meta=dict(operating_point=point)),
        str(tmp_path / 'best_mg_best_f1_epoch_1.pth'),
    )
    snippet = _readme_snippet()
    out, namespace = _run_snippet(snippet, tmp_path, snippet_video)
    recognizer = namespace['recognizer']
    # "Runs at the score threshold stored in the checkpoint".
    assert recognizer.score_thr == score_thr
    assert isinstance(namespace['in_progress'], list)
    printed = ast.literal_eval(out.strip())
    if score_thr > 0.96:  # above the crafted probability sigmoid(3) = 0.953: no run opens
        assert printed == [] and namespace['segments'] == []
        return
    # One gesture over the whole video, flushed at its end; its fields are the comment's.
    comment = snippet[snippet.index('print(segments[:2])') :]
    documented = re.findall(r"'(\w+)':", comment)
    (segment,) = printed
    assert list(segment) == documented
    assert segment['label'] == LABEL
    assert segment['label_name'] == recognizer.class_names[LABEL]
    assert (segment['start_frame'], segment['end_frame']) == (0, VIDEO_FRAMES)
    assert segment['emitted_frame'] == VIDEO_FRAMES
    assert score_thr <= segment['score'] == pytest.approx(torch.tensor(3.0).sigmoid().item())


def _study_section(path: str, heading: str) -> str:
    text = _read(path)
    start = text.index(heading)
    end = text.find('\n#', start + len(heading))
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize(
    ('path', 'heading'),
    [
        ('README.md', '### The ablation study'),
        (osp.join(DOCS, 'benchmarks.md'), '## Ablation study'),
    ],
)
def test_the_study_table_is_the_committed_study(path, heading):
    """The README and the benchmarks show docs/ablation/results.json's numbers, not older ones."""
    with open(osp.join(REPO_ROOT, 'docs', 'ablation', 'results.json')) as f:
        study = json.load(f)
    section = _study_section(path, heading)
    rows = [line for line in section.splitlines() if line.startswith('| ')]
    for entry in study['summary']:
        cells = [
            f'{entry[key]["mean"]:.3f} ± {entry[key]["std"]:.3f}' for key in ('test_f1', 'rare_f1')
        ]
        shown = [row for row in rows if all(cell in row for cell in cells)]
        assert shown, f'{path}: no table row shows {entry["name"]} as {cells}'
        seeds = ','.join(str(seed) for seed in entry['seeds'])
        assert any(seeds in row for row in shown), f'{path}: {entry["name"]} seeds {seeds}'
    assert f'{study["seed_noise"]["difference"]:.3f}' in section, 'the noise bound'
    assert '0.43808' in section, "the paper's number beside the study"
