"""One-off transcoding of long videos into a copy that decodes fast during training.

The encoder is the ffmpeg binary shipped by the ``imageio-ffmpeg`` wheel (installable
from PyPI, no system ffmpeg needed); a system ``ffmpeg`` on ``PATH`` is used when the
wheel is missing.
"""

import os
import os.path as osp
import shutil
import subprocess

from mmstda.utils.errors import UserInputError


class VideoPrepError(UserInputError):
    """A video that cannot be read or transcoded faithfully; names the file."""


def ffmpeg_exe() -> str:
    """Path of an ffmpeg binary with libx264."""
    try:
        import imageio_ffmpeg
    except ImportError:
        found = shutil.which('ffmpeg')
        if found is None:
            raise RuntimeError(
                'no ffmpeg found: run "pip install imageio-ffmpeg" (ships an ffmpeg binary)'
            ) from None
        return found
    return imageio_ffmpeg.get_ffmpeg_exe()


def video_info(path: str) -> tuple[int, float, int, int]:
    """``(num_frames, fps, height, width)`` of a video as decord decodes it.

    Raises:
        VideoPrepError: decord cannot read the file.
    """
    import decord

    try:
        reader = decord.VideoReader(path, num_threads=1)
        height, width = reader[0].shape[:2]
    except Exception as error:  # decord's DECORDError and RuntimeError
        raise VideoPrepError(f'{path}: cannot decode the video ({error})') from None
    return len(reader), float(reader.get_avg_fps()), height, width


def transcode_video(
    src: str,
    dst: str,
    short_side: int = 182,
    crf: int = 18,
    gop_frames: int = 32,
    preset: str = 'veryfast',
    threads: int = 0,
) -> tuple[int, float]:
    """Re-encode ``src`` to H.264 with short side ``short_side``, same fps and frames.

    Every frame is kept as is (``-fps_mode passthrough``): no frame is dropped or
    duplicated, so annotations in frame units stay valid. The frame count and frame
    rate are checked after writing.

    Args:
        src (str): Source video.
        dst (str): Output ``.mp4`` (its folder is created).
        short_side (int): Short side of the output in pixels; the aspect ratio is kept
            (the long side rounded to an even number). Defaults to 182.
        crf (int): x264 constant rate factor; 18 is visually lossless.
            Defaults to 18.
        gop_frames (int): Frames between key frames. Short GOPs make random access to
            a window cheap, at some cost in file size. Defaults to 32.
        preset (str): x264 speed preset. Defaults to 'veryfast'.
        threads (int): Encoder threads, 0 for automatic. Defaults to 0.

    Returns:
        tuple[int, float]: Frame count and fps of the written video.

    Raises:
        VideoPrepError: ffmpeg failed, or the output's frame count or fps differ.
    """
    num_frames, fps, _, _ = video_info(src)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    scale = f"scale='if(gt(iw,ih),-2,{short_side})':'if(gt(iw,ih),{short_side},-2)':flags=area"
    command = [
        ffmpeg_exe(),
        '-y',
        '-loglevel',
        'error',
        '-i',
        src,
        '-map',
        '0:v:0',
        '-vf',
        scale,
        '-fps_mode',
        'passthrough',
        '-c:v',
        'libx264',
        '-preset',
        preset,
        '-crf',
        str(crf),
        '-g',
        str(gop_frames),
        '-bf',
        '0',
        '-pix_fmt',
        'yuv420p',
        '-threads',
        str(threads),
        '-an',
        dst,
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        reason = ' '.join(completed.stderr.split())[-300:]
        raise VideoPrepError(f'{src}: ffmpeg failed ({reason})')
    out_frames, out_fps, _, _ = video_info(dst)
    if out_frames != num_frames or abs(out_fps - fps) > 1e-3 * fps:
        raise VideoPrepError(
            f'{dst}: wrote {out_frames} frames at {out_fps:.3f} fps, expected {num_frames} '
            f'frames at {fps:.3f} fps like {src}'
        )
    return out_frames, out_fps
