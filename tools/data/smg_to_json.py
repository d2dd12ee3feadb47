"""Convert SMG start-kit annotations to the JSON annotation file of ``SMGDataset``.

    python tools/data/smg_to_json.py data/smg data/smg/smg_all.json --sample-ids 1-40

The JSON holds ``metainfo.classes`` and one ``data_list`` entry per video
(``video_id``, ``filename`` relative to the dataset root, ``num_frames``, ``fps``,
``annotations`` with 1-based ``label``, ``start_frame``, ``end_frame``). Every video is
checked like the dataset does (``--skip-invalid`` to skip bad rows and videos).
"""

import argparse
import json
import os.path as osp
import sys

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmstda.datasets import SMGDataset


def parse_ids(text: str) -> list[int]:
    """``'1-30,33'`` -> ``[1, ..., 30, 33]``."""
    ids = []
    for part in text.split(','):
        low, _, high = part.partition('-')
        ids.extend(range(int(low), int(high or low) + 1))
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description='SMG start-kit layout -> SMGDataset JSON')
    parser.add_argument('data_root', help='dataset root in the start-kit layout')
    parser.add_argument('out_file', help='JSON file to write')
    parser.add_argument('--sample-ids', default='1-40', help='ids to convert. Default: 1-40')
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

    dataset = SMGDataset(
        data_root=args.data_root,
        sample_ids=parse_ids(args.sample_ids),
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
    main()
