"""What a quality measurement found about one output, and the bar it is held to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class QualityThresholds:
    """The acceptance bar for a lip-synced output; the defaults are the project's."""

    max_abs_lag: int = 2  # frames the mouth may lead or trail the speech
    min_sync: float = 0.5  # Pearson r of mouth opening with speech level at the best lag
    min_confidence: float = 0.25  # how far that peak must stand above the median over lags
    max_template_leak: float = 0.3  # r of the output mouth with the template's own mouth motion
    min_psnr_outside: float = 35.0  # dB outside the lower face: the rest of the picture is untouched
    min_sharpness_ratio: float = 0.8  # mouth-region sharpness, output over template
    min_face_fraction: float = 0.9  # of output frames where a face is found
    min_chin_texture: float = 0.85  # lip-to-chin skin texture, output over template, in the median frame...
    min_chin_texture_low: float = 0.5  # ...and in the worst frames (quality.mouth.CHIN_PERCENTILE)
    min_teeth_ratio: float = 0.7  # teeth-like share of an open mouth's interior, output over template
    min_interior_ratio: float = 0.85  # open mouth's interior brightness over the lips', output over template
    max_mouth_flicker: float = 2.0  # the lower face's frame-to-frame jolts, output over template (quality.flicker)


@dataclass(frozen=True, eq=False)
class QualityReport:
    """Measured quality of one output video (F frames). Arrays are per output frame.

    frames:          F.
    face_fraction:   fraction of output frames where the tracker found a face.
    best_lag:        frames the output mouth trails the driving speech at the best correlation
                     (negative: it moves early); searched over ±MAX_LAG frames.
    sync:            Pearson r of mouth opening with speech level (dBFS, floored at silence) at best_lag.
    confidence:      sync minus the median r over all lags.
    template_leak:   r of the output mouth with the template's mouth over the frames that first play
                     the template forward; None without a template.
    psnr_outside:    dB, output vs the template frame it replaces, outside the lower face; None without
                     a template.
    sharpness_ratio: Laplacian variance inside the lower face, output over template; None without a
                     template (or a face in it).
    mouth_opening:   (F,) float32 inner-lip gap in interocular distances; NaN where no face.
    mouth_width:     (F,) float32 corner-to-corner width in interocular distances; NaN where no face.
    sync_note:       why sync could not be measured (silent audio, no mouth ...), else None.
    chin_texture:    Laplacian variance of the skin between lower lip and chin, output over the template
                     frame shown, in the median frame (`quality.mouth`); None when not measured.
    chin_texture_low: the same ratio in the worst frames (its CHIN_PERCENTILE-th percentile).
    teeth_ratio:     teeth-like share of the interior of open output mouths over the template's own;
                     None when not measured, or when either never opens or the template shows no teeth.
    interior_ratio:  interior brightness over the lips' in open output mouths, over the template's own.
    mouth_flicker:   the lower face's frame-to-frame jolts (a high percentile of the second temporal
                     difference, `quality.flicker`), output over the template frames shown; None when not
                     measured or for a still template.
    """

    frames: int
    face_fraction: float
    best_lag: int
    sync: float
    confidence: float
    template_leak: float | None
    psnr_outside: float | None
    sharpness_ratio: float | None
    mouth_opening: np.ndarray = field(repr=False)
    mouth_width: np.ndarray = field(repr=False)
    sync_note: str | None = None
    chin_texture: float | None = None
    chin_texture_low: float | None = None
    teeth_ratio: float | None = None
    interior_ratio: float | None = None
    mouth_flicker: float | None = None

    def failures(self, thresholds: QualityThresholds = QualityThresholds()) -> list[str]:
        """One readable sentence per measure that falls short of `thresholds`; empty when all pass."""
        t = thresholds
        found: list[str] = []
        if self.face_fraction < t.min_face_fraction:
            found.append(f"a face was found in {self.face_fraction:.0%} of frames (need {t.min_face_fraction:.0%})")
        if self.sync_note is not None:
            found.append(f"sync 0: {self.sync_note}")
        else:
            found.extend(self._sync_failures(t))
        if self.template_leak is not None and self.template_leak > t.max_template_leak:
            found.append(
                f"the mouth still follows the template's own mouth (r {self.template_leak:.2f} > "
                f"{t.max_template_leak:.2f})"
            )
        if self.psnr_outside is not None and self.psnr_outside < t.min_psnr_outside:
            found.append(
                f"pixels outside the lower face changed (PSNR {self.psnr_outside:.1f} dB < {t.min_psnr_outside:.1f})"
            )
        if self.sharpness_ratio is not None and self.sharpness_ratio < t.min_sharpness_ratio:
            found.append(
                f"the mouth region is blurred (sharpness {self.sharpness_ratio:.2f} of the template's, "
                f"need {t.min_sharpness_ratio:.2f})"
            )
        found.extend(self._mouth_failures(t))
        return found

    def _mouth_failures(self, t: QualityThresholds) -> list[str]:
        """The chin-texture and teeth shortfalls of the measures that were taken."""
        checks = (
            (self.chin_texture, t.min_chin_texture, "the skin under the lower lip is smoothed: texture"),
            (self.chin_texture_low, t.min_chin_texture_low, "in the worst frames it smears: texture"),
            (self.teeth_ratio, t.min_teeth_ratio, "open mouths show fewer teeth: teeth share"),
            (self.interior_ratio, t.min_interior_ratio, "open mouths are dull inside: interior brightness"),
        )  # fmt: skip
        found = [
            f"{what} {value:.2f} of the template's (need {bar:.2f})"
            for value, bar, what in checks
            if value is not None and value < bar
        ]
        if self.mouth_flicker is not None and self.mouth_flicker > t.max_mouth_flicker:
            found.append(
                f"the mouth flickers: its frame-to-frame jolts are {self.mouth_flicker:.2f} times the template's "
                f"(allowed {t.max_mouth_flicker:.2f})"
            )
        return found

    def _sync_failures(self, t: QualityThresholds) -> list[str]:
        """The lag, sync and confidence shortfalls of a measured sync."""
        found = []
        if abs(self.best_lag) > t.max_abs_lag:
            side = "trails" if self.best_lag > 0 else "leads"
            found.append(f"the mouth {side} the speech by {abs(self.best_lag)} frames (allowed ±{t.max_abs_lag})")
        if self.sync < t.min_sync:
            found.append(f"the mouth follows the speech weakly (sync r {self.sync:.2f} < {t.min_sync:.2f})")
        if self.confidence < t.min_confidence:
            found.append(f"the sync peak is not distinct (confidence {self.confidence:.2f} < {t.min_confidence:.2f})")
        return found

    def as_row(self) -> dict[str, float | int | None]:
        """Flat scalars for the results manifest, each column prefixed q_."""
        return {
            "q_frames": self.frames,
            "q_face_fraction": self.face_fraction,
            "q_best_lag": self.best_lag,
            "q_sync": self.sync,
            "q_confidence": self.confidence,
            "q_template_leak": self.template_leak,
            "q_psnr_outside": self.psnr_outside,
            "q_sharpness_ratio": self.sharpness_ratio,
            "q_chin_texture": self.chin_texture,
            "q_chin_texture_low": self.chin_texture_low,
            "q_teeth_ratio": self.teeth_ratio,
            "q_interior_ratio": self.interior_ratio,
            "q_mouth_flicker": self.mouth_flicker,
        }

    def summary(self) -> str:
        """One line for logs and test output."""
        parts = [f"{key[2:]}={_show(value)}" for key, value in self.as_row().items()]
        return " ".join(parts) + (f" ({self.sync_note})" if self.sync_note else "")


def _show(value: float | int | None) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"
