"""Phones of the speech and when they happen, from pocketsphinx's en-us model (shipped in its wheel).

With a transcript the words are force-aligned and their dictionary phones timed exactly; without
one (or with words the dictionary lacks) a phone loop over the phone language model recognises
them, as Rhubarb Lip Sync's language-independent "phonetic" mode does. The recogniser's phones are
English: for other languages only the broad classes that hold everywhere (lips closed, lips rounded)
are worth trusting, and `heygem_ops.articulation.analysis` weighs them that way.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from heygem_ops.errors import InputError
from heygem_ops.logs import get_logger

log = get_logger(__name__)
FRAME_S = 0.01  # pocketsphinx's frame step (100 frames per second)
ALIGNED = "alignment"  # PhoneSequence.source: the transcript's phones, force-aligned
RECOGNISED = "recognition"  # PhoneSequence.source: a phone loop's best guess
SILENCE = "SIL"
_NOISE = {"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+LAUGH+", "+NOISE+", "+SMACK+", "+UH+", "+UM+"}
# Phone-loop settings: Rhubarb Lip Sync's phone LM weight; a narrower beam and 2 Gaussians a frame
# cost 2.9 % of the audio's duration instead of 5 % and found as many bilabials (64 % vs 54 %, espeak).
_LOOP = {"lw": 2.0, "beam": 1e-10, "pbeam": 1e-10, "topn": 2}
# Alignment beams, tried in turn: a path the search loses leaves no alignment at all, so a wider
# beam is tried before giving up.
_ALIGN_BEAMS = (1e-30, 1e-48, 1e-64)
DITHER = 3e-4  # ~-70 dBFS of noise: digital silence (log of zero energy) derails the search
_LOCK = threading.Lock()  # a decoder is not re-entrant; jobs in threads of one process share it
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Phone:
    """One phone: ARPAbet label without stress (or SIL), start and end in seconds."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class PhoneSequence:
    """The timed phones of a recording and where they came from (ALIGNED or RECOGNISED)."""

    phones: tuple[Phone, ...]
    source: str


def _model(name: str) -> str:
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us", name)


@lru_cache(maxsize=len(_ALIGN_BEAMS))
def _aligner(beam: float = _ALIGN_BEAMS[0]):
    from pocketsphinx import Decoder

    return Decoder(
        hmm=_model("en-us"),
        dict=_model("cmudict-en-us.dict"),
        loglevel="FATAL",
        beam=beam,
        pbeam=beam,
        wbeam=beam**0.75,
        topn=2,  # Gaussians scored per frame: the aligner knows the words, so 2 suffice (-25 % time)
    )


@lru_cache(maxsize=1)
def _phone_loop():
    from pocketsphinx import Decoder

    return Decoder(hmm=_model("en-us"), allphone=_model("en-us-phone.lm.bin"), loglevel="FATAL", **_LOOP)


def _pcm(samples: np.ndarray) -> bytes:
    """16 kHz float samples -> the signed 16-bit bytes pocketsphinx decodes, dithered (seeded, so repeatable).

    TTS output holds stretches of exact zeros; their features are log(0) and the aligner then
    finds no path through a sentence it aligns easily with the faintest noise added.
    """
    noise = np.random.default_rng(0).normal(0.0, DITHER, len(samples))
    return (np.clip(samples + noise, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def read_transcript(path: Path) -> str:
    """The transcript in text file `path` (UTF-8); an InputError naming the file when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise InputError(
            "cannot read the transcript ({reason})", path=path, hint="give a UTF-8 text file", reason=reason
        ) from None


def transcript_words(text: str) -> list[str]:
    """The words of a transcript as the dictionary spells them: lower case, punctuation dropped."""
    return _WORD.findall(text.lower().replace("’", "'"))


def _label(name: str) -> str:
    label = re.sub(r"\d", "", name).upper()
    return SILENCE if label in _NOISE else label


def _decode(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def recognise_phones(samples: np.ndarray) -> tuple[Phone, ...]:
    """The phone loop's phones of 16 kHz `samples` (English phones, whatever the language)."""
    with _LOCK:
        decoder = _phone_loop()
        _decode(decoder, _pcm(samples))
        segments = [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]
    return tuple(Phone(_label(word), start * FRAME_S, (end + 1) * FRAME_S) for word, start, end in segments)


def unknown_words(words: list[str]) -> list[str]:
    """The words the pronouncing dictionary (cmudict) does not know."""
    with _LOCK:
        decoder = _aligner(_ALIGN_BEAMS[0])
        return [word for word in words if decoder.lookup_word(word) is None]


def align_phones(samples: np.ndarray, words: list[str]) -> tuple[Phone, ...] | None:
    """Force-align known `words` to 16 kHz `samples`; None when the decoder finds no alignment."""
    pcm = _pcm(samples)
    with _LOCK:
        for beam in _ALIGN_BEAMS:
            decoder = _aligner(beam)
            decoder.set_align_text(" ".join(words))
            _decode(decoder, pcm)  # first pass: where the words are
            hypothesis = decoder.hyp()
            if hypothesis is None or hypothesis.hypstr.split() != words:
                continue  # the search lost the path, or ended before the last word
            try:
                decoder.set_alignment()
                _decode(decoder, pcm)  # second pass: where their phones are
            except RuntimeError as err:  # pocketsphinx reports a lost state path only this way
                log.debug("Phone alignment at beam %g failed (%s)", beam, err)
                continue
            alignment = decoder.get_alignment()
            if alignment is not None:
                return tuple(
                    Phone(_label(phone.name), phone.start * FRAME_S, (phone.start + phone.duration) * FRAME_S)
                    for word in alignment
                    for phone in word
                )
    return None


def speech_phones(samples: np.ndarray, text: str | None = None) -> PhoneSequence:
    """The timed phones of `samples`: the transcript's when it aligns, else recognised ones (logged)."""
    if text and text.strip():
        words = transcript_words(text)
        missing = unknown_words(words) if words else []
        if not words:
            log.info("Transcript has no words; recognising phones instead")
        elif missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            log.info("Transcript words not in the English dictionary (%s); recognising phones instead", shown)
        else:
            phones = align_phones(samples, words)
            if phones:
                return PhoneSequence(phones, ALIGNED)
            log.info("Transcript did not align with the speech; recognising phones instead")
    return PhoneSequence(recognise_phones(samples), RECOGNISED)
