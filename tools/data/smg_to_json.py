"""Convert SMG start-kit annotations to the JSON annotation file of ``SMGDataset``.

    python tools/data/smg_to_json.py data/smg data/smg/smg_all.json [--sample-ids 1-30,33]

The JSON holds ``metainfo.classes`` and one ``data_list`` entry per video
(``video_id``, ``filename`` relative to the dataset root, ``num_frames``, ``fps``,
``annotations`` with 1-based ``label``, ``start_frame``, ``end_frame``). Without
``--sample-ids`` every sample folder under the root is converted. Every video is
checked like the dataset does (``--skip-invalid`` to skip bad rows and videos).
"""

import argparse
import json
import os
import os.path as osp
import re
import sys

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmstda.datasets import SMGDataset
from mmstda.datasets.smg import DEFAULT_FILE_PATTERNS
from mmstda.utils.errors import UserInputError

from _helpers.launch import user_errors


def parse_ids(text: str) -> list[int]:
    """``'1-30,33'`` -> ``[1, ..., 30, 33]``."""
    if not re.fullmatch(r'\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*', text):
        raise UserInputError(f'--sample-ids: expected ids like 1-30,33, got {text!r}')
    ids = []
    for part in text.split(','):
        low, _, high = part.partition('-')
        ids.extend(range(int(low), int(high or low) + 1))
    return ids


def _labels_path(data_root: str, folder: str) -> str:
    return osp.join(data_root, DEFAULT_FILE_PATTERNS['labels'].format(folder=folder))


def sample_folders(data_root: str, folder_pattern: str, ids: list[int] | None) -> list[str]:
    """Folder names of the samples to convert: those of ``ids``, else every one there.

    Raises:
        UserInputError: The root does not exist, holds no sample folder, or lacks
            a requested id.
    """
    if not osp.isdir(data_root):
        raise UserInputError(f'{data_root}: dataset root not found')
    if ids is None:
        folders = sorted(
            name for name in os.listdir(data_root) if osp.isfile(_labels_path(data_root, name))
        )
        if not folders:
            raise UserInputError(
                f'{data_root}: no sample folder (FOLDER/FOLDER_finelabels.csv) found'
            )
        return folders
    folders = [folder_pattern.format(sample_id=i) for i in ids]
    missing = [f for f in folders if not osp.isfile(_labels_path(data_root, f))]
    if missing:
        raise UserInputError(
            f'{data_root}: no labels file for {len(missing)} of the requested samples '
            f'({", ".join(missing[:5])}{", ..." if len(missing) > 5 else ""})'
        )
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description='SMG start-kit layout -> SMGDataset JSON')
    parser.add_argument('data_root', help='dataset root in the start-kit layout')
    parser.add_argument('out_file', help='JSON file to write')
    parser.add_argument(
        '--sample-ids',
        default=None,
        help='ids to convert, e.g. 1-30,33. Default: every sample folder under DATA_ROOT',
    )
    parser.add_argument(
        '--folder-pattern',
        default='Sample{sample_id:04d}',
        help='folder name pattern. Default: Sample{sample_id:04d}',
    )
    parser.add_argument(
        '--skip-invalid',
        action='store_true',
        help='skip invalid rows and videos with a warning instead of failing',
    )
    args = parser.parse_args()
    ids = None if args.sample_ids is None else parse_ids(args.sample_ids)
    dataset = SMGDataset(
        data_root=args.data_root,
        # Folder names: SMGDataset takes string ids as they are.
        sample_ids=sample_folders(args.data_root, args.folder_pattern, ids),
        file_patterns=dict(folder=args.folder_pattern),
        ignore_labels=(),
        skip_invalid=args.skip_invalid,
    )
    classes = list(dataset.metainfo['classes'])
    data_list = []
    for video in dataset.videos:
        data_list.append(
            dict(
                video_id=video['video_id'],
                filename=osp.relpath(video['filename'], args.data_root),
                num_frames=video['total_frames'],
                fps=video['fps'],
                annotations=[
                    dict(label=int(label) + 1, start_frame=int(s), end_frame=int(e))
                    for label, (s, e) in zip(video['video_gt_labels'], video['video_gt_segments'])
                ],
            )
        )
    with open(args.out_file, 'w') as f:
        json.dump(dict(metainfo=dict(classes=classes), data_list=data_list), f, indent=1)
    print(f'wrote {len(data_list)} videos to {args.out_file}')


if __name__ == '__main__':
    with user_errors():
        main()
