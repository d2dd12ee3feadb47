"""Transcode every SMG video once to the training resolution (decodes much faster).

    python tools/data/prepare_smg.py data/smg_original data/smg --short-side 182

Videos matching ``--video-glob`` are re-encoded to H.264 with the given short side,
keeping every frame and the frame rate (both checked after writing); every other
file (``*_finelabels.csv``, ``*_data.csv``, ...) is copied, so DST is a complete
dataset root for ``SMGDataset``. Needs ``pip install imageio-ffmpeg`` (or an ffmpeg
with libx264 on PATH).
"""

import argparse
import glob
import os
import os.path as osp
import shutil
import sys

from tqdm import tqdm

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmstda.datasets.video_prep import VideoPrepError, transcode_video, video_info
from mmstda.utils.errors import UserInputError

from _helpers.launch import user_errors


def main() -> None:
    parser = argparse.ArgumentParser(description='Transcode SMG videos once for training')
    parser.add_argument('src', help='dataset root with the original videos')
    parser.add_argument('dst', help='dataset root to write')
    parser.add_argument(
        '--short-side',
        type=int,
        default=182,
        help='short side in pixels (random crops of 160 fit). Default: 182',
    )
    parser.add_argument(
        '--video-glob',
        default='*/*_color.mp4',
        help='videos to transcode, relative to SRC. Default: */*_color.mp4',
    )
    parser.add_argument('--crf', type=int, default=18, help='x264 quality. Default: 18')
    parser.add_argument(
        '--gop-frames', type=int, default=32, help='frames between key frames. Default: 32'
    )
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='re-encode videos whose prepared copy already checks out',
    )
    args = parser.parse_args()

    src = osp.abspath(args.src)
    if not osp.isdir(src):
        raise UserInputError(f'{args.src}: dataset root not found')
    videos = sorted(glob.glob(osp.join(src, args.video_glob)))
    if not videos:
        raise UserInputError(f'no video matches --video-glob {args.video_glob!r} under {src}')
    video_set = set(videos)
    for folder, _, names in os.walk(src):
        for name in names:
            path = osp.join(folder, name)
            if path not in video_set:
                target = osp.join(args.dst, osp.relpath(path, src))
                os.makedirs(osp.dirname(target), exist_ok=True)
                shutil.copy2(path, target)
    for video in tqdm(videos, desc='videos'):
        target = osp.join(args.dst, osp.relpath(video, src))
        if not args.overwrite and osp.isfile(target):
            try:
                if video_info(target)[0] == video_info(video)[0]:
                    continue
            except VideoPrepError:  # an unreadable partial copy is simply redone
                pass
        transcode_video(
            video, target, short_side=args.short_side, crf=args.crf, gop_frames=args.gop_frames
        )
    print(f'prepared {len(videos)} videos in {args.dst}')


if __name__ == '__main__':
    with user_errors():
        main()
